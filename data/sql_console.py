"""Guarded user SQL (datasette's ``Database.execute`` pattern): read-only, time-limited, row-capped."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from data.connect import open_ro


class SqlError(ValueError):
    """The query failed: syntax error, missing table, a write refused by the read-only connection, file access."""


class QueryTimeout(RuntimeError):
    """The query ran longer than the time limit and was interrupted."""


@dataclass(frozen=True)
class SqlResult:
    """Result of a console query: rows (at most ``max_rows``), whether more existed, and the time taken."""

    frame: pl.DataFrame
    truncated: bool
    elapsed_s: float


def run_sql(db_path: str | Path, sql: str, *, timeout_s: float = 5.0, max_rows: int = 10_000) -> SqlResult:
    """Run one read-only query with a time limit and a row cap.

    Raises
    ------
    QueryTimeout
        If the query exceeds ``timeout_s`` (it is interrupted).
    SqlError
        Syntax errors, writes (refused by the read-only connection), missing tables, access to other files.
    ValueError
        If ``sql`` is empty.
    """
    if not sql.strip():
        raise ValueError("empty query")
    con = open_ro(db_path)
    try:
        n_statements = len(con.extract_statements(sql))
    except duckdb.Error:
        n_statements = 1  # let the query itself report the syntax error
    if n_statements > 1:
        con.close()
        raise ValueError(f"one statement at a time, got {n_statements}")
    timer = threading.Timer(timeout_s, con.interrupt)
    t0 = time.perf_counter()
    timer.start()
    try:
        rel = con.sql(sql)
        if rel is None:
            return SqlResult(pl.DataFrame(), False, time.perf_counter() - t0)
        frame = rel.limit(max_rows + 1).pl()
    except duckdb.InterruptException as e:
        raise QueryTimeout(f"query interrupted after {timeout_s:g} s") from e
    except duckdb.Error as e:
        raise SqlError(f"{type(e).__name__}: {e}") from e
    finally:
        timer.cancel()
        con.close()
    truncated = frame.height > max_rows
    return SqlResult(frame.head(max_rows), truncated, time.perf_counter() - t0)
