"""Tests for analysis.downstream (Gadre et al. 2024, arXiv 2403.08540)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.downstream import fit_loss_to_error, predict_error
from analysis.errors import InsufficientDataError
from analysis.overtraining import fit_overtraining, predict_overtraining

SMALL = ["d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8"]


def test_gadre_error_law_reproduction(shared_data):
    r = pl.read_csv(shared_data / "gadre_overtraining" / "runs.csv")
    d = pl.read_csv(shared_data / "gadre_overtraining" / "downstream.csv")
    r = r.join(d.select("run", "err_avg_17"), on="run").filter(pl.col("train_dataset") == "rpj")
    loss_set = r.filter(
        (pl.col("model_shape").is_in(SMALL) & (pl.col("tokens_per_param") == 20))
        | ((pl.col("model_shape") == "d=96_l=8_h=4") & (pl.col("tokens_per_param") == 320))
    )
    err_set = pl.concat([loss_set, r.filter(pl.col("run") == "rpj-open_lm_1b-1.0")])
    assert err_set.height == 6
    fit = fit_loss_to_error(err_set["loss_c4_val"], err_set["err_avg_17"])
    assert fit.law == "loss_to_error"
    p = fit.params
    assert (round(p["eps"], 3), round(p["k"], 3), round(p["gamma"], 3)) == (0.857, 2.206, 0.715)
    # chained prediction: loss from the over-training law, then error from the loss
    lfit = fit_overtraining(loss_set["params"], loss_set["tokens"], loss_set["loss_c4_val"])
    t = r.filter(pl.col("run").is_in(["rpj-open_lm_1b-32.0", "rpj-open_lm_7b-1.0"])).sort("params")
    err_pred = predict_error(p, predict_overtraining(lfit.params, t["params"], t["tokens"]))
    actual = t["err_avg_17"].to_numpy()
    rel = np.abs(err_pred - actual) / actual * 100
    assert np.round(rel, 2).tolist() == [3.64, 0.05]  # 1.4B @ M=640, 6.9B @ M=20


def test_recovers_synthetic(rng):
    L = np.linspace(2.3, 6.0, 12)
    y = predict_error({"eps": 0.85, "k": 2.5, "gamma": 0.75}, L) + 1e-4 * rng.standard_normal(12)
    fit = fit_loss_to_error(L, y)
    assert fit.params["eps"] == pytest.approx(0.85, abs=5e-3)
    assert fit.params["k"] == pytest.approx(2.5, rel=0.03)
    assert fit.params["gamma"] == pytest.approx(0.75, abs=0.01)


def test_limits_and_errors():
    p = {"eps": 0.8, "k": 2.0, "gamma": 1.0}
    assert predict_error(p, 50.0)[0] == pytest.approx(0.8)  # ceiling at high loss
    assert predict_error(p, 1.0)[0] == pytest.approx(0.8 - 2.0 * np.exp(-1.0))
    with pytest.raises(ValueError, match="L must be finite and > 0"):
        predict_error(p, -1.0)
    with pytest.raises(ValueError, match="L contains NaN"):
        predict_error(p, [np.nan])
    with pytest.raises(ValueError, match="lacks"):
        predict_error({"eps": 1.0}, 2.0)
    with pytest.raises(ValueError, match="within \\[0, 1\\]"):
        fit_loss_to_error([2.0, 3.0, 4.0], [0.5, 1.5, 0.7])
    with pytest.raises(ValueError, match="same shape"):
        fit_loss_to_error([2.0, 3.0, 4.0], [0.5, 0.6])
    with pytest.raises(InsufficientDataError, match="at least 3"):
        fit_loss_to_error([2.0, 3.0], [0.5, 0.6])
