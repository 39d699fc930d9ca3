"""Paper reproductions through the store: bundled samples -> ingest -> DuckDB views -> services -> numbers.

Every value here is also pinned in tests/analysis on the raw CSVs; these tests check that ingest, the views, the
selection filters and the service composition keep them.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from app.services.approaches import compare_approaches, selection_filter
from app.services.datamix import compare_corpora
from app.services.laws_extra import fit_overtraining_and_error
from app.services.sizing import size_model
from data.connect import open_ro


@pytest.fixture(scope="module")
def con(demo_db):
    # the app's read-only configuration: the AppTests of the same session keep the file open with it
    c = open_ro(demo_db)
    yield c
    c.close()


def test_gadre_loss_and_error_extrapolation(con):
    """Gadre et al. 2024 (arXiv 2403.08540), default fitting set on RedPajama: 0.71%, 0.73% loss error and
    3.64%, 0.05% 17-task error error for the 1.4B (M = 640) and 6.9B (M = 20) runs."""
    fit = fit_overtraining_and_error(con, "gadre_overtraining", "corpus = 'rpj'", fit_set="paper")
    assert len(fit.loss_fit_runs) == 5 and len(fit.error_fit_runs) == 6
    p = fit.loss_fit.params
    assert round(p["E"], 3) == 1.837 and round(fit.loss_fit.derived["exponent_ND"], 3) == 0.273
    e = fit.error_fit.params
    assert (round(e["eps"], 3), round(e["k"], 3), round(e["gamma"], 3)) == (0.857, 2.206, 0.715)
    bt = fit.backtest.filter(
        pl.col("run_id").is_in(["gadre/rpj-open_lm_1b-32.0", "gadre/rpj-open_lm_7b-1.0"])
    )
    bt = bt.sort("n_params")
    assert np.round(bt["loss_rel_error_pct"].to_numpy(), 2).tolist() == [0.71, 0.73]
    assert np.round(bt["err_rel_error_pct"].to_numpy(), 2).tolist() == [3.64, 0.05]
    assert bt["extrapolation"].min() > 200  # both are > 200x the largest fitted run's compute
    # the fit records keep the law, the selection and the backtest
    assert [r["law"] for r in fit.records] == ["overtraining", "loss_to_error"]
    assert fit.records[0]["axis"] == "pretraining" and fit.records[0]["backtest"]["n_test"] >= 2


def test_gadre_bootstrap_keeps_replicates(con):
    fit = fit_overtraining_and_error(con, "gadre_overtraining", "corpus = 'rpj'", n_boot=4, seed=1)
    assert fit.loss_fit.bootstrap.n == 4
    assert fit.records[0]["replicates"] is not None
    assert len(fit.records[0]["replicates"]["replicates"]["eta"]) == 4


def test_porian_tuned_refinedweb_exponent(con):
    """Porian et al. 2024 (arXiv 2406.19146): tuned RefinedWeb, a = 0.497 with 95% CI (0.491, 0.505)."""
    where = selection_filter("rw", "tuned-short-const-standard-val")
    res = compare_approaches(
        con, "porian_compute_optimal", where, budget=1e21, n_boot=20, seed=0, neighbors=2
    )
    row = res.table.filter(pl.col("approach").str.starts_with("2:")).row(0, named=True)
    assert row["status"] == "ok" and row["n_points"] == 12
    assert row["a"] == pytest.approx(0.5012, abs=5e-4)
    assert 0.491 < row["a"] < 0.505
    assert row["a_lo"] < row["a"] < row["a_hi"]
    # no per-step curves in this sample: Approach 1 says why
    r1 = res.table.filter(pl.col("approach").str.starts_with("1:")).row(0, named=True)
    assert r1["status"] == "not applicable" and "curves" in r1["reason"]


def test_llama3_isoflop_extrapolation(con):
    """Llama 3 (arXiv 2407.21783): ~16.55T optimal tokens at 3.8e25 FLOPs (we get 16.10T, within 5%)."""
    res = compare_approaches(con, "llama3_isoflops", None, budget=3.8e25, n_boot=0, neighbors=0)
    row = res.table.filter(pl.col("approach").str.starts_with("2:")).row(0, named=True)
    assert row["b"] == pytest.approx(0.5368, abs=5e-4)
    assert row["D_opt"] == pytest.approx(16.10e12, rel=5e-3)
    assert row["D_opt"] == pytest.approx(16.55e12, rel=0.05)
    assert row["N_opt"] == pytest.approx(393.3e9, rel=5e-3)
    assert res.minima.height == 10 and res.minima["inside"].all()


def test_sardana_13b(con):
    """Sardana et al. 2024 (arXiv 2401.00448): 13B Chinchilla-optimal, 2T inference tokens -> 7.1B, 16% saved."""
    r = size_model(con, "preset:Chinchilla (unrounded)", inference_tokens=2e12, reference_params=13e9)
    assert round(r.target_loss, 4) == 2.0238
    assert r.optimum["N"] == pytest.approx(7.12e9, rel=5e-3)
    assert r.optimum["D"] == pytest.approx(1.295e12, rel=5e-3)
    assert round(r.optimum["saving_fraction"], 3) == 0.163
    rounded = size_model(
        con, "preset:Chinchilla (rounded, Eq. 10)", inference_tokens=2e12, reference_params=13e9
    )
    assert rounded.optimum["N"] == pytest.approx(8.0e9, rel=0.01)


def test_sardana_from_fresh_fit_has_intervals(con):
    r = size_model(
        con, "fit:gadre_overtraining|corpus = 'rpj'", inference_tokens=1e13, reference_params=7e9, n_boot=8
    )
    assert r.n_replicates >= 2
    lo, hi = r.intervals["N"]
    assert lo <= r.optimum["N"] <= hi
    assert r.optimum["N"] < r.optimum["N0"]  # heavy inference demand shrinks the model


def test_marin_multiplier_and_intervals(con):
    res = compare_corpora(
        con, "marin_isoflops", "recipe = 'isoflop-ladder'", budget=1e21, reference="comma", n_boot=10, seed=0
    )
    t = {r["mix"]: r for r in res.table.iter_rows(named=True)}
    assert set(t) == {"comma", "dclm", "nemotron"}
    assert t["comma"]["multiplier"] == pytest.approx(1.0)
    # Nemotron and DCLM both beat Comma at 1e21 FLOPs on Paloma (point estimates 3.79x and 2.57x)
    assert t["nemotron"]["multiplier"] == pytest.approx(3.79, rel=0.02)
    assert t["dclm"]["multiplier"] == pytest.approx(2.57, rel=0.02)
    assert t["nemotron"]["multiplier_lo"] > 1.0
    assert t["nemotron"]["alpha_lo"] < t["nemotron"]["alpha"] < t["nemotron"]["alpha_hi"]
    assert len(res.records) == 3 and res.records[0]["law"] == "compute"


def test_bad_inputs_raise_value_error(con):
    with pytest.raises(ValueError, match="budget"):
        compare_approaches(con, "llama3_isoflops", None, budget=-1.0)
    with pytest.raises(ValueError, match="at least two"):
        compare_corpora(con, "llama3_isoflops")
    with pytest.raises(ValueError, match="unknown preset"):
        size_model(con, "preset:nope")
    with pytest.raises(ValueError, match="target_loss"):
        size_model(con, "preset:Chinchilla (unrounded)", target_loss=1.0)
