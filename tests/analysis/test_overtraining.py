"""Tests for analysis.overtraining (Gadre et al. 2024, arXiv 2403.08540)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.errors import InsufficientDataError
from analysis.overtraining import fit_overtraining, overtraining_loss, predict_overtraining

SMALL = ["d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8"]


def gadre_rpj(shared_data):
    r = pl.read_csv(shared_data / "gadre_overtraining" / "runs.csv")
    d = pl.read_csv(shared_data / "gadre_overtraining" / "downstream.csv")
    return r.join(d.select("run", "err_avg_17"), on="run").filter(pl.col("train_dataset") == "rpj")


def default_loss_fit_set(r):
    """Paper Table 2 default: four small shapes at M = 20 plus the 10.6M shape at M = 320."""
    return r.filter(
        (pl.col("model_shape").is_in(SMALL) & (pl.col("tokens_per_param") == 20))
        | ((pl.col("model_shape") == "d=96_l=8_h=4") & (pl.col("tokens_per_param") == 320))
    )


def test_gadre_reproduction(shared_data):
    r = gadre_rpj(shared_data)
    fs = default_loss_fit_set(r)
    assert fs.height == 5
    fit = fit_overtraining(fs["params"], fs["tokens"], fs["loss_c4_val"])
    assert fit.law == "overtraining" and fit.success
    p = fit.params
    assert round(p["E"], 3) == 1.837
    assert round(fit.derived["exponent_ND"], 3) == 0.273
    assert round(p["eta"], 3) == 0.136
    assert round(p["a"], 1) == 212.2
    assert round(p["b"], 1) == 366.7
    assert fit.derived["M_star"] == pytest.approx(7.4, abs=0.05)
    targets = r.filter(pl.col("run").is_in(["rpj-open_lm_1b-32.0", "rpj-open_lm_7b-1.0"])).sort("params")
    pred = predict_overtraining(p, targets["params"], targets["tokens"])
    actual = targets["loss_c4_val"].to_numpy()
    rel = np.abs(pred - actual) / actual * 100
    # 1.4B @ M = 640: 0.71% (pred 2.520 vs 2.502); 6.9B @ M = 20: 0.73% (2.443 vs 2.425)
    assert np.round(rel, 2).tolist() == [0.71, 0.73]
    assert np.round(pred, 3).tolist() == [2.520, 2.443]


def test_recovers_synthetic_parameters(rng):
    N = np.repeat([1e7, 3e7, 1e8, 3e8, 1e9], 3)
    M = np.tile([10.0, 40.0, 160.0], 5)
    D = M * N
    truth = dict(E=1.8, a=150.0, b=400.0, eta=0.14)
    L = predict_overtraining(truth, N, D) + 1e-4 * rng.standard_normal(N.size)
    fit = fit_overtraining(N, D, L)
    assert fit.params["E"] == pytest.approx(1.8, abs=0.02)
    assert fit.params["eta"] == pytest.approx(0.14, abs=0.005)
    assert fit.params["a"] == pytest.approx(150.0, rel=0.15)
    assert fit.params["b"] == pytest.approx(400.0, rel=0.15)


def test_parallel_lines_in_compute():
    """At fixed M the reducible loss is a pure power law in C with exponent eta."""
    N = np.array([1e7, 1e8, 1e9])
    L = overtraining_loss(N, 20 * N, 1.8, 200.0, 300.0, 0.15)
    C = 6 * N * 20 * N
    slope = np.diff(np.log(L - 1.8)) / np.diff(np.log(C))
    np.testing.assert_allclose(slope, -0.15, rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="same shape"):
        overtraining_loss([1.0, 2.0], [1.0], 1, 1, 1, 0.1)
    with pytest.raises(ValueError, match="finite and > 0"):
        overtraining_loss([0.0], [1.0], 1, 1, 1, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        overtraining_loss([np.nan], [1.0], 1, 1, 1, 0.1)
    with pytest.raises(ValueError, match="empty"):
        fit_overtraining([], [], [])
    with pytest.raises(InsufficientDataError, match="at least 4 runs"):
        fit_overtraining([1e7, 1e8, 1e9], [1e8, 1e9, 1e10], [4.0, 3.5, 3.0])
    with pytest.raises(ValueError, match="L contains NaN"):
        fit_overtraining([1e7] * 4, [1e8] * 4, [4.0, np.nan, 3.0, 2.0])
    with pytest.raises(ValueError, match="lacks"):
        predict_overtraining({"E": 1.0}, [1e7], [1e8])
