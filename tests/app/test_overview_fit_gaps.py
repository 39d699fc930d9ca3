"""Overview: runs loaded from tool logs without N, D or C are listed with what a fit lacks and how to add it."""

from __future__ import annotations

import shutil
from pathlib import Path

from data.ingest import ingest_paths
from tests.app.conftest import run_page

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def test_overview_lists_runs_without_n_d_c(tmp_path, monkeypatch):
    root = tmp_path / "logs"
    shutil.copytree(FIX / "hf_trainer", root / "hf")
    shutil.copy(FIX / "mlflow" / "mlflow.db", root / "mlflow.db")
    shutil.copytree(FIX / "tensorboard", root / "tb")
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [root])
    monkeypatch.setenv("SCALING_DB", str(db))
    at = run_page()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["runs"] == "5"
    assert any("3 pretraining runs loaded without N, D, C or a loss" in c.value for c in at.caption)
    gaps = next(d.value for d in at.dataframe if "missing" in d.value.columns)
    assert dict(zip(gaps["run_id"], gaps["missing"], strict=True)) | {} == {
        "logs/hf/hf_out": "N (n_params)",
        **{rid: "D (n_tokens), C (compute_flops)" for rid in gaps["run_id"] if rid != "logs/hf/hf_out"},
    }
    assert not {"logs/tb/tb_run", "logs/tb/tb_hp"} & set(gaps["run_id"])  # their hparams gave N and D


def test_test_time_page_with_lm_eval_answers_without_token_counts(tmp_path, monkeypatch):
    """lm-eval samples carry no token counts: the thinking-tokens tab has nothing to chart and must not crash."""
    shutil.copytree(FIX / "lm_eval", tmp_path / "evals")
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [tmp_path / "evals"])
    monkeypatch.setenv("SCALING_DB", str(db))
    at = run_page("app_pages/test_time.py")
    assert not at.exception, [e.message for e in at.exception]
