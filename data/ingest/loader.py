"""Write one parsed file into the store in one transaction, idempotently.

Rules (docs/FORMATS.md, README "Ingest"):
- a file whose content hash was already loaded (at any path) adds nothing;
- a path whose content changed (a log that grew) replaces the rows that path loaded before;
- a run id already loaded from another file is rejected (with all its rows), the file's other runs load;
- everything a file loads, including its rejects and its ``ingest_files`` row, commits together or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import polars as pl

from data.ingest.records import EVAL_SAMPLE_COLUMNS, RUN_COLUMNS, ParsedFile, Reject

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
)
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
    for table in ("runs", "metrics", "eval_samples", "eval_counts", "rejects"):
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
        for r in parsed.runs:
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
                pl.Series("config_json", [json.dumps(r.get("config") or {}, default=str) for r in good_runs]),
                pl.lit(fid, pl.Int64).alias("file_id"),
                pl.lit(path).alias("source_file"),
                pl.Series("source_line", [r.get("source_line") for r in good_runs], dtype=pl.Int64),
                pl.lit(t).alias("ingested_at"),
            )
            _insert(con, "runs", runs_df)
        steps = [s for s in parsed.steps if s.run_id in keep]
        if steps:
            mdf = pl.DataFrame(
                {c: [getattr(s, c) for s in steps] for c in _METRIC_COLS},
                schema={
                    "run_id": pl.String,
                    "step": pl.Int64,
                    "tokens_seen": pl.Float64,
                    "flops_seen": pl.Float64,
                    "gpu_hours_seen": pl.Float64,
                    "wall_time_s": pl.Float64,
                    "metric": pl.String,
                    "value": pl.Float64,
                },
            ).with_columns(pl.lit(fid, pl.Int64).alias("file_id"))
            _insert(con, "metrics", mdf)
            n_rows += mdf.height
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
        message = "; ".join(parsed.notes)
        status = "loaded"
        if parsed.runs and not good_runs:
            status = "failed"
            message = "nothing loaded: every run id in this file was already ingested from another file"
        con.execute(
            "INSERT INTO ingest_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [fid, path, sha, parsed.format, status, len(good_runs), n_rows, len(rejects), message or None, t],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return FileOutcome(path, status, parsed.format, len(good_runs), n_rows, len(rejects), message)


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Insert a polars frame into ``table`` by column name."""
    con.register("_ingest_frame", frame)
    try:
        cols = ", ".join(frame.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _ingest_frame")
    finally:
        con.unregister("_ingest_frame")
