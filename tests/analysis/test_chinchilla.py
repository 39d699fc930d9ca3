"""Chinchilla Approach-3 fit: recovery from synthetic data, agreement of the two methods, real data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.chinchilla import chinchilla_grid, fit_chinchilla, huber
from analysis.errors import InsufficientDataError
from analysis.laws import chinchilla_loss
from analysis.synthetic import CHINCHILLA_ROUNDED, CHINCHILLA_UNROUNDED, synthetic_chinchilla_runs

KEYS = ("E", "A", "B", "alpha", "beta")


def _arrays(df: pl.DataFrame):
    return tuple(df[c].to_numpy() for c in ("n_params", "n_tokens", "loss"))


@pytest.fixture(scope="module")
def noisy_240():
    """240 runs (24 sizes x 10 budgets) from the unrounded Chinchilla surface, 0.2% log-noise."""
    rng = np.random.default_rng(20241129)
    return _arrays(synthetic_chinchilla_runs(rng, CHINCHILLA_UNROUNDED, noise_sd=0.002))


@pytest.fixture(scope="module")
def vp_fit_240(noisy_240):
    return fit_chinchilla(*noisy_240)


def _rel(a: dict, b: dict) -> dict:
    return {k: abs(a[k] / b[k] - 1) for k in KEYS}


# ---------------------------------------------------------------------------------------------
# pieces


def test_huber_branches():
    r = np.array([0.0, 5e-4, -1e-3, 2e-3, -0.1])
    np.testing.assert_allclose(huber(r, 1e-3), [0.0, 1.25e-7, 5e-7, 1.5e-6, 9.95e-5], rtol=1e-12)
    with pytest.raises(ValueError, match="delta must be > 0"):
        huber(r, 0.0)


def test_chinchilla_grid_is_the_4500_point_grid():
    g = chinchilla_grid()
    assert g.shape == (4500, 5)
    # columns (a, b, e, alpha, beta)
    np.testing.assert_array_equal(np.unique(g[:, 0]), [0, 5, 10, 15, 20, 25])
    np.testing.assert_array_equal(np.unique(g[:, 2]), [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_array_equal(np.unique(g[:, 3]), [0, 0.5, 1, 1.5, 2])
    assert len(np.unique(g, axis=0)) == 4500
    sub = chinchilla_grid(30)
    assert sub.shape == (30, 5)
    assert {tuple(r) for r in sub} <= {tuple(r) for r in g}
    with pytest.raises(ValueError, match=r"n_starts must be in \[1, 4500\]"):
        chinchilla_grid(0)


def test_reference_parameter_sets():
    # TeX values: ln E = 0.5267228, ln A = 6.0073404, ln B = 6.0179186 (METHODS.md s.2)
    assert CHINCHILLA_UNROUNDED["E"] == pytest.approx(1.69337, abs=1e-5)
    assert CHINCHILLA_UNROUNDED["A"] == pytest.approx(406.401, abs=1e-3)
    assert CHINCHILLA_UNROUNDED["B"] == pytest.approx(410.723, abs=1e-3)
    assert CHINCHILLA_ROUNDED == {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def test_synthetic_runs_frame(rng):
    df = synthetic_chinchilla_runs(rng, CHINCHILLA_ROUNDED, n_sizes=4, n_per_size=3, noise_sd=0.0)
    assert df.columns == ["run_id", "n_params", "n_tokens", "compute_flops", "loss"]
    assert df.height == 12 and df["run_id"].n_unique() == 12
    N, D = df["n_params"].to_numpy(), df["n_tokens"].to_numpy()
    np.testing.assert_allclose(df["compute_flops"].to_numpy(), 6 * N * D, rtol=1e-15)
    np.testing.assert_allclose(df["loss"].to_numpy(), chinchilla_loss(N, D, **CHINCHILLA_ROUNDED), rtol=1e-14)
    assert N.min() == pytest.approx(7e7) and N.max() == pytest.approx(1.6e10)
    # token ratios log-spaced over [2, 200], each jittered by at most half a grid step
    half = np.exp(np.log(100.0) / 2 / 2)
    assert np.all((D / N >= 2 / half) & (D / N <= 200 * half))
    assert np.ptp(np.log(D / N)) > np.log(100.0) / 2
    noisy = synthetic_chinchilla_runs(np.random.default_rng(0), CHINCHILLA_ROUNDED, noise_sd=0.01)
    r = np.log(noisy["loss"].to_numpy()) - np.log(
        chinchilla_loss(noisy["n_params"].to_numpy(), noisy["n_tokens"].to_numpy(), **CHINCHILLA_ROUNDED)
    )
    assert np.std(r) == pytest.approx(0.01, rel=0.15)
    with pytest.raises(ValueError, match="noise_sd must be finite and >= 0"):
        synthetic_chinchilla_runs(rng, CHINCHILLA_ROUNDED, noise_sd=-1.0)
    with pytest.raises(ValueError, match="params is missing"):
        synthetic_chinchilla_runs(rng, {"E": 1.0})


# ---------------------------------------------------------------------------------------------
# recovery


@pytest.mark.parametrize("method, kwargs", [("vpnls", {}), ("lbfgs", {"n_starts": 40})])
def test_exact_recovery_noise_free(method, kwargs):
    rng = np.random.default_rng(7)
    N, D, L = _arrays(
        synthetic_chinchilla_runs(rng, CHINCHILLA_UNROUNDED, n_sizes=10, n_per_size=6, noise_sd=0)
    )
    fit = fit_chinchilla(N, D, L, method=method, **kwargs)
    for k, v in _rel(fit.params, CHINCHILLA_UNROUNDED).items():
        assert v < 1e-6, (k, fit.params[k])
    assert fit.objective < 1e-15
    assert fit.success


def test_recovery_with_noise(vp_fit_240):
    fit = vp_fit_240
    rel = _rel(fit.params, CHINCHILLA_UNROUNDED)
    # 0.2% log-noise on 240 runs: exponents within 2%, E within 0.5%, scales within 15%.
    assert rel["alpha"] < 0.02 and rel["beta"] < 0.02
    assert rel["E"] < 0.005
    assert rel["A"] < 0.15 and rel["B"] < 0.15
    assert fit.derived["a"] == pytest.approx(
        CHINCHILLA_UNROUNDED["beta"] / (0.33917084 + 0.2849083), abs=0.01
    )


def test_fit_result_fields(vp_fit_240, noisy_240):
    fit = vp_fit_240
    N, D, L = noisy_240
    assert fit.law == "chinchilla" and fit.n_points == 240
    assert fit.loss == "huber" and fit.delta == 1e-3 and fit.space == "log"
    assert fit.optimizer.startswith("variable projection")
    assert fit.success
    assert fit.grad_norm < 1e-7
    # the objective is the SUM of Huber terms of log residuals (not a mean)
    pred = chinchilla_loss(N, D, **fit.params)
    assert fit.objective == pytest.approx(np.sum(huber(np.log(pred) - np.log(L), 1e-3)), rel=1e-9)
    al, be = fit.params["alpha"], fit.params["beta"]
    assert fit.derived["a"] == pytest.approx(be / (al + be))
    assert fit.derived["b"] == pytest.approx(al / (al + be))
    G = (al * fit.params["A"] / (be * fit.params["B"])) ** (1 / (al + be))
    assert fit.derived["G"] == pytest.approx(G, rel=1e-12)
    assert fit.extra["objective_spread"] < 1e-9
    assert len(fit.extra["best_objectives"]) == 5
    assert fit.to_record()["params"]["alpha"] == pytest.approx(al)


def test_fit_is_a_minimum(vp_fit_240, noisy_240):
    """Perturbing any parameter by 0.1% raises the objective."""
    N, D, L = noisy_240
    p0 = vp_fit_240.params

    def obj(p):
        return np.sum(huber(np.log(chinchilla_loss(N, D, **p)) - np.log(L), 1e-3))

    base = obj(p0)
    for k in KEYS:
        for s in (0.999, 1.001):
            assert obj({**p0, k: p0[k] * s}) > base


def test_methods_agree_on_240_points(vp_fit_240, noisy_240):
    ref = fit_chinchilla(*noisy_240, method="lbfgs", n_starts=30)
    assert ref.optimizer.startswith("L-BFGS-B multi-start")
    assert ref.n_starts == 30
    assert abs(ref.objective - vp_fit_240.objective) / ref.objective < 1e-6
    assert max(_rel(vp_fit_240.params, ref.params).values()) < 5e-3
    assert ref.extra["n_near_best"] >= 2


def test_warm_start_returns_same_optimum(vp_fit_240, noisy_240):
    warm = fit_chinchilla(*noisy_240, init=CHINCHILLA_ROUNDED)
    assert warm.n_starts == 1 and "warm start" in warm.optimizer
    assert warm.objective == pytest.approx(vp_fit_240.objective, rel=1e-6)
    assert max(_rel(warm.params, vp_fit_240.params).values()) < 5e-3


def test_larger_delta_changes_the_answer(noisy_240):
    """With delta = 1 the fit is least squares in log space: a different (valid) optimum."""
    fit = fit_chinchilla(*noisy_240, delta=1.0)
    assert fit.delta == 1.0
    assert fit.success
    assert abs(fit.params["alpha"] / CHINCHILLA_UNROUNDED["alpha"] - 1) < 0.03


# ---------------------------------------------------------------------------------------------
# real data: (Mis)Fitting runs (Li, Kudugunta, Zettlemoyer 2025), best peak_lr per (model, total_steps)


@pytest.fixture(scope="module")
def misfitting(shared_data):
    df = pl.read_csv(shared_data / "misfitting_li2025" / "scaling_results_last_ckpt_only.csv")
    best = df.sort("loss").group_by(["model", "total_steps"], maintain_order=True).first().sort(["N", "D"])
    return tuple(best[c].to_numpy().astype(float) for c in ("N", "D", "loss"))


def test_misfitting_real_data_fit(misfitting):
    N, D, L = misfitting
    assert N.size == 81  # 11 sizes x their step counts, one row each after taking the best LR
    fit = fit_chinchilla(N, D, L)
    # Pinned after checking that the full 4,500-start reference gives the same optimum
    # (objective 8.859839997e-4 both, parameters within 1e-7 relative; 126 s vs 0.1 s).
    expected = {"E": 1.398238, "A": 21.68442, "B": 8.81197e5, "alpha": 0.1381662, "beta": 0.6698678}
    for k, v in expected.items():
        assert fit.params[k] == pytest.approx(v, rel=1e-4), k
    assert fit.objective == pytest.approx(8.859839997e-4, rel=1e-8)
    assert 0.1 < fit.params["alpha"] < 1 and 0.1 < fit.params["beta"] < 1
    assert fit.grad_norm < 1e-6
    assert fit.success
    # alpha << beta here (total N incl. embeddings): N_opt grows as C^0.83
    assert fit.derived["a"] == pytest.approx(0.82901, abs=1e-4)


def test_misfitting_reference_subset_agrees(misfitting):
    fit = fit_chinchilla(*misfitting)
    ref = fit_chinchilla(*misfitting, method="lbfgs", n_starts=30)
    assert abs(ref.objective - fit.objective) / fit.objective < 1e-6
    assert max(_rel(ref.params, fit.params).values()) < 5e-3


# ---------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        (([1e9] * 6, [1e10] * 6, [2.0] * 5), {}, ValueError, "same shape"),
        (([1e9] * 5 + [0.0], [1e10] * 6, [2.0] * 6), {}, ValueError, "N must be finite and > 0"),
        (([1e9] * 6, [1e10] * 5 + [-1.0], [2.0] * 6), {}, ValueError, "D must be finite and > 0"),
        (([1e9] * 6, [1e10] * 6, [2.0] * 5 + [0.0]), {}, ValueError, "L must be finite and > 0"),
        (([1e9] * 6, [1e10] * 6, [2.0] * 5 + [np.nan]), {}, ValueError, "L contains NaN"),
        (([1e9] * 5, [1e10] * 5, [2.0] * 5), {}, InsufficientDataError, "at least 6 points"),
        (([[1e9] * 6], [[1e10] * 6], [[2.0] * 6]), {}, ValueError, "must be 1-D"),
        (([1e9] * 6, [1e10] * 6, [2.0] * 6), {"method": "bfgs"}, ValueError, "method must be"),
        (([1e9] * 6, [1e10] * 6, [2.0] * 6), {"delta": 0.0}, ValueError, "delta must be > 0"),
        (([1e9] * 6, [1e10] * 6, [2.0] * 6), {"init": {"E": 1.0}}, ValueError, "init is missing"),
    ],
)
def test_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fit_chinchilla(*args, **kwargs)


def test_insufficient_data_is_a_value_error():
    with pytest.raises(ValueError, match="got 3"):
        fit_chinchilla([1e9, 2e9, 3e9], [1e10] * 3, [3.0, 2.9, 2.8])
