"""Tool adapters on fixtures written by the tools themselves (tests/fixtures, scripts/make_fixtures.py).

Every count below follows from what scripts/make_fixtures.py asked each tool to log; the comments say how.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from data.connect import open_ro
from data.ingest import ingest_paths

FIX = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES_VERL = Path(__file__).resolve().parents[2] / "data" / "samples" / "verl_gsm8k_ppo" / "raw"


def has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


HAS_WANDB = has("wandb.proto.wandb_internal_pb2")
#: what a folder walk that skips hidden folders says about them (data.ingest.walk), when it does
HIDDEN_SKIP = "hidden folder not walked (pass --include-hidden to read it)"
HAS_AIM = has("aim")


def copy(tool: str, dst: Path) -> Path:
    shutil.copytree(FIX / tool, dst, symlinks=True)
    return dst


def query(db: Path, sql: str, params=None) -> list[tuple]:
    con = open_ro(db)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def points(db: Path, run_id: str | None = None) -> dict[str, int]:
    """Stored points per metric (of one run, or all)."""
    where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    return dict(query(db, f"SELECT metric, count(*) FROM metrics {where} GROUP BY 1", params))


def merge_flags(db: Path, outcome) -> dict[str, int]:
    """Overlaps, duplicates and NaN/Inf gaps of a load: the loader's ``metric_flags`` where it merges, else the
    counts the adapter noted (``common.LOADER_MERGES``)."""
    from data.ingest.adapters.common import LOADER_MERGES

    if LOADER_MERGES:
        return dict(query(db, "SELECT flag, count(*) FROM metric_flags GROUP BY 1"))
    notes = {"overlap": "points logged again with another value", "duplicate": "exact duplicate points collapsed",
             "nonfinite": "non-finite values (NaN/Inf) not stored"}  # fmt: skip
    out = {}
    for flag, text in notes.items():
        for part in outcome.message.split("; "):
            if part.endswith(text) or text in part:
                out[flag] = int(part.split(" ", 1)[0])
    return out


def run_row(db: Path, run_id: str) -> dict:
    con = open_ro(db)
    try:
        rel = con.sql("SELECT * FROM runs WHERE run_id = ?", params=[run_id])
        cols = rel.columns
        rows = rel.fetchall()
    finally:
        con.close()
    assert len(rows) == 1, f"{run_id}: {len(rows)} rows"
    d = dict(zip(cols, rows[0], strict=True))
    d["config"] = json.loads(d["config_json"])
    return d


def test_tensorboard_event_folder(tmp_path):
    logs = copy("tensorboard", tmp_path / "logs")
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [logs])
    assert [(f.status, f.format, f.n_runs) for f in rep.files] == [("loaded", "tensorboard", 1)] * 2
    # 10 add_scalar calls each for train/loss and lr (steps 0..900), eval/loss at steps 400 and 900
    assert points(db, "logs/tb_run") == {"train/loss": 10, "lr": 10, "eval/loss": 2}
    r = run_row(db, "logs/tb_run")
    assert (r["kind"], r["source"], r["corpus"], r["loss_metric"]) == (
        "pretrain",
        "logs",
        "fineweb",
        "eval/loss",
    )
    # N and D from the hparams plugin; C = 6ND
    assert (r["n_params"], r["n_tokens"]) == (1.24e8, 2.5e9)
    assert r["compute_flops"] == pytest.approx(6 * 1.24e8 * 2.5e9) and r["compute_source"] == "6ND"
    assert r["config"]["hparams"]["lr"] == pytest.approx(0.0006)
    assert r["config"]["text"]["config"]["model"] == "gpt-mini"  # the add_text JSON config, parsed
    # wall time kept: seconds since the first event (walltime T0 + 10 s per step; eval 5 s later)
    wall = dict(
        query(db, "SELECT metric, wall_time_s FROM metrics WHERE step = 900 AND run_id = 'logs/tb_run'")
    )
    assert wall == {"train/loss": 90.0, "lr": 90.0, "eval/loss": 95.0}
    assert query(db, "SELECT value FROM metrics WHERE metric = 'train/loss' AND step = 900")[0][
        0
    ] == pytest.approx(2.2)


def test_tensorboard_add_hparams_subfolder_belongs_to_its_run(tmp_path):
    logs = copy("tensorboard", tmp_path / "logs")
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [logs / "tb_hp"])
    # 3 loss points; add_hparams' metric_dict value from the time-named sub-folder is a summary value (step NULL)
    assert query(db, "SELECT metric, step, value FROM metrics ORDER BY metric, step") == [
        ("hparam/final_loss", None, 2.0), ("loss", 0, 3.0), ("loss", 1, 2.5), ("loss", 2, 2.0)]  # fmt: skip
    r = run_row(db, "tb_hp")
    assert (r["n_params"], r["n_tokens"], r["loss_metric"]) == (5e7, 1e9, "loss")


def test_tensorboard_file_still_being_written(tmp_path):
    logs = copy("tensorboard", tmp_path / "logs")
    ev = logs / "tb_run" / "events.out.tfevents.1700000000.fixture"
    ev.write_bytes(ev.read_bytes()[:-10])  # the last record is half written
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [logs / "tb_run"])
    assert rep.files[0].status == "loaded" and "partial record" in rep.files[0].message
    assert sum(points(db).values()) == 21  # every complete record (the last eval/loss point is cut)


def test_mlflow_file_store(tmp_path):
    root = copy("mlflow", tmp_path / "ml")
    (root / "mlflow.db").unlink()
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [root / "mlruns"])
    loaded = [f for f in rep.files if f.status == "loaded"]
    assert [(f.format, f.n_runs, f.n_rows) for f in loaded] == [("mlflow_file", 1, 7)]
    # the experiment's meta.yaml files are read with their runs, and said so
    skipped = {f.message for f in rep.files if f.status == "skipped"}
    assert "MLflow experiment metadata (read with its runs)" in skipped
    assert skipped <= {"MLflow experiment metadata (read with its runs)", HIDDEN_SKIP}  # mlruns/.trash
    (rid,) = [p.name for p in (root / "mlruns").glob("*/*") if (p / "metrics").is_dir()]
    assert points(db, rid) == {"loss": 5, "val/loss": 2}  # 5 steps; step 2 logged twice is one point
    assert (
        query(db, "SELECT value FROM metrics WHERE metric = 'loss' AND step = 2")[0][0] == 2.75
    )  # later kept
    assert merge_flags(db, loaded[0]) == {"overlap": 1}
    r = run_row(db, rid)
    assert (r["source"], r["n_params"], r["n_tokens"], r["compute_flops"]) == (
        "fixture-sweep",
        3.5e7,
        7e8,
        6 * 3.5e7 * 7e8,
    )
    assert r["config"]["params"]["lr"] == "0.001" and r["config"]["run_name"] == "file-run"
    assert query(db, "SELECT wall_time_s FROM metrics WHERE metric = 'loss' AND step = 4")[0][0] == 4.0


def test_mlflow_sqlite(tmp_path):
    root = copy("mlflow", tmp_path / "ml")
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [root / "mlflow.db"])
    (f,) = rep.files
    assert (f.status, f.format, f.n_runs, f.n_rows) == ("loaded", "mlflow_sqlite", 2, 7)
    rows = query(db, "SELECT n_params, n_tokens, source, count(m.value) FROM runs JOIN metrics m USING (run_id) "
                     "GROUP BY ALL ORDER BY 1")  # fmt: skip
    # run 0: 4 loss points; run 1: 4 logged, the NaN at step 3 is not stored
    assert rows == [(1e7, None, "fixture-sqlite", 4), (2e7, None, "fixture-sqlite", 3)]
    assert merge_flags(db, f) == {"nonfinite": 1}
    assert "D, C not logged by the tool" in f.message and "scaling_run.json" in f.message


@pytest.mark.skipif(not HAS_WANDB, reason='needs the wandb extra: pip install -e ".[wandb]"')
def test_wandb_offline_run(tmp_path):
    root = copy("wandb", tmp_path / "wb")
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [root])
    loaded = [f for f in rep.files if f.status == "loaded"]
    assert [(f.format, f.n_runs, f.n_rows) for f in loaded] == [("wandb_offline", 1, 9)]
    # the run folder's own debug logs are part of the run folder, never sent to the verl parser
    assert [f for f in rep.files if f.status != "loaded"] == []
    (run_dir,) = (root / "wandb").glob("offline-run-*")
    rid = run_dir.name.rsplit("-", 1)[1]
    assert points(db, rid) == {"loss": 6, "eval/loss": 3}  # 6 steps; eval/loss at the odd steps
    r = run_row(db, rid)
    assert (r["source"], r["n_params"], r["corpus"], r["loss_metric"]) == (
        "fixture-project",
        6e7,
        "c4",
        "eval/loss",
    )
    vals = dict(query(db, "SELECT step, value FROM metrics WHERE metric = 'loss' ORDER BY step"))
    assert vals == {s: 3.5 - 0.25 * s for s in range(6)}
    assert all(w is not None and w >= 0 for (w,) in query(db, "SELECT wall_time_s FROM metrics"))


def test_hf_trainer_output_folder(tmp_path):
    root = copy("hf_trainer", tmp_path / "hf")
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [root])
    # the final trainer_state.json and the checkpoint's are one unit (the checkpoint is a prefix of it)
    assert [(f.status, f.format, f.n_runs, f.n_rows) for f in rep.files] == [("loaded", "hf_trainer", 1, 29)]
    # 5 train entries (epoch, grad_norm, learning_rate, loss; the NaN loss at step 30 not stored), 2 eval entries
    # at steps 20 and 40 (eval_loss, eval_runtime; their epoch equals the train entry's), and the end-of-run
    # summary (6 values, step NULL)
    assert points(db) == {
        "epoch": 6, "grad_norm": 5, "learning_rate": 5, "loss": 4, "eval_loss": 2, "eval_runtime": 2,
        "total_flos": 1, "train_loss": 1, "train_runtime": 1, "train_samples_per_second": 1,
        "train_steps_per_second": 1,
    }  # fmt: skip
    r = run_row(db, "hf/hf_out")
    tokens = 5 * 10 * 8 * 512
    assert (r["n_tokens"], r["compute_flops"], r["compute_source"]) == (tokens, 6.0 * 1.2e7 * tokens, "6ND")
    assert r["n_params_nonembed"] == pytest.approx(1.2e7) and r["n_params"] is None
    assert r["loss_metric"] == "eval_loss" and r["config"]["max_steps"] == 50
    assert (
        query(db, "SELECT tokens_seen FROM metrics WHERE metric = 'eval_loss' AND step = 20")[0][0] == 81920
    )
    assert "N not logged by the tool" in rep.files[0].message
    # interleaved train and eval records at the same step both keep every metric
    assert dict(query(db, "SELECT metric, value FROM metrics WHERE step = 20 AND metric IN ('loss', 'eval_loss')")) == {
        "loss": pytest.approx(2.8), "eval_loss": pytest.approx(2.85)}  # fmt: skip


def test_hf_trainer_all_results_are_summary_values(tmp_path):
    """``Trainer.save_metrics`` needs torch (not installable here), so its ``json.dump(metrics, indent=4,
    sort_keys=True)`` output is written by the test with the same call."""
    root = copy("hf_trainer", tmp_path / "hf")
    metrics = {"epoch": 1.0, "eval_loss": 2.6, "perplexity": 13.46, "train_loss": 2.7, "train_samples": 400}
    with open(root / "hf_out" / "all_results.json", "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=4, sort_keys=True)
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [root])
    assert [(f.status, f.n_rows) for f in rep.files] == [
        ("loaded", 29 + 3)
    ]  # + eval_loss, perplexity, train_samples
    summary = dict(query(db, "SELECT metric, value FROM metrics WHERE step IS NULL"))
    assert summary["eval_loss"] == 2.6 and summary["epoch"] == 1.0 and summary["train_loss"] == 2.7
    # the final evaluation is the run's final loss (a summary value wins over the last logged step)
    assert query(db, "SELECT final_loss, final_step FROM v_final_loss") == [(2.6, None)]


def test_hf_trainer_checkpoint_only(tmp_path):
    root = copy("hf_trainer", tmp_path / "hf")
    (root / "hf_out" / "trainer_state.json").unlink()
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [root])
    assert rep.files[0].status == "loaded"
    assert "the latest checkpoint's state was read" in rep.files[0].message
    # checkpoint-30 holds steps 10, 20 (train) and 20 (eval); the step-30 entry is cut (log_history[:4])
    assert points(db)["loss"] == 2 and points(db)["eval_loss"] == 1


def test_lm_eval_results_and_samples(tmp_path):
    root = copy("lm_eval", tmp_path / "evals")
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [root])
    assert [(f.status, f.format, f.n_runs) for f in rep.files] == [("loaded", "lm_eval", 1)]
    (res,) = root.glob("*/results_*.json")
    rid = f"lm-eval/{res.parent.name}/{res.name[len('results_') : -len('.json')]}"
    r = run_row(db, rid)
    assert (r["kind"], r["source"]) == ("eval", "evals")
    got = dict(query(db, "SELECT metric, value FROM metrics WHERE run_id = ?", [rid]))
    # one row per task, metric and filter, with stderr; the group once, under group:, never as a task
    assert sorted(got) == sorted([
        "fx_mc/acc,none", "fx_mc/acc_stderr,none", "fx_mc/acc_norm,none", "fx_mc/acc_norm_stderr,none",
        "fx_gen/exact_match,first", "fx_gen/exact_match_stderr,first",
        "fx_gen/exact_match,maj", "fx_gen/exact_match_stderr,maj",
        "group:fx_group/acc,none", "group:fx_group/acc_stderr,none", "fx_mc/n_samples", "fx_gen/n_samples",
    ])  # fmt: skip
    assert got["fx_mc/n_samples"] == 3 and got["fx_gen/n_samples"] == 2
    assert got["fx_gen/exact_match,first"] == 0.5  # the dummy model answers "lol": right on 1 of 2 documents
    # samples: one row per (document, filter): 3 multiple-choice docs x 1 filter + 2 generation docs x 2 filters
    by = query(
        db,
        "SELECT benchmark, setting, count(*), sum(correct::INT) FROM eval_samples GROUP BY ALL ORDER BY 1, 2",
    )
    assert by == [
        ("fx_gen", "first", 2, 1),
        ("fx_gen", "maj", 2, 1),
        ("fx_mc", "none", 3, round(3 * got["fx_mc/acc,none"])),
    ]
    extra = json.loads(
        query(db, "SELECT extra_json FROM eval_samples WHERE benchmark = 'fx_gen' LIMIT 1")[0][0]
    )
    assert extra["n_repeats"] == 2 and extra["resps"] == [
        ["lol", "lol"]
    ]  # repeats kept beside the filtered answer
    assert query(db, "SELECT DISTINCT answer FROM eval_samples WHERE benchmark = 'fx_gen'") == [("lol",)]


@pytest.mark.skipif(not HAS_AIM, reason='needs the aim extra: pip install -e ".[aim]"')
def test_aim_repository(tmp_path):
    root = copy("aim", tmp_path / "aimrepo")
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [root])
    assert [(f.status, f.format, f.n_runs, f.n_rows) for f in rep.files] == [("loaded", "aim", 1, 5)]
    assert points(db) == {"loss[subset=train]": 5}
    (rid,) = [r[0] for r in query(db, "SELECT run_id FROM runs")]
    r = run_row(db, rid)
    assert (r["source"], r["n_params"], r["n_tokens"]) == ("fixture-aim", 2.2e7, 4.4e8)
    assert dict(query(db, "SELECT step, value FROM metrics ORDER BY step")) == {
        s: pytest.approx(3.2 - 0.1 * s) for s in range(5)}  # fmt: skip
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}
    assert after == before  # the user's repository is never written


def test_one_folder_with_every_tool_ingests_in_one_command(tmp_path, capsys):
    from app.cli import main

    root = tmp_path / "team_logs"
    for tool in ("tensorboard", "mlflow", "wandb", "hf_trainer", "lm_eval", "aim"):
        copy(tool, root / tool)
    verl_log = SAMPLES_VERL / "Qwen2.5-0.5B-bsz256_2-prompt512-resp256-0.538.log"  # a real verl console log
    (root / "verl").mkdir()
    shutil.copy(verl_log, root / "verl" / verl_log.name)
    db = tmp_path / "db.duckdb"
    assert main(["ingest", str(root), "--db", str(db), "--quiet"]) == (0 if HAS_WANDB and HAS_AIM else 1)
    expect_runs = {
        "tensorboard": 2,
        "mlflow_file": 1,
        "mlflow_sqlite": 2,
        "hf_trainer": 1,
        "lm_eval": 1,
        "verl_log": 1,
    }
    expect_rows = {
        "tensorboard": 22 + 4,
        "mlflow_file": 7,
        "mlflow_sqlite": 7,
        "hf_trainer": 29,
        "lm_eval": 12 + 7,
    }
    if HAS_WANDB:
        expect_runs["wandb_offline"], expect_rows["wandb_offline"] = 1, 9
    if HAS_AIM:
        expect_runs["aim"], expect_rows["aim"] = 1, 5
    got = query(
        db, "SELECT format, sum(n_runs), sum(n_rows) FROM ingest_files WHERE status = 'loaded' GROUP BY 1"
    )
    got_runs = {f: n for f, n, _ in got}
    assert got_runs == expect_runs
    assert {f: n for f, _, n in got if f != "verl_log"} == expect_rows
    n_metrics = query(db, "SELECT count(*) FROM metrics")[0][0]
    n_verl = query(db, "SELECT count(*) FROM metrics WHERE run_id = ?", [verl_log.stem])[0][0]
    assert n_metrics == sum(expect_rows.values()) - 7 + n_verl  # lm-eval's 7 rows are eval_samples
    assert n_verl > 0
    assert query(db, "SELECT source FROM runs WHERE run_id = ?", [verl_log.stem]) == [("verl",)]  # the folder
    capsys.readouterr()
    # re-ingest is a no-op
    assert main(["ingest", str(root), "--db", str(db), "--quiet"]) == (0 if HAS_WANDB and HAS_AIM else 1)
    assert " 0 loaded" in capsys.readouterr().out
    assert query(db, "SELECT count(*) FROM metrics")[0][0] == n_metrics


def test_tool_logs_are_not_sent_to_the_verl_parser(tmp_path):
    wb = copy("wandb", tmp_path / "wb")
    logs = sorted(wb.rglob("*.log"))
    assert {p.name for p in logs} >= {"debug.log", "debug-internal.log"}
    loose = tmp_path / "loose"
    loose.mkdir()
    for p in logs:
        shutil.copy(p, loose / p.name)
    rep = ingest_paths(tmp_path / "db.duckdb", [loose])
    assert {f.status for f in rep.files} == {"skipped"}
    assert all("Weights & Biases" in f.message and "verl" in f.message for f in rep.files)
    # Aim's RocksDB write-ahead logs are named *.log too (binary): claimed by the repository, or skipped loose
    aim_logs = sorted((FIX / "aim").rglob("*.log"))
    assert aim_logs
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(aim_logs[0], other / aim_logs[0].name)
    (other / "events.out.tfevents.123.host").write_text("not a TFRecord")  # named like TensorBoard's, is not
    rep = ingest_paths(tmp_path / "db.duckdb", [other])
    by_name = {Path(f.path).name: f for f in rep.files}
    assert {f.status for f in rep.files} == {"skipped"}
    assert by_name[aim_logs[0].name].message.endswith("a .log file without verl training output")
    assert by_name["events.out.tfevents.123.host"].message.startswith(("not a data file", "not read"))


def test_wandb_offline_run_without_the_extra_fails_with_the_hint(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "wandb.proto", None)  # as if the wandb package were not installed
    root = copy("wandb", tmp_path / "wb")
    rep = ingest_paths(tmp_path / "db.duckdb", [root])
    (f,) = rep.files
    assert f.status == "failed" and 'pip install -e ".[wandb]"' in f.message


def test_source_override_and_sidecar(tmp_path):
    logs = copy("tensorboard", tmp_path / "logs")
    ml = copy("mlflow", tmp_path / "ml")
    (ml / "scaling_run.json").write_text(json.dumps({"n_tokens": 4e8, "corpus": "c4", "runs": {}}))
    (logs / "scaling.yaml").write_text("n_params: 2.0e8\nruns:\n  tb_run: {recipe: cosine}\n")
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [logs, ml / "mlflow.db"], source="my-sweep")
    assert sorted(f.message for f in rep.files if f.status == "skipped") == [
        "side-car file: applied to the runs in this folder and below"]  # fmt: skip
    assert {r[0] for r in query(db, "SELECT DISTINCT source FROM runs")} == {"my-sweep"}
    tb = run_row(db, "logs/tb_run")
    assert run_row(db, "logs/tb_hp")["n_params"] == 2.0e8  # the folder-wide value applies to every run below
    assert (tb["n_params"], tb["recipe"]) == (2.0e8, "cosine")  # side-car beats the logged hparams
    # the MLflow runs had no D: the side-car's D completes N, D and C = 6ND
    rows = query(
        db,
        "SELECT n_params, n_tokens, compute_flops, corpus FROM runs WHERE run_id NOT LIKE 'logs/%' ORDER BY 1",
    )
    assert rows == [(1e7, 4e8, 6 * 1e7 * 4e8, "c4"), (2e7, 4e8, 6 * 2e7 * 4e8, "c4")]


def test_bad_sidecar_fails_the_unit_with_its_name(tmp_path):
    logs = copy("tensorboard", tmp_path / "logs")
    (logs / "scaling_run.json").write_text('{"n_params": -5}')
    rep = ingest_paths(tmp_path / "db.duckdb", [logs])
    failed = [f for f in rep.files if f.status == "failed"]
    assert (
        len(failed) == 2
    )  # both runs below the side-car; each message names the value and the side-car file
    for f in failed:
        assert re.search(r"'n_params' must be a (finite )?positive number, got -5", f.message)
        assert f.message.endswith(f"(side-car: {logs / 'scaling_run.json'})")


def test_wandb_history_export_blank_cells_and_bad_values(tmp_path):
    """W&B's exports need the W&B server, so no tool-written fixture exists: a minimal table in the layout of
    ``run.history().to_csv()`` (pandas index column, ``_step``/``_runtime``/``_timestamp``, blank = not logged)."""
    d = tmp_path / "exports"
    d.mkdir()
    (d / "abc123.csv").write_text(
        ",_step,_runtime,_timestamp,loss,eval/loss\n"
        "0,0,1.5,1700000000,3.0,\n"
        "1,1,2.5,1700000001,2.9,3.1\n"
        "2,2,3.5,1700000002,N/A,\n"
    )
    (d / "config.json").write_text(
        json.dumps({"n_params": {"desc": None, "value": 5e7}, "lr": {"value": 0.1}})
    )
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [d])
    f = next(f for f in rep.files if f.status == "loaded")
    assert (f.format, f.n_runs, f.n_rows, f.n_rejects) == ("wandb_history", 1, 3, 1)
    assert points(db) == {"loss": 2, "eval/loss": 1}  # blanks are "not logged", never 0 or NaN
    assert query(db, "SELECT line, reason FROM rejects") == [(4, "'loss': 'N/A' is not a number")]
    assert run_row(db, "abc123")["n_params"] == 5e7
    assert query(db, "SELECT wall_time_s FROM metrics WHERE metric = 'eval/loss'") == [(2.5,)]


def test_wandb_panel_export(tmp_path):
    """Layout of a line plot's "Export CSV" (run name - metric, with __MIN/__MAX band columns); see above."""
    d = tmp_path / "panel"
    d.mkdir()
    (d / "loss_panel.csv").write_text(
        '"Step","run-a - loss","run-a - loss__MIN","run-a - loss__MAX","run-b - loss"\n'
        '"0","3.0","3.0","3.0",""\n'
        '"10","2.5","2.5","2.5","2.7"\n'
    )
    db = tmp_path / "db.duckdb"
    ingest_paths(db, [d])
    assert dict(query(db, "SELECT run_id, count(*) FROM metrics GROUP BY 1")) == {"run-a": 2, "run-b": 1}


def test_every_fixture_folder_is_regenerated_by_the_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_fixtures", FIX.parents[1] / "scripts" / "make_fixtures.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert sorted(p.name for p in FIX.iterdir() if p.is_dir()) == sorted(mod.MAKERS)
    # kilobytes, not megabytes
    assert sum(p.stat().st_size for p in FIX.rglob("*") if p.is_file()) < 600_000


@pytest.mark.parametrize("ext", ["parquet", "json", "jsonl"])
def test_wandb_history_export_parquet_and_json(tmp_path, ext):
    """The same history as ``run.history()`` saved with ``to_parquet`` / ``to_json()`` / ``to_json(orient="records",
    lines=True)`` (NaN = not logged becomes null); see the CSV test for why the test builds it."""
    import polars as pl

    d = tmp_path / "exports"
    d.mkdir()
    df = pl.DataFrame(
        {"_step": [0, 1, 2], "_runtime": [1.0, 2.0, 3.0], "loss": [3.0, None, 2.5], "acc": [None, 0.5, 0.6]}
    )
    f = d / f"run42.{ext}"
    if ext == "parquet":
        df.write_parquet(f)
    elif ext == "jsonl":
        df.write_ndjson(f)
    else:  # pandas' default orient="columns": {column: {row index: value}}
        f.write_text(json.dumps({c: {str(i): v for i, v in enumerate(df[c].to_list())} for c in df.columns}))
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [d])
    assert [(x.status, x.format, x.n_rows) for x in rep.files] == [("loaded", "wandb_history", 4)]
    assert dict(query(db, "SELECT step, value FROM metrics WHERE metric = 'loss' ORDER BY step")) == {
        0: 3.0,
        2: 2.5,
    }


def test_wandb_runs_table_export(tmp_path):
    """Layout of the UI runs table's "Export CSV" (Name, State, ... then config and summary columns); see above."""
    d = tmp_path / "runs_table"
    d.mkdir()
    (d / "wandb_export.csv").write_text(
        '"Name","State","Notes","User","Tags","Created","Runtime","Sweep","lr","n_params","loss"\n'
        '"run-a","finished","-","me","","2024-01-01T00:00:00.000Z","120","","0.001","1.2e8","2.9"\n'
        '"run-b","crashed","-","me","","2024-01-02T00:00:00.000Z","60","","0.002","3.5e8",""\n'
    )
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [d])
    assert [(x.status, x.format, x.n_runs) for x in rep.files] == [("loaded", "wandb_runs_table", 2)]
    # numeric columns are summary values (blank = not logged); N read from the n_params column
    assert query(db, "SELECT run_id, metric, value FROM metrics WHERE metric = 'loss'") == [
        ("run-a", "loss", 2.9)
    ]
    assert dict(query(db, "SELECT run_id, n_params FROM runs")) == {"run-a": 1.2e8, "run-b": 3.5e8}
    assert run_row(db, "run-b")["config"]["State"] == "crashed"


@pytest.mark.skipif(not HAS_WANDB, reason='needs the wandb extra: pip install -e ".[wandb]"')
def test_wandb_run_still_being_written(tmp_path):
    root = copy("wandb", tmp_path / "wb")
    (f,) = root.rglob("run-*.wandb")
    data = f.read_bytes()
    f.write_bytes(data[: len(data) * 2 // 3])  # the job is still writing
    rep = ingest_paths(tmp_path / "db.duckdb", [root])
    (out,) = rep.files
    assert out.status == "loaded" and "partial record" in out.message and 0 < out.n_rows < 9


def test_malformed_tool_file_fails_alone(tmp_path):
    root = copy("lm_eval", tmp_path / "evals")
    (res,) = root.glob("*/results_*.json")
    d = json.loads(res.read_text())
    d["n-samples"] = ["not", "a", "mapping"]  # valid JSON, unexpected shape
    res.write_text(json.dumps(d))
    copy("tensorboard", root / "tb")
    rep = ingest_paths(tmp_path / "db.duckdb", [root])
    by = {f.format or f.status: f for f in rep.files}
    assert by["failed"].message.startswith("lm_eval adapter could not read it: AttributeError")
    assert by["tensorboard"].status == "loaded"  # the good data next to it loads


def test_logged_tokens_are_the_tokens_axis_and_d(tmp_path):
    """A tokens metric logged beside the loss (here a W&B history export, see above for why built by the test)
    becomes ``tokens_seen`` of every point at its step, and its last value is D when the tool logged no D."""
    d = tmp_path / "exports"
    d.mkdir()
    (d / "tok.csv").write_text("_step,loss,train/tokens_seen\n0,3.0,0\n10,2.5,40960\n20,2.2,81920\n")
    (d / "config.json").write_text(json.dumps({"n_params": 1e7}))
    db = tmp_path / "db.duckdb"
    rep = ingest_paths(db, [d])
    assert "n_tokens (D) = 81920, the tokens seen at its last logged step" in rep.files[0].message
    r = run_row(db, "tok")
    assert (r["n_tokens"], r["compute_flops"]) == (81920, 6 * 1e7 * 81920)
    assert dict(query(db, "SELECT step, tokens_seen FROM metrics WHERE metric = 'loss'")) == {
        0: 0,
        10: 40960,
        20: 81920,
    }
