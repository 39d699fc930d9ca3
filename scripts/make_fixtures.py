"""Regenerate tests/fixtures/<tool>/ with the tools themselves (never hand-written look-alikes).

Run it with a SEPARATE virtual environment that has the tools installed (they are not project dependencies):

    python3 -m venv /work/toolvenv
    /work/toolvenv/bin/pip install tensorboardX mlflow wandb transformers lm_eval aim pyyaml
    WANDB_MODE=offline /work/toolvenv/bin/python scripts/make_fixtures.py [--only tensorboard,mlflow,...]

Every fixture is small (kilobytes) and made of fixed numbers, so the tests can assert exact counts:
- tensorboard/: tensorboardX ``SummaryWriter``: 10 ``train/loss`` points, 2 ``eval/loss`` points, ``lr`` at 10
  steps, hparams (plugin session-start info, as PyTorch Lightning writes them) with n_params and n_tokens, a
  text summary holding the run config as JSON; a second run ``tb_hp`` with 3 ``loss`` points and
  ``add_hparams`` (which writes hparams and ``hparam/final_loss`` into a time-named sub-folder);
- mlflow/mlruns/: MLflow's file store (``file:`` tracking URI): one run, params incl. n_params, n_tokens,
  ``loss`` 5 steps with step 2 logged twice (a resume), ``val/loss`` 2 steps;
- mlflow/mlflow.db: MLflow's SQLite store: two runs (one with a NaN point), then VACUUMed with 512-byte pages;
- wandb/: an offline run (``WANDB_MODE=offline``): config with n_params, 6 history steps of ``loss`` and 3 of
  ``eval/loss``;
- hf_trainer/: ``transformers.TrainerState.save_to_json`` for a final state and a checkpoint (torch is not
  needed for ``TrainerState``): interleaved train/eval entries, one NaN loss, the end-of-run summary,
  ``total_flos`` and ``num_input_tokens_seen``;
- lm_eval/: ``lm_eval.simple_evaluate`` with lm-eval's own ``dummy`` model on two local tasks (a multiple-choice
  and a generation task with 2 repeats and 2 filters) grouped in a group, written by ``EvaluationTracker``
  (results_*.json and samples_*.jsonl);
- aim/: an Aim repository (``aim.Run``) with 5 ``loss`` points and hparams.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

# lm-eval's dummy model names a tokenizer it never needs: never try the hub (read when huggingface_hub is imported)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
T0 = 1_700_000_000.0  # fixed wall time (Unix seconds) of the first point


def _fresh(d: Path) -> Path:
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def tensorboard(out: Path) -> None:
    from tensorboardX import SummaryWriter
    from tensorboardX.summary import hparams

    run = _fresh(out / "tensorboard") / "tb_run"
    w = SummaryWriter(logdir=str(run))
    cfg = {"model": "gpt-mini", "n_params": 124_000_000, "lr": 0.0006}
    w.add_text("config", json.dumps(cfg), global_step=0, walltime=T0)
    exp, ssi, sei = hparams(
        {"n_params": 124_000_000, "n_tokens": 2_500_000_000, "lr": 0.0006, "corpus": "fineweb"}, {}
    )
    w.file_writer.add_summary(exp)
    w.file_writer.add_summary(ssi)
    w.file_writer.add_summary(sei)
    for step in range(10):
        w.add_scalar("train/loss", 4.0 - 0.2 * step, global_step=step * 100, walltime=T0 + 10 * step)
        w.add_scalar("lr", 0.0006 * (step + 1) / 10, global_step=step * 100, walltime=T0 + 10 * step)
    for step in (4, 9):
        w.add_scalar("eval/loss", 4.1 - 0.2 * step, global_step=step * 100, walltime=T0 + 10 * step + 5)
    w.close()
    for f in run.iterdir():  # the file name carries the host name: give it a fixed one
        f.rename(run / "events.out.tfevents.1700000000.fixture")
    # SummaryWriter.add_hparams (tensorboardX and torch.utils.tensorboard) writes the hparams and its metric_dict
    # into a sub-folder named by time.time(): TensorBoard shows it under the run
    run2 = run.parent / "tb_hp"
    w = SummaryWriter(logdir=str(run2))
    for step in range(3):
        w.add_scalar("loss", 3.0 - 0.5 * step, global_step=step, walltime=T0 + step)
    w.add_hparams(
        {"n_params": 5.0e7, "n_tokens": 1.0e9, "lr": 0.001}, {"hparam/final_loss": 2.0}, name="1700000100.5"
    )
    w.close()
    for f in sorted(run2.rglob("events.out.tfevents.*")):
        f.rename(f.parent / f"events.out.tfevents.{1700000000 + (f.parent != run2)}.fixture")


def mlflow_stores(out: Path) -> None:
    import mlflow

    base = _fresh(out / "mlflow")
    ts = int(T0 * 1000)
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 keeps the file store behind this switch
    mlflow.set_tracking_uri(f"file:{base / 'mlruns'}")
    mlflow.set_experiment("fixture-sweep")
    with mlflow.start_run(run_name="file-run"):
        mlflow.log_params({"n_params": 3.5e7, "n_tokens": 7e8, "lr": 0.001})
        for step in range(5):
            mlflow.log_metric("loss", 3.0 - 0.1 * step, step=step, timestamp=ts + 1000 * step)
        mlflow.log_metric("loss", 2.75, step=2, timestamp=ts + 9000)  # the job resumed and re-logged step 2
        for step in (2, 4):
            mlflow.log_metric("val/loss", 3.1 - 0.1 * step, step=step, timestamp=ts + 1000 * step + 500)
    db = base / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    mlflow.set_experiment("fixture-sqlite")
    for i, n in enumerate((1e7, 2e7)):
        with mlflow.start_run(run_name=f"sql-run-{i}"):
            mlflow.log_params({"n_params": n, "lr": 0.002})
            for step in range(4):
                v = float("nan") if (i == 1 and step == 3) else 2.5 - 0.1 * step - 0.05 * i
                mlflow.log_metric("loss", v, step=step, timestamp=ts + 1000 * step)
    con = sqlite3.connect(db)
    con.execute(
        "PRAGMA page_size = 512"
    )  # MLflow's ~200 tables and indexes: 1.1 MB at 4 KiB pages, 170 KB here
    con.execute("VACUUM")
    con.close()
    for junk in base.rglob("*"):  # MLflow leaves no large artifacts here; drop empty artifact folders
        if junk.is_dir() and junk.name == "artifacts" and not any(junk.iterdir()):
            junk.rmdir()


def wandb_offline(out: Path) -> None:
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_SILENT"] = "true"
    import wandb

    base = _fresh(out / "wandb")
    run = wandb.init(
        project="fixture-project", dir=str(base), config={"n_params": 6e7, "lr": 0.003, "corpus": "c4"}
    )
    for step in range(6):
        row = {"loss": 3.5 - 0.25 * step}
        if step % 2 == 1:
            row["eval/loss"] = 3.6 - 0.25 * step
        run.log(row, step=step)
    run.finish()
    for link in base.rglob("*"):  # absolute symlinks (latest-run, debug.log) would dangle in a clone
        if link.is_symlink():
            link.unlink()


def hf_trainer(out: Path) -> None:
    from transformers import TrainerState

    base = _fresh(out / "hf_trainer") / "hf_out"
    history = []
    tokens = 0
    for step in range(10, 60, 10):
        tokens += 10 * 8 * 512
        loss = float("nan") if step == 30 else 3.0 - 0.01 * step
        history.append({"epoch": step / 50, "grad_norm": 1.0, "learning_rate": 5e-5, "loss": loss,
                        "step": step, "num_input_tokens_seen": tokens})  # fmt: skip
        if step % 20 == 0:
            history.append({"epoch": step / 50, "eval_loss": 3.05 - 0.01 * step, "eval_runtime": 1.5, "step": step,
                            "num_input_tokens_seen": tokens})  # fmt: skip
    flos = 6.0 * 1.2e7 * tokens
    summary = {"epoch": 1.0, "step": 50, "total_flos": flos, "train_loss": 2.7, "train_runtime": 12.5,
               "train_samples_per_second": 32.0, "train_steps_per_second": 4.0}  # fmt: skip
    ckpt = base / "checkpoint-30"
    ckpt.mkdir(parents=True)
    TrainerState(global_step=30, max_steps=50, log_history=history[:4], num_input_tokens_seen=3 * 40960,
                 total_flos=6.0 * 1.2e7 * 3 * 40960).save_to_json(str(ckpt / "trainer_state.json"))  # fmt: skip
    TrainerState(
        global_step=50, max_steps=50, num_train_epochs=1, logging_steps=10, eval_steps=20,
        train_batch_size=8, log_history=[*history, summary], num_input_tokens_seen=tokens, total_flos=flos,
    ).save_to_json(str(base / "trainer_state.json"))  # fmt: skip


LM_EVAL_TASKS = {
    "fx_mc.yaml": """task: fx_mc
dataset_path: json
dataset_kwargs:
  data_files: {test: "DATA/mc.jsonl"}
test_split: test
output_type: multiple_choice
doc_to_text: "{{question}}"
doc_to_choice: "{{choices}}"
doc_to_target: "{{label}}"
metric_list:
  - metric: acc
  - metric: acc_norm
""",
    "fx_gen.yaml": """task: fx_gen
dataset_path: json
dataset_kwargs:
  data_files: {test: "DATA/gen.jsonl"}
test_split: test
output_type: generate_until
doc_to_text: "{{question}}"
doc_to_target: "{{answer}}"
repeats: 2
generation_kwargs:
  until: ["\\n"]
filter_list:
  - name: first
    filter: [{function: take_first}]
  - name: maj
    filter: [{function: majority_vote}, {function: take_first}]
metric_list:
  - metric: exact_match
""",
    "fx_group.yaml": """group: fx_group
task: [fx_mc, fx_gen]
aggregate_metric_list:
  - metric: acc
    weight_by_size: true
""",
}


def lm_eval_results(out: Path) -> None:
    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    base = _fresh(out / "lm_eval")
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "mc.jsonl").write_text("".join(json.dumps(d) + "\n" for d in [
            {"question": "2+2=", "choices": ["3", "4", "5"], "label": 1},
            {"question": "Capital of France:", "choices": ["Paris", "Rome"], "label": 0},
            {"question": "H2O is", "choices": ["water", "salt", "sand", "air"], "label": 0},
        ]))  # fmt: skip
        (t / "gen.jsonl").write_text("".join(json.dumps(d) + "\n" for d in [
            {"question": "Say lol:", "answer": "lol"},
            {"question": "Say hi:", "answer": "hi"},
        ]))  # fmt: skip
        for name, text in LM_EVAL_TASKS.items():
            (t / name).write_text(text.replace("DATA", tmp))
        tracker = EvaluationTracker(output_path=str(base))
        random.seed(0)
        res = lm_eval.simple_evaluate(
            model="dummy", tasks=["fx_group"], task_manager=TaskManager(include_path=tmp),
            log_samples=True, evaluation_tracker=tracker, bootstrap_iters=100, random_seed=0,
        )  # fmt: skip
        samples = res.pop("samples")
        tracker.save_results_aggregated(results=res, samples=samples)
        for task in res["configs"]:
            tracker.save_results_samples(task_name=task, samples=samples[task])


def aim_repo(out: Path) -> None:
    import aim

    base = _fresh(out / "aim")
    run = aim.Run(repo=str(base), experiment="fixture-aim")
    run["hparams"] = {"n_params": 2.2e7, "n_tokens": 4.4e8, "lr": 0.001}
    for step in range(5):
        run.track(3.2 - 0.1 * step, name="loss", step=step, context={"subset": "train"})
    run.close()
    for log in base.rglob("LOG*"):  # RocksDB info logs (host names, options dumps), not data
        log.unlink()


MAKERS = {
    "tensorboard": tensorboard,
    "mlflow": mlflow_stores,
    "wandb": wandb_offline,
    "hf_trainer": hf_trainer,
    "lm_eval": lm_eval_results,
    "aim": aim_repo,
}


#: distribution names of the tools, for the provenance note
DISTS = {"tensorboard": "tensorboardX", "mlflow": "mlflow", "wandb": "wandb", "hf_trainer": "transformers",
         "lm_eval": "lm_eval", "aim": "aim"}  # fmt: skip


def write_provenance(out: Path) -> None:
    """tests/fixtures/README.md: which tool version wrote each folder (kept for the folders present)."""
    from importlib.metadata import PackageNotFoundError, version

    prev = {}
    readme = out / "README.md"
    if readme.exists():
        for line in readme.read_text().splitlines():
            parts = [p.strip() for p in line.strip("|").split("|")]
            if len(parts) == 3 and parts[0] in MAKERS:
                prev[parts[0]] = parts
    rows = []
    for name in MAKERS:
        if not (out / name).is_dir():
            continue
        try:
            v = version(DISTS[name])
        except PackageNotFoundError:
            v = None
        rows.append(prev.get(name) if v is None and name in prev else [name, DISTS[name], v or "?"])
    text = (
        "# Fixtures written by the tools themselves\n\nRegenerate with `scripts/make_fixtures.py` (see its docstring);"
        " never edit by hand.\n\n| folder | written by | version |\n|---|---|---|\n"
        + "".join(f"| {a} | {b} | {c} |\n" for a, b, c in rows)
    )
    readme.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=",".join(MAKERS), help="comma-separated tools (default: all)")
    ap.add_argument("--out", type=Path, default=OUT, help="fixtures folder (default tests/fixtures)")
    args = ap.parse_args(argv)
    failed = []
    for name in args.only.split(","):
        try:
            MAKERS[name](args.out)
            print(f"{name}: written")
        except ImportError as e:
            failed.append(name)
            print(f"{name}: tool not installed here ({e})", file=sys.stderr)
    write_provenance(args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
