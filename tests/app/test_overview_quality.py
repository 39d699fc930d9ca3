"""AppTest: the Overview page shows the data-quality counts of v_data_quality (issue 10 item 3)."""

from __future__ import annotations

import json

from data import queries
from data.connect import open_ro
from data.ingest import ingest_paths
from tests.app.conftest import run_page


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _quality_frame(at):
    return next(d.value for d in at.dataframe if "n_level_shifts" in d.value.columns)


def test_overview_shows_data_quality_of_the_real_samples(app_env):
    con = open_ro(app_env)
    n_metrics = con.execute("SELECT count(*) FROM metrics").fetchone()[0]
    totals = queries.data_quality_totals(con)
    flagged = queries.data_quality(con, True, 500)
    con.close()
    at = run_page()
    assert not at.exception
    m = _metrics(at)
    assert m["points stored"] == f"{n_metrics:,}" and totals["n_points"] == n_metrics
    # the bundled samples were converted once per point: no restarts, overlaps, duplicates or gaps
    assert (
        m["step-counter restarts"],
        m["overlaps (later kept)"],
        m["duplicates collapsed"],
        m["NaN/Inf gaps"],
    ) == ("0", "0", "0", "0")
    assert (m["spikes"], m["level shifts"]) == (f"{totals['n_spikes']:,}", f"{totals['n_level_shifts']:,}")
    assert m["series with a flag"] == f"{flagged.height:,} of {totals['n_series']:,}"
    shown = _quality_frame(at)
    assert len(shown) == flagged.height > 0  # AppTest hands back pandas frames
    assert int(shown["n_spikes"].sum()) == int(flagged["n_spikes"].sum())


def test_overview_counts_a_restart_an_overlap_a_duplicate_and_a_gap(tmp_path, monkeypatch):
    meta = {"type": "run", "run_id": "r", "kind": "pretrain", "n_params": 1e8, "n_tokens": 2e9}
    lines = [json.dumps(meta)]
    lines += [json.dumps({"step": s, "loss": 5 - s / 10}) for s in range(1, 5)]
    lines += [
        json.dumps({"step": 4, "loss": 4.6}),
        json.dumps({"step": 3, "loss": 3.0}),
    ]  # duplicate, overlap
    lines += ['{"step": 5, "loss": NaN}', json.dumps({"step": 0, "loss": 6.0})]  # gap, then a restart
    f = tmp_path / "r.jsonl"
    f.write_text("\n".join(lines) + "\n")
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [f])
    monkeypatch.setenv("SCALING_DB", str(db))
    at = run_page()
    assert not at.exception
    m = _metrics(at)
    assert (
        m["points stored"],
        m["step-counter restarts"],
        m["overlaps (later kept)"],
        m["duplicates collapsed"],
        m["NaN/Inf gaps"],
    ) == ("5", "1", "1", "1", "1")
    row = _quality_frame(at).iloc[0]
    assert (row["run_id"], row["metric"], row["n_points"], row["n_segments"], row["n_resets"]) == (
        "r",
        "loss",
        5,
        2,
        1,
    )
