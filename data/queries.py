"""Named read queries. Each takes a connection (so tests can hand in any) and returns a polars DataFrame.

Parameters are always bound. ``where`` arguments are user-written SQL boolean expressions over the named view's
columns (the CLI's ``--where``, the Test-time page's filter box). A query that carries one never runs on the
caller's connection: it runs in a sandboxed worker process on the same database file (:func:`data.sandbox.run_filter`:
the filter is checked by DuckDB's parser, the worker is killed at the filter time limit, memory is capped) and
raises :class:`data.sandbox.FilterError` (a ``ValueError`` and a ``duckdb.Error``) when refused or failing.
"""

from __future__ import annotations

import duckdb
import polars as pl

from data.sandbox import run_filter


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


def _row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    cur = con.cursor()
    try:
        return cur.execute(sql, params or []).fetchone()
    finally:
        cur.close()


def _select(
    con: duckdb.DuckDBPyConnection,
    view: str,
    where: str | None,
    conditions: str = "",
    params: list | None = None,
    order: str = "1",
    columns: str = "*",
) -> pl.DataFrame:
    """``SELECT columns FROM view WHERE TRUE <conditions> ORDER BY order``, restricted by the user filter ``where``.

    Without a filter the query runs on ``con``; with one it runs in the sandbox (see the module docstring).
    """
    template = f"SELECT {columns} FROM {{filtered}} WHERE TRUE{conditions} ORDER BY {order}"
    if not where or not where.strip():
        return _frame(con, template.replace("{filtered}", view), params)
    return run_filter(con, view, where, template, params)


def _filtered(view: str, source: str | None, where: str | None, order: str) -> dict:
    """Arguments of :func:`_select` for ``view`` restricted to one source (if given) and a user filter."""
    conditions, params = "", []
    if source:
        conditions, params = " AND source = ?", [source]
    return {"view": view, "where": where, "conditions": conditions, "params": params, "order": order}


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


def ingest_files_page(con: duckdb.DuckDBPyConnection, page: int = 0, page_size: int = 100) -> pl.DataFrame:
    """One page of the ingest ledger, newest first: rows ``page * page_size`` to ``(page + 1) * page_size - 1``.

    Runs ``LIMIT``/``OFFSET`` in DuckDB so a page never transfers the whole ledger (issue 12: 11.6 MB at 100k files).

    Raises
    ------
    ValueError
        If ``page`` is negative or ``page_size`` is not positive.
    """
    if page < 0 or page_size <= 0:
        raise ValueError(f"ledger page {page} of size {page_size}: page must be >= 0 and size > 0")
    return _frame(
        con,
        "SELECT path, format, status, n_runs, n_rows, n_rejects, message, ingested_at FROM ingest_files "
        "ORDER BY ingested_at DESC, path LIMIT ? OFFSET ?",
        [int(page_size), int(page) * int(page_size)],
    )


def ingest_status_counts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Ledger files per status (columns ``status``, ``n_files``), most frequent first."""
    return _frame(
        con,
        "SELECT status, count(*)::BIGINT AS n_files FROM ingest_files GROUP BY status ORDER BY n_files DESC, status",
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
    return _select(con, **_filtered("v_pretrain_points", source, where, "compute_flops, run_id"))


def isoflop_points(
    con: duckdb.DuckDBPyConnection, source: str | None = None, where: str | None = None
) -> pl.DataFrame:
    """Rows of ``v_isoflop_points`` (points with a nominal budget), optionally filtered."""
    return _select(con, **_filtered("v_isoflop_points", source, where, "budget_flops, n_params"))


def loss_curves(
    con: duckdb.DuckDBPyConnection, source: str | None = None, where: str | None = None
) -> pl.DataFrame:
    """Per-step loss of pretraining runs (``v_loss_curves``)."""
    return _select(con, **_filtered("v_loss_curves", source, where, "run_id, step"))


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
    conditions, params = " AND metric = ?", [metric]
    if run_ids:
        conditions += " AND run_id IN (SELECT unnest(?::VARCHAR[]))"
        params.append(run_ids)
    return _select(con, "v_rl_curves", where, conditions, params, "run_id, step")


def eval_by_problem(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Per-problem (n, c) counts for every inference configuration (``v_eval_by_problem``)."""
    return _select(con, **_filtered("v_eval_by_problem", None, where, "run_id, problem_id"))


def eval_configs(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Per-configuration accuracy and token means (``v_eval_configs``)."""
    return _select(con, **_filtered("v_eval_configs", None, where, "model, benchmark, setting"))


def eval_samples(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Per-answer rows (without ``extra_json``), optionally filtered."""
    return _select(
        con,
        "eval_samples",
        where,
        order="run_id, problem_id, sample_idx",
        columns="* EXCLUDE (extra_json, file_id)",
    )


def eval_runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Inference jobs with model, N and source."""
    return _frame(
        con,
        "SELECT run_id, source, model_family AS model, n_params FROM runs WHERE kind = 'eval' ORDER BY run_id",
    )


def fit_gaps(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Pretraining runs a scaling fit cannot use yet: which of N, D, C or a loss they lack.

    Columns: source, run_id, missing (e.g. ``"N (n_params), C (compute_flops)"``), source_file. C is filled as
    6ND at ingest when N and D are known, so adding N and D (side-car file ``scaling_run.json``) fills it.
    """
    return _frame(
        con,
        "SELECT source, run_id, concat_ws(', ', "
        "  CASE WHEN n_params IS NULL THEN 'N (n_params)' END, CASE WHEN n_tokens IS NULL THEN 'D (n_tokens)' END, "
        "  CASE WHEN compute_flops IS NULL THEN 'C (compute_flops)' END, "
        "  CASE WHEN loss_metric IS NULL THEN 'a loss (loss_metric)' END) AS missing, source_file "
        "FROM runs WHERE kind = 'pretrain' AND (n_params IS NULL OR n_tokens IS NULL OR compute_flops IS NULL "
        "  OR loss_metric IS NULL) ORDER BY source, run_id",
    )


#: Counts of ``v_data_quality`` that flag something worth a look (``n_points`` and ``n_zero`` are context).
DATA_QUALITY_FLAGS: tuple[str, ...] = (
    "n_resets",
    "n_overlaps",
    "n_duplicates_collapsed",
    "n_nonfinite",
    "n_spikes",
    "n_level_shifts",
)


def data_quality_totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Sums over ``v_data_quality``: points stored, (run, metric) series, and each flag count
    (``n_resets`` is counted once per run: restarts of its step counter)."""
    row = _row(
        con,
        "SELECT count(*), coalesce(sum(n_points), 0), coalesce(sum(n_overlaps), 0), "
        "coalesce(sum(n_duplicates_collapsed), 0), coalesce(sum(n_nonfinite), 0), coalesce(sum(n_zero), 0), "
        "coalesce(sum(n_spikes), 0), coalesce(sum(n_level_shifts), 0), "
        "(SELECT coalesce(sum(r), 0) FROM (SELECT max(n_resets) AS r FROM v_data_quality GROUP BY run_id)) "
        "FROM v_data_quality",
    )
    keys = (
        "n_series",
        "n_points",
        "n_overlaps",
        "n_duplicates_collapsed",
        "n_nonfinite",
        "n_zero",
        "n_spikes",
        "n_level_shifts",
        "n_resets",
    )
    return {k: int(v) for k, v in zip(keys, row, strict=True)}


def data_quality(con: duckdb.DuckDBPyConnection, flagged_only: bool = True, limit: int = 500) -> pl.DataFrame:
    """Rows of ``v_data_quality`` (one per run and metric), those with any flag first, capped at ``limit``.

    ``flagged_only`` keeps the rows where a count in :data:`DATA_QUALITY_FLAGS` is above zero.
    """
    flagged = " + ".join(DATA_QUALITY_FLAGS)
    where = f"WHERE {flagged} > 0" if flagged_only else ""
    return _frame(
        con,
        f"SELECT * FROM v_data_quality {where} ORDER BY ({flagged}) DESC, run_id, metric LIMIT ?",
        [limit],
    )


def isoflop_cells(
    con: duckdb.DuckDBPyConnection, source: str | None = None, where: str | None = None
) -> pl.DataFrame:
    """Rows of ``v_isoflop_cells``: every isoFLOP run of a source, with its final loss (NULL if none) and the last
    tokens it logged (NULL without per-step rows), optionally filtered."""
    return _select(con, **_filtered("v_isoflop_cells", source, where, "budget_flops, n_params, run_id"))


def eval_summary(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Rows of ``v_eval_summary`` (aggregated accuracy / pass@k per configuration and budget), optionally filtered."""
    return _select(con, **_filtered("v_eval_summary", None, where, "model, benchmark, setting, k, run_id"))
