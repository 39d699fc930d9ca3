"""Parser for the project's JSON Lines run log (docs/FORMATS.md section 1).

Line 1 is run metadata; every later line is one flat record per logging step. Metrics are emitted in long form,
so keys that first appear late in the file are kept. Records are merged per (step, metric) by the loader, so
a train record and an eval record at the same step both keep their metrics. Numeric strings are coerced;
NaN/Infinity are kept as non-finite values (the loader stores them as flagged gaps); numbers no 64-bit float can
hold (``1e400``, 400-digit integers) are rejected with their line.
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
    SegmentTracker,
    StepRow,
    UnparseableFileError,
    json_float,
    json_int,
    to_float,
    to_int64,
)

#: Loss keys tried, in order, when the run metadata names no ``loss_metric``.
DEFAULT_LOSS_KEYS: tuple[str, ...] = ("val/loss", "eval/loss", "loss", "train/loss")
_POSITIVE = ("n_params", "n_params_nonembed", "n_tokens", "compute_flops", "budget_flops")
_INTEGER = ("seed", "n_gpus")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_DECODER = json.JSONDecoder(parse_float=json_float, parse_int=json_int)


def loads(text: str) -> Any:
    """``json.loads`` that returns :class:`~data.ingest.records.Unrepresentable` for numbers no float can hold.

    Raises
    ------
    ValueError
        Invalid JSON (``json.JSONDecodeError``) or a number Python refuses to parse.
    """
    return _DECODER.decode(text)


def validate_run_meta(meta: dict[str, Any], where: str, dropped: list[str] | None = None) -> dict[str, Any]:
    """Check and normalise one run's metadata; unknown keys move into ``config``.

    Parameters
    ----------
    meta : dict
        Metadata as read (keys of docs/FORMATS.md).
    where : str
        ``"file:line"`` used in error messages.

    dropped : list, optional
        Receives one reason per optional integer label (``seed``, ``n_gpus``) that is not an integer in the
        64-bit range; the value is dropped and the run still loads.

    Returns
    -------
    dict
        Keys of ``RUN_COLUMNS`` plus ``config`` (a dict).

    Raises
    ------
    ValueError
        Missing ``run_id``/``kind``, unknown kind, N/D/C not a finite positive number (including C = 6ND
        overflowing), bad compute_source; the message names ``where``.
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
    if not isinstance(meta.get("config") or {}, dict):
        raise ValueError(f"{where}: run '{run_id}': 'config' must be a JSON object")
    config = dict(meta.get("config") or {})
    for key, value in meta.items():
        if key in ("type", "run_id", "kind", "config"):
            continue
        if key not in RUN_COLUMNS:
            config[key] = value
            continue
        if value is None:
            continue
        if key in _POSITIVE:
            f, why = to_float(value)
            if why is not None or f is None or not math.isfinite(f) or f <= 0:
                detail = f" ({why})" if why else ""
                raise ValueError(
                    f"{where}: run '{run_id}': '{key}' must be a finite positive number, got {value!r}{detail}"
                )
            out[key] = f
        elif key in _INTEGER:
            n, why = to_int64(value)
            if why is not None:
                if dropped is None:
                    raise ValueError(f"{where}: run '{run_id}': '{key}' must be an integer: {why}")
                dropped.append(
                    f"run '{run_id}': '{key}' must be an integer: {why}; value dropped, run loaded"
                )
                continue
            out[key] = n
        elif key == "compute_source":
            if value not in COMPUTE_SOURCES:
                raise ValueError(
                    f"{where}: run '{run_id}': 'compute_source' must be one of {COMPUTE_SOURCES}, got {value!r}"
                )
            out[key] = value
        else:
            out[key] = str(value)
    fill_compute(out)
    c = out.get("compute_flops")
    if c is not None and not math.isfinite(c):
        raise ValueError(
            f"{where}: run '{run_id}': compute_flops = 6 N D overflows a 64-bit float "
            f"(N = {out['n_params']:g}, D = {out['n_tokens']:g})"
        )
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
        meta = loads(lines[0])
    except (ValueError, RecursionError) as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        raise UnparseableFileError(str(path), f"line 1: run metadata is not valid JSON ({msg})") from e
    if not isinstance(meta, dict) or meta.get("type") != "run":
        raise UnparseableFileError(
            str(path), 'line 1: expected run metadata {"type": "run", "run_id": ..., ...}'
        )
    dropped: list[str] = []
    try:
        run = validate_run_meta(meta, f"{path}:1", dropped)
    except ValueError as e:
        raise UnparseableFileError(str(path), "line 1: " + str(e).split(": ", 1)[1]) from e
    for why in dropped:
        parsed.rejects.append(Reject(1, lines[0][:4000], why))
    run["source_line"] = 1
    run_id = run["run_id"]
    # Every metric value becomes one StepRow in file order; the loader merges them per (segment, step, metric):
    # a later value for the same point wins (a resume; the overlap is recorded), an identical one collapses.
    segments = SegmentTracker()
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
            rec = loads(raw)
        except (ValueError, RecursionError) as e:
            truncated = lineno == last and not ends_with_newline
            if truncated:
                reason = "truncated last record (no newline at end of file)"
            elif isinstance(e, json.JSONDecodeError):
                reason = f"invalid JSON ({e.msg})"
            else:
                reason = f"cannot be read: {e}"
            parsed.rejects.append(Reject(lineno, raw, reason))
            continue
        if not isinstance(rec, dict):
            parsed.rejects.append(Reject(lineno, raw, "record is not a JSON object"))
            continue
        if rec.get("type") == "run":
            parsed.rejects.append(Reject(lineno, raw, "second run metadata record; one run per file"))
            continue
        step, why = to_int64(rec.get("step"))
        if step is None and why is None:
            parsed.rejects.append(Reject(lineno, raw, "record has no 'step' (every step record needs one)"))
            continue
        if why is not None:
            if "out of" in why and "range" in why:
                reason = f"'step' {rec.get('step')!r} is out of range (at most {MAX_STEP})"
            else:
                reason = f"'step' must be an integer >= 0, got {rec.get('step')!r}: {why}"
            parsed.rejects.append(Reject(lineno, raw, reason))
            continue
        if step < 0:
            parsed.rejects.append(Reject(lineno, raw, f"'step' must be an integer >= 0, got {step}"))
            continue
        axes: dict[str, float | None] = {}
        for ax in STEP_AXES[1:]:
            v, why = to_float(rec.get(ax))
            if v is not None and math.isfinite(v) and v >= 0:
                axes[ax] = v
            else:
                axes[ax] = None
                if rec.get(ax) is not None:
                    detail = why or "must be a finite number >= 0"
                    parsed.rejects.append(
                        Reject(lineno, raw, f"axis '{ax}': {detail}, got {rec.get(ax)!r}; axis dropped")
                    )
        rows: list[StepRow] = []
        for key, v in rec.items():
            if key in STEP_AXES or key == "type" or v is None:
                continue
            f, why = to_float(v)
            if why is not None:
                parsed.rejects.append(Reject(lineno, raw, f"metric '{key}': {why}"))
                continue
            if f is None:
                continue  # "" is not logged, like null
            rows.append(StepRow(run_id, step, key, f, line=lineno, **axes))
        if not rows:
            continue
        seg = segments(step, lineno)
        for r in rows:
            r.segment = seg
        parsed.steps.extend(rows)
    parsed.notes.extend(segments.notes())
    metric_names: set[str] = set()
    metric_names.update(r.metric for r in parsed.steps)
    if not run.get("loss_metric") and run["kind"] == "pretrain":
        run["loss_metric"] = next((k for k in DEFAULT_LOSS_KEYS if k in metric_names), None)
    parsed.runs.append(run)
    return parsed
