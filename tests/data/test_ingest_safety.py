"""Issue 8, ingest that never loses data: one writer at a time, unique temporary copies, SIGKILL safety,
unrepresentable values rejected with file/line/reason, and one bad file never costing the batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

import data.ingest.loader as loader_mod
from data.connect import LockTimeoutError, open_ro, writable_copy, write_lock
from data.ingest import ingest_paths

REPO = Path(__file__).resolve().parents[2]
META = {"type": "run", "kind": "pretrain", "source": "t", "n_params": 1e8, "n_tokens": 2e9}


def run_log(path: Path, run_id: str, n_steps: int, **meta) -> Path:
    lines = [json.dumps({**META, "run_id": run_id, **meta})]
    lines += [json.dumps({"step": i, "loss": 5.0 - i * 1e-6, "lr": 1e-3}) for i in range(1, n_steps + 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def scaling(*args: str, stderr_to: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=open(stderr_to, "w") if stderr_to else subprocess.PIPE,  # noqa: SIM115 (closed by the child)
        text=True,
        start_new_session=True,
    )


def finish(p: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise
    return p.returncode, out, err or ""


def wait_for_text(path: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.05)


def table_counts(db: Path) -> dict:
    con = open_ro(db)
    try:
        return dict(con.execute("SELECT run_id, count(*) FROM metrics GROUP BY 1").fetchall())
    finally:
        con.close()


def test_two_simultaneous_cli_ingests_both_land_with_exact_counts(tmp_path):
    a = run_log(tmp_path / "a.jsonl", "a", 3000)
    b = run_log(tmp_path / "b.jsonl", "b", 2000)
    db = tmp_path / "team.duckdb"
    logs = tmp_path / "logs"
    logs.mkdir()
    # hold the lock until both processes are running and waiting for it, then let them race for it
    with write_lock(db):
        pa = scaling("ingest", str(a), "--db", str(db), "--quiet", stderr_to=logs / "a.err")
        pb = scaling("ingest", str(b), "--db", str(db), "--quiet", stderr_to=logs / "b.err")
        for name in ("a.err", "b.err"):
            wait_for_text(logs / name, f"waiting for the ingest lock held by pid {os.getpid()}")
    ra, ra_out, _ = finish(pa)
    rb, rb_out, _ = finish(pb)
    assert (ra, rb) == (0, 0), ((logs / "a.err").read_text(), (logs / "b.err").read_text())
    assert "1 loaded" in ra_out and "1 loaded" in rb_out
    assert table_counts(db) == {"a": 6000, "b": 4000}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.jsonl",
        "b.jsonl",
        "logs",
        "team.duckdb",
        "team.duckdb.lock",
    ]


def test_two_racing_ingests_without_a_head_start(tmp_path):
    files = [run_log(tmp_path / f"r{i}.jsonl", f"r{i}", 500 * (i + 1)) for i in range(3)]
    db = tmp_path / "db.duckdb"
    procs = [scaling("ingest", str(f), "--db", str(db), "--quiet") for f in files]
    results = [finish(p) for p in procs]
    assert [r[0] for r in results] == [0, 0, 0], [r[2] for r in results]
    assert table_counts(db) == {"r0": 1000, "r1": 2000, "r2": 3000}


def test_lock_timeout_fails_clearly_and_writes_nothing(tmp_path, capsys):
    from app.cli import main

    a = run_log(tmp_path / "a.jsonl", "a", 5)
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [a])
    before = db.read_bytes()
    b = run_log(tmp_path / "b.jsonl", "b", 5)
    with write_lock(db):
        p = scaling("ingest", str(b), "--db", str(db), "--lock-timeout", "0.5")
        code, _, err = finish(p)
        assert code == 3
        assert f"waiting for the ingest lock held by pid {os.getpid()}" in err
        assert "still holds" in err and "--lock-timeout" in err
        with pytest.raises(LockTimeoutError, match="still holds"):
            with writable_copy(db, lock_timeout=0.2, on_wait=lambda m: None):
                pass
        # `scaling migrate` honours the same lock
        assert main(["migrate", "--db", str(db), "--lock-timeout", "0.2"]) == 3
    assert db.read_bytes() == before
    assert table_counts(db) == {"a": 10}


def test_sigkill_mid_ingest_leaves_last_consistent_state_and_next_ingest_works(tmp_path):
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [run_log(tmp_path / "first.jsonl", "first", 10)])
    before = db.read_bytes()
    big = tmp_path / "big"
    big.mkdir()
    for i in range(4):
        run_log(big / f"big{i}.jsonl", f"big{i}", 60_000)
    p = scaling("ingest", str(big), "--db", str(db), "--quiet")
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("db.duckdb.ingest-*.tmp")):
        assert p.poll() is None, "ingest finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the copy, parsing and writing
    assert p.poll() is None
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL
    assert db.read_bytes() == before  # the live file is the last consistent state
    assert table_counts(db) == {"first": 20}
    assert list(tmp_path.glob("db.duckdb.ingest-*.tmp"))  # the killed writer's copy is left behind ...
    rep = ingest_paths(db, [big], lock_timeout=5)  # ... the lock died with it, and the next writer works
    assert rep.count("loaded") == 4
    assert not list(tmp_path.glob("db.duckdb.ingest-*"))  # ... and removed the left-over copy
    assert table_counts(db) == {"first": 20, **{f"big{i}": 120_000 for i in range(4)}}


def test_writable_copy_uses_unique_names_and_a_private_spill_folder(tmp_path):
    db = tmp_path / "db.duckdb"
    with writable_copy(db) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
        (tmp_path / "db.duckdb.tmp").mkdir()  # DuckDB's default spill folder name: must not matter to us
        names = [p.name for p in tmp_path.glob("db.duckdb.ingest-*.tmp")]
        assert len(names) == 1 and names[0].startswith(f"db.duckdb.ingest-{os.getpid()}-")
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
        assert Path(spill).parent != tmp_path and "scaling-duckdb-spill-" in spill
    assert not Path(spill).exists()
    with pytest.raises(RuntimeError):
        with writable_copy(db) as con:
            con.execute("CREATE TABLE u AS SELECT 2 AS y")
            raise RuntimeError("boom")
    assert not list(tmp_path.glob("db.duckdb.ingest-*"))
    con = open_ro(db)
    assert [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()] == ["t"]
    con.close()


# ---- values that cannot be represented -----------------------------------------------------------------------

BIG_INT = "1" + "0" * 399  # 400 digits


def rejects_of(db: Path, name: str) -> dict[int, str]:
    con = open_ro(db)
    try:
        return dict(
            con.execute(
                "SELECT line, reason FROM rejects WHERE source_file LIKE ? ORDER BY line", [f"%/{name}"]
            ).fetchall()
        )
    finally:
        con.close()


def test_jsonl_unrepresentable_values_become_rejects_with_line_and_reason(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text(
        "\n".join(
            [
                '{"type": "run", "run_id": "r", "kind": "pretrain", "n_params": 1e8, "n_tokens": 2e9, '
                '"seed": NaN, "n_gpus": 2.5}',
                '{"step": 1, "loss": 5.0}',
                '{"step": 2, "loss": ' + BIG_INT + ', "lr": 0.1}',
                '{"step": 3, "loss": 1e400}',
                '{"step": ' + BIG_INT + ', "loss": 4.0}',
                '{"step": 4, "loss": ' + "9" * 5000 + "}",  # beyond Python's 4,300-digit int limit
                '{"step": 5, "loss": 4.0, "tokens_seen": 1e400}',
                '{"step": 6, "loss": NaN}',
                '{"step": 7, "loss": 3.9}',
            ]
        )
        + "\n"
    )
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [f])
    assert rep.count("loaded") == 1
    rej = rejects_of(db, "r.jsonl")
    assert sorted(rej) == [1, 3, 4, 5, 6, 7]
    assert "'seed' must be an integer" in rej[1] or "'n_gpus' must be an integer" in rej[1]
    assert "cannot be represented as a 64-bit float (out of range)" in rej[3] and "metric 'loss'" in rej[3]
    assert rej[4] == "metric 'loss': value 1e400 cannot be represented as a 64-bit float (out of range)"
    assert "out of range" in rej[5] and "'step'" in rej[5]
    assert "metric 'loss'" in rej[6] and "out of range" in rej[6]
    assert "axis 'tokens_seen'" in rej[7]
    con = open_ro(db)
    assert con.execute("SELECT seed, n_gpus FROM runs").fetchone() == (None, None)
    assert con.execute("SELECT count(*) FROM rejects WHERE line = 1").fetchone()[0] == 2
    assert con.execute("SELECT step, metric, value FROM metrics ORDER BY step, metric").fetchall() == [
        (1, "loss", 5.0),
        (2, "lr", 0.1),
        (5, "loss", 4.0),
        (7, "loss", 3.9),
    ]
    assert con.execute("SELECT step, flag FROM metric_flags").fetchall() == [(6, "nonfinite")]
    con.close()


@pytest.mark.parametrize(
    "meta,reason",
    [
        ({"n_params": 1e8, "n_tokens": float("nan")}, "'n_tokens' must be a finite positive number"),
        ({"n_params": 1e200, "n_tokens": 1e200}, "compute_flops = 6 N D overflows a 64-bit float"),
        (
            {"n_params": 1e8, "compute_flops": float("inf")},
            "'compute_flops' must be a finite positive number",
        ),
        ({"n_params": int(BIG_INT)}, "cannot be represented as a 64-bit float"),
    ],
)
def test_jsonl_non_finite_n_d_c_fail_that_file_only(tmp_path, meta, reason):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"type": "run", "run_id": "bad", "kind": "pretrain", **meta})
        + '\n{"step": 1, "loss": 3}\n'
    )
    good = run_log(tmp_path / "good.jsonl", "good", 3)
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [bad, good])
    st = {Path(o.path).name: o for o in rep.files}
    assert st["bad.jsonl"].status == "failed" and reason in st["bad.jsonl"].message
    assert st["good.jsonl"].status == "loaded"
    assert table_counts(db) == {"good": 6}
    assert list(rejects_of(db, "bad.jsonl")) == [0]


def test_csv_non_finite_and_unrepresentable_values(tmp_path):
    f = tmp_path / "sweep" / "runs.csv"
    f.parent.mkdir()
    f.write_text(
        "run_id,n_params,n_tokens,final_loss,seed,n_gpus,err\n"
        "ok,1e8,2e9,3.1,1,8,0.5\n"  # 2
        "nan_n,nan,2e9,3.1,1,8,0.5\n"  # 3
        "inf_d,1e8,1e400,3.1,1,8,0.5\n"  # 4
        "inf_loss,1e8,2e9,inf,1,8,0.5\n"  # 5
        "huge_c,1e200,1e200,3.0,1,8,0.5\n"  # 6: C = 6ND overflows
        f"bad_labels,1e8,4e9,3.0,{BIG_INT},2.5,{BIG_INT}\n"  # 7: labels dropped, err value rejected
        "nan_err,2e8,4e9,2.9,3,8,nan\n"  # 8: a NaN summary metric is a gap
    )
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [f])
    assert rep.count("loaded") == 1
    rej = rejects_of(db, "runs.csv")
    assert "column 'n_params': value 'nan' is not a finite number" in rej[3]
    assert "column 'n_tokens': value '1e400' is not a finite number" in rej[4]
    assert "column 'final_loss': value 'inf' is not a finite number" in rej[5]
    assert "'compute_flops' must be a finite positive number" in rej[6] and "6ND overflows" in rej[6]
    con = open_ro(db)
    assert sorted(r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()) == [
        "bad_labels",
        "nan_err",
        "ok",
    ]
    assert con.execute("SELECT seed, n_gpus FROM runs WHERE run_id = 'bad_labels'").fetchone() == (None, None)
    reasons7 = [r[0] for r in con.execute("SELECT reason FROM rejects WHERE line = 7").fetchall()]
    assert len(reasons7) == 3
    assert sum("value dropped, run loaded" in r for r in reasons7) == 2
    assert sum("column 'err'" in r and "out of range" in r for r in reasons7) == 1
    assert con.execute("SELECT run_id, value FROM metrics WHERE metric = 'err' ORDER BY 1").fetchall() == [
        ("ok", 0.5)
    ]
    assert con.execute("SELECT run_id, flag FROM metric_flags").fetchall() == [("nan_err", "nonfinite")]
    assert sorted(r[0] for r in con.execute("SELECT run_id FROM v_pretrain_points").fetchall()) == [
        "bad_labels",
        "nan_err",
        "ok",
    ]
    con.close()


def test_parquet_non_finite_values_are_rejected(tmp_path):
    f = tmp_path / "p" / "runs.parquet"
    f.parent.mkdir()
    pl.DataFrame(
        {
            "run_id": ["ok", "nan_n", "inf_loss", "inf_c"],
            "n_params": [1e8, float("nan"), 1e8, 1e8],
            "n_tokens": [2e9, 2e9, 2e9, 2e9],
            "compute_flops": [1.2e18, 1.2e18, 1.2e18, float("inf")],
            "final_loss": [3.0, 3.0, float("inf"), 3.0],
            "seed": [1.0, 2.0, 3.0, float("nan")],
        }
    ).write_parquet(f)
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [f])
    rej = rejects_of(db, "runs.parquet")
    assert sorted(rej) == [2, 3, 4]
    assert "column 'n_params'" in rej[2] and "not a finite number" in rej[2]
    assert "column 'final_loss'" in rej[3] and "not a finite number" in rej[3]
    assert "column 'compute_flops'" in rej[4] and "not a finite number" in rej[4]
    assert table_counts(db) == {"ok": 1}


def test_verl_log_unrepresentable_value_rejects_its_line_and_nan_is_a_gap(tmp_path):
    lines = [
        "{'actor_rollout_ref': {'model': {'path': 'Qwen/Qwen2.5-0.5B-Instruct'}},",
        " 'trainer': {'n_gpus_per_node': " + BIG_INT + ", 'nnodes': 1}}",
        "step:1 - timing/gen:10.0 - critic/score/mean:0.3",
        "step:2 - timing/gen:10.0 - critic/score/mean:1e400",
        "step:3 - timing/gen:10.0 - critic/score/mean:nan",
        "step:4 - timing/gen:10.0 - critic/score/mean:0.5",
    ]
    f = tmp_path / "run-x.log"
    f.write_text("\n".join(lines) + "\n")
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [f])
    assert rep.count("loaded") == 1, [o.message for o in rep.files]
    rej = rejects_of(db, "run-x.log")
    assert "out of range" in rej[4] and "critic/score/mean" in rej[4]
    assert any("'n_gpus' must be an integer" in r for r in rej.values())  # 400-digit GPU count dropped
    con = open_ro(db)
    assert con.execute(
        "SELECT step, value FROM metrics WHERE metric = 'critic/score/mean' ORDER BY step"
    ).fetchall() == [(1, 0.3), (4, 0.5)]
    assert con.execute("SELECT step, metric, flag FROM metric_flags").fetchall() == [
        (3, "critic/score/mean", "nonfinite")
    ]
    con.close()


def test_one_bad_file_never_costs_the_batch(tmp_path, monkeypatch):
    for i in range(3):
        run_log(tmp_path / f"g{i}.jsonl", f"g{i}", 4)
    boom_parse = tmp_path / "boom_parse.csv"
    boom_parse.write_text("run_id,n_params\nx,1e8\n")
    run_log(tmp_path / "boom_store.jsonl", "boom_store", 4)

    import data.ingest as ingest_mod

    real_parse = ingest_mod.FORMATS[1].parse

    def parse_table(path):
        if path.name == "boom_parse.csv":
            raise OverflowError("a reader bug")
        return real_parse(path)

    formats = list(ingest_mod.FORMATS)
    formats[1] = ingest_mod.FileFormat("table", formats[1].sniff, parse_table)
    monkeypatch.setattr(ingest_mod, "FORMATS", formats)
    real_insert = loader_mod._insert

    def insert(con, table, frame):
        if table == "metrics" and "boom_store" in frame["run_id"].to_list():
            raise duckdb.ConversionException("simulated conversion failure")
        return real_insert(con, table, frame)

    monkeypatch.setattr(loader_mod, "_insert", insert)
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [tmp_path])
    st = {Path(o.path).name: o for o in rep.files}
    assert st["boom_parse.csv"].status == "failed"
    assert st["boom_parse.csv"].message == "could not be parsed (OverflowError: a reader bug)"
    assert st["boom_store.jsonl"].status == "failed"
    assert (
        "could not be stored (ConversionException: simulated conversion failure)"
        in st["boom_store.jsonl"].message
    )
    assert [st[f"g{i}.jsonl"].status for i in range(3)] == ["loaded"] * 3
    assert table_counts(db) == {"g0": 8, "g1": 8, "g2": 8}
    con = open_ro(db)
    assert con.execute("SELECT count(*) FROM runs WHERE run_id = 'boom_store'").fetchone()[0] == 0
    assert (
        con.execute(
            "SELECT count(*) FROM ingest_files WHERE status = 'failed' AND path LIKE '%boom%'"
        ).fetchone()[0]
        == 2
    )
    con.close()
