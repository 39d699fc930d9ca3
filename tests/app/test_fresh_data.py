"""After an ingest replaces the database file, the next page run shows the new runs without a restart."""

from __future__ import annotations

import json
import shutil

from app.settings import SAMPLES_DIR
from data.ingest import ingest_paths
from tests.app.conftest import run_page


def _runs_metric(at) -> str:
    return next(m.value for m in at.metric if m.label == "runs")


def test_overview_shows_a_run_ingested_while_the_app_runs(monkeypatch, demo_db, tmp_path):
    db = tmp_path / "live.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.setenv("SCALING_DB", str(db))
    at = run_page()
    assert not at.exception
    before = int(_runs_metric(at).replace(",", ""))
    # a new JSON Lines run log lands through the real ingest (copy, then os.replace of the live file)
    log = tmp_path / "extra" / "fresh-run.jsonl"
    log.parent.mkdir()
    src = sorted((SAMPLES_DIR / "misfitting_li2025").glob("*.jsonl"))[0]
    header, *rest = src.read_text().splitlines()
    run = json.loads(header)
    run["run_id"] = "fresh/run-1"
    log.write_text("\n".join([json.dumps(run), *rest]) + "\n")
    rep = ingest_paths(db, [log])
    assert rep.count("failed") == 0
    at.run()
    assert not at.exception
    assert int(_runs_metric(at).replace(",", "")) == before + 1
