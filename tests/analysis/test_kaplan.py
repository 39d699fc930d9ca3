"""Kaplan single-variable power laws: recovery of Table-5 constants, robustness, errors."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import InsufficientDataError
from analysis.kaplan import fit_power_law
from analysis.laws import power_law_loss


def test_exact_recovery_kaplan_N():
    # Kaplan et al. 2020, Table 5: alpha_N = 0.076, N_c = 8.8e13 (non-embedding parameters)
    N = np.logspace(5, 9.2, 12)
    fit = fit_power_law(N, power_law_loss(N, 8.8e13, 0.076), variable="N")
    assert fit.law == "kaplan_N"
    assert fit.params["alpha"] == pytest.approx(0.076, rel=1e-10)
    assert fit.params["x_c"] == pytest.approx(8.8e13, rel=1e-8)
    assert fit.derived["r2"] == pytest.approx(1.0)
    assert fit.success and fit.objective < 1e-25


def test_recovery_kaplan_D_with_noise(rng):
    # alpha_D = 0.095, D_c = 5.4e13 tokens; 0.5% log-noise
    D = np.logspace(7.3, 10.4, 30)
    L = power_law_loss(D, 5.4e13, 0.095) * np.exp(0.005 * rng.standard_normal(D.size))
    fit = fit_power_law(D, L, variable="D")
    assert fit.law == "kaplan_D"
    assert fit.params["alpha"] == pytest.approx(0.095, abs=0.004)
    # x_c is an extrapolation many decades out: only its order of magnitude is determined
    assert np.log10(fit.params["x_c"]) == pytest.approx(np.log10(5.4e13), abs=0.6)
    assert fit.derived["residual_sd"] == pytest.approx(0.005, rel=0.35)


def test_ols_matches_polyfit(rng):
    x = np.logspace(6, 9, 15)
    L = 3.0 * x**-0.05 * np.exp(0.01 * rng.standard_normal(15))
    slope, icpt = np.polyfit(np.log(x), np.log(L), 1)
    fit = fit_power_law(x, L)
    assert fit.params["alpha"] == pytest.approx(-slope, rel=1e-10)
    assert np.log(fit.params["x_c"]) * fit.params["alpha"] == pytest.approx(icpt, rel=1e-10)


def test_huber_resists_an_outlier(rng):
    N = np.logspace(6, 9, 20)
    L = power_law_loss(N, 8.8e13, 0.076) * np.exp(0.001 * rng.standard_normal(20))
    L[3] *= 1.5  # one diverged run
    ols = fit_power_law(N, L)
    rob = fit_power_law(N, L, loss="huber", delta=1e-3)
    assert rob.loss == "huber" and rob.delta == 1e-3 and rob.success
    assert abs(rob.params["alpha"] - 0.076) < 0.002
    assert abs(ols.params["alpha"] - 0.076) > 3 * abs(rob.params["alpha"] - 0.076)


def test_rising_loss_is_flagged():
    x = np.array([1e6, 1e7, 1e8, 1e9])
    fit = fit_power_law(x, np.array([2.0, 2.1, 2.2, 2.3]))
    assert fit.params["alpha"] < 0
    assert not fit.success
    assert "does not fall" in fit.message


@pytest.mark.parametrize(
    "x, L, kwargs, exc, match",
    [
        ([1e6, 1e7, 1e8], [3.0, 2.9], {}, ValueError, "same shape"),
        ([1e6, -1e7, 1e8], [3.0, 2.9, 2.8], {}, ValueError, "x must be finite and > 0"),
        ([1e6, 1e7, 1e8], [3.0, np.nan, 2.8], {}, ValueError, "L contains NaN"),
        ([1e6, 1e7], [3.0, 2.9], {}, InsufficientDataError, "at least 3 points"),
        ([1e6, 1e6, 1e6], [3.0, 2.9, 2.8], {}, ValueError, "x is constant"),
        ([1e6, 1e7, 1e8], [3.0, 2.9, 2.8], {"variable": "M"}, ValueError, "variable must be"),
        ([1e6, 1e7, 1e8], [3.0, 2.9, 2.8], {"loss": "l2"}, ValueError, "loss must be"),
    ],
)
def test_errors(x, L, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fit_power_law(x, L, **kwargs)
