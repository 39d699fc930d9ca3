"""Identifiability of Gadre's over-training law and loss-to-error map on synthetic data with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.downstream import fit_loss_to_error, predict_error
from analysis.identifiability import loss_to_error_identifiability, overtraining_identifiability
from analysis.overtraining import fit_overtraining, overtraining_loss

TRUTH = {"E": 1.8, "a": 300.0, "b": 2000.0, "eta": 0.14}


def _grid(Ns, Ms, noise=0.002, seed=0):
    rng = np.random.default_rng(seed)
    N = np.array([n for n in Ns for _ in Ms], dtype=float)
    D = np.array([n * m for n in Ns for m in Ms], dtype=float)
    L = overtraining_loss(N, D, **TRUTH) * (1 + noise * rng.standard_normal(N.size))
    return N, D, L


def test_wide_grid_identifies_eta_and_E_around_the_truth():
    N, D, L = _grid(np.geomspace(1e7, 1e10, 6), [5, 20, 80, 320, 1280])
    r = fit_overtraining(N, D, L)
    ident = overtraining_identifiability(N, D, L, r)
    assert ident["verdict"] == "identified", ident["warnings"]
    assert ident["n_free_params"] == 4 and ident["dof"] == 30 - 4
    assert ident["spans_decades"]["C"] == pytest.approx(np.log10(1e10**2 * 1280 / (1e7**2 * 5)))
    assert ident["spans_decades"]["M"] == pytest.approx(np.log10(1280 / 5))
    for k in ("eta", "E"):
        lo, hi = ident["parameters"][k]["range"]
        assert lo <= TRUTH[k] <= hi, (k, lo, hi)
        assert ident["parameters"][k]["bootstrap_trustworthy"]
    assert ident["parameters"]["eta"]["range"][1] - ident["parameters"]["eta"]["range"][0] < 0.01
    assert ident["warnings"] == [] and ident["untrustworthy_intervals"] == []


def test_too_narrow_grid_is_not_identified_and_says_why():
    N, D, L = _grid(np.geomspace(4e8, 8e8, 3), [18, 20, 24])
    r = fit_overtraining(N, D, L)
    ident = overtraining_identifiability(N, D, L, r)
    assert ident["verdict"] == "not identified"
    assert "E" in ident["not_identified"]
    assert {"E", "a", "b", "M_star"} <= set(ident["untrustworthy_intervals"])
    text = " ".join(ident["warnings"])
    assert "C spans only 0.73 decades" in text and "M spans only 0.12 decades" in text
    assert "E is not identified" in text


def test_loss_to_error_identified_on_wide_losses_not_on_a_sliver():
    truth = {"eps": 0.86, "k": 2.2, "gamma": 0.7}
    rng = np.random.default_rng(1)
    Lw = np.linspace(1.8, 6.0, 25)
    ew = predict_error(truth, Lw) + 0.002 * rng.standard_normal(Lw.size)
    iw = loss_to_error_identifiability(Lw, ew, fit_loss_to_error(Lw, ew))
    assert iw["verdict"] == "identified", iw["warnings"]
    assert iw["parameters"]["gamma"]["range"][0] <= 0.7 <= iw["parameters"]["gamma"]["range"][1]
    assert iw["loss_range_nats"] == pytest.approx(4.2)
    Ln = np.linspace(3.0, 3.15, 6)
    en = predict_error(truth, Ln) + 0.002 * rng.standard_normal(Ln.size)
    inn = loss_to_error_identifiability(Ln, en, fit_loss_to_error(Ln, en))
    assert inn["verdict"] == "not identified" and inn["not_identified"]
    assert "k" in inn["untrustworthy_intervals"]


def test_shape_errors_are_clear():
    r = fit_overtraining(*_grid(np.geomspace(1e7, 1e9, 3), [20, 80]))
    with pytest.raises(ValueError, match="one shape"):
        overtraining_identifiability([1e8, 2e8], [1e9], [3.0, 2.9], r)
    with pytest.raises(ValueError, match="> 0"):
        overtraining_identifiability([1e8, -1], [1e9, 1e9], [3.0, 2.9], r)
