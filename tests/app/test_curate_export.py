"""`scaling label` / `scaling delete` with audit rows and undo by re-ingest; `scaling export --duckdb-compat` opened by
the DuckDB 1.x CLI from PyPI (the dev extra's ``duckdb-cli``; skipped when absent) and `--parquet` round-trip."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from app.cli import main
from app.services.demo import demo_paths
from app.settings import SAMPLES_DIR
from data.connect import open_ro
from data.ingest import ingest_paths

SMALL = "source = 'gadre_overtraining' AND n_params < 2e7"


@pytest.fixture
def db(demo_db, tmp_path):
    dst = tmp_path / "store.duckdb"
    shutil.copy(demo_db, dst)
    return dst


def _q(db, sql, params=None):
    con = open_ro(db)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_label_records_audit_rows_and_reingest_undoes_it(db, capsys):
    n_small = _q(db, f"SELECT count(*) FROM v_runs WHERE {SMALL}")[0][0]
    assert n_small > 0
    assert main(["label", "--db", str(db), "--where", SMALL, "--set", "recipe=tiny", "--by", "alice"]) == 0
    assert f"{n_small} label value(s) changed on {n_small} run(s)" in capsys.readouterr().out
    assert _q(db, "SELECT count(*) FROM v_runs WHERE recipe = 'tiny'")[0][0] == n_small
    audit = _q(db, "SELECT actor, via, action, field, old_value, new_value FROM v_audit")
    assert len(audit) == n_small and set(audit) == {("alice", "cli", "label", "recipe", None, "tiny")}
    files = "SELECT DISTINCT file_id FROM runs WHERE source = 'gadre_overtraining'"
    assert _q(db, f"SELECT DISTINCT status FROM ingest_files WHERE file_id IN ({files})") == [("curated",)]
    # labelling again to the same value changes nothing and records nothing
    assert main(["label", "--db", str(db), "--where", SMALL, "--set", "recipe=tiny"]) == 0
    assert _q(db, "SELECT count(*) FROM v_audit")[0][0] == n_small
    # re-ingest restores the file's own labels
    ingest_paths(db, demo_paths(SAMPLES_DIR))
    assert _q(db, "SELECT count(*) FROM v_runs WHERE recipe = 'tiny'")[0][0] == 0
    assert _q(db, "SELECT count(*) FROM v_audit")[0][0] == n_small  # the trail stays


def test_delete_by_id_and_where_with_audit_and_undo(db, capsys):
    rl = [r[0] for r in _q(db, "SELECT run_id FROM runs WHERE kind = 'rl' ORDER BY run_id")]
    n_metrics = _q(db, "SELECT count(*) FROM metrics WHERE run_id = ?", [rl[0]])[0][0]
    assert main(["delete", rl[0], "--db", str(db), "--by", "bob"]) == 0
    assert f"deleted 1 run(s), {n_metrics:,} metric rows" in capsys.readouterr().out
    assert _q(db, "SELECT count(*) FROM runs WHERE run_id = ?", [rl[0]])[0][0] == 0
    assert _q(db, "SELECT count(*) FROM metrics WHERE run_id = ?", [rl[0]])[0][0] == 0
    (actor, action, old) = _q(db, "SELECT actor, action, old_value FROM v_audit")[0]
    assert (actor, action) == ("bob", "delete") and json.loads(old)["run_id"] == rl[0]
    assert main(["delete", "--db", str(db), "--where", "kind = 'rl'", "--dry-run"]) == 0
    assert capsys.readouterr().out.split() == rl[1:]
    ingest_paths(db, demo_paths(SAMPLES_DIR))
    assert _q(db, "SELECT count(*) FROM metrics WHERE run_id = ?", [rl[0]])[0][0] == n_metrics


@pytest.mark.parametrize(
    ("argv", "msg"),
    [
        (["label", "nope", "--set", "recipe=x"], "no such run(s): nope"),
        (["label", "--where", "kind = 'rl'", "--set", "n_params=1"], "cannot set 'n_params'"),
        (["label", "--where", "kind = 'rl'", "--set", "recipe"], "key=value"),
        (["delete", "--where", "no_such_col = 1"], "--where failed"),
        (["delete", "--where", "1=1; drop table runs"], "one SQL expression"),
        (["delete"], "no run selected"),
    ],
)
def test_bad_curation_requests_are_clear_errors(db, capsys, argv, msg):
    assert main([*argv, "--db", str(db)]) == 2
    assert msg in capsys.readouterr().err
    assert _q(db, "SELECT count(*) FROM v_audit")[0][0] == 0


def _duckdb1_cli() -> Path | None:
    """The DuckDB 1.x CLI installed by the dev extra's ``duckdb-cli`` package (never downloaded here)."""
    cand = Path(sys.executable).parent / "duckdb"
    if cand.exists():
        return cand
    found = shutil.which("duckdb")
    return Path(found) if found else None


def test_duckdb1_cli_opens_the_compat_export_but_not_the_store(db, tmp_path, capsys):
    out = tmp_path / "compat.duckdb"
    assert main(["export", "--db", str(db), "--duckdb-compat", str(out)]) == 0
    assert main(["export", "--db", str(db), "--duckdb-compat", str(out)]) == 2  # never overwrites
    con = duckdb.connect(str(out), read_only=True)
    assert con.execute("SELECT count(*) FROM v_runs").fetchone() == _q(db, "SELECT count(*) FROM v_runs")[0]
    con.close()
    cli = _duckdb1_cli()
    if cli is None:
        pytest.skip("no DuckDB 1.x CLI (pip install duckdb-cli; it is in the dev extra)")
    version = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=30).stdout
    if not version.startswith("v1."):
        pytest.skip(f"the duckdb on PATH is {version.strip()}, not a 1.x client")
    # README's direct-SQL advice, run by the 1.x CLI on the exported file
    sql = "SELECT count(*) AS n FROM v_final_loss WHERE source = 'gadre_overtraining';"
    res = subprocess.run(
        [cli, "-readonly", "-csv", str(out), "-c", sql], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["n", "104"]
    views = [r[0] for r in _q(db, "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1")]
    every_view = " ".join(f"SELECT '{v}' AS v, count(*) AS n FROM {v};" for v in views)
    res = subprocess.run(
        [cli, "-readonly", "-csv", str(out), "-c", every_view], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and "Error" not in res.stderr, res.stderr
    assert (
        sorted(ln.split(",")[0] for ln in res.stdout.split() if ln.startswith("v_")) == views
    )  # every view reads
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    examples = readme.split("```sql", 1)[1].split("```", 1)[0]  # the README's SQL examples, as written
    res = subprocess.run(
        [cli, "-readonly", str(out), "-c", examples], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and "Error" not in res.stderr, res.stderr
    assert "n_best" in res.stdout and "alpha" in res.stdout  # both examples printed their result tables
    live = subprocess.run(
        [cli, "-readonly", str(db), "-c", "SELECT 1"], capture_output=True, text=True, timeout=60
    )
    assert live.returncode != 0 and "version number" in (live.stderr + live.stdout)


def test_parquet_export_rebuilds_the_store(db, tmp_path):
    folder = tmp_path / "pq"
    assert main(["export", "--db", str(db), "--parquet", str(folder)]) == 0
    assert (folder / "runs.parquet").exists() and (folder / "schema.sql").exists()
    con = duckdb.connect()
    con.execute(f"IMPORT DATABASE '{folder}'")
    assert (
        con.execute("SELECT count(*) FROM v_pretrain_points").fetchone()
        == _q(db, "SELECT count(*) FROM v_pretrain_points")[0]
    )
    con.close()
