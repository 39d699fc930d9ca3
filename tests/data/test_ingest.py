"""Ingest contract: idempotent, bad records rejected with file/line/reason, unparseable files load nothing."""

from __future__ import annotations

import gzip
import json

import pytest

from data.connect import open_ro
from data.ingest import ingest_paths

META = {"type": "run", "run_id": "r1", "kind": "pretrain", "source": "t", "n_params": 1e8, "n_tokens": 2e9}


def write_jsonl(path, records, trailing_newline=True):
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records)
    path.write_text(text + ("\n" if trailing_newline else ""))
    return path


def counts(db):
    con = open_ro(db)
    out = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("runs", "metrics", "rejects")}
    con.close()
    return out


def test_jsonl_loads_late_keys_and_fills_6nd(tmp_path):
    f = write_jsonl(
        tmp_path / "r1.jsonl",
        [
            META,
            {"step": 1, "train/loss": 5.0},
            {"step": 2, "train/loss": 4.0, "val/loss": 4.2, "tokens_seen": 1e6},
        ],
    )
    rep = ingest_paths(tmp_path / "db.duckdb", [f])
    assert rep.count("loaded") == 1
    con = open_ro(tmp_path / "db.duckdb")
    run = con.execute("SELECT compute_flops, compute_source, loss_metric FROM runs").fetchone()
    assert run == (pytest.approx(6 * 1e8 * 2e9), "6ND", "val/loss")
    assert con.execute("SELECT final_loss, final_step FROM v_final_loss").fetchone() == (4.2, 2)
    assert con.execute("SELECT count(*) FROM metrics").fetchone()[0] == 3
    con.close()


def test_ingesting_twice_adds_nothing(tmp_path):
    f = write_jsonl(tmp_path / "r1.jsonl", [META, {"step": 1, "loss": 5.0}])
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [f])
    before = counts(db)
    rep = ingest_paths(db, [tmp_path])
    assert rep.count("unchanged") == 1 and rep.count("loaded") == 0
    assert counts(db) == before


def test_grown_log_replaces_its_rows(tmp_path):
    f = write_jsonl(tmp_path / "r1.jsonl", [META, {"step": 1, "loss": 5.0}])
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [f])
    write_jsonl(f, [META, {"step": 1, "loss": 5.0}, {"step": 2, "loss": 4.5}])
    ingest_paths(db, [f])
    assert counts(db) == {"runs": 1, "metrics": 2, "rejects": 0}


def test_bad_line_is_rejected_with_line_and_reason_rest_loads(tmp_path):
    f = write_jsonl(
        tmp_path / "r1.jsonl",
        [
            META,
            {"step": 1, "loss": 5.0},
            '{"step": 2, "loss": ',
            {"step": 3, "loss": "abc", "lr": 0.1},
            {"step": "x"},
            {"step": 4, "loss": 4.0},
        ],
    )
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [f])
    con = open_ro(db)
    rej = con.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall()
    assert [r[0] for r in rej] == [3, 4, 5]
    assert "invalid JSON" in rej[0][1]
    assert rej[1][1] == "metric 'loss': value 'abc' is text, not a number"
    assert "'step' must be an integer" in rej[2][1]
    # good lines and the good metric of line 4 (lr) are kept
    assert con.execute("SELECT count(*) FROM metrics").fetchone()[0] == 3
    assert con.execute("SELECT source_file FROM v_rejects LIMIT 1").fetchone()[0].endswith("r1.jsonl")
    con.close()


def test_truncated_last_line_is_rejected_as_truncated(tmp_path):
    f = write_jsonl(
        tmp_path / "r1.jsonl", [META, {"step": 1, "loss": 5.0}, '{"step": 2, "lo'], trailing_newline=False
    )
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [f])
    con = open_ro(db)
    assert con.execute("SELECT line, reason FROM rejects").fetchall() == [
        (3, "truncated last record (no newline at end of file)")
    ]
    con.close()


@pytest.mark.parametrize(
    "name,content",
    [
        ("cut.jsonl", '{"type": "run", "run_id": "r9", "ki'),
        ("cut.jsonl.gz", None),
        ("cut.parquet", b"PAR1\x00\x01garbage"),
        ("nometa.jsonl", '{"step": 1, "loss": 3.0}\n'),
        ("empty.csv", ""),
    ],
)
def test_unparseable_file_loads_nothing_and_says_why(tmp_path, name, content):
    f = tmp_path / name
    if name.endswith(".gz"):
        full = gzip.compress((json.dumps(META) + "\n" + json.dumps({"step": 1, "loss": 2.0}) + "\n").encode())
        f.write_bytes(full[: len(full) // 2])
    elif isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(content)
    good = write_jsonl(tmp_path / "good.jsonl", [dict(META, run_id="good"), {"step": 1, "loss": 3.0}])
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [f, good])
    outcome = {o.path.split("/")[-1]: o for o in rep.files}
    assert outcome[name].status == "failed" and outcome[name].message
    assert outcome["good.jsonl"].status == "loaded"
    con = open_ro(db)
    assert con.execute("SELECT run_id FROM runs").fetchall() == [("good",)]
    assert con.execute("SELECT line FROM rejects WHERE source_file LIKE ?", [f"%{name}"]).fetchall() == [(0,)]
    con.close()


def test_run_table_rejects_bad_rows_keeps_good(tmp_path):
    f = tmp_path / "sweep" / "runs.csv"
    f.parent.mkdir()
    f.write_text(
        "run_id,n_params,n_tokens,final_loss,corpus,err_avg\n"
        "a,1e8,2e9,3.1,c4,0.6\n"
        "b,abc,2e9,3.0,c4,0.6\n"
        "c,1e8,-5,3.0,c4,0.6\n"
        "a,1e8,2e9,3.1,c4,0.6\n"
        ",1e8,2e9,3.1,c4,0.6\n"
        "d,2e8,4e9,2.9,c4,\n"
    )
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [f])
    con = open_ro(db)
    assert [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY 1").fetchall()] == ["a", "d"]
    rej = dict(con.execute("SELECT line, reason FROM rejects").fetchall())
    assert set(rej) == {3, 4, 5, 6}
    assert "n_params" in rej[3] and "not a number" in rej[3]
    assert "must be positive" in rej[4]
    assert "duplicate run_id" in rej[5]
    src, loss = con.execute("SELECT source, final_loss FROM v_final_loss WHERE run_id = 'd'").fetchone()
    assert (src, loss) == ("sweep", 2.9)
    assert (
        con.execute("SELECT value FROM metrics WHERE run_id = 'a' AND metric = 'err_avg'").fetchone()[0]
        == 0.6
    )
    con.close()


def test_run_id_clash_across_files_is_rejected(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [META, {"step": 1, "loss": 5.0}])
    b = write_jsonl(tmp_path / "b.jsonl", [META, {"step": 1, "loss": 4.0}])
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [a, b])
    con = open_ro(db)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert "already ingested from" in con.execute("SELECT reason FROM rejects").fetchone()[0]
    con.close()


def test_eval_tables_both_forms(tmp_path):
    s = tmp_path / "answers.csv"
    s.write_text(
        "run_id,model,benchmark,problem_id,correct,answer,output_tokens\n"
        "j1,m,b,p1,true,4,100\nj1,m,b,p1,false,5,120\nj1,m,b,p2,maybe,4,90\nj1,m,b,p2,1,7,80\n"
    )
    c = tmp_path / "counts.csv"
    c.write_text("run_id,model,benchmark,problem_id,n_samples,n_correct\nj2,m,b,p1,10,3\nj2,m,b,p2,10,11\n")
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [s, c])
    con = open_ro(db)
    assert con.execute("SELECT count(*) FROM eval_samples").fetchone()[0] == 3
    assert con.execute("SELECT sample_idx FROM eval_samples WHERE problem_id = 'p2'").fetchall() == [(1,)]
    assert con.execute("SELECT count(*) FROM eval_counts").fetchone()[0] == 1
    reasons = [r[0] for r in con.execute("SELECT reason FROM rejects ORDER BY line").fetchall()]
    assert len(reasons) == 2 and "not true/false" in reasons[0] + reasons[1]
    byp = con.execute(
        "SELECT run_id, problem_id, n_samples, n_correct FROM v_eval_by_problem ORDER BY 1, 2"
    ).fetchall()
    assert byp == [("j1", "p1", 2, 1), ("j1", "p2", 1, 1), ("j2", "p1", 10, 3)]
    assert sorted(r[0] for r in con.execute("SELECT kind FROM runs").fetchall()) == ["eval", "eval"]
    con.close()


def test_missing_path_raises_before_writing(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        ingest_paths(tmp_path / "db.duckdb", [tmp_path / "nope"])
    assert not (tmp_path / "db.duckdb").exists()


def test_eval_negative_token_count_is_rejected(tmp_path):
    f = tmp_path / "answers.csv"
    f.write_text(
        "run_id,model,benchmark,problem_id,correct,output_tokens\nj,m,b,p1,true,100\nj,m,b,p2,false,-45\n"
    )
    ingest_paths(tmp_path / "db.duckdb", [f])
    con = open_ro(tmp_path / "db.duckdb")
    assert con.execute("SELECT count(*) FROM eval_samples").fetchone()[0] == 1
    assert con.execute("SELECT line, reason FROM rejects").fetchall() == [
        (3, "column 'output_tokens': -45 is negative (a count or cost)")
    ]
    con.close()


def test_bom_non_utf8_line_huge_step_and_resumed_steps(tmp_path):
    f = tmp_path / "r.jsonl"
    body = (
        b"\xef\xbb\xbf"
        + json.dumps(META).encode()
        + b"\n"
        + b'{"step": 1, "loss": 5.0}\n'
        + b'{"step": 2, "loss": 4.\xff}\n'
        + b'{"step": 9223372036854775808, "loss": 4.0}\n'
        + b'{"step": 3, "loss": "x"}\n'
        + b'{"step": 3, "loss": 3.5}\r\n'
        + b'{"step": 2, "loss": 4.4}\n'
    )
    f.write_bytes(body)
    ingest_paths(tmp_path / "db.duckdb", [f])
    con = open_ro(tmp_path / "db.duckdb")
    assert con.execute("SELECT step, value FROM metrics ORDER BY step").fetchall() == [
        (1, 5.0),
        (2, 4.4),
        (3, 3.5),
    ]
    rej = dict(con.execute("SELECT line, reason FROM rejects").fetchall())
    assert rej[3] == "line is not valid UTF-8 text"
    assert "out of range" in rej[4]
    assert rej[5] == "metric 'loss': value 'x' is text, not a number"
    assert set(rej) == {3, 4, 5}
    con.close()


def test_resumed_run_later_record_wins_and_the_overlap_is_recorded(tmp_path):
    f = write_jsonl(
        tmp_path / "r.jsonl",
        [
            META,
            {"step": 1, "loss": 5.0},
            {"step": 2, "loss": 4.0},
            {"step": 2, "loss": 3.9},
            {"step": 3, "loss": 3.5},
        ],
    )
    ingest_paths(tmp_path / "db.duckdb", [f])
    con = open_ro(tmp_path / "db.duckdb")
    assert con.execute("SELECT value FROM metrics WHERE step = 2").fetchall() == [(3.9,)]
    assert con.execute("SELECT count(*) FROM rejects").fetchone()[0] == 0
    assert con.execute(
        "SELECT flag, step, value, line, kept_value, kept_line FROM metric_flags"
    ).fetchall() == [("overlap", 2, 4.0, 3, 3.9, 4)]
    con.close()


def test_counts_duplicates_and_bad_seed(tmp_path):
    c = tmp_path / "counts.csv"
    c.write_text(
        "run_id,model,benchmark,problem_id,n_samples,n_correct\nj,m,b,p1,10,3\nj,m,b,p2,10,1\nj,m,b,p1,10,4\n"
    )
    r = tmp_path / "runs.csv"
    r.write_text("run_id,n_params,n_tokens,final_loss,seed\na,1e8,2e9,3.1,1.5\nb,1e8,4e9,3.0,7\n")
    ingest_paths(tmp_path / "db.duckdb", [c, r])
    con = open_ro(tmp_path / "db.duckdb")
    assert con.execute("SELECT problem_id, n_correct FROM eval_counts ORDER BY 1").fetchall() == [
        ("p1", 3),
        ("p2", 1),
    ]
    assert con.execute("SELECT run_id, seed FROM runs WHERE kind = 'pretrain' ORDER BY 1").fetchall() == [
        ("a", None),
        ("b", 7),
    ]
    reasons = [r[0] for r in con.execute("SELECT reason FROM rejects ORDER BY source_file, line").fetchall()]
    assert any("duplicate problem 'p1'" in x for x in reasons)
    assert any("'1.5' is not an integer; value dropped, run loaded" in x for x in reasons)
    con.close()


def test_file_whose_runs_all_clash_is_failed(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [META, {"step": 1, "loss": 5.0}])
    b = write_jsonl(tmp_path / "b.jsonl", [META, {"step": 1, "loss": 4.0}])
    rep = ingest_paths(tmp_path / "db.duckdb", [a, b])
    assert [f.status for f in rep.files] == ["loaded", "failed"]
    assert "already ingested" in rep.files[1].message
