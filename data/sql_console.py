"""Guarded user SQL for the SQL console page and ``scaling sql``: one read statement in a sandboxed worker.

Every query runs in a separate worker process (:mod:`data.sandbox`) on a fresh, locked, read-only DuckDB
instance, with a wall-clock limit enforced by killing the worker, an address-space limit, and caps on the rows
and bytes returned. Only read statements pass, as classified by DuckDB's own parser (statement types). Nothing a
query does can change another user's results or stop the caller. (Pattern: datasette's ``Database.execute``
time limit and row cap; DuckDB "Securing DuckDB" settings; a killable subprocess as duckdb/duckdb#15925 advises.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from data.sandbox import Limits, QueryTimeout, SqlError, StatementRefused, run_query
from data.sandbox_worker import READ_HELP

#: The query the SQL console page starts with (SQL lives in data/, not in pages).
EXAMPLE_QUERY = """-- Lowest final loss per pretraining source (nats per token)
select source, count(*) as n_runs, min(final_loss) as min_final_loss, max(compute_flops) as max_compute_flops
from v_final_loss
where kind = 'pretrain'
group by source
order by n_runs desc"""

__all__ = ["READ_HELP", "QueryTimeout", "SqlError", "SqlResult", "StatementRefused", "run_sql"]

#: Default cap on the Arrow bytes a console result may hold (50 MB).
DEFAULT_MAX_BYTES = 50_000_000
#: Default memory a console query may use, MiB (address space added to the worker; DuckDB gets 60 %).
DEFAULT_MEMORY_MB = 1024


@dataclass(frozen=True)
class SqlResult:
    """Result of a console query.

    Attributes
    ----------
    frame : polars.DataFrame
        The rows (at most ``max_rows`` rows and about ``max_bytes`` bytes).
    truncated : bool
        Whether more rows existed than were returned.
    elapsed_s : float
        Wall-clock seconds of the whole call (worker round trip included).
    truncated_reason : str or None
        Why the result was cut (the row cap or the byte cap), None when complete.
    """

    frame: pl.DataFrame
    truncated: bool
    elapsed_s: float
    truncated_reason: str | None = None


def run_sql(
    db_path: str | Path,
    sql: str,
    *,
    timeout_s: float = 5.0,
    max_rows: int = 10_000,
    max_bytes: int = DEFAULT_MAX_BYTES,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> SqlResult:
    """Run one read statement in a sandboxed worker process with hard time and memory limits.

    Parameters
    ----------
    db_path : str or Path
        DuckDB file (opened read-only, in the worker only).
    sql : str
        One read statement (see :data:`READ_HELP`); a comment after the final ``;`` is fine.
    timeout_s : float
        Wall-clock seconds before the worker is killed.
    max_rows, max_bytes : int
        Caps on the returned rows and Arrow bytes; the result says whether and why it was truncated.
    memory_mb : int
        MiB of memory the worker may add (``RLIMIT_DATA``); DuckDB's ``memory_limit`` is 60 % of it.

    Raises
    ------
    ValueError
        ``sql`` is empty.
    StatementRefused
        Not exactly one read statement; the message names the refused statement type (a :class:`SqlError`).
    SqlError
        Syntax errors, missing tables, file access, out of memory, or the query crashed its worker.
    QueryTimeout
        The query ran longer than ``timeout_s`` (its worker was killed).
    FileNotFoundError
        ``db_path`` does not exist.
    """
    if not sql.strip():
        raise ValueError("empty query")
    t0 = time.perf_counter()
    limits = Limits(
        timeout_s=float(timeout_s), memory_mb=int(memory_mb), max_rows=int(max_rows), max_bytes=int(max_bytes)
    )
    ans = run_query(db_path, sql, limits)
    reason = ans.truncated_reason
    return SqlResult(ans.frame, reason is not None, time.perf_counter() - t0, reason)
