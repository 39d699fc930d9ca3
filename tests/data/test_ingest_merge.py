"""Issue 10 items 2-4: nothing lost, nothing invented (merge per step and metric, segments, overlaps, duplicates,
gaps, coercion, blank cells), the data-quality view, and an ingest that is loud about what it did not read."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from data.connect import open_ro
from data.ingest import ingest_paths

META = {"type": "run", "run_id": "r", "kind": "pretrain", "source": "t", "n_params": 1e8, "n_tokens": 2e9}


def write_jsonl(path: Path, records) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def q(db: Path, sql: str, params=None):
    con = open_ro(db)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def quality(db: Path, metric: str, run_id: str = "r") -> dict:
    con = open_ro(db)
    try:
        cur = con.execute("SELECT * FROM v_data_quality WHERE run_id = ? AND metric = ?", [run_id, metric])
        cols = [d[0] for d in cur.description]
        return dict(zip(cols, cur.fetchone(), strict=True))
    finally:
        con.close()


def test_train_and_eval_records_at_the_same_step_keep_every_metric(tmp_path):
    f = write_jsonl(
        tmp_path / "r.jsonl",
        [
            META,
            {"step": 10, "train/loss": 3.0, "lr": 1e-3, "tokens_seen": 1e6},
            {"step": 10, "eval/loss": 3.2, "eval/acc": 0.4},
            {"step": 20, "train/loss": 2.8, "lr": 1e-3, "tokens_seen": 2e6},
            {"step": 20, "eval/loss": 3.0, "eval/acc": 0.45},
            {"step": 30, "train/loss": 2.7, "tokens_seen": 3e6, "late/metric": 1.5},
        ],
    )
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [f])
    assert rep.files[0].n_rows == 10 and rep.files[0].n_rejects == 0
    assert q(db, "SELECT count(*) FROM rejects") == [(0,)]
    assert q(db, "SELECT metric, count(*) FROM metrics GROUP BY 1 ORDER BY 1") == [
        ("eval/acc", 2),
        ("eval/loss", 2),
        ("late/metric", 1),
        ("lr", 2),
        ("train/loss", 3),
    ]
    # the eval record carries no tokens_seen: it takes the step's axis from the train record
    assert q(db, "SELECT step, tokens_seen FROM metrics WHERE metric = 'eval/loss' ORDER BY step") == [
        (10, 1e6),
        (20, 2e6),
    ]
    assert q(db, "SELECT loss_metric FROM runs") == [("eval/loss",)]
    assert q(db, "SELECT final_loss, final_step FROM v_final_loss") == [(3.0, 20)]
    assert q(db, "SELECT count(*) FROM metric_flags") == [(0,)]


def test_duplicates_collapse_and_a_resume_keeps_the_later_value(tmp_path):
    recs = [META] + [{"step": s, "loss": 5.0 - s / 10, "acc": s / 10} for s in range(1, 6)]
    recs.append({"step": 5, "loss": 4.5, "acc": 0.5})  # exact repeat of step 5
    # resume from the checkpoint at step 3: steps 3-5 re-logged with other losses (acc identical), then 6-7
    recs += [{"step": s, "loss": 4.0 - s / 10, "acc": s / 10} for s in range(3, 8)]
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [write_jsonl(tmp_path / "r.jsonl", recs)])
    assert rep.files[0].n_flags == {"duplicate": 5, "overlap": 3, "nonfinite": 0, "segments_restarted": 0}
    assert "3 points logged again with another value" in rep.files[0].message
    assert q(db, "SELECT step, value FROM metrics WHERE metric = 'loss' ORDER BY step") == [
        (1, 4.9),
        (2, 4.8),
        (3, 3.7),
        (4, 3.6),
        (5, 3.5),
        (6, 3.4),
        (7, 3.3),
    ]
    assert q(db, "SELECT count(*) FROM metrics WHERE metric = 'acc'") == [(7,)]
    assert q(
        db,
        "SELECT step, value, line, kept_value, kept_line FROM metric_flags WHERE flag = 'overlap' ORDER BY step",
    ) == [(3, 4.7, 4, 3.7, 8), (4, 4.6, 5, 3.6, 9), (5, 4.5, 6, 3.5, 10)]
    dq = quality(db, "loss")
    assert (dq["n_points"], dq["n_overlaps"], dq["n_duplicates_collapsed"], dq["n_segments"]) == (7, 3, 1, 1)
    dq = quality(db, "acc")
    assert (dq["n_points"], dq["n_overlaps"], dq["n_duplicates_collapsed"]) == (7, 0, 4)
    assert q(db, "SELECT count(*) FROM rejects") == [(0,)]


def test_a_restarted_step_counter_starts_a_new_segment(tmp_path):
    recs = [META] + [{"step": s, "loss": 5.0 - s / 10} for s in range(0, 6)]
    recs += [{"step": s, "loss": 6.0 - s / 10} for s in range(0, 4)]  # a new job from step 0 in the same log
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [write_jsonl(tmp_path / "r.jsonl", recs)])
    assert rep.files[0].n_flags["segments_restarted"] == 1
    assert "step counter restarted at line 8 (step 5 -> 0): stored as segment 1" in rep.files[0].message
    assert q(db, "SELECT segment, count(*) FROM metrics GROUP BY 1 ORDER BY 1") == [(0, 6), (1, 4)]
    assert q(db, "SELECT count(*) FROM metric_flags") == [(0,)]  # never merged into the run's start
    # fits read the last segment only
    assert q(db, "SELECT min(step), max(step), count(*), min(segment) FROM v_loss_curves") == [(0, 3, 4, 1)]
    assert q(db, "SELECT final_loss, final_step FROM v_final_loss") == [(5.7, 3)]
    dq = quality(db, "loss")
    assert (dq["n_points"], dq["n_segments"], dq["n_resets"], dq["n_overlaps"]) == (10, 2, 1, 0)


def test_numeric_strings_are_coerced_and_other_values_rejected_with_the_right_reason(tmp_path):
    recs = [
        META,
        {"step": 1, "acc": "0.91", "loss": " 2.5 ", "n": "7"},
        {"step": "2", "acc": "abc", "loss": True, "flag": [1, 2], "cfg": {"a": 1}},
        {"step": 3, "acc": "NaN", "loss": "-inf", "x": "1e400"},
    ]
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [write_jsonl(tmp_path / "r.jsonl", recs)])
    assert q(db, "SELECT step, metric, value FROM metrics ORDER BY step, metric") == [
        (1, "acc", 0.91),
        (1, "loss", 2.5),
        (1, "n", 7.0),
    ]
    assert q(db, "SELECT line, reason FROM rejects ORDER BY line, reason") == [
        (3, "metric 'acc': value 'abc' is text, not a number"),
        (3, "metric 'cfg': value is a JSON object, not a number"),
        (3, "metric 'flag': value is a JSON array, not a number"),
        (3, "metric 'loss': value True is a boolean, not a number"),
        (4, "metric 'x': value 1e400 cannot be represented as a 64-bit float (out of range)"),
    ]
    assert sorted(q(db, "SELECT metric, flag, value FROM metric_flags")) == [
        ("acc", "nonfinite", pytest.approx(float("nan"), nan_ok=True)),
        ("loss", "nonfinite", float("-inf")),
    ]


def test_nan_and_inf_are_gaps_never_fitted_and_never_a_final_loss(tmp_path):
    # run a: NaN in the middle, finite at the end -> final loss is the last finite value
    a = write_jsonl(
        tmp_path / "a.jsonl",
        [
            dict(META, run_id="a"),
            {"step": 1, "loss": 3.0},
            '{"step": 2, "loss": NaN}',
            {"step": 3, "loss": 2.5},
        ],
    )
    # run b diverged: its last logged loss is Infinity -> no final loss at all (not the earlier 3.0)
    b = write_jsonl(
        tmp_path / "b.jsonl",
        [dict(META, run_id="b"), {"step": 1, "loss": 3.0}, '{"step": 2, "loss": Infinity}'],
    )
    # run c: a non-finite summary value in a per-run table
    c = tmp_path / "c.csv"
    c.write_text("run_id,n_params,n_tokens,final_loss,err\nc,1e8,2e9,2.9,nan\n")
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [a, b, c])
    assert q(db, "SELECT count(*) FROM metrics WHERE NOT isfinite(value)") == [(0,)]
    assert q(db, "SELECT run_id, step, flag FROM metric_flags ORDER BY 1") == [
        ("a", 2, "nonfinite"),
        ("b", 2, "nonfinite"),
        ("c", None, "nonfinite"),
    ]
    assert q(db, "SELECT run_id, final_loss, final_step FROM v_final_loss ORDER BY 1") == [
        ("a", 2.5, 3),
        ("c", 2.9, None),
    ]
    assert q(db, "SELECT run_id FROM v_pretrain_points ORDER BY 1") == [("a",), ("c",)]
    assert q(db, "SELECT run_id, count(*) FROM v_loss_curves GROUP BY 1 ORDER BY 1") == [("a", 2), ("b", 1)]
    assert quality(db, "loss", "b")["n_nonfinite"] == 1
    assert quality(db, "err", "c")["n_points"] == 0 and quality(db, "err", "c")["n_nonfinite"] == 1


def test_blank_cells_are_not_logged_and_one_na_keeps_a_column_numeric(tmp_path):
    f = tmp_path / "sweep" / "runs.csv"
    f.parent.mkdir()
    f.write_text(
        "run_id,n_params,n_tokens,final_loss,err_a,err_b,notes\n"
        "a,1e8,2e9,3.1,0.5,,fine\n"
        "b,2e8,2e9,3.0,N/A,0.0,\n"
        "c,3e8,2e9,2.9,0.4,,odd\n"
        "d,4e8,2e9,2.8,0.3,0.2,x\n"
    )
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [f])
    assert rep.files[0].n_runs == 4
    assert q(db, "SELECT run_id, value FROM metrics WHERE metric = 'err_a' ORDER BY 1") == [
        ("a", 0.5),
        ("c", 0.4),
        ("d", 0.3),
    ]
    # blank cells are "not logged": no row, never 0 or NaN; the real 0.0 is kept
    assert q(db, "SELECT run_id, value FROM metrics WHERE metric = 'err_b' ORDER BY 1") == [
        ("b", 0.0),
        ("d", 0.2),
    ]
    assert q(db, "SELECT line, reason FROM rejects") == [
        (3, "column 'err_a': value 'N/A' is text, not a number; this value not loaded, run loaded")
    ]
    assert q(db, "SELECT count(*) FROM metric_flags") == [(0,)]
    assert q(db, "SELECT run_id, config_json->>'notes' FROM runs ORDER BY 1") == [
        ("a", "fine"),
        ("b", None),
        ("c", "odd"),
        ("d", "x"),
    ]
    assert quality(db, "err_b", "b")["n_zero"] == 1


def test_spikes_and_level_shifts_follow_the_documented_rule(tmp_path):
    spike = [3.0] * 6 + [9.0] + [3.0] * 6
    shift = [4.0] * 8 + [2.0] * 8
    trend = [10.0 / (1 + s) for s in range(16)]  # a steep smooth decrease is neither
    recs = [META] + [
        {
            "step": s,
            **({"spiky": spike[s]} if s < len(spike) else {}),
            "shifty": shift[s],
            "smooth": trend[s],
            "zeros": 0.0,
        }
        for s in range(16)
    ]
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [write_jsonl(tmp_path / "r.jsonl", recs)])
    got = {m: quality(db, m) for m in ("spiky", "shifty", "smooth", "zeros")}
    assert {m: (d["n_points"], d["n_spikes"], d["n_level_shifts"]) for m, d in got.items()} == {
        "spiky": (13, 1, 0),
        "shifty": (16, 0, 1),
        "smooth": (16, 0, 0),
        "zeros": (16, 0, 0),
    }
    assert got["zeros"]["n_zero"] == 16


def test_real_verl_jsonl_samples_have_exact_quality_counts(tmp_path, samples):
    folder = samples / "verl_gsm8k_ppo" / "jsonl"
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [folder])
    assert rep.count("loaded") == 3 and rep.n_rejects == 0
    for f in sorted(folder.glob("*.jsonl")):
        lines = f.read_text().splitlines()
        run_id = json.loads(lines[0])["run_id"]
        expected = Counter()
        seen = set()
        for ln in lines[1:]:
            rec = json.loads(ln)
            for k, v in rec.items():
                if (
                    k not in ("step", "tokens_seen", "flops_seen", "gpu_hours_seen", "wall_time_s")
                    and v is not None
                ):
                    assert (rec["step"], k) not in seen  # the converted samples log each point once
                    seen.add((rec["step"], k))
                    expected[k] += 1
        got = dict(q(db, "SELECT metric, n_points FROM v_data_quality WHERE run_id = ?", [run_id]))
        assert got == dict(expected)
        assert q(
            db,
            "SELECT sum(n_resets), sum(n_overlaps), sum(n_duplicates_collapsed), sum(n_nonfinite) "
            "FROM v_data_quality WHERE run_id = ?",
            [run_id],
        ) == [(0, 0, 0, 0)]


def test_quality_is_backfilled_for_files_loaded_before_it_existed(tmp_path):
    from data.connect import writable_copy

    f = write_jsonl(tmp_path / "r.jsonl", [META] + [{"step": s, "loss": 3.0} for s in range(20)])
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [f])
    with writable_copy(db) as con:  # as a database written before migration 0030 would be
        con.execute("DELETE FROM metric_quality")
    assert q(db, "SELECT count(*) FROM v_data_quality") == [(0,)]
    rep = ingest_paths(db, [f])
    assert rep.count("unchanged") == 1
    assert q(db, "SELECT metric, n_points, n_spikes FROM v_data_quality") == [("loss", 20, 0)]


# ---- loud about what was not read ----------------------------------------------------------------------------


def test_skipped_files_are_named_with_reasons_and_hints(tmp_path):
    root = tmp_path / "logs"
    (root / "tb" / "run1").mkdir(parents=True)
    (root / "tb" / "run1" / "events.out.tfevents.1700000000.host.1.0").write_bytes(b"\x00" * 16)
    (root / "hf").mkdir()
    (root / "hf" / "trainer_state.json").write_text('{"log_history": []}')
    (root / "mlruns" / "0" / "abc").mkdir(parents=True)
    (root / "mlruns" / "0" / "abc" / "meta.yaml").write_text("run_id: abc\n")
    (root / "wandb" / "run-1").mkdir(parents=True)
    (root / "wandb" / "run-1" / "run-1.wandb").write_bytes(b"\x00")
    (root / "wandb" / "run-1" / "debug.log").write_text("2024-01-01 INFO wandb starting\n")
    (root / "README.md").write_text("notes\n")
    (root / ".cache").mkdir()
    write_jsonl(root / ".cache" / "hidden.jsonl", [dict(META, run_id="hidden"), {"step": 1, "loss": 1.0}])
    outside = tmp_path / "outside"
    outside.mkdir()
    write_jsonl(outside / "o.jsonl", [dict(META, run_id="outside"), {"step": 1, "loss": 1.0}])
    os.symlink(outside, root / "linked_dir")
    os.symlink(outside / "o.jsonl", root / "linked.jsonl")
    write_jsonl(root / "good.jsonl", [dict(META, run_id="good"), {"step": 1, "loss": 1.0}])
    os.symlink(root / "good.jsonl", root / "alias.jsonl")  # inside: read once at its real location
    lm = root / "lm" / "samples_gsm8k_2024.jsonl"
    lm.parent.mkdir()
    lm.write_text('{"doc_id": 0, "resps": [["4"]]}\n')

    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [root])
    st = {str(Path(o.path).relative_to(root)): (o.status, o.message) for o in rep.files}
    assert st["good.jsonl"][0] == "loaded" and "alias.jsonl" not in st
    assert st["tb/run1/events.out.tfevents.1700000000.host.1.0"] == (
        "skipped",
        "not read: looks like a TensorBoard event file (tfevents); no registered reader accepted it",
    )
    assert "Hugging Face Trainer" in st["hf/trainer_state.json"][1]
    assert "MLflow file store" in st["mlruns/0/abc/meta.yaml"][1]
    assert "Weights & Biases" in st["wandb/run-1/run-1.wandb"][1]
    # W&B's own debug.log is not sent to the verl reader
    assert (
        st["wandb/run-1/debug.log"][0] == "skipped" and "Weights & Biases" in st["wandb/run-1/debug.log"][1]
    )
    assert st["README.md"] == ("skipped", "not read: documentation, not a data file")
    assert st[".cache"] == ("skipped", "hidden folder not walked (pass --include-hidden to read it)")
    assert st["linked_dir"][0] == "skipped" and "outside" in st["linked_dir"][1]
    assert st["linked.jsonl"][0] == "skipped" and "not followed" in st["linked.jsonl"][1]
    assert st["lm/samples_gsm8k_2024.jsonl"][0] == "failed"
    assert "lm-evaluation-harness" in st["lm/samples_gsm8k_2024.jsonl"][1]
    assert q(db, "SELECT run_id FROM runs") == [("good",)]
    ledger = dict(q(db, "SELECT path, status FROM ingest_files"))
    assert sum(1 for s in ledger.values() if s == "skipped") == 9
    # re-ingesting does not pile up skipped rows; --include-hidden reads the hidden folder
    rep = ingest_paths(db, [root], include_hidden=True)
    assert q(db, "SELECT run_id FROM runs ORDER BY 1") == [("good",), ("hidden",)]
    assert q(db, "SELECT count(*) FROM ingest_files WHERE status = 'skipped'") == [(8,)]


def test_cli_json_summary_exit_codes_and_missing_n_d_warning(tmp_path, capsys):
    from app.cli import main

    db = tmp_path / "db.duckdb"
    only_docs = tmp_path / "docs"
    only_docs.mkdir()
    (only_docs / "README.md").write_text("nothing here\n")
    assert main(["ingest", str(only_docs), "--db", str(db), "--quiet"]) == 1
    assert "nothing was loaded" in capsys.readouterr().err

    bare = write_jsonl(
        tmp_path / "bare.jsonl",
        [{"type": "run", "run_id": "bare", "kind": "pretrain"}, {"step": 1, "acc": 0.5}],
    )
    assert main(["ingest", str(bare), "--db", str(db), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: run bare: no N (n_params), D (n_tokens), a loss" in err

    full = write_jsonl(tmp_path / "full.jsonl", [META, {"step": 1, "loss": 2.0}, {"step": 1, "loss": 2.0}])
    assert main(["ingest", str(full), str(only_docs), "--db", str(db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"loaded": 1, "unchanged": 0, "failed": 0, "skipped": 1}
    assert out["nothing_loaded"] is False and out["warnings"] == []
    f = next(x for x in out["files"] if x["path"].endswith("full.jsonl"))
    assert (f["status"], f["n_rows"], f["n_flags"]["duplicate"]) == ("loaded", 1, 1)
    # a re-ingest is a no-op, not "nothing loaded"
    assert main(["ingest", str(full), "--db", str(db), "--quiet"]) == 0


def _verl_sample(samples) -> tuple[str, list[str]]:
    f = samples / "verl_gsm8k_ppo" / "jsonl" / "qwen2.5-0.5b_bsz256_p512_r256.jsonl"
    lines = f.read_text().splitlines()
    return lines[0], lines[1:]


def _n_values(lines: list[str]) -> int:
    axes = {"step", "tokens_seen", "flops_seen", "gpu_hours_seen", "wall_time_s"}
    return sum(sum(1 for k, v in json.loads(ln).items() if k not in axes and v is not None) for ln in lines)


def test_real_verl_run_resumed_and_restarted_in_one_log(tmp_path, samples):
    meta, recs = _verl_sample(samples)
    db_ref = tmp_path / "ref.duckdb"
    (tmp_path / "ref").mkdir()
    ref = tmp_path / "ref" / "run.jsonl"
    ref.write_text("\n".join([meta, *recs]) + "\n")
    ingest_paths(db_ref, [ref])
    expected = sorted(q(db_ref, "SELECT step, metric, value FROM v_rl_curves"))
    assert len(expected) == _n_values(recs)

    # resumed from a checkpoint: steps of records 250-299 are logged twice with the same values
    resumed = tmp_path / "resumed" / "run.jsonl"
    resumed.parent.mkdir()
    resumed.write_text("\n".join([meta, *recs[:300], *recs[250:]]) + "\n")
    db = tmp_path / "resumed.duckdb"
    rep = ingest_paths(db, [resumed])
    assert rep.files[0].n_flags == {
        "duplicate": _n_values(recs[250:300]),
        "overlap": 0,
        "nonfinite": 0,
        "segments_restarted": 0,
    }
    assert sorted(q(db, "SELECT step, metric, value FROM v_rl_curves")) == expected

    # restarted from scratch after 100 records: the first attempt is kept as segment 0, fits read segment 1
    restarted = tmp_path / "restarted" / "run.jsonl"
    restarted.parent.mkdir()
    restarted.write_text("\n".join([meta, *recs[:100], *recs]) + "\n")
    db = tmp_path / "restarted.duckdb"
    rep = ingest_paths(db, [restarted])
    assert rep.files[0].n_flags["segments_restarted"] == 1 and rep.files[0].n_flags["duplicate"] == 0
    assert q(db, "SELECT segment, count(*) FROM metrics GROUP BY 1 ORDER BY 1") == [
        (0, _n_values(recs[:100])),
        (1, _n_values(recs)),
    ]
    assert sorted(q(db, "SELECT step, metric, value FROM v_rl_curves")) == expected
    assert q(db, "SELECT DISTINCT n_resets FROM v_data_quality") == [(1,)]
