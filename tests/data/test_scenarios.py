"""The scenarios table (migration 0020), v_scenarios and the logged-compute baseline query."""

from __future__ import annotations

import pytest

from data.connect import open_rw
from data.migrate import migrate
from data.scenarios import SCENARIO_COLUMNS, list_scenarios, logged_compute, save_scenarios


def _row(**kw):
    base = {c: None for c in SCENARIO_COLUMNS if c not in ("scenario_id", "created_at")}
    base.update(name="s", kind="split", budget_total=1e24, budget_unit="flops", queries=1e9, share_pretraining=0.8,
                share_rl=0.05, share_test_time=0.15, n_params=1e10, n_tokens=2e11, metric=0.5, metric_lo=0.4,
                metric_hi=0.6, extrapolated=False, config_json={"a": 1}, result_json={"b": 2})  # fmt: skip
    base.update(kw)
    return base


def test_save_replace_and_list(tmp_path):
    con = open_rw(tmp_path / "s.duckdb")
    try:
        migrate(con)
        assert list_scenarios(con).height == 0
        ids = save_scenarios(con, [_row(), _row(name="t", metric=0.7)])
        again = save_scenarios(con, [_row()])  # same name and inputs: replaced, not duplicated
        df = list_scenarios(con)
    finally:
        con.close()
    assert again == ids[:1] and df.height == 2
    row = df.filter(df["name"] == "s").row(0, named=True)
    assert row["tokens_per_param"] == pytest.approx(20.0)
    assert row["metric_lo"] <= row["metric"] <= row["metric_hi"]
    assert "config_json" not in df.columns


def test_logged_compute_on_an_empty_store(tmp_path):
    con = open_rw(tmp_path / "e.duckdb")
    try:
        migrate(con)
        lc = logged_compute(con)
    finally:
        con.close()
    assert lc["pretraining_flops"] == 0.0 and lc["rl_gpu_hours"] == 0.0 and lc["eval_samples"] == 0.0
