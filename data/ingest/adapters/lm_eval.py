"""lm-evaluation-harness output: ``results_<time>.json`` and ``samples_<task>_<time>.jsonl`` (EvaluationTracker).

One results file (with the samples files of the same time stamp beside it) is one run of kind ``eval``:
``run_id`` = ``lm-eval/<model folder>/<time>``, ``source`` = the output folder's name, ``n_params`` from
``config.model_num_parameters`` when lm-eval logged it. The summary is stored as summary metrics (step NULL) of
that run, one per task, metric and filter, named ``<task>/<metric>,<filter>`` (``fx_mc/acc,none``), with the
standard error as ``<task>/<metric>_stderr,<filter>`` (``"N/A"`` is not a number and is not stored) and the
evaluated document count as ``<task>/n_samples``. Groups (``groups`` / ``group_subtasks``) are stored once, from
the ``groups`` section, as ``group:<name>/<metric>,<filter>``, never as a task, so a task is never counted twice.

Samples: one ``eval_samples`` row per (document, filter): ``problem_id`` = ``doc_id``, ``setting`` = the filter
name, ``correct`` = the first listed metric when it is 0/1, ``answer`` = the filtered response when it is text;
the raw ``resps`` (all repeats), ``filtered_resps``, every metric value and the target go to ``extra_json``.
Rows whose metric is not 0/1 (e.g. BLEU) are not eval rows; they are counted in the notes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl

from data.ingest.adapters.common import Context, Points, finish_run, load_json, num, positive
from data.ingest.records import (
    EVAL_NUMERIC_COLUMNS,
    EVAL_SAMPLE_COLUMNS,
    ParsedFile,
    Reject,
    UnparseableFileError,
)

FORMAT = "lm_eval"
RESULTS_RE = re.compile(r"^results_(?P<ts>.+)\.json$")
SAMPLES_RE = re.compile(r"^samples_(?P<task>.+)_(?P<ts>\d{4}-\d\d-\d\dT[\d\-.]+)\.jsonl$")


def is_results(path: Path) -> bool:
    """True for an lm-eval ``results_*.json`` (a JSON object with ``results`` and ``config``/``configs``)."""
    if not RESULTS_RE.match(path.name):
        return False
    try:
        d = load_json(path)
    except UnparseableFileError:
        return False
    return isinstance(d, dict) and isinstance(d.get("results"), dict) and ("config" in d or "configs" in d)


def is_samples(path: Path) -> bool:
    """True for an lm-eval ``samples_<task>_<time>.jsonl`` (first record has ``doc_id`` and responses)."""
    if not SAMPLES_RE.match(path.name):
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            first = json.loads(fh.readline())
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and "doc_id" in first and ("resps" in first or "filtered_resps" in first)


def samples_for(results: Path, files: list[Path]) -> list[Path]:
    """Samples files written with ``results`` (same folder, same time stamp)."""
    ts = RESULTS_RE.match(results.name).group("ts")  # type: ignore[union-attr]
    return [
        f for f in files if f.parent == results.parent and (m := SAMPLES_RE.match(f.name)) and m["ts"] == ts
    ]


def parse_lm_eval(unit: Path, members: list[Path], ctx: Context) -> ParsedFile:
    """Parse a results file (``unit``) and its samples files, or a lone samples file.

    Returns
    -------
    ParsedFile
        ``format="lm_eval"``; one eval run with summary metrics, and ``eval_samples`` rows (see module docstring).

    Raises
    ------
    UnparseableFileError
        If the results file is not lm-eval's results JSON.
    """
    parsed = ParsedFile(path=str(unit), format=FORMAT)
    m = RESULTS_RE.match(unit.name) or SAMPLES_RE.match(unit.name)
    ts = m["ts"] if m else unit.stem
    res: dict[str, Any] = {}
    if RESULTS_RE.match(unit.name):
        d = load_json(unit)
        if not isinstance(d, dict) or not isinstance(d.get("results"), dict):
            raise UnparseableFileError(str(unit), "not an lm-eval results file (no 'results' object)")
        res = d
    model = str(res.get("model_name") or unit.parent.name)
    rid = f"lm-eval/{res.get('model_name_sanitized') or unit.parent.name}/{ts}"
    pts = Points()
    groups = dict(res.get("groups") or {})
    group_names = set(groups) | set(res.get("group_subtasks") or {})
    n_stderr_na = 0
    for task, row in (res.get("results") or {}).items():
        if task in group_names or not isinstance(row, dict):
            continue
        n_stderr_na += _task_rows(pts, rid, task, row)
    for g, row in groups.items():
        if isinstance(row, dict):
            n_stderr_na += _task_rows(pts, rid, f"group:{g}", row)
    for task, n in (res.get("n-samples") or {}).items():
        if isinstance(n, dict) and num(n.get("effective")) is not None:
            pts.add(rid, None, f"{task}/n_samples", n["effective"])
    if n_stderr_na:
        parsed.notes.append(f"{n_stderr_na} standard errors logged as 'N/A' (no bootstrap) not stored")
    cfg = res.get("config") or {}
    config: dict[str, Any] = {
        k: res[k] for k in ("versions", "n-shot", "group_subtasks", "higher_is_better", "lm_eval_version",
                            "git_hash", "date", "total_evaluation_time_seconds", "task_hashes") if k in res
    }  # fmt: skip
    config["lm_eval_config"] = cfg
    meta: dict[str, Any] = {"run_id": rid, "kind": "eval", "config": config, "model_family": None}
    n = positive(cfg.get("model_num_parameters")) if isinstance(cfg, dict) else None
    if n:
        meta["n_params"] = n
    meta.pop("model_family")
    finish_run(parsed, meta, ctx, unit, default_source=unit.parent.parent.name)
    pts.flush(parsed)
    rows: list[dict[str, Any]] = []
    n_not_binary = 0
    for f in sorted(members):
        sm = SAMPLES_RE.match(f.name)
        if not sm:
            continue
        n_not_binary += _samples(parsed, rows, f, sm["task"], rid, model)
    if n_not_binary:
        parsed.notes.append(f"{n_not_binary} sample records whose metric is not 0/1 are not eval rows")
    if rows:
        schema = {c: pl.String for c in EVAL_SAMPLE_COLUMNS}
        schema.update({c: pl.Float64 for c in EVAL_NUMERIC_COLUMNS})
        schema.update({"sample_idx": pl.Int64, "correct": pl.Boolean})
        parsed.eval_samples = pl.DataFrame(
            [{c: r.get(c) for c in EVAL_SAMPLE_COLUMNS} for r in rows], schema=schema
        )
    return parsed


def _task_rows(pts: Points, rid: str, task: str, row: dict[str, Any]) -> int:
    n_na = 0
    for key, v in row.items():
        if "," not in key:
            continue
        if isinstance(v, str) and v.strip().upper() == "N/A":
            n_na += 1
            continue
        pts.add(rid, None, f"{task}/{key}", v)
    return n_na


def _samples(parsed: ParsedFile, rows: list[dict[str, Any]], f: Path, task: str, rid: str, model: str) -> int:
    n_not_binary = 0
    for lineno, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            parsed.rejects.append(Reject(lineno, f"{f.name}: {line[:400]}", f"{f.name}: invalid JSON ({e})"))
            continue
        names = rec.get("metrics") or []
        primary = names[0] if names else None
        v = rec.get(primary) if primary else None
        if isinstance(v, bool):
            v = float(v)
        if not isinstance(v, int | float) or v not in (0, 1):
            n_not_binary += 1
            continue
        filt = rec.get("filtered_resps")
        answer = filt[0] if isinstance(filt, list) and len(filt) == 1 else filt
        rows.append({
            "run_id": rid, "model": model, "benchmark": task, "problem_id": str(rec.get("doc_id")),
            "sample_idx": 0, "correct": bool(v), "answer": answer if isinstance(answer, str) else None,
            "setting": rec.get("filter"),
            "extra_json": json.dumps({
                "metrics": {k: rec.get(k) for k in names}, "target": rec.get("target"),
                "resps": rec.get("resps"), "filtered_resps": filt, "doc_hash": rec.get("doc_hash"),
                "n_repeats": len(rec["resps"][0]) if rec.get("resps") and isinstance(rec["resps"][0], list) else None,
            }, default=str),
        })  # fmt: skip
    return n_not_binary
