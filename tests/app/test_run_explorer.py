"""Run explorer on the bundled samples: reduced curves in SQL (bucket counts, zeros on a log axis), metadata,
overlays, URL round-trip of its selections, and the Pretraining page's loss-curve chart (AppTest)."""

from __future__ import annotations

import polars as pl
import pytest

from app.services import runs as svc
from data import run_explorer as rx
from data.connect import open_ro
from tests.app.conftest import run_page

VERL = "val/test_score/openai/gsm8k"


@pytest.fixture(scope="module")
def con(demo_db):
    c = open_ro(demo_db)
    yield c
    c.close()


def test_reduced_curves_count_points_and_drop_zeros_on_log_x(con):
    ids = rx.runs(con, kind="rl")["run_id"].to_list()
    assert len(ids) == 3  # the three verl PPO runs
    lin, tot = rx.reduced_curves(con, ids, VERL, "gpu_hours", False, 10)
    assert lin.group_by("run_id").len()["len"].max() <= 10
    assert dict(zip(tot["run_id"], tot["n_total"], strict=True)) == dict(
        zip(
            *lin.group_by("run_id").agg(pl.col("n_points").sum()).sort("run_id").to_dict().values(),
            strict=True,
        )
    )
    assert tot["n_dropped"].sum() == 0
    log, tot_log = rx.reduced_curves(con, ids, VERL, "gpu_hours", True, 10)
    # the step-0 validation sits at 0 GPU-hours: one point per run cannot go on a log axis
    assert tot_log["n_dropped"].to_list() == [1, 1, 1]
    assert log["x_min"].min() > 0
    # the last value of the last bucket is the run's last logged value
    last = con.execute(
        "SELECT arg_max(value, step) FROM metrics WHERE run_id = ? AND metric = ?", [ids[0], VERL]
    ).fetchone()[0]
    assert log.filter(pl.col("run_id") == ids[0]).sort("x")["value"][-1] == last
    with pytest.raises(ValueError, match="x must be one of"):
        rx.reduced_curves(con, ids, VERL, "bananas")


def test_curves_note_says_how_many_points_are_shown(con):
    ids = tuple(rx.runs(con, kind="rl")["run_id"].to_list()[:2])
    res = svc.curves(con, ids, VERL, "gpu_hours", True, False, n_buckets=20)
    assert f"from {int(res.totals['n_total'].sum()):,} logged points of 2 run(s)" in res.note
    assert "2 point(s) with GPU-hours <= 0" in res.note
    assert res.curves.height <= 40


def test_summary_metrics_of_a_gadre_run(con):
    run_id = rx.runs(con, source="gadre_overtraining")["run_id"][0]
    summary = rx.summary_metrics(con, run_id)
    final = con.execute("SELECT final_loss FROM v_final_loss WHERE run_id = ?", [run_id]).fetchone()[0]
    assert final in summary["value"].to_list()


def test_metadata_uses_readable_numbers(con):
    run = rx.runs(con, source="gadre_overtraining").row(0, named=True)
    meta = dict(svc.metadata(run).iter_rows())
    assert meta["run_id"] == run["run_id"]
    assert meta["n_params"].split()[0][-1] in "kMB"


def test_run_explorer_page_shows_a_verl_run_and_overlays(app_env):
    at = run_page("app_pages/runs.py")
    assert not at.exception, at.exception
    assert at.title[0].value == "Run explorer"
    at.selectbox(key="runs.kind").select("rl").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="runs.metric").value == VERL
    con = open_ro(app_env)
    ids = rx.runs(con, kind="rl")["run_id"].to_list()
    con.close()
    other = next(i for i in ids if i != at.selectbox(key="runs.run").value)
    at.multiselect(key="runs.overlay").set_value([other]).run()
    at.radio(key="runs.x").set_value("gpu_hours").run()
    at.checkbox(key="runs.log_x").check().run()
    assert not at.exception, at.exception
    notes = " ".join(c.value for c in at.caption)
    assert "of 2 run(s)" in notes and "GPU-hours <= 0" in notes
    assert at.get("vega_lite_chart")
    assert at.query_params["runs.x"] == "gpu_hours"
    assert at.query_params["runs.log_x"] == "true"


def test_pretraining_page_draws_loss_curves(app_env):
    at = run_page("app_pages/pretraining.py")
    at.selectbox(key="pretraining.source").select("misfitting_li2025").run()
    assert not at.exception, at.exception
    assert "Training loss curves" in [s.value for s in at.subheader]
    cap = next(c.value for c in at.caption if "reduced points" in c.value)
    assert cap.startswith("261 runs")  # (Mis)Fitting: 261 runs with per-checkpoint loss


def test_relabel_from_the_run_explorer_is_audited(app_env, tmp_path, monkeypatch):
    import shutil

    db = tmp_path / "curate.duckdb"
    shutil.copy(app_env, db)
    monkeypatch.setenv("SCALING_DB", str(db))
    at = run_page("app_pages/runs.py")
    at.selectbox(key="runs.kind").select("rl").run()
    run_id = at.selectbox(key="runs.run").value
    at.selectbox(key="runs._field").select("recipe")  # form widgets: sent with the submit
    at.text_input(key="runs._value").input("ppo-baseline")
    next(b for b in at.button if b.label == "Set label").click().run()
    assert not at.exception, at.exception
    assert [t.value for t in at.toast] == ["1 value(s) of recipe changed on 1 run(s)"]
    con = open_ro(db)
    try:
        assert con.execute("SELECT recipe FROM runs WHERE run_id = ?", [run_id]).fetchone() == (
            "ppo-baseline",
        )
        row = con.execute("SELECT actor, via, action, field, new_value FROM v_audit").fetchall()
    finally:
        con.close()
    assert row == [("app (no sign-in)", "app", "label", "recipe", "ppo-baseline")]
    at.run()
    history = at.dataframe[-1].value
    assert history["actor"].tolist() == ["app (no sign-in)"] and history["new_value"].tolist() == [
        "ppo-baseline"
    ]
    overview = run_page()  # the Overview lists the change too, with who made it
    assert not overview.exception, overview.exception
    assert any(e.label.startswith("Changes to runs: label and delete (1 newest)") for e in overview.expander)
    audit = next(d.value for d in overview.dataframe if "actor" in d.value.columns)
    assert audit["actor"].tolist() == ["app (no sign-in)"] and audit["run_id"].tolist() == [run_id]


def test_curve_chart_keeps_zeros_off_log_axes():
    from app import charts_runs
    from app.services.export import chart_data

    curves = pl.DataFrame(
        {"run_id": ["a"] * 3, "x": [0.0, 10.0, 100.0], "x_min": [0.0, 5.0, 50.0], "value": [0.0, 0.4, 0.6],
         "value_min": [0.0, 0.3, 0.5], "value_max": [0.1, 0.5, 0.7], "n_points": [1, 2, 3]}
    )  # fmt: skip
    lin = chart_data(charts_runs.curve_chart(curves, x_key="step", x_title="step", y_title="acc"))
    assert lin["x"].min() == 0.0
    log = charts_runs.curve_chart(
        curves, x_key="gpu_hours", x_title="h", y_title="acc", log_x=True, log_y=True
    )
    data = chart_data(log)
    assert data["x"].min() == 10.0 and data["value"].min() == 0.4
    spec = log.to_dict()
    scales = [layer["encoding"]["x"]["scale"] for layer in spec["layer"]]
    assert all(s["type"] == "log" and s["domain"][0] > 0 for s in scales)


def test_data_quality_rows_of_a_run_and_only_flagged_ones_listed(con):
    run_id = rx.runs(con, kind="rl")["run_id"][0]
    dq = rx.data_quality(con, run_id)
    assert (
        dq is not None
        and dq.height
        == con.execute(
            "SELECT count(DISTINCT metric) FROM metrics WHERE run_id = ? AND step IS NOT NULL", [run_id]
        ).fetchone()[0]
    )
    flagged = svc.flagged_quality(dq)
    assert flagged.height <= dq.height
    assert all(sum(r[c] or 0 for c in svc.QUALITY_FLAGS) > 0 for r in flagged.iter_rows(named=True))
