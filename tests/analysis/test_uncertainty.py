"""Cluster bootstrap, Chinchilla bootstrap with per-replicate allocations, confidence/prediction bands."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.chinchilla import fit_chinchilla
from analysis.compute_optimal import compute_optimal_allocation
from analysis.kaplan import fit_power_law
from analysis.laws import chinchilla_loss, power_law_loss
from analysis.results import Bootstrap, FitResult
from analysis.synthetic import CHINCHILLA_UNROUNDED, synthetic_chinchilla_runs
from analysis.uncertainty import (
    bootstrap_fit,
    budget_key,
    chinchilla_bootstrap,
    confidence_band,
    prediction_band,
)


def _group_probe(x, L, gid):
    """A 'fit' that reports how the resample was built."""
    ids, counts = np.unique(gid, return_counts=True)
    return FitResult(
        law="probe",
        params={"n": float(x.size)},
        n_points=x.size,
        objective=0.0,
        extra={"ids": ids, "counts": counts},
    )


def test_resamples_whole_groups(rng):
    # 12 runs of 5 checkpoints each
    gid = np.repeat(np.arange(12), 5)
    x = np.arange(60.0) + 1
    seen = []

    def fit_fn(x, L, gid):
        res = _group_probe(x, L, gid)
        seen.append(res.extra["counts"])
        # every group appears a multiple of 5 times and x stays aligned with its group
        assert np.all(np.floor((x - 1) / 5) == gid)
        return res

    boot = bootstrap_fit(fit_fn, {"x": x, "L": x, "gid": gid}, gid, n_boot=50, rng=rng)
    assert boot.unit == "run" and boot.method == "nonparametric" and boot.n == 50
    np.testing.assert_array_equal(boot.replicates["n"], np.full(50, 60.0))
    assert all(np.all(c % 5 == 0) for c in seen)
    # with replacement: some replicate draws a run twice
    assert any(np.any(c >= 10) for c in seen)


def test_seed_reproduces_replicates(rng):
    x = np.logspace(6, 9, 20)
    L = power_law_loss(x, 8.8e13, 0.076) * np.exp(0.01 * rng.standard_normal(20))
    seen = []

    def fit_fn(x, L):
        seen.append(x)
        return fit_power_law(x, L, variable="N")

    b1 = bootstrap_fit(fit_fn, {"x": x, "L": L}, None, n_boot=20, rng=np.random.default_rng(3))
    assert b1.unit == "point"
    assert list(b1.replicates) == ["x_c", "alpha", "r2", "residual_sd", "objective"]
    # the recorded seed alone regenerates the resamples
    child = np.random.default_rng(b1.seed)
    for xs in seen:
        np.testing.assert_array_equal(xs, x[child.integers(0, 20, size=20)])
    # the same generator state gives identical replicates; another one does not
    b2 = bootstrap_fit(fit_power_law, {"x": x, "L": L}, None, n_boot=20, rng=np.random.default_rng(3))
    assert b2.seed == b1.seed
    np.testing.assert_array_equal(b1.replicates["alpha"], b2.replicates["alpha"])
    b3 = bootstrap_fit(fit_power_law, {"x": x, "L": L}, None, n_boot=20, rng=np.random.default_rng(4))
    assert not np.array_equal(b1.replicates["alpha"], b3.replicates["alpha"])


def test_bootstrap_se_matches_ols_se(rng):
    """Point bootstrap SD of a power-law exponent ~ the textbook OLS standard error."""
    x = np.logspace(6, 9, 40)
    sd = 0.02
    L = power_law_loss(x, 8.8e13, 0.076) * np.exp(sd * rng.standard_normal(40))
    fit = fit_power_law(x, L)
    lx = np.log(x)
    se = fit.derived["residual_sd"] / np.sqrt(np.sum((lx - lx.mean()) ** 2))
    boot = bootstrap_fit(fit_power_law, {"x": x, "L": L}, None, n_boot=800, rng=rng)
    assert np.std(boot.replicates["alpha"], ddof=1) == pytest.approx(se, rel=0.15)
    lo, hi = boot.interval("alpha")
    assert lo < 0.076 < hi


def test_failed_refits_are_nan(rng):
    calls = [0]

    def flaky(x, L):
        calls[0] += 1
        if calls[0] % 3 == 0:
            raise ValueError("refit failed")
        return fit_power_law(x, L)

    x = np.logspace(6, 9, 10)
    boot = bootstrap_fit(flaky, {"x": x, "L": power_law_loss(x, 8.8e13, 0.076)}, None, n_boot=9, rng=rng)
    assert boot.n_failed() == 3
    assert np.all(np.isnan(boot.replicates["alpha"][2::3]))
    assert np.all(np.isnan(boot.replicates["objective"][2::3]))


@pytest.mark.parametrize(
    "arrays, groups, n_boot, match",
    [
        ({}, None, 5, "arrays is empty"),
        ({"x": np.ones(5), "L": np.ones(4)}, None, 5, "same length"),
        ({"x": np.ones(5), "L": np.ones(5)}, np.arange(4), 5, r"groups must have shape \(5,\)"),
        ({"x": np.ones(5), "L": np.ones(5)}, None, 0, "n_boot must be >= 1"),
    ],
)
def test_bootstrap_fit_errors(rng, arrays, groups, n_boot, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_fit(fit_power_law, arrays, groups, n_boot=n_boot, rng=rng)


def test_all_failed_raises(rng):
    def bad(x, L):
        raise ValueError("nope")

    with pytest.raises(ValueError, match="all 4 bootstrap refits failed"):
        bootstrap_fit(bad, {"x": np.ones(3), "L": np.ones(3)}, None, n_boot=4, rng=rng)


# ---------------------------------------------------------------------------------------------
# Chinchilla bootstrap


@pytest.fixture(scope="module")
def chin_boot():
    rng = np.random.default_rng(11)
    df = synthetic_chinchilla_runs(rng, CHINCHILLA_UNROUNDED, n_sizes=16, n_per_size=8, noise_sd=0.005)
    N, D, L = (df[c].to_numpy() for c in ("n_params", "n_tokens", "loss"))
    groups = np.arange(N.size) // 2  # pairs of points share a "run"
    full = fit_chinchilla(N, D, L)
    boot = chinchilla_bootstrap(N, D, L, groups, n_boot=60, rng=rng, full_fit=full, check_every=20)
    return full, boot


def test_chinchilla_bootstrap_contents(chin_boot):
    full, boot = chin_boot
    r = boot.replicates
    assert boot.n == 60 and boot.n_failed() == 0 and boot.unit == "run"
    for k in ("E", "A", "B", "alpha", "beta", "a", "b", "G", "objective", "grid_check_gain"):
        assert k in r
    # derived quantities are per replicate, not from the point estimate
    np.testing.assert_allclose(r["a"], r["beta"] / (r["alpha"] + r["beta"]), rtol=1e-12)
    key = budget_key("N_opt", 5.76e23)
    assert key == "N_opt@5.76e+23"
    b = 7
    p = {k: r[k][b] for k in ("A", "B", "alpha", "beta")}
    alloc = compute_optimal_allocation(p, 5.76e23)
    assert r[key][b] == pytest.approx(alloc.N_opt[0], rel=1e-12)
    assert r[budget_key("tokens_per_param", 1e26)][b] == pytest.approx(
        compute_optimal_allocation(p, 1e26).tokens_per_param[0], rel=1e-12
    )
    # the grid check ran on replicates 20, 40, 60 and found no better optimum than the warm start
    checked = np.flatnonzero(np.isfinite(r["grid_check_gain"]))
    np.testing.assert_array_equal(checked, [19, 39, 59])
    assert np.all(r["grid_check_gain"][checked] < 1e-6)


def test_chinchilla_bootstrap_intervals_cover_truth(chin_boot):
    full, boot = chin_boot
    for k in ("alpha", "beta", "E"):
        lo, hi = boot.interval(k, 0.95)
        assert lo < CHINCHILLA_UNROUNDED[k] < hi, k
        assert lo < full.params[k] < hi
    # replicate spread is real but modest at 0.5% noise
    assert 0.002 < np.std(boot.replicates["alpha"]) < 0.05


def test_chinchilla_bootstrap_errors(rng):
    N = np.full(6, 1e9)
    with pytest.raises(ValueError, match="budgets must be finite and > 0"):
        chinchilla_bootstrap(N, N, N, None, n_boot=2, rng=rng, budgets=(0.0,))
    with pytest.raises(ValueError, match="check_every must be >= 0"):
        chinchilla_bootstrap(N, N, N, None, n_boot=2, rng=rng, check_every=-1)


# ---------------------------------------------------------------------------------------------
# bands


def _predict(p, x):
    return chinchilla_loss(x, 20 * x, p["E"], p["A"], p["B"], p["alpha"], p["beta"])


def test_bands_nest_and_cover_truth(chin_boot):
    _, boot = chin_boot
    x = np.logspace(8, 11, 7)
    lo_c, hi_c = confidence_band(_predict, boot, x)
    lo_p, hi_p = prediction_band(_predict, boot, x, residual_sd=0.005, rng=np.random.default_rng(1))
    assert lo_c.shape == hi_c.shape == (7,)
    assert np.all(lo_p <= lo_c) and np.all(hi_c <= hi_p)
    truth = _predict(CHINCHILLA_UNROUNDED, x)
    assert np.all((lo_c < truth) & (truth < hi_c))


def test_prediction_band_of_a_degenerate_bootstrap():
    """All replicates equal: the confidence band collapses; the prediction band is f * exp(+-1.96 sd)."""
    boot = Bootstrap(replicates={"x_c": np.full(4000, 8.8e13), "alpha": np.full(4000, 0.076)}, seed=0)

    def f(p, x):
        return power_law_loss(x, p["x_c"], p["alpha"])

    x = np.array([1e8, 1e9])
    lo, hi = confidence_band(f, boot, x)
    np.testing.assert_allclose(lo, f({"x_c": 8.8e13, "alpha": 0.076}, x), rtol=1e-12)
    np.testing.assert_allclose(hi, lo, rtol=1e-12)
    plo, phi = prediction_band(f, boot, x, residual_sd=0.02, rng=np.random.default_rng(0), level=0.9)
    np.testing.assert_allclose(np.log(phi / lo), 1.6449 * 0.02, rtol=0.06)
    np.testing.assert_allclose(np.log(lo / plo), 1.6449 * 0.02, rtol=0.06)
    llo, lhi = prediction_band(f, boot, x, residual_sd=0.05, rng=np.random.default_rng(0), space="linear")
    np.testing.assert_allclose(lhi - lo, 1.96 * 0.05, rtol=0.06)


def test_band_skips_failed_replicates():
    boot = Bootstrap(
        replicates={"x_c": np.array([np.nan, 8.8e13]), "alpha": np.array([np.nan, 0.076])}, seed=0
    )
    lo, hi = confidence_band(lambda p, x: power_law_loss(x, p["x_c"], p["alpha"]), boot, [1e9])
    assert lo[0] == pytest.approx(2.37564, abs=1e-5) and hi[0] == lo[0]


def test_band_errors(chin_boot):
    _, boot = chin_boot
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\)"):
        confidence_band(_predict, boot, [1e9], level=1.0)
    with pytest.raises(ValueError, match="residual_sd must be finite and >= 0"):
        prediction_band(_predict, boot, [1e9], residual_sd=-0.1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="space must be"):
        prediction_band(_predict, boot, [1e9], residual_sd=0.1, rng=np.random.default_rng(0), space="x")
    nan_boot = Bootstrap(replicates={"E": np.array([np.nan])}, seed=0)
    with pytest.raises(ValueError, match="no successful replicate"):
        confidence_band(_predict, nan_boot, [1e9])
