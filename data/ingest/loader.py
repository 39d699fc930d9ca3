"""Write one parsed file into the store in one transaction, idempotently.

Rules (docs/FORMATS.md, README "Ingest"):
- a file whose content hash was already loaded (at any path) adds nothing;
- a path whose content changed (a log that grew) replaces the rows that path loaded before;
- a run id already loaded from another file is rejected (with all its rows), the file's other runs load;
- everything a file loads, including its rejects and its ``ingest_files`` row, commits together or not at all;
- metric values merge per (run, segment, step, metric) in file order, whatever the parser: an identical repeat
  collapses (flag ``duplicate``), a different later value wins (flag ``overlap``, the earlier value kept in
  ``metric_flags``), NaN/Inf become flagged gaps (flag ``nonfinite``) and never metric rows;
- a run whose N, D, C is not a finite positive number is rejected whole; an integer label (seed, n_gpus) that is
  not a 64-bit integer is dropped with a reject; a step out of range or a value no float holds is rejected.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import polars as pl

from data.ingest.quality import compute_quality
from data.ingest.records import (
    EVAL_SAMPLE_COLUMNS,
    INT64_MAX,
    RUN_COLUMNS,
    ParsedFile,
    Reject,
    StepRow,
    json_safe,
    to_float,
    to_int64,
)

_RUN_SCHEMA: dict[str, pl.DataType] = {c: pl.String for c in RUN_COLUMNS}
_RUN_SCHEMA.update(
    {c: pl.Float64 for c in ("n_params", "n_params_nonembed", "n_tokens", "compute_flops", "budget_flops")}
)
_RUN_SCHEMA.update({"seed": pl.Int64, "n_gpus": pl.Int64})
_METRIC_COLS = (
    "run_id",
    "step",
    "tokens_seen",
    "flops_seen",
    "gpu_hours_seen",
    "wall_time_s",
    "metric",
    "value",
    "segment",
)
_METRIC_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String,
    "step": pl.Int64,
    "tokens_seen": pl.Float64,
    "flops_seen": pl.Float64,
    "gpu_hours_seen": pl.Float64,
    "wall_time_s": pl.Float64,
    "metric": pl.String,
    "value": pl.Float64,
    "segment": pl.Int32,
}
_FLAG_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String,
    "segment": pl.Int32,
    "step": pl.Int64,
    "metric": pl.String,
    "flag": pl.String,
    "value": pl.Float64,
    "line": pl.Int64,
    "kept_value": pl.Float64,
    "kept_line": pl.Int64,
}
_EVAL_SAMPLE_COLS = EVAL_SAMPLE_COLUMNS
_EVAL_COUNT_COLS = ("run_id", "model", "benchmark", "problem_id", "setting", "n_samples", "n_correct")


@dataclass
class FileOutcome:
    """What happened to one input file: ``status`` in loaded | unchanged | failed | skipped."""

    path: str
    status: str
    format: str | None = None
    n_runs: int = 0
    n_rows: int = 0
    n_rejects: int = 0
    message: str = ""
    #: merge counts of this file's metric values: duplicate, overlap, nonfinite, segment restarts
    n_flags: dict[str, int] = field(default_factory=dict)
    #: run ids loaded that lack N, D or a loss (pretraining) -- what a fit will miss
    missing: list[str] = field(default_factory=list)


@dataclass
class Flag:
    """One metric value that is not a metric row: ``flag`` in nonfinite | overlap | duplicate."""

    run_id: str
    segment: int
    step: int | None
    metric: str
    flag: str
    value: float | None
    line: int | None
    kept_value: float | None = None
    kept_line: int | None = None


_AXES = ("tokens_seen", "flops_seen", "gpu_hours_seen", "wall_time_s")


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def merge_points(steps: list[StepRow], rejects: list[Reject]) -> tuple[list[StepRow], list[Flag]]:
    """Merge metric values per (run, segment, step, metric) in the order given (file order).

    Returns the finite points to store (one per key; a later different value replaces an earlier one) and the
    flags (duplicates collapsed, overlaps with the superseded value, non-finite gaps). Axes missing on a kept
    point are filled from the other records of the same (run, segment, step). Values or steps no column can
    hold are appended to ``rejects`` (a backstop for every parser).
    """
    best: dict[tuple, StepRow] = {}
    axes: dict[tuple, dict[str, float]] = {}
    flags: list[Flag] = []
    for r in steps:
        if r.step is not None and not (0 <= r.step <= INT64_MAX):
            rejects.append(
                Reject(
                    r.line or 0,
                    json.dumps({"metric": r.metric, "step": str(r.step)}),
                    f"'step' {r.step} is out of range (0 to {INT64_MAX})",
                )
            )
            continue
        v, why = (r.value, None) if type(r.value) is float else to_float(r.value)
        if why is not None or v is None:
            rejects.append(
                Reject(
                    r.line or 0,
                    json.dumps({"metric": r.metric, "step": r.step}),
                    f"metric '{r.metric}': {why or 'value is empty'}",
                )
            )
            continue
        r.value = v
        ax_now = axes.setdefault((r.run_id, r.segment, r.step), {})
        for ax in _AXES:
            a = getattr(r, ax)
            if a is None:
                continue
            if isinstance(a, int | float) and not isinstance(a, bool) and math.isfinite(a) and a >= 0:
                ax_now[ax] = a
            else:
                setattr(r, ax, None)
        key = (r.run_id, r.segment, r.step, r.metric)
        old = best.get(key)
        if old is None:
            best[key] = r
        elif _same(old.value, r.value):
            flags.append(
                Flag(r.run_id, r.segment, r.step, r.metric, "duplicate", r.value, r.line, old.value, old.line)
            )
        else:
            flags.append(
                Flag(r.run_id, r.segment, r.step, r.metric, "overlap", old.value, old.line, r.value, r.line)
            )
            best[key] = r
    kept: list[StepRow] = []
    for (run_id, seg, step, _), r in best.items():
        for ax, a in axes.get((run_id, seg, step), {}).items():
            if getattr(r, ax) is None:
                setattr(r, ax, a)
        if math.isfinite(r.value):
            kept.append(r)
        else:
            flags.append(Flag(r.run_id, r.segment, r.step, r.metric, "nonfinite", r.value, r.line))
    return kept, flags


_RUN_POSITIVE = ("n_params", "n_params_nonembed", "n_tokens", "compute_flops", "budget_flops")


def check_runs(runs: list[dict], rejects: list[Reject]) -> list[dict]:
    """Runs whose N, D, C (and budget) are finite positive numbers; integer labels outside BIGINT dropped.

    A backstop applied to every parser's output: a rejected run goes to ``rejects`` with its line and reason.
    """
    good = []
    for r in runs:
        line = int(r.get("source_line") or 0)
        bad = None
        for c in _RUN_POSITIVE:
            v = r.get(c)
            if v is None:
                continue
            f, why = to_float(v)
            if why is not None or f is None or not math.isfinite(f) or f <= 0:
                hint = (
                    " (C = 6ND overflows)"
                    if c == "compute_flops" and r.get("compute_source") == "6ND"
                    else ""
                )
                bad = f"run '{r.get('run_id')}': '{c}' must be a finite positive number, got {v!r}{hint}; run not loaded"
                break
            r[c] = f
        if bad:
            rejects.append(Reject(line, json.dumps({"run_id": str(r.get("run_id"))}), bad))
            continue
        for c in ("seed", "n_gpus"):
            if r.get(c) is None:
                continue
            n, why = to_int64(r[c])
            if why is not None:
                rejects.append(
                    Reject(
                        line,
                        json.dumps({"run_id": str(r.get("run_id"))}),
                        f"run '{r.get('run_id')}': '{c}' must be an integer: {why}; value dropped, run loaded",
                    )
                )
                r[c] = None
            else:
                r[c] = n
        good.append(r)
    return good


def now() -> datetime:
    """Current UTC time without tzinfo (DuckDB TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)


def already_loaded(con: duckdb.DuckDBPyConnection, path: str, sha: str) -> str | None:
    """The path under which content ``sha`` was loaded, or None."""
    row = con.execute(
        "SELECT path FROM ingest_files WHERE content_sha256 = ? AND status = 'loaded' ORDER BY (path = ?) DESC LIMIT 1",
        [sha, path],
    ).fetchone()
    return row[0] if row else None


def _delete_previous(con: duckdb.DuckDBPyConnection, path: str) -> None:
    ids = [r[0] for r in con.execute("SELECT file_id FROM ingest_files WHERE path = ?", [path]).fetchall()]
    for table in (
        "runs",
        "metrics",
        "metric_flags",
        "metric_quality",
        "eval_samples",
        "eval_counts",
        "rejects",
    ):
        con.execute(f"DELETE FROM {table} WHERE file_id IN (SELECT unnest(?::BIGINT[]))", [ids])
    con.execute("DELETE FROM ingest_files WHERE path = ?", [path])


def record_failure(con: duckdb.DuckDBPyConnection, path: str, sha: str, reason: str) -> FileOutcome:
    """Record a file that could not be parsed at all; data it loaded before (if any) is kept."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM rejects WHERE source_file = ? AND line = 0", [path])
        con.execute("DELETE FROM ingest_files WHERE path = ? AND status = 'failed'", [path])
        fid = con.execute("SELECT nextval('file_id_seq')").fetchone()[0]
        t = now()
        con.execute(
            "INSERT INTO ingest_files (file_id, path, content_sha256, format, status, n_rejects, message, ingested_at)"
            " VALUES (?, ?, ?, NULL, 'failed', 1, ?, ?)",
            [fid, path, sha, reason, t],
        )
        con.execute("INSERT INTO rejects VALUES (?, ?, 0, NULL, ?, ?)", [fid, path, reason, t])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return FileOutcome(path, "failed", n_rejects=1, message=reason)


def clear_skips(con: duckdb.DuckDBPyConnection, roots: list[str]) -> None:
    """Forget the ``skipped`` ledger rows at or under ``roots`` (the paths an ingest is about to walk again);
    what is still skipped is recorded anew, so the ledger names what the latest ingest did not read."""
    for root in roots:
        con.execute(
            "DELETE FROM ingest_files WHERE status = 'skipped' AND (path = ? OR starts_with(path, ?))",
            [root, root.rstrip("/") + "/"],
        )


def record_skip(con: duckdb.DuckDBPyConnection, path: str, reason: str) -> FileOutcome:
    """Name a file (or folder) that was not read in the ledger (status ``skipped``) with the reason.

    Replaces an earlier ``skipped`` row for the same path, so re-ingesting a folder does not pile them up.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM ingest_files WHERE path = ? AND status = 'skipped'", [path])
        fid = con.execute("SELECT nextval('file_id_seq')").fetchone()[0]
        con.execute(
            "INSERT INTO ingest_files (file_id, path, content_sha256, format, status, n_rejects, message, ingested_at)"
            " VALUES (?, ?, NULL, NULL, 'skipped', 0, ?, ?)",
            [fid, path, reason, now()],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return FileOutcome(path, "skipped", message=reason)


def load_parsed(con: duckdb.DuckDBPyConnection, parsed: ParsedFile, sha: str) -> FileOutcome:
    """Write ``parsed`` (runs, metrics, eval rows, rejects, ledger row) in one transaction.

    Raises
    ------
    duckdb.Error
        On a database error; the transaction is rolled back and nothing of this file is written.
    """
    path = parsed.path
    rejects = list(parsed.rejects)
    con.execute("BEGIN TRANSACTION")
    try:
        _delete_previous(con, path)
        fid = con.execute("SELECT nextval('file_id_seq')").fetchone()[0]
        t = now()
        run_ids = [r["run_id"] for r in parsed.runs]
        clash = dict(
            con.execute(
                "SELECT run_id, source_file FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
                [run_ids],
            ).fetchall()
        )
        good_runs = []
        for r in check_runs(parsed.runs, rejects):
            if r["run_id"] in clash:
                rejects.append(
                    Reject(
                        int(r.get("source_line") or 0),
                        json.dumps({"run_id": r["run_id"]}),
                        f"run_id '{r['run_id']}' was already ingested from {clash[r['run_id']]}; this run was not loaded",
                    )
                )
            else:
                good_runs.append(r)
        keep = {r["run_id"] for r in good_runs}
        n_rows = 0
        if good_runs:
            runs_df = pl.DataFrame(
                [{c: r.get(c) for c in RUN_COLUMNS} for r in good_runs], schema=_RUN_SCHEMA
            ).with_columns(
                pl.Series(
                    "config_json",
                    [
                        json.dumps(json_safe(r.get("config") or {}), default=str, allow_nan=False)
                        for r in good_runs
                    ],
                ),
                pl.lit(fid, pl.Int64).alias("file_id"),
                pl.lit(path).alias("source_file"),
                pl.Series("source_line", [r.get("source_line") for r in good_runs], dtype=pl.Int64),
                pl.lit(t).alias("ingested_at"),
            )
            _insert(con, "runs", runs_df)
        steps, flags = merge_points([s for s in parsed.steps if s.run_id in keep], rejects)
        if steps:
            mdf = pl.DataFrame(
                {c: [getattr(s, c) for s in steps] for c in _METRIC_COLS}, schema=_METRIC_SCHEMA
            ).with_columns(pl.lit(fid, pl.Int64).alias("file_id"))
            _insert(con, "metrics", mdf)
            n_rows += mdf.height
        if flags:
            fdf = pl.DataFrame(
                {c: [getattr(f, c) for f in flags] for c in _FLAG_SCHEMA}, schema=_FLAG_SCHEMA
            ).with_columns(pl.lit(fid, pl.Int64).alias("file_id"))
            _insert(con, "metric_flags", fdf)
        if steps or flags:
            compute_quality(con, fid)
        n_flags = {k: sum(1 for f in flags if f.flag == k) for k in ("duplicate", "overlap", "nonfinite")}
        n_flags["segments_restarted"] = sum(1 for n in parsed.notes if n.startswith("step counter restarted"))
        for table, frame, cols in (
            ("eval_samples", parsed.eval_samples, _EVAL_SAMPLE_COLS),
            ("eval_counts", parsed.eval_counts, _EVAL_COUNT_COLS),
        ):
            if frame is not None and frame.height:
                f = frame.filter(pl.col("run_id").is_in(list(keep))).select(cols)
                f = f.with_columns(pl.lit(fid, pl.Int64).alias("file_id"))
                _insert(con, table, f)
                n_rows += f.height
        if rejects:
            rdf = pl.DataFrame(
                {
                    "file_id": [fid] * len(rejects),
                    "source_file": [path] * len(rejects),
                    "line": [r.line for r in rejects],
                    "raw": [r.raw[:4000] for r in rejects],
                    "reason": [r.reason for r in rejects],
                    "rejected_at": [t] * len(rejects),
                },
                schema={
                    "file_id": pl.Int64,
                    "source_file": pl.String,
                    "line": pl.Int64,
                    "raw": pl.String,
                    "reason": pl.String,
                    "rejected_at": pl.Datetime("us"),
                },
            )
            _insert(con, "rejects", rdf)
        notes = list(parsed.notes)
        if n_flags["duplicate"]:
            notes.append(f"{n_flags['duplicate']} duplicate points collapsed")
        if n_flags["overlap"]:
            notes.append(
                f"{n_flags['overlap']} points logged again with another value (later value kept; see metric_flags)"
            )
        if n_flags["nonfinite"]:
            notes.append(f"{n_flags['nonfinite']} NaN/Inf values stored as gaps in metric_flags")
        message = "; ".join(notes)
        status = "loaded"
        if parsed.runs and not good_runs:
            status = "failed"
            if clash and all(r["run_id"] in clash for r in parsed.runs):
                message = "nothing loaded: every run id in this file was already ingested from another file"
            else:
                message = "nothing loaded: " + "; ".join(
                    r.reason
                    for r in rejects
                    if "run not loaded" in r.reason or "already ingested" in r.reason
                )
        missing = _missing_for_fit(good_runs, steps)
        con.execute(
            "INSERT INTO ingest_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [fid, path, sha, parsed.format, status, len(good_runs), n_rows, len(rejects), message or None, t],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return FileOutcome(
        path, status, parsed.format, len(good_runs), n_rows, len(rejects), message, n_flags, missing
    )


def _missing_for_fit(runs: list[dict], steps: list[StepRow]) -> list[str]:
    """'run_id: no N, D' lines for pretraining runs that lack what a pretraining fit needs."""
    metrics_by_run: dict[str, set[str]] = {}
    for s in steps:
        metrics_by_run.setdefault(s.run_id, set()).add(s.metric)
    out = []
    for r in runs:
        if r.get("kind", "pretrain") != "pretrain":
            continue
        lack = [
            name for c, name in (("n_params", "N (n_params)"), ("n_tokens", "D (n_tokens)")) if not r.get(c)
        ]
        lm = r.get("loss_metric")
        if not lm or lm not in metrics_by_run.get(r["run_id"], set()):
            lack.append("a loss")
        if lack:
            out.append(f"{r['run_id']}: no {', '.join(lack)}")
    return out


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Insert a polars frame into ``table`` by column name."""
    con.register("_ingest_frame", frame)
    try:
        cols = ", ".join(frame.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _ingest_frame")
    finally:
        con.unregister("_ingest_frame")
