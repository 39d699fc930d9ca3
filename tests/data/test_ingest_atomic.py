"""Ingest edge cases: keys first seen very late, interrupted ingests, readers during a refresh."""

from __future__ import annotations

import json

import pytest

import data.ingest as ingest_mod
from data.connect import open_ro
from data.ingest import ingest_paths

META = {"type": "run", "run_id": "long", "kind": "pretrain", "n_params": 1e8, "n_tokens": 2e9}


def test_metric_first_logged_after_25k_lines_is_kept_as_float(tmp_path):
    """DuckDB's JSON reader samples 20,480 records and drops later keys; our long-format parser must not."""
    f = tmp_path / "long.jsonl"
    lines = [json.dumps(META)] + [json.dumps({"step": i, "train/loss": 3.0}) for i in range(1, 25_001)]
    lines.append(json.dumps({"step": 25_001, "train/loss": 2.9, "eval/late_metric": 7}))
    f.write_text("\n".join(lines) + "\n")
    ingest_paths(tmp_path / "db.duckdb", [f])
    con = open_ro(tmp_path / "db.duckdb")
    row = con.execute(
        "SELECT step, value, typeof(value) FROM metrics WHERE metric = 'eval/late_metric'"
    ).fetchone()
    assert row == (25_001, 7.0, "DOUBLE")
    assert con.execute("SELECT count(*) FROM metrics").fetchone()[0] == 25_002
    con.close()


def test_interrupted_ingest_leaves_previous_database_untouched(tmp_path, monkeypatch):
    a = tmp_path / "in" / "a.jsonl"
    a.parent.mkdir()
    a.write_text(json.dumps(dict(META, run_id="a")) + "\n" + json.dumps({"step": 1, "loss": 3.0}) + "\n")
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [a])
    before = db.read_bytes()
    b = tmp_path / "in" / "b.jsonl"
    b.write_text(json.dumps(dict(META, run_id="b")) + "\n" + json.dumps({"step": 1, "loss": 2.0}) + "\n")
    c = tmp_path / "in" / "c.jsonl"
    c.write_text(json.dumps(dict(META, run_id="c")) + "\n" + json.dumps({"step": 1, "loss": 2.0}) + "\n")
    real = ingest_mod.load_parsed
    calls = {"n": 0}

    def flaky(con, parsed, sha):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the second file
        return real(con, parsed, sha)

    monkeypatch.setattr(ingest_mod, "load_parsed", flaky)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths(db, [tmp_path / "in"])
    assert db.read_bytes() == before
    assert not (tmp_path / "db.duckdb.tmp").exists()
    assert not list(tmp_path.glob("db.duckdb.ingest-*"))  # the unique temporary copy is removed too
    con = open_ro(db)
    assert [r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()] == ["a"]
    con.close()


def test_reader_keeps_its_snapshot_while_ingest_swaps_the_file(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text(json.dumps(dict(META, run_id="a")) + "\n" + json.dumps({"step": 1, "loss": 3.0}) + "\n")
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [a])
    reader = open_ro(db)
    b = tmp_path / "b.jsonl"
    b.write_text(json.dumps(dict(META, run_id="b")) + "\n" + json.dumps({"step": 1, "loss": 2.0}) + "\n")
    ingest_paths(db, [b])  # must not fail although a reader holds the file
    assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    reader.close()
    fresh = open_ro(db)
    assert fresh.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
    fresh.close()
