"""Build the bundled sample data (``data/samples/``) from the real public data in ``../shared/data``.

Usage::

    python scripts/make_samples.py --shared ../shared/data --out data/samples

Every output follows ``docs/FORMATS.md`` (JSON Lines run logs, tidy per-run tables, eval tables in
per-answer and counts form). The script is deterministic and idempotent: running it twice writes the
same bytes (CSV and JSON Lines) or the same table (Parquet). It only writes the data files listed in
``build()``'s return value plus license notes and verbatim copies; the hand-written ``README.md`` and
``<source>/PROVENANCE.md`` files in the output folder are left alone.

Run ids are unique across all samples: every id starts with a short source prefix
(``gadre/``, ``porian/``, ``datablations/``, ``misfitting/``, ``verl-jsonl/``, ``monkeys/``, ``tts/``,
``marin/``, ``llama3/``).

Only polars and the standard library are used.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import polars as pl

#: Tokens per optimizer step in the (Mis)Fitting runs: 512 sequences x 2048 tokens.
MISFITTING_TOKENS_PER_STEP = 1_048_576

#: Folder names (relative to the output root) that hold many generated JSON Lines files; stale
#: ``*.jsonl`` files in them are removed before writing so the folder mirrors the source exactly.
JSONL_DIRS = ("misfitting_li2025", "verl_gsm8k_ppo/jsonl")

PORIAN_MIT_NOTE = """\
License of the source data: MIT

Source: https://github.com/formll/resolving-scaling-law-discrepancies
(commit 0dc60d91b8a525858a3067fc9e4a46ff5374cc6f; data files unchanged since
859f146abdb9c03f679fb04e9a870402f5585757).
Paper: Porian, Wortsman, Jitsev, Schmidt, Carmon, "Resolving Discrepancies in Compute-Optimal
Scaling of Language Models", arXiv:2406.19146 (NeurIPS 2024).

The repository states that it is released under the MIT License. We did not have a copy of the
repository's LICENSE file (only its analysis summary pickles were available to us), so this note is
NOT the original license text and does not reproduce its copyright line. The MIT License permits
redistribution provided the copyright and permission notice of the original are included; fetch
LICENSE from the repository above and place it here before redistributing these files outside this
project.
"""

TTS_MIT_NOTE = """\
License of the source data: MIT (Copyright 2025 James X. Zhao)

Source: https://github.com/XuZhao0/tts-knowledge (commit 9b9674be0a428f7516ee3f68b13c3ccb9b872ba1,
folder outputs/).
Paper: James Xu Zhao, Bryan Hooi, See-Kiong Ng, "Test-Time Scaling in Reasoning Models Is Not
Effective for Knowledge-Intensive Tasks Yet", arXiv:2509.06861 (2025).

The repository is released under the MIT License, copyright 2025 James X. Zhao (as recorded in the
shared data's PROVENANCE.md). We did not have a copy of the repository's LICENSE file, so this note is
NOT the original license text. The MIT License permits redistribution provided the copyright and
permission notice of the original are included; fetch LICENSE from the repository above and place it
here before redistributing these files outside this project.
"""


# --------------------------------------------------------------------------------------------------
# small helpers


def _fmt_flops(x: float) -> str:
    """Short, file-name-safe text for a FLOP budget: 1.25e16 -> '1.25e16', 6e18 -> '6e18'."""
    return f"{x:.6g}".replace("e+", "e")


def _num(x: float) -> int | float:
    """An integral float as int (for ids and JSON), else the float."""
    return int(x) if float(x).is_integer() else float(x)


def _bool_text(col: str) -> pl.Expr:
    """A boolean column as the text 'true' / 'false' (so it lands in the run config, not in metrics)."""
    return pl.when(pl.col(col)).then(pl.lit("true")).otherwise(pl.lit("false")).alias(col)


def _write_csv(df: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_csv(path, line_terminator="\n")
    return path


def _write_jsonl(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, allow_nan=False) + "\n")
    return path


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def _write_text(text: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


# --------------------------------------------------------------------------------------------------
# one function per source; each returns the list of files it wrote


def gadre(shared: Path, out: Path) -> list[Path]:
    """Gadre et al. 2024 (arXiv:2403.08540): 104 open_lm runs -> tidy per-run table."""
    src = shared / "gadre_overtraining"
    runs = pl.read_csv(src / "runs.csv", infer_schema_length=None)
    down = pl.read_csv(src / "downstream.csv", infer_schema_length=None)
    _check(runs.height == 104 and down.height == 104, "gadre: expected 104 runs")
    loss_sets = [
        c[len("loss_") :]
        for c in runs.columns
        if c.startswith("loss_") and not c.endswith(("_ci95_lo", "_ci95_hi", "_eval_tokens"))
    ]
    other_losses = [f"loss_{s}" for s in loss_sets if s != "c4_val"]
    acc_cols = [c for c in down.columns if c.startswith("acc_")]
    df = runs.join(down.select(["run", "err_avg_17", "err_avg_46", *acc_cols]), on="run", how="left")
    _check(df["err_avg_46"].null_count() == 0, "gadre: downstream rows missing for some runs")
    df = df.select(
        ("gadre/" + pl.col("run")).alias("run_id"),
        pl.lit("pretrain").alias("kind"),
        pl.lit("gadre_overtraining").alias("source"),
        pl.lit("open_lm").alias("model_family"),
        pl.col("train_dataset").alias("corpus"),
        pl.col("params").alias("n_params"),
        pl.col("params_no_embed").alias("n_params_nonembed"),
        pl.col("tokens").alias("n_tokens"),
        pl.col("flops_6ND").cast(pl.Float64).alias("compute_flops"),
        pl.lit("6ND").alias("compute_source"),
        pl.col("loss_c4_val").alias("final_loss"),
        pl.lit("c4_val").alias("loss_metric"),
        pl.col("seed"),
        pl.col("tokens_per_param"),
        pl.col("chinchilla_multiplier"),
        pl.col("model_shape"),
        pl.col("d_model"),
        pl.col("n_layers"),
        pl.col("n_heads"),
        pl.col("vocab_size"),
        pl.col("seq_len"),
        pl.col("lr"),
        pl.col("wd"),
        pl.col("warmup_steps"),
        pl.col("lr_cooldown_end"),
        pl.col("global_batch_size_seqs"),
        pl.col("z_loss"),
        _bool_text("qk_norm"),
        pl.col("open_lm_version"),
        pl.col("run").alias("run_name"),
        *[pl.col(c) for c in other_losses],
        pl.col("err_avg_17"),
        pl.col("err_avg_46"),
        *[pl.col(c) for c in acc_cols],
    )
    dst = out / "gadre_overtraining"
    return [
        _write_csv(df, dst / "runs.csv"),
        _copy(src / "raw" / "LICENSE.txt", dst / "LICENSE.txt"),
    ]


def porian_recipe(hparams: str, warmup: str, decay: str, param_count: str, val: str) -> str:
    """Readable configuration key of a Porian et al. isoFLOP configuration, e.g. 'tuned-short-const-standard-val'."""
    return f"{hparams}-{warmup}-{decay}-{param_count}-{val}"


def porian(shared: Path, out: Path) -> list[Path]:
    """Porian et al. 2024 (arXiv:2406.19146): 1,745 isoFLOP points -> tidy per-run table."""
    src = shared / "porian_compute_optimal"
    p = pl.read_csv(src / "isoflop_points.csv", infer_schema_length=None)
    _check(p.height == 1745, "porian: expected 1745 isoFLOP points")
    _check((p["params"] % 1 == 0).all(), "porian: non-integer parameter counts")
    recipe = pl.concat_str(["hparams", "warmup", "decay", "param_count", "val"], separator="-")
    flops_txt = pl.col("flops").map_elements(_fmt_flops, return_dtype=pl.String)
    params_txt = pl.col("params").map_elements(lambda x: str(_num(x)), return_dtype=pl.String)
    df = p.select(
        pl.concat_str(
            [pl.lit("porian/"), pl.col("dataset"), pl.lit("-"), recipe, pl.lit("/C"), flops_txt]
            + [pl.lit("/N"), params_txt]
        ).alias("run_id"),
        pl.lit("pretrain").alias("kind"),
        pl.lit("porian_compute_optimal").alias("source"),
        pl.lit("open_lm").alias("model_family"),
        pl.col("dataset").alias("corpus"),
        recipe.alias("recipe"),
        pl.col("params").cast(pl.Int64).alias("n_params"),
        pl.col("tokens").alias("n_tokens"),
        pl.col("flops").alias("compute_flops"),
        pl.lit("6ND").alias("compute_source"),
        pl.col("flops").alias("budget_flops"),
        pl.col("loss").alias("final_loss"),
        (pl.col("val") + "_loss").alias("loss_metric"),
        pl.col("experiment"),
        pl.col("param_count"),
        pl.col("val").alias("loss_kind"),
    )
    _check(df["run_id"].n_unique() == df.height, "porian: run ids are not unique")
    dst = out / "porian_compute_optimal"
    return [
        _write_csv(df, dst / "isoflop_points.csv"),
        _copy(src / "isoflop_optima.csv", dst / "reference" / "isoflop_optima.csv"),
        _copy(src / "power_law_fits.csv", dst / "reference" / "power_law_fits.csv"),
        _write_text(PORIAN_MIT_NOTE, dst / "LICENSE-NOTE.txt"),
    ]


def datablations(shared: Path, out: Path) -> list[Path]:
    """Muennighoff et al. 2023 (arXiv:2305.16264): 296 data-constrained runs -> tidy per-run table."""
    src = shared / "datablations_data_constrained"
    d = pl.read_csv(src / "data_constrained_val_losses.csv", infer_schema_length=None)
    _check(d.height == 296, "datablations: expected 296 runs")
    df = d.select(
        ("datablations/" + pl.col("run_name")).alias("run_id"),
        pl.lit("pretrain").alias("kind"),
        pl.lit("datablations_data_constrained").alias("source"),
        pl.lit("c4").alias("corpus"),
        pl.col("params").alias("n_params"),
        pl.col("tokens").alias("n_tokens"),
        (6.0 * pl.col("params") * pl.col("tokens")).alias("compute_flops"),
        pl.lit("6ND").alias("compute_source"),
        pl.col("val_loss").alias("final_loss"),
        pl.lit("c4_val").alias("loss_metric"),
        pl.col("unique_tokens"),
        pl.col("epochs"),
        _bool_text("in_default_fit_set"),
        pl.col("run_name"),
        pl.col("run_name_normalized"),
    )
    _check(df["run_id"].n_unique() == df.height, "datablations: run ids are not unique")
    return [_write_csv(df, out / "datablations_data_constrained" / "runs.csv")]


def misfitting_segments(rows: list[dict]) -> list[list[dict]]:
    """Split the (Mis)Fitting checkpoint rows (file order) into runs.

    The rows of one run are contiguous and numbered ``current_epoch`` = 1, 2, ... (open_lm checkpoint
    intervals). A new run starts where (sweep, model, total_steps, peak_lr, total_epochs) changes or
    ``current_epoch`` restarts at 1. This gives the 261 runs of ``scaling_results_last_ckpt_only.csv``.
    """
    segments: list[list[dict]] = []
    prev_key = None
    for r in rows:
        key = (r["sweep"], r["model"], r["total_steps"], r["peak_lr"], r["total_epochs"])
        if key != prev_key or int(r["current_epoch"]) == 1:
            segments.append([])
        segments[-1].append(r)
        prev_key = key
    return segments


def misfitting(shared: Path, out: Path) -> list[Path]:
    """Li, Kudugunta, Zettlemoyer 2025 (arXiv:2502.18969): 4,852 checkpoints -> 261 JSON Lines run logs."""
    src = shared / "misfitting_li2025"
    # read as text: C-columns exceed int64, and the text keeps peak_lr as written (0.0004, not 4e-4)
    m = pl.read_csv(src / "scaling_results.csv", infer_schema_length=0)
    _check(m.height == 4852, "misfitting: expected 4852 checkpoints")
    segments = misfitting_segments(m.to_dicts())
    _check(len(segments) == 261, f"misfitting: expected 261 runs, found {len(segments)}")

    def base_id(r: dict) -> str:
        size = r["model"].removeprefix("misfitting_")
        return f"{r['sweep']}/{size}-steps{r['total_steps']}-lr{r['peak_lr']}"

    n_base = Counter(base_id(s[0]) for s in segments)
    seen: Counter[str] = Counter()
    dst = out / "misfitting_li2025"
    written = []
    for seg in segments:
        first = seg[0]
        b = base_id(first)
        seen[b] += 1
        suffix = f"-r{seen[b]}" if n_base[b] > 1 else ""
        run_id = f"misfitting/{b}{suffix}"
        for r in seg:
            _check(
                (r["N"], r["N_no_emb"]) == (first["N"], first["N_no_emb"]),
                f"misfitting: N varies in {run_id}",
            )
            _check(
                int(r["D"]) == int(r["current_steps"]) * MISFITTING_TOKENS_PER_STEP,
                f"misfitting: D != steps x 1048576 in {run_id}",
            )
        meta = {
            "type": "run",
            "run_id": run_id,
            "kind": "pretrain",
            "source": "misfitting_li2025",
            "model_family": "open_lm",
            "n_params": int(first["N"]),
            "n_params_nonembed": int(first["N_no_emb"]),
            "n_tokens": int(first["total_steps"]) * MISFITTING_TOKENS_PER_STEP,
            "compute_source": "6ND",
            "corpus": "fineweb",
            "loss_metric": "c4_val/loss",
            "config": {
                "peak_lr": float(first["peak_lr"]),
                "total_steps": int(first["total_steps"]),
                "sweep": first["sweep"],
                "model": first["model"],
                "total_epochs": int(first["total_epochs"]),
            },
        }
        steps = sorted(seg, key=lambda r: (int(r["current_steps"]), int(r["current_epoch"])))
        records = [meta] + [
            {
                "step": int(r["current_steps"]),
                "tokens_seen": int(r["D"]),
                "flops_seen": float(int(r["C_6ND"])),
                "c4_val/loss": float(r["loss"]),
            }
            for r in steps
        ]
        fname = run_id.removeprefix("misfitting/").replace("/", "__") + ".jsonl"
        written.append(_write_jsonl(records, dst / fname))
    return written


#: verl CSV column -> JSON Lines metric name.
VERL_METRICS = {
    "val_gsm8k_acc": "val/gsm8k_acc",
    "critic_score_mean": "critic/score_mean",
    "critic_rewards_mean": "critic/rewards_mean",
    "critic_kl": "critic/kl",
    "actor_entropy_loss": "actor/entropy_loss",
    "actor_pg_clipfrac": "actor/pg_clipfrac",
    "response_length_mean": "response_length/mean",
    "response_length_max": "response_length/max",
    "prompt_length_mean": "prompt_length/mean",
    "timing_gen": "timing/gen",
    "timing_ref": "timing/ref",
    "timing_values": "timing/values",
    "timing_adv": "timing/adv",
    "timing_update_critic": "timing/update_critic",
    "timing_update_actor": "timing/update_actor",
    "timing_testing": "timing/testing",
}


def _verl_records(rows: list[dict]) -> list[dict]:
    """Step records of one verl run.

    Convention: JSON Lines ``step`` = number of PPO updates completed. The CSV's 0-based training step
    s becomes step s + 1 (its validation, when present, was run after that update). The initial
    validation (CSV step -1) becomes step 0 with ``gpu_hours_seen`` = ``wall_time_s`` = 0. The final
    validation (CSV step last + 1) evaluates the model after the last update, so its accuracy goes on
    the last training step's record (no validation is logged there otherwise; checked).
    """
    by_step: dict[int, dict] = {}
    for r in rows:
        kind = r["row_type"]
        if kind == "initial_validation":
            by_step[0] = {
                "step": 0,
                "gpu_hours_seen": 0.0,
                "wall_time_s": 0.0,
                "val/gsm8k_acc": float(r["val_gsm8k_acc"]),
            }
        elif kind == "train_step":
            s = int(r["step"]) + 1
            rec: dict = {
                "step": s,
                "gpu_hours_seen": float(r["cum_gpu_hours_excl_eval"]),
                "wall_time_s": float(r["cum_wall_sec_excl_eval"]),
            }
            for col, name in VERL_METRICS.items():
                if r[col] is not None:
                    rec[name] = float(r[col])
            by_step[s] = rec
    finals = [r for r in rows if r["row_type"] == "final_validation"]
    if finals:
        last = max(s for s in by_step)
        _check(int(finals[0]["step"]) == last, "verl: final validation is not right after the last step")
        _check("val/gsm8k_acc" not in by_step[last], "verl: last step already has a validation")
        by_step[last]["val/gsm8k_acc"] = float(finals[0]["val_gsm8k_acc"])
        if finals[0]["timing_testing"] is not None:
            by_step[last]["timing/testing"] = float(finals[0]["timing_testing"])
    return [by_step[s] for s in sorted(by_step)]


def verl(shared: Path, out: Path) -> list[Path]:
    """verl GSM8K PPO example runs (HybridFlow, arXiv:2409.19256): CSV -> 3 JSON Lines run logs + raw logs."""
    src = shared / "verl_gsm8k_ppo"
    v = pl.read_csv(src / "verl_gsm8k_ppo_steps.csv", infer_schema_length=0)
    _check(v.height == 981, "verl: expected 981 rows")
    dst = out / "verl_gsm8k_ppo"
    written = []
    for csv_run_id in v["run_id"].unique(maintain_order=True).to_list():
        rows = v.filter(pl.col("run_id") == csv_run_id).to_dicts()
        first = rows[0]
        for col in ("model", "params_b", "n_gpus", "train_batch_size", "max_prompt_len", "max_response_len"):
            _check(len({r[col] for r in rows}) == 1, f"verl: {col} varies within {csv_run_id}")
        recipe = csv_run_id.split("_", 1)[1]
        _check("Qwen2.5" in first["model"] or "gemma-2" in first["model"], "verl: unknown model family")
        meta = {
            "type": "run",
            "run_id": f"verl-jsonl/{csv_run_id}",
            "kind": "rl",
            "source": "verl_gsm8k_ppo",
            "model_family": "qwen2.5" if "Qwen2.5" in first["model"] else "gemma-2",
            "base_model": first["model"],
            "n_params": round(float(first["params_b"]) * 1e9),
            "corpus": "gsm8k",
            "recipe": recipe,
            "algorithm": "ppo-gae",
            "reward_shaping": "gsm8k_exact_match_0_1",
            "n_gpus": int(first["n_gpus"]),
            "config": {
                "csv_run_id": csv_run_id,
                "params_b": float(first["params_b"]),
                "train_batch_size": int(first["train_batch_size"]),
                "max_prompt_len": int(first["max_prompt_len"]),
                "max_response_len": int(first["max_response_len"]),
                "step_convention": "step = PPO updates completed (CSV step + 1); initial validation at step 0",
            },
        }
        written.append(_write_jsonl([meta, *_verl_records(rows)], dst / "jsonl" / f"{csv_run_id}.jsonl"))
    for log in sorted((src / "raw").glob("*.log")):
        written.append(_copy(log, dst / "raw" / log.name))
    # side-car: the raw logs' study name (the verl adapter's default would be the folder name, "raw")
    car = dst / "raw" / "scaling_run.json"
    car.write_text(json.dumps({"source": "verl_gsm8k_ppo"}) + "\n")
    written.append(car)
    return written


def monkeys(shared: Path, out: Path) -> list[Path]:
    """Brown et al. 2024 (arXiv:2407.21787): Pythia x MATH correct counts -> eval table, counts form."""
    src = shared / "llmonkeys_pythia_math"
    k = pl.read_csv(src / "llmonkeys_pythia_math_per_problem.csv", infer_schema_length=None)
    _check(k.height == 896, "monkeys: expected 896 rows")
    df = k.select(
        ("monkeys/" + pl.col("model").str.to_lowercase().str.replace_all(" ", "-")).alias("run_id"),
        pl.col("model"),
        pl.col("benchmark"),
        pl.col("problem_idx").cast(pl.String).alias("problem_id"),
        pl.col("num_samples").alias("n_samples"),
        pl.col("num_correct").alias("n_correct"),
        pl.lit("temperature_0.6").alias("setting"),
        pl.col("params_nominal").alias("n_params"),
        pl.col("params_non_embedding").alias("n_params_nonembed"),
    )
    _check(
        df.select(pl.struct("run_id", "problem_id").n_unique()).item() == df.height,
        "monkeys: duplicate (run_id, problem_id)",
    )
    dst = out / "llmonkeys_pythia_math"
    fits = "published_coverage_fits_brown2024_fig5.csv"
    return [_write_csv(df, dst / "counts.csv"), _copy(src / fits, dst / "reference" / fits)]


def tts(shared: Path, out: Path) -> list[Path]:
    """Zhao, Hooi, Ng 2025 (arXiv:2509.06861): reasoning-model answers -> eval table, one row per answer."""
    src = shared / "tts_knowledge"
    t = pl.read_csv(src / "tts_knowledge_per_sample.csv.gz", infer_schema_length=0)
    _check(t.height == 51870, "tts: expected 51870 rows")
    ints = ["reasoning_tokens", "response_tokens", "completion_tokens", "total_output_tokens"]
    df = t.select(
        pl.concat_str([pl.lit("tts/"), "model", pl.lit("/"), "benchmark", pl.lit("/"), "level_label"]).alias(
            "run_id"
        ),
        pl.col("model"),
        pl.col("benchmark"),
        pl.col("question_id").alias("problem_id"),
        pl.lit(0, dtype=pl.Int64).alias("sample_idx"),
        (pl.col("is_correct").cast(pl.Int64) == 1).alias("correct"),
        pl.col("level_label").alias("setting"),
        pl.col("thinking_knob").alias("setting_knob"),
        pl.col("thinking_level").cast(pl.Float64, strict=False).alias("setting_value"),
        *[pl.col(c).cast(pl.Int64) for c in ints[:3]],
        pl.col("total_output_tokens").cast(pl.Int64).alias("output_tokens"),
        pl.col("grading"),
        pl.col("access"),
        pl.col("not_attempted").cast(pl.Int64),
        pl.col("n_budget_forcing_waits").cast(pl.Int64),
    )
    _check(
        df.select(pl.struct("run_id", "problem_id").n_unique()).item() == df.height,
        "tts: duplicate (run_id, problem_id)",
    )
    dst = out / "tts_knowledge"
    path = dst / "answers.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path, compression="zstd", compression_level=9, statistics=False)
    return [path, _write_text(TTS_MIT_NOTE, dst / "LICENSE-NOTE.txt")]


#: Ladder run names: isoflop-<forward-FLOP budget>-d<hidden>-L<layers>-B<batch>-<tag>
MARIN_LADDER = re.compile(r"isoflop-(?P<budget>[0-9.]+e\+?[0-9]+)-d(?P<d>\d+)-L(?P<L>\d+)-B(?P<B>\d+)-.+")
MARIN_VALOPT = re.compile(
    r"exp\d+-scaling-ladder-(?P<corpus>[a-z]+)-validation-optimal-(?P<budget>[0-9.e+]+)-\w+"
)


def marin_budget(name: str) -> float | None:
    """Total-FLOP isoFLOP budget of a Marin ladder run: 3 x the forward-FLOP budget in its name; None otherwise."""
    m = MARIN_LADDER.fullmatch(name)
    if m is None:
        return None
    return float(Decimal(m["budget"]) * 3)


def marin(shared: Path, out: Path) -> list[Path]:
    """Marin scaling-ladder isoFLOP runs (W&B exports; no paper): 3 corpora -> one tidy per-run table."""
    src = shared / "marin_isoflops"
    frames = []
    for corpus in ("comma", "dclm", "nemotron"):
        t = pl.read_csv(src / f"isoflop-{corpus}.csv", infer_schema_length=0)
        lr_col = "optimizer.learning_rate" if "optimizer.learning_rate" in t.columns else "learning_rate"
        for name in t["Name"]:
            _check(
                MARIN_LADDER.fullmatch(name) is not None or MARIN_VALOPT.fullmatch(name) is not None,
                f"marin: unrecognised run name {name!r}",
            )
        frames.append(
            t.select(
                ("marin/" + pl.col("Name")).alias("run_id"),
                pl.lit("pretrain").alias("kind"),
                pl.lit("marin_isoflops").alias("source"),
                pl.lit("llama").alias("model_family"),
                pl.lit(corpus).alias("corpus"),
                pl.when(pl.col("Name").str.starts_with("isoflop-"))
                .then(pl.lit("isoflop-ladder"))
                .otherwise(pl.lit("validation-optimal"))
                .alias("recipe"),
                pl.col("parameter_count").cast(pl.Int64).alias("n_params"),
                pl.col("throughput/total_tokens").cast(pl.Int64).alias("n_tokens"),
                (pl.col("throughput/total_gflops").cast(pl.Float64) * 1e9).alias("compute_flops"),
                pl.lit("measured").alias("compute_source"),
                pl.col("Name").map_elements(marin_budget, return_dtype=pl.Float64).alias("budget_flops"),
                pl.col("eval/paloma/macro_loss").cast(pl.Float64).alias("final_loss"),
                pl.lit("paloma_macro").alias("loss_metric"),
                pl.col("trainer.train_batch_size").cast(pl.Int64).alias("batch_size_seqs"),
                pl.col("trainer.num_train_steps").cast(pl.Int64).alias("train_steps"),
                pl.col(lr_col).replace("", None).cast(pl.Float64).alias("lr"),
                pl.col("model.hidden_dim").cast(pl.Int64).alias("hidden_dim"),
                pl.col("model.num_layers").cast(pl.Int64).alias("n_layers"),
                pl.col("Name").alias("run_name"),
            )
        )
    df = pl.concat(frames)
    _check(df.height == 273, "marin: expected 273 runs")
    _check(df["run_id"].n_unique() == df.height, "marin: run ids are not unique")
    return [_write_csv(df, out / "marin_isoflops" / "runs.csv")]


def llama3(shared: Path, out: Path) -> list[Path]:
    """Llama 3 (arXiv:2407.21783) Figure 2 isoFLOP points, digitised -> tidy per-run table."""
    src = shared / "llama3_isoflops"
    p = pl.read_csv(src / "isoflops_points.csv", infer_schema_length=None)
    _check(p.height == 133, "llama3: expected 133 points")
    p = p.with_row_index("row").sort(["compute_budget", "training_tokens", "row"])
    p = p.with_columns(pl.int_range(1, pl.len() + 1).over("compute_budget").alias("rank"))
    budget_txt = pl.col("compute_budget").map_elements(_fmt_flops, return_dtype=pl.String)
    df = p.select(
        pl.concat_str(
            [pl.lit("llama3/C"), budget_txt, pl.lit("/p"), pl.col("rank").cast(pl.String).str.zfill(2)]
        ).alias("run_id"),
        pl.lit("pretrain").alias("kind"),
        pl.lit("llama3_isoflops").alias("source"),
        pl.lit("llama3").alias("model_family"),
        (pl.col("compute_budget") / (6.0 * pl.col("training_tokens"))).alias("n_params"),
        pl.col("training_tokens").alias("n_tokens"),
        pl.col("compute_budget").alias("compute_flops"),
        pl.lit("6ND").alias("compute_source"),
        pl.col("compute_budget").alias("budget_flops"),
        pl.col("validation_loss").alias("final_loss"),
        pl.lit("val_nll").alias("loss_metric"),
        pl.lit("assumed N = C/(6D); the paper gives no model sizes for these points").alias("n_params_note"),
    )
    _check(df["run_id"].n_unique() == df.height, "llama3: run ids are not unique")
    return [_write_csv(df, out / "llama3_isoflops" / "points.csv")]


SOURCES = (gadre, porian, datablations, misfitting, verl, monkeys, tts, marin, llama3)


def build(shared: Path, out: Path) -> list[Path]:
    """Write every sample file from ``shared`` into ``out``; return the paths written (sorted)."""
    shared = Path(shared)
    out = Path(out)
    if not shared.is_dir():
        raise FileNotFoundError(f"shared data folder not found: {shared}")
    for sub in JSONL_DIRS:
        for stale in sorted((out / sub).glob("*.jsonl")):
            stale.unlink()
    written: list[Path] = []
    for fn in SOURCES:
        written.extend(fn(shared, out))
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"), help="path to the shared data")
    ap.add_argument("--out", type=Path, default=Path("data/samples"), help="output folder")
    args = ap.parse_args(argv)
    written = build(args.shared, args.out)
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files, {total / 1e6:.2f} MB, under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
