"""Parser for the project's JSON Lines run log (docs/FORMATS.md section 1).

Line 1 is run metadata; every later line is one flat record per logging step. Metrics are emitted in long form,
so keys that first appear late in the file are kept, and values are never coerced to another type.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

from data.ingest.records import (
    COMPUTE_SOURCES,
    RUN_COLUMNS,
    RUN_KINDS,
    STEP_AXES,
    ParsedFile,
    Reject,
    StepRow,
    UnparseableFileError,
)

#: Loss keys tried, in order, when the run metadata names no ``loss_metric``.
DEFAULT_LOSS_KEYS: tuple[str, ...] = ("val/loss", "eval/loss", "loss", "train/loss")
_POSITIVE = ("n_params", "n_params_nonembed", "n_tokens", "compute_flops", "budget_flops")
_INTEGER = ("seed", "n_gpus")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def validate_run_meta(meta: dict[str, Any], where: str) -> dict[str, Any]:
    """Check and normalise one run's metadata; unknown keys move into ``config``.

    Parameters
    ----------
    meta : dict
        Metadata as read (keys of docs/FORMATS.md).
    where : str
        ``"file:line"`` used in error messages.

    Returns
    -------
    dict
        Keys of ``RUN_COLUMNS`` plus ``config`` (a dict).

    Raises
    ------
    ValueError
        Missing ``run_id``/``kind``, unknown kind, non-positive N/D/C, bad compute_source; the message names ``where``.
    """
    run_id = meta.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError(f"{where}: run metadata needs a non-empty string 'run_id'")
    kind = meta.get("kind")
    if kind not in RUN_KINDS:
        raise ValueError(
            f"{where}: run '{run_id}': 'kind' must be one of {', '.join(RUN_KINDS)}, got {kind!r}"
        )
    out: dict[str, Any] = {"run_id": run_id.strip(), "kind": kind}
    config = dict(meta.get("config") or {})
    if not isinstance(config, dict):
        raise ValueError(f"{where}: run '{run_id}': 'config' must be a JSON object")
    for key, value in meta.items():
        if key in ("type", "run_id", "kind", "config"):
            continue
        if key not in RUN_COLUMNS:
            config[key] = value
            continue
        if value is None:
            continue
        if key in _POSITIVE:
            if not _is_number(value) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{where}: run '{run_id}': '{key}' must be a positive number, got {value!r}")
            out[key] = float(value)
        elif key in _INTEGER:
            if not _is_number(value) or value != int(value):
                raise ValueError(f"{where}: run '{run_id}': '{key}' must be an integer, got {value!r}")
            out[key] = int(value)
        elif key == "compute_source":
            if value not in COMPUTE_SOURCES:
                raise ValueError(
                    f"{where}: run '{run_id}': 'compute_source' must be one of {COMPUTE_SOURCES}, got {value!r}"
                )
            out[key] = value
        else:
            out[key] = str(value)
    fill_compute(out)
    out["config"] = config
    return out


def fill_compute(run: dict[str, Any]) -> None:
    """Fill C = 6 N D (marked ``compute_source='6ND'``) when C is absent and N and D are known (Kaplan 2001.08361)."""
    if run.get("compute_flops") is None and run.get("n_params") and run.get("n_tokens"):
        run["compute_flops"] = 6.0 * run["n_params"] * run["n_tokens"]
        run["compute_source"] = "6ND"


#: Largest step a run log may use (DuckDB BIGINT).
MAX_STEP = 2**63 - 1


def _open_bytes(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def parse_jsonl_run_log(path: Path) -> ParsedFile:
    """Parse one JSON Lines run log into a :class:`ParsedFile` (one run, its step metrics, rejects).

    Raises
    ------
    UnparseableFileError
        Empty file, undecodable bytes (e.g. a truncated gzip), or a first line that is not valid run metadata.
    """
    path = Path(path)
    parsed = ParsedFile(path=str(path), format="jsonl_run_log")
    try:
        with _open_bytes(path) as fh:
            blob = fh.read()
    except (OSError, EOFError) as e:
        raise UnparseableFileError(str(path), f"cannot be read: {e}") from e
    if blob.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark is allowed and ignored
        blob = blob[3:]
    raw_lines = blob.split(b"\n")
    ends_with_newline = raw_lines[-1] == b""
    if ends_with_newline:
        raw_lines.pop()
    lines: list[str | None] = []
    for b in raw_lines:
        try:
            lines.append(b.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError:
            lines.append(None)
    if not lines or not (lines[0] or "").strip():
        raise UnparseableFileError(str(path), "line 1: empty; a run log starts with a run metadata record")
    if lines[0] is None:
        raise UnparseableFileError(str(path), "line 1: not valid UTF-8 text")
    try:
        meta = json.loads(lines[0])
    except json.JSONDecodeError as e:
        raise UnparseableFileError(str(path), f"line 1: run metadata is not valid JSON ({e.msg})") from e
    if not isinstance(meta, dict) or meta.get("type") != "run":
        raise UnparseableFileError(
            str(path), 'line 1: expected run metadata {"type": "run", "run_id": ..., ...}'
        )
    try:
        run = validate_run_meta(meta, f"{path}:1")
    except ValueError as e:
        raise UnparseableFileError(str(path), str(e).split(": ", 1)[1]) from e
    run["source_line"] = 1
    run_id = run["run_id"]
    # step -> (line, raw, rows): a later record for the same step replaces the earlier one (a resumed run
    # re-logs the steps after its last checkpoint); the superseded record goes to rejects with its line.
    by_step: dict[int, tuple[int, str, list[StepRow]]] = {}
    last = len(lines)
    for lineno, raw in enumerate(lines[1:], start=2):
        if raw is None:
            parsed.rejects.append(
                Reject(lineno, repr(raw_lines[lineno - 1][:200]), "line is not valid UTF-8 text")
            )
            continue
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError as e:
            truncated = lineno == last and not ends_with_newline
            reason = (
                "truncated last record (no newline at end of file)"
                if truncated
                else f"invalid JSON ({e.msg})"
            )
            parsed.rejects.append(Reject(lineno, raw, reason))
            continue
        if not isinstance(rec, dict):
            parsed.rejects.append(Reject(lineno, raw, "record is not a JSON object"))
            continue
        if rec.get("type") == "run":
            parsed.rejects.append(Reject(lineno, raw, "second run metadata record; one run per file"))
            continue
        step = rec.get("step")
        if not _is_number(step) or not math.isfinite(step) or step != int(step) or step < 0:
            parsed.rejects.append(Reject(lineno, raw, f"'step' must be an integer >= 0, got {step!r}"))
            continue
        if step > MAX_STEP:
            parsed.rejects.append(Reject(lineno, raw, f"'step' {step} is out of range (at most {MAX_STEP})"))
            continue
        step = int(step)
        axes: dict[str, float | None] = {}
        for ax in STEP_AXES[1:]:
            v = rec.get(ax)
            if v is None:
                axes[ax] = None
            elif _is_number(v) and math.isfinite(v) and v >= 0:
                axes[ax] = float(v)
            else:
                axes[ax] = None
                parsed.rejects.append(Reject(lineno, raw, f"axis '{ax}' must be a number >= 0, got {v!r}"))
        rows: list[StepRow] = []
        for key, v in rec.items():
            if key in STEP_AXES or key == "type" or v is None:
                continue
            if not _is_number(v) or not math.isfinite(v):
                parsed.rejects.append(
                    Reject(lineno, raw, f"metric '{key}': value {v!r} is not a finite number")
                )
                continue
            rows.append(StepRow(run_id, step, key, float(v), line=lineno, **axes))
        if not rows:
            continue
        if step in by_step:
            old_line, old_raw, _ = by_step[step]
            parsed.rejects.append(
                Reject(
                    old_line, old_raw, f"step {step} logged again at line {lineno}; the later record is kept"
                )
            )
        by_step[step] = (lineno, raw, rows)
    metric_names: set[str] = set()
    for _, _, rows in by_step.values():
        parsed.steps.extend(rows)
        metric_names.update(r.metric for r in rows)
    if not run.get("loss_metric") and run["kind"] == "pretrain":
        run["loss_metric"] = next((k for k in DEFAULT_LOSS_KEYS if k in metric_names), None)
    parsed.runs.append(run)
    return parsed
