"""Closed-form laws: values at hand-computed points, broadcasting, limits and input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.laws import chinchilla_loss, compute_law_loss, flops_6nd, power_law_loss
from analysis.synthetic import CHINCHILLA_ROUNDED, CHINCHILLA_UNROUNDED


def test_chinchilla_loss_at_chinchilla_70b():
    # Chinchilla itself: 70B parameters, 1.4T tokens (Hoffmann et al. 2022), rounded Eq. 10 parameters.
    got = chinchilla_loss(70e9, 1.4e12, **CHINCHILLA_ROUNDED)
    expected = 1.69 + 406.4 / 70e9**0.34 + 410.7 / 1.4e12**0.28
    assert got == pytest.approx(expected, rel=1e-12)
    assert got == pytest.approx(1.9369, abs=5e-4)
    assert isinstance(got, float)


def test_chinchilla_loss_unit_inputs_and_broadcast():
    # N = D = 1 gives E + A + B exactly.
    assert chinchilla_loss(1.0, 1.0, 1.5, 2.0, 3.0, 0.3, 0.4) == pytest.approx(6.5, rel=1e-15)
    N = np.array([1e8, 1e9, 1e10])
    out = chinchilla_loss(N[:, None], np.array([1e10, 1e11])[None, :], **CHINCHILLA_UNROUNDED)
    assert out.shape == (3, 2)
    # loss falls with both N and D and stays above E
    assert np.all(np.diff(out, axis=0) < 0) and np.all(np.diff(out, axis=1) < 0)
    assert np.all(out > CHINCHILLA_UNROUNDED["E"])


def test_chinchilla_loss_limits():
    # Without the finite-size terms the loss is the irreducible E.
    assert chinchilla_loss(1e9, 1e9, E=1.69, A=0.0, B=0.0, alpha=0.34, beta=0.28) == 1.69
    # Huge N and D approach E.
    assert chinchilla_loss(1e40, 1e40, **CHINCHILLA_ROUNDED) == pytest.approx(1.69, abs=1e-8)


def test_compute_law_loss_values():
    assert compute_law_loss(1.0, 1.7, 2.0, 0.1) == pytest.approx(3.7)
    C = np.array([1e20, 1e22])
    got = compute_law_loss(C, 1.7, 2000.0, 0.12)
    np.testing.assert_allclose(got, 1.7 + 2000.0 * C**-0.12, rtol=1e-13)


def test_power_law_loss_kaplan_table5():
    # Kaplan et al. 2020: L(N) = (8.8e13 / N)^0.076; at N = N_c the loss is 1 nat.
    assert power_law_loss(8.8e13, 8.8e13, 0.076) == pytest.approx(1.0, rel=1e-14)
    got = power_law_loss(1e9, 8.8e13, 0.076)
    assert got == pytest.approx(math.exp(0.076 * math.log(8.8e4)), rel=1e-13)
    assert got == pytest.approx(2.37564, abs=1e-5)
    # L(D) = (5.4e13 / D)^0.095
    assert power_law_loss(np.array([5.4e13]), 5.4e13, 0.095)[0] == pytest.approx(1.0)


def test_flops_6nd_chinchilla_budget():
    # 70B params x 1.4T tokens -> 5.88e23 FLOPs (close to the 5.76e23 Gopher budget).
    assert flops_6nd(70e9, 1.4e12) == pytest.approx(5.88e23, rel=1e-12)
    np.testing.assert_allclose(flops_6nd(np.array([1.0, 2.0]), 3.0), [18.0, 36.0])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: chinchilla_loss(0.0, 1e9, **CHINCHILLA_ROUNDED), "N must be finite and > 0"),
        (lambda: chinchilla_loss(1e9, -1.0, **CHINCHILLA_ROUNDED), "D must be finite and > 0"),
        (lambda: chinchilla_loss(np.nan, 1e9, **CHINCHILLA_ROUNDED), "N contains NaN"),
        (lambda: chinchilla_loss(1e9, 1e9, -1.0, 1.0, 1.0, 0.3, 0.3), "E must be finite and >= 0"),
        (lambda: chinchilla_loss([], [], **CHINCHILLA_ROUNDED), "N is empty"),
        (lambda: compute_law_loss(-1e20, 1.7, 1.0, 0.1), "C must be finite and > 0"),
        (lambda: compute_law_loss(1e20, 1.7, np.nan, 0.1), "A must be finite"),
        (lambda: power_law_loss(1e9, 0.0, 0.076), "x_c must be finite and > 0"),
        (lambda: power_law_loss(1e9, 8.8e13, np.nan), "alpha contains NaN"),
        (lambda: flops_6nd(1e9, 0), "D must be finite and > 0"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
