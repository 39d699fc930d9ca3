"""Named read queries. Each takes a connection (so tests can hand in any) and returns a polars DataFrame.

Parameters are always bound. ``where`` arguments are user-written SQL boolean expressions over the named view's
columns (the CLI's ``--where``); they are only ever run on read-only connections.
"""

from __future__ import annotations

import duckdb
import polars as pl


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    cur = con.cursor()
    try:
        return cur.sql(sql, params=params or []).pl()
    finally:
        cur.close()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    cur = con.cursor()
    try:
        row = cur.execute(sql, params or []).fetchone()
        return row[0] if row else None
    finally:
        cur.close()


def _where(where: str | None) -> str:
    """`` AND (<user filter>)`` or empty; the filter must be one expression (no statement separator)."""
    if not where:
        return ""
    if ";" in where:
        raise ValueError(f"--where must be one SQL expression, got {where!r}")
    return f" AND ({where})"


def _filtered(view: str, source: str | None, where: str | None, order: str) -> tuple[str, list]:
    sql, params = f"SELECT * FROM {view} WHERE TRUE", []
    if source:
        sql += " AND source = ?"
        params.append(source)
    return sql + _where(where) + f" ORDER BY {order}", params


def run_counts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Runs per (kind, source) with first and last ingest time."""
    return _frame(
        con,
        "SELECT kind, source, count(*) AS n_runs, min(ingested_at) AS first_ingested, max(ingested_at) AS last_ingested "
        "FROM runs GROUP BY ALL ORDER BY kind, source",
    )


def totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of the base tables."""
    out = {}
    for t in ("runs", "metrics", "eval_samples", "eval_counts", "rejects", "fits", "ingest_files"):
        out[t] = int(_scalar(con, f"SELECT count(*) FROM {t}"))
    return out


def last_ingest(con: duckdb.DuckDBPyConnection):
    """Time of the most recent ingest (UTC, naive datetime) or None."""
    return _scalar(con, "SELECT max(ingested_at) FROM ingest_files")


def ingest_files(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The ingest ledger, newest first."""
    return _frame(
        con,
        "SELECT path, format, status, n_runs, n_rows, n_rejects, message, ingested_at FROM ingest_files "
        "ORDER BY ingested_at DESC, path",
    )


def rejects(con: duckdb.DuckDBPyConnection, limit: int = 500) -> pl.DataFrame:
    """Rejected records with file, line and reason (newest first, capped at ``limit``)."""
    return _frame(
        con, "SELECT * FROM v_rejects ORDER BY rejected_at DESC, source_file, line LIMIT ?", [limit]
    )


def sources(con: duckdb.DuckDBPyConnection, kind: str | None = None) -> list[str]:
    """Distinct sources, optionally of one run kind."""
    sql = "SELECT DISTINCT source FROM runs WHERE source IS NOT NULL"
    params: list = []
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    return [r for r in _frame(con, sql + " ORDER BY 1", params)["source"].to_list()]


def pretrain_sources(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Sources with pretraining fit points: n_points, corpora and whether isoFLOP budgets / curves exist."""
    return _frame(
        con,
        "SELECT p.source, count(*) AS n_points, count(DISTINCT p.corpus) AS n_corpora, "
        "count(p.budget_flops) AS n_isoflop_points, "
        "(SELECT count(DISTINCT c.run_id) FROM v_loss_curves c WHERE c.source = p.source) AS n_curves "
        "FROM v_pretrain_points p GROUP BY p.source ORDER BY p.source",
    )


def pretrain_points(
    con: duckdb.DuckDBPyConnection, source: str | None = None, where: str | None = None
) -> pl.DataFrame:
    """Rows of ``v_pretrain_points`` (N, D, C, final loss per run), optionally filtered."""
    sql, params = _filtered("v_pretrain_points", source, where, "compute_flops, run_id")
    return _frame(con, sql, params)


def isoflop_points(
    con: duckdb.DuckDBPyConnection, source: str | None = None, where: str | None = None
) -> pl.DataFrame:
    """Rows of ``v_isoflop_points`` (points with a nominal budget), optionally filtered."""
    sql, params = _filtered("v_isoflop_points", source, where, "budget_flops, n_params")
    return _frame(con, sql, params)


def loss_curves(
    con: duckdb.DuckDBPyConnection, source: str | None = None, where: str | None = None
) -> pl.DataFrame:
    """Per-step loss of pretraining runs (``v_loss_curves``)."""
    sql, params = _filtered("v_loss_curves", source, where, "run_id, step")
    return _frame(con, sql, params)


def final_metrics(con: duckdb.DuckDBPyConnection, source: str, metrics: list[str]) -> pl.DataFrame:
    """Long frame (run_id, metric, value) of summary metrics (step NULL or last step) of one source's runs."""
    return _frame(
        con,
        "SELECT run_id, metric, arg_max(value, coalesce(step, 9223372036854775807)) AS value "
        "FROM metrics WHERE run_id IN (SELECT run_id FROM runs WHERE source = ?) "
        "AND metric IN (SELECT unnest(?::VARCHAR[])) GROUP BY run_id, metric ORDER BY run_id, metric",
        [source, metrics],
    )


def summary_metric_names(con: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    """Names of summary metrics (step NULL) logged for a source's runs."""
    df = _frame(
        con,
        "SELECT DISTINCT metric FROM metrics WHERE step IS NULL "
        "AND run_id IN (SELECT run_id FROM runs WHERE source = ?) ORDER BY 1",
        [source],
    )
    return df["metric"].to_list()


def rl_runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """RL runs with their labels (base model, algorithm, recipe, reward shaping, seed, N)."""
    return _frame(
        con,
        "SELECT run_id, source, base_model, n_params, algorithm, recipe, reward_shaping, seed, n_gpus, source_file "
        "FROM runs WHERE kind = 'rl' ORDER BY run_id",
    )


def rl_metric_names(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Metric names logged by RL runs with how many runs and points have each."""
    return _frame(
        con,
        "SELECT metric, count(DISTINCT run_id) AS n_runs, count(*) AS n_points FROM v_rl_curves "
        "GROUP BY metric ORDER BY n_runs DESC, metric",
    )


def rl_curves(
    con: duckdb.DuckDBPyConnection,
    metric: str,
    run_ids: list[str] | None = None,
    where: str | None = None,
) -> pl.DataFrame:
    """One RL metric per step with compute axes (``v_rl_curves``), for some or all runs."""
    sql, params = "SELECT * FROM v_rl_curves WHERE metric = ?", [metric]
    if run_ids:
        sql += " AND run_id IN (SELECT unnest(?::VARCHAR[]))"
        params.append(run_ids)
    return _frame(con, sql + _where(where) + " ORDER BY run_id, step", params)


def eval_by_problem(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Per-problem (n, c) counts for every inference configuration (``v_eval_by_problem``)."""
    sql, params = _filtered("v_eval_by_problem", None, where, "run_id, problem_id")
    return _frame(con, sql, params)


def eval_configs(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Per-configuration accuracy and token means (``v_eval_configs``)."""
    sql, params = _filtered("v_eval_configs", None, where, "model, benchmark, setting")
    return _frame(con, sql, params)


def eval_samples(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Per-answer rows (without ``extra_json``), optionally filtered."""
    sql = "SELECT * EXCLUDE (extra_json, file_id) FROM eval_samples WHERE TRUE" + _where(where)
    return _frame(con, sql + " ORDER BY run_id, problem_id, sample_idx")


def eval_runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Inference jobs with model, N and source."""
    return _frame(
        con,
        "SELECT run_id, source, model_family AS model, n_params FROM runs WHERE kind = 'eval' ORDER BY run_id",
    )


def eval_summary(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Rows of ``v_eval_summary`` (aggregated accuracy / pass@k per configuration and budget), optionally filtered."""
    sql, params = _filtered("v_eval_summary", None, where, "model, benchmark, setting, k, run_id")
    return _frame(con, sql, params)
