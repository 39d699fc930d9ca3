"""Store side of the budget simulator: logged compute per axis, link data, and the ``scenarios`` table.

Never imports ``analysis``; all SQL of the simulator lives here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import duckdb
import polars as pl

from data.ingest.loader import now

__all__ = [
    "SCENARIO_COLUMNS",
    "list_scenarios",
    "logged_compute",
    "pretrain_ranges",
    "rl_run_info",
    "save_scenarios",
]

SCENARIO_COLUMNS = (
    "scenario_id", "name", "kind", "budget_total", "budget_unit", "queries", "prompt_tokens", "output_tokens",
    "law", "rl", "test_time_mode", "share_pretraining", "share_rl", "share_test_time", "n_params", "n_tokens",
    "samples_per_query", "metric", "metric_lo", "metric_hi", "p_beats_baseline", "flops_total", "usd_total",
    "extrapolated", "config_json", "result_json", "created_at",
)  # fmt: skip


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    cur = con.cursor()
    try:
        return cur.sql(sql, params=params or []).pl() if params else cur.sql(sql).pl()
    finally:
        cur.close()


def pretrain_ranges(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, tuple[float, float]]:
    """Range of N (parameters) and D (tokens) of a source's pretraining points; empty dict when it has none."""
    df = _frame(
        con,
        "SELECT min(n_params) AS n_lo, max(n_params) AS n_hi, min(n_tokens) AS d_lo, max(n_tokens) AS d_hi "
        "FROM v_pretrain_points WHERE source = ?",
        [source],
    )
    r = df.row(0, named=True)
    if r["n_lo"] is None:
        return {}
    return {"N": (float(r["n_lo"]), float(r["n_hi"])), "D": (float(r["d_lo"]), float(r["d_hi"]))}


def rl_run_info(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """N (parameters) and the GPU-hour range logged by one RL run: keys n_params, gpu_hours_lo, gpu_hours_hi."""
    df = _frame(
        con,
        "SELECT any_value(n_params) AS n_params, min(gpu_hours_seen) FILTER (WHERE gpu_hours_seen > 0) AS lo, "
        "max(gpu_hours_seen) AS hi FROM v_rl_curves WHERE run_id = ?",
        [run_id],
    )
    r = df.row(0, named=True)
    return {"n_params": r["n_params"], "gpu_hours_lo": r["lo"], "gpu_hours_hi": r["hi"]}


def logged_compute(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Compute actually logged in the store per axis (the simulator's "today" baseline).

    Returns
    -------
    dict
        ``pretraining_flops`` (sum of compute_flops of pretraining runs), ``rl_gpu_hours`` (sum over RL runs of
        the largest gpu_hours_seen), ``rl_flops`` (sum of the largest flops_seen where logged), ``eval_samples``
        (sampled answers: sum of n_samples per problem), ``eval_token_flops`` (2 N x output tokens where both N
        and token counts are logged), ``eval_samples_with_n`` and ``eval_param_samples`` (sum of N x samples over
        inference runs with a known N, for runs without token counts), and run counts per axis.
    """
    pre = _frame(
        con, "SELECT count(*) AS n, sum(compute_flops) AS c FROM v_runs WHERE kind = 'pretrain'"
    ).row(0, named=True)
    rl = _frame(
        con,
        "SELECT count(*) AS n, sum(g) AS g, sum(f) AS f FROM (SELECT run_id, max(gpu_hours_seen) AS g, "
        "max(flops_seen) AS f FROM v_rl_curves GROUP BY run_id)",
    ).row(0, named=True)
    ev = _frame(
        con,
        "SELECT count(DISTINCT e.run_id) AS n, sum(e.n_samples) AS s, "
        "sum(e.n_samples) FILTER (WHERE r.n_params IS NOT NULL) AS s_n, "
        "sum(e.n_samples * r.n_params) AS ns FROM v_eval_by_problem e LEFT JOIN runs r USING (run_id)",
    ).row(0, named=True)
    tok = _frame(
        con,
        "SELECT sum(2 * r.n_params * s.output_tokens) AS f FROM eval_samples s JOIN runs r USING (run_id) "
        "WHERE r.n_params IS NOT NULL AND s.output_tokens IS NOT NULL",
    ).row(0, named=True)
    f = lambda v: float(v) if v is not None else 0.0  # noqa: E731
    return {
        "pretraining_runs": int(pre["n"] or 0),
        "pretraining_flops": f(pre["c"]),
        "rl_runs": int(rl["n"] or 0),
        "rl_gpu_hours": f(rl["g"]),
        "rl_flops": f(rl["f"]),
        "eval_runs": int(ev["n"] or 0),
        "eval_samples": f(ev["s"]),
        "eval_samples_with_n": f(ev["s_n"]),
        "eval_param_samples": f(ev["ns"]),
        "eval_token_flops": f(tok["f"]),
    }


def scenario_id(name: str, config: dict[str, Any]) -> str:
    """Stable id: hash of the name and the inputs (same scenario saved twice replaces itself)."""
    blob = json.dumps([name, config], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def save_scenarios(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> list[str]:
    """Insert (or replace) scenario rows; returns their ids.

    Each row has the ``scenarios`` columns except scenario_id and created_at; ``config_json`` and ``result_json``
    are dicts.

    Raises
    ------
    KeyError
        A required column is missing.
    """
    ids = []
    for r in rows:
        sid = scenario_id(r["name"], r["config_json"])
        vals = {**r, "scenario_id": sid, "created_at": now()}
        vals["config_json"] = json.dumps(r["config_json"], sort_keys=True, default=str)
        vals["result_json"] = json.dumps(r["result_json"], default=str)
        con.execute("DELETE FROM scenarios WHERE scenario_id = ?", [sid])
        cols = ", ".join(SCENARIO_COLUMNS)
        marks = ", ".join("?::JSON" if c.endswith("_json") else "?" for c in SCENARIO_COLUMNS)
        con.execute(f"INSERT INTO scenarios ({cols}) VALUES ({marks})", [vals.get(c) for c in SCENARIO_COLUMNS])
        ids.append(sid)
    return ids


def list_scenarios(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Saved scenarios (``v_scenarios`` without the JSON columns), newest first; empty before migration 0020."""
    cur = con.cursor()
    try:
        has = cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'v_scenarios'"
        ).fetchall()[0][0]
        if not has:
            return pl.DataFrame()
        return cur.sql("SELECT * EXCLUDE (config_json, result_json) FROM v_scenarios").pl()
    finally:
        cur.close()
