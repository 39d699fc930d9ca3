"""Stopping point from the FITTED thinking curve (with bootstrap interval) on synthetic curves with known truth."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.thinking import (
    fit_thinking_curve,
    fitted_gain_per_1k,
    fitted_stopping_point,
    marginal_gains,
    saturating_log_tokens,
    stopping_point,
)

TRUE = {"A": 0.8, "R0": 0.2, "T_mid": 1000.0, "B": 1.5}
LEVELS = np.array([200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 12800.0])


def _true_stop(threshold: float) -> float:
    return fitted_stopping_point(TRUE, threshold, (LEVELS[0], LEVELS[-1]))["T_stop"]


def test_gain_is_the_derivative_of_the_curve():
    t = np.array([300.0, 1000.0, 5000.0])
    h = 1e-3
    num = (saturating_log_tokens(t + h, **TRUE) - saturating_log_tokens(t - h, **TRUE)) / (2 * h) * 1000
    assert fitted_gain_per_1k(TRUE, t) == pytest.approx(num, rel=1e-6)
    assert fitted_gain_per_1k({"p": 0.1, "q": 0.05}, [500.0])[0] == pytest.approx(0.1)  # 1000 q / T


def test_true_stop_solves_gain_equals_threshold():
    t_stop = _true_stop(0.01)
    assert fitted_gain_per_1k(TRUE, [t_stop])[0] == pytest.approx(0.01, rel=1e-8)
    assert 5000 < t_stop < 6500  # past the gain's peak, inside the measured range
    # linear form: closed form T* = 1000 q / threshold
    lin = fitted_stopping_point({"p": 0.0, "q": 0.05}, 0.01, (100.0, 10_000.0))
    assert lin["T_stop"] == pytest.approx(5000.0) and lin["status"] == "within data"
    assert fitted_stopping_point({"p": 0.0, "q": 0.05}, 0.01, (100.0, 1000.0))["status"] == "beyond the data"
    flat = fitted_stopping_point({"p": 0.3, "q": -0.01}, 0.01, (100.0, 1000.0))
    assert flat["status"] == "no worthwhile gain" and flat["T_stop"] == 100.0


def test_recovers_the_stop_from_noisy_levels_with_interval():
    rng = np.random.default_rng(11)
    n = np.full(LEVELS.size, 2000)
    acc = rng.binomial(n, saturating_log_tokens(LEVELS, **TRUE)) / n
    res = fit_thinking_curve(
        LEVELS, acc, n, form="saturating", threshold=0.01, n_boot=200, rng=np.random.default_rng(0)
    )
    truth = _true_stop(0.01)
    assert res.derived["T_stop"] == pytest.approx(truth, rel=0.15)
    lo, hi = res.interval("T_stop")
    assert lo < truth < hi and lo < res.derived["T_stop"] < hi
    a_lo, a_hi = res.interval("A")  # intervals for the saturating fit itself
    assert a_lo < TRUE["A"] < a_hi
    assert res.extra["stop_status"] == "within data"
    assert res.bootstrap.unit == "level (binomial)"


def test_a_noisy_early_level_does_not_decide_the_stop():
    n = np.full(LEVELS.size, 800)
    acc = saturating_log_tokens(LEVELS, **TRUE).copy()
    acc[1] -= 0.08  # one noisy early level: below the first
    curve = pl.DataFrame(
        {"model": "m", "benchmark": "b", "setting": [f"L{i}" for i in range(LEVELS.size)],
         "mean_tokens": LEVELS, "accuracy": acc}
    )  # fmt: skip
    # the raw first-crossing rule stops at the very first level whatever the threshold
    for thr in (0.01, 1e-4):
        raw = stopping_point(marginal_gains(curve), thr)
        assert raw["stop_level"][0] == "L0"
    for thr in (0.01, 0.03):
        res = fit_thinking_curve(
            LEVELS, acc, n, form="saturating", threshold=thr, n_boot=100, rng=np.random.default_rng(1)
        )
        assert res.derived["T_stop"] == pytest.approx(_true_stop(thr), rel=0.2)
    # a higher threshold stops earlier
    r1 = fit_thinking_curve(LEVELS, acc, n, form="saturating", threshold=0.01)
    r3 = fit_thinking_curve(LEVELS, acc, n, form="saturating", threshold=0.03)
    assert r3.derived["T_stop"] < r1.derived["T_stop"]


def test_replicates_from_the_caller_and_errors():
    n = np.full(4, 100)
    acc = np.array([0.2, 0.3, 0.4, 0.5])
    t = np.array([100.0, 200.0, 400.0, 800.0])  # acc = p + q ln T with q = 0.1 / ln 2
    reps = (np.tile(t, (3, 1)), np.tile(acc, (3, 1)))
    res = fit_thinking_curve(t, acc, n, form="linear", threshold=0.5, replicates=reps)
    q = 0.1 / np.log(2)
    assert res.params["q"] == pytest.approx(q)
    assert res.derived["T_stop"] == pytest.approx(1000 * q / 0.5)  # 288.5 tokens
    assert res.interval("T_stop") == pytest.approx((1000 * q / 0.5,) * 2)
    assert res.bootstrap.unit == "problem"
    with pytest.raises(ValueError, match="threshold must be > 0"):
        fit_thinking_curve(t, acc, n, threshold=0.0)
    with pytest.raises(ValueError, match="needs rng"):
        fit_thinking_curve(t, acc, n, threshold=0.1, n_boot=5)


def test_saturating_identifiability_verdicts():
    from analysis.thinking import saturating_unidentified

    assert saturating_unidentified(TRUE, LEVELS) == ""
    assert saturating_unidentified({**TRUE, "A": 1.0}, LEVELS) == "ceiling A = 1.000 at its bound"
    assert saturating_unidentified({**TRUE, "A": 0.2}, LEVELS) == "ceiling A = 0.200 at its bound"  # no rise
    assert saturating_unidentified({**TRUE, "T_mid": 50_000.0}, LEVELS) == (
        "T_mid = 50000 tokens outside the measured 200-12800"
    )
    # a curve measured only before its bend (T_mid = 1000 tokens, levels 100-400): the fit cannot place it
    t = np.array([100.0, 150.0, 200.0, 300.0, 400.0])
    fit = fit_thinking_curve(t, saturating_log_tokens(t, **TRUE), np.full(5, 1000), form="saturating")
    assert saturating_unidentified(fit.params, t) != ""
