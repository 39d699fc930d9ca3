"""Read queries of the run explorer: runs by filter, one run's metrics, reduced curves, data-quality flags, fits.

Curves are reduced in SQL: each run's points are grouped into at most ``n_buckets`` buckets equally spaced in x
(in log x when the axis is logarithmic) and each bucket returns min, max and last value with its point count, so a
100k-step run draws as a few hundred marks and the chart can say how many points it shows of how many.
"""

from __future__ import annotations

import duckdb
import polars as pl

#: x axes a curve can be drawn against: key -> (metrics column, unit label).
X_AXES: dict[str, tuple[str, str]] = {
    "step": ("step", "step"),
    "tokens": ("tokens_seen", "tokens"),
    "flops": ("flops_seen", "FLOPs"),
    "gpu_hours": ("gpu_hours_seen", "GPU-hours"),
    "wall_time": ("wall_time_s", "wall time (s)"),
}


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    cur = con.cursor()
    try:
        return cur.sql(sql, params=params or []).pl()
    finally:
        cur.close()


def runs(
    con: duckdb.DuckDBPyConnection,
    kind: str | None = None,
    source: str | None = None,
    recipe: str | None = None,
    n_min: float | None = None,
    n_max: float | None = None,
) -> pl.DataFrame:
    """Rows of ``v_runs`` matching the filters (None = any), ordered by source, N and run id.

    ``n_min``/``n_max`` bound N (``n_params``, parameters; runs without N are kept only when neither is given).
    """
    sql, params = "SELECT * FROM v_runs WHERE TRUE", []
    for col, val in (("kind", kind), ("source", source), ("recipe", recipe)):
        if val is not None:
            sql += f" AND {col} = ?"
            params.append(val)
    if n_min is not None:
        sql += " AND n_params >= ?"
        params.append(float(n_min))
    if n_max is not None:
        sql += " AND n_params <= ?"
        params.append(float(n_max))
    return _frame(con, sql + " ORDER BY source, n_params NULLS LAST, run_id", params)


def run_facets(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(kind, source, recipe, n_runs, n_min, n_max) for the explorer's filters."""
    return _frame(
        con,
        "SELECT kind, source, recipe, count(*) AS n_runs, min(n_params) AS n_min, max(n_params) AS n_max "
        "FROM runs GROUP BY ALL ORDER BY kind, source, recipe NULLS FIRST",
    )


def run_metrics(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> pl.DataFrame:
    """Per-step metrics logged by ``run_ids``: metric, n_runs, n_points and how many points have each x axis.

    Columns: metric, n_runs, n_points, n_step, n_tokens, n_flops, n_gpu_hours, n_wall_time.
    """
    counts = ", ".join(f"count({col}) AS n_{key}" for key, (col, _) in X_AXES.items())
    return _frame(
        con,
        f"SELECT metric, count(DISTINCT run_id) AS n_runs, count(*) AS n_points, {counts} FROM metrics "
        "WHERE step IS NOT NULL AND run_id IN (SELECT unnest(?::VARCHAR[])) "
        "GROUP BY metric ORDER BY n_runs DESC, n_points DESC, metric",
        [list(run_ids)],
    )


def reduced_curves(
    con: duckdb.DuckDBPyConnection,
    run_ids: list[str],
    metric: str,
    x: str = "step",
    log_x: bool = False,
    n_buckets: int = 200,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One metric of several runs against an x axis, reduced to at most ``n_buckets`` buckets per run.

    Parameters
    ----------
    run_ids : list of str
        Runs to draw.
    metric : str
        Metric name (``metrics.metric``).
    x : str
        Key of :data:`X_AXES` (step, tokens, flops, gpu_hours, wall_time).
    log_x : bool
        Buckets equally spaced in log x; points with x <= 0 cannot be placed and are counted in ``n_dropped``.
    n_buckets : int
        Buckets over the common x range of the selected runs (>= 1).

    Returns
    -------
    (curves, totals) : tuple of polars.DataFrame
        curves: run_id, bucket, x (x of the last point in the bucket), x_min, x_max, value (last value),
        value_min, value_max, n_points -- one row per non-empty bucket, ordered by run and x.
        totals: run_id, n_total (points with this metric and a non-null x), n_dropped (x <= 0 on a log axis),
        n_buckets_shown.

    Raises
    ------
    ValueError
        If ``x`` is not a key of :data:`X_AXES` or ``n_buckets`` < 1.
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}, got {x!r}")
    if n_buckets < 1:
        raise ValueError(f"n_buckets must be >= 1, got {n_buckets}")
    col = X_AXES[x][0]
    t = "ln(x)" if log_x else "x"
    base = (
        f"WITH pts AS (SELECT run_id, {col}::DOUBLE AS x, value FROM metrics WHERE metric = ? "
        f"AND step IS NOT NULL AND {col} IS NOT NULL AND run_id IN (SELECT unnest(?::VARCHAR[]))), "
        f"usable AS (SELECT * FROM pts WHERE {'x > 0' if log_x else 'TRUE'}), "
        f"rng AS (SELECT min({t}) AS lo, max({t}) AS hi FROM usable), "
        f"b AS (SELECT u.*, CAST(least(?, coalesce(floor(({t} - lo) / nullif(hi - lo, 0) * ?), 0)) AS INTEGER) "
        f"AS bucket FROM usable u, rng) "
    )
    params = [metric, list(run_ids), n_buckets - 1, n_buckets]
    curves = _frame(
        con,
        base
        + "SELECT run_id, bucket, max(x) AS x, min(x) AS x_min, max(x) AS x_max, arg_max(value, x) AS value, "
        "min(value) AS value_min, max(value) AS value_max, count(*) AS n_points FROM b "
        "GROUP BY run_id, bucket ORDER BY run_id, x",
        params,
    )
    totals = _frame(
        con,
        base
        + "SELECT p.run_id, count(*) AS n_total, "
        + ("count(*) FILTER (WHERE p.x <= 0)" if log_x else "0")
        + " AS n_dropped, (SELECT count(DISTINCT bucket) FROM b WHERE b.run_id = p.run_id) AS n_buckets_shown "
        "FROM pts p GROUP BY p.run_id ORDER BY p.run_id",
        params,
    )
    return curves, totals


def data_quality(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame | None:
    """Rows of ``v_data_quality`` for one run, or None when the store has no such view (older stores)."""
    cur = con.cursor()
    try:
        exists = cur.execute(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = 'v_data_quality'"
        ).fetchone()[0]
        if not exists:
            return None
        cols = [r[0] for r in cur.execute("DESCRIBE v_data_quality").fetchall()]
    finally:
        cur.close()
    if "run_id" not in cols:
        return None
    return _frame(con, "SELECT * FROM v_data_quality WHERE run_id = ?", [run_id])


def fits_using(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    """Stored fits whose data selection can include the run: the newest fit per (axis, law, selection) whose
    selection names the run's source or the run itself. Columns: fit_id, axis, law, selection_json, n_points,
    created_at."""
    return _frame(
        con,
        "SELECT f.fit_id, f.axis, f.law, f.selection_json::VARCHAR AS selection_json, f.n_points, f.created_at "
        "FROM v_fits_latest f, (SELECT source FROM runs WHERE run_id = ?) r "
        "WHERE f.selection_json->>'source' = r.source OR contains(f.selection_json::VARCHAR, ?) "
        "ORDER BY f.created_at DESC",
        [run_id, f'"{run_id}"'],
    )


def loss_curves_reduced(
    con: duckdb.DuckDBPyConnection, source: str, where: str | None = None, n_buckets: int = 40
) -> tuple[pl.DataFrame, int]:
    """Per-step loss of one source's pretraining runs (``v_loss_curves``) against tokens seen, reduced per run to
    at most ``n_buckets`` buckets equally spaced in log tokens (last loss per bucket).

    ``where`` is a SQL filter over ``v_loss_curves`` columns (run on read-only connections only). Returns
    (frame with run_id, n_params, x = tokens, value = loss, n_points; the number of logged points).

    Raises
    ------
    ValueError
        If ``where`` holds a statement separator.
    """
    if where and ";" in where:
        raise ValueError(f"the filter must be one SQL expression, got {where!r}")
    flt = f" AND ({where})" if where else ""
    base = (
        "WITH pts AS (SELECT run_id, n_params, tokens_seen AS x, loss AS value FROM v_loss_curves "
        f"WHERE source = ? AND tokens_seen > 0 AND loss IS NOT NULL{flt}), "
        "rng AS (SELECT min(ln(x)) AS lo, max(ln(x)) AS hi FROM pts), "
        "b AS (SELECT p.*, CAST(least(?, coalesce(floor((ln(x) - lo) / nullif(hi - lo, 0) * ?), 0)) AS INTEGER) "
        "AS bucket FROM pts p, rng) "
    )
    params = [source, n_buckets - 1, n_buckets]
    frame = _frame(
        con,
        base + "SELECT run_id, any_value(n_params) AS n_params, max(x) AS x, arg_max(value, x) AS value, "
        "count(*) AS n_points FROM b GROUP BY run_id, bucket ORDER BY run_id, x",
        params,
    )
    total = _frame(con, base + "SELECT count(*) AS n FROM pts", params)["n"][0]
    return frame, int(total)


def summary_metrics(con: duckdb.DuckDBPyConnection, run_id: str) -> pl.DataFrame:
    """Summary values of one run (``metrics`` rows with step NULL, e.g. the final loss): metric, value."""
    return _frame(
        con,
        "SELECT metric, value FROM metrics WHERE run_id = ? AND step IS NULL ORDER BY metric",
        [run_id],
    )
