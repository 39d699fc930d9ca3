"""Persist and load fit records (plain dicts with JSON parts). Never imports ``analysis``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import duckdb
import polars as pl

from data.ingest.loader import now


def fit_id_for(
    axis: str, law: str, selection: dict[str, Any], options: dict[str, Any], code_version: str
) -> str:
    """Stable id of a fit: hash of what went in (same data selection + options + code = same id)."""
    blob = json.dumps([axis, law, selection, options, code_version], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def data_version(frame: pl.DataFrame) -> str:
    """Hash of a fit's input rows (16 hex chars): the same rows in any order give the same version.

    ``frame`` is the selection a fit reads (e.g. ``v_pretrain_points`` rows for one source); all columns count.
    Used to key stored fits by the data they saw, so unchanged data is not refitted (issue 12 item 5).
    """
    cols = sorted(frame.columns)
    canon = frame.select(cols).sort(cols, nulls_last=True).write_csv()
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def fit_exists(con: duckdb.DuckDBPyConnection, fit_id: str) -> bool:
    """Whether a fit with ``fit_id`` is stored (ids hash axis, law, selection, options and code version)."""
    cur = con.cursor()
    try:
        return cur.execute("SELECT count(*) FROM fits WHERE fit_id = ?", [fit_id]).fetchone()[0] > 0
    finally:
        cur.close()


def save_fit(con: duckdb.DuckDBPyConnection, rec: dict[str, Any]) -> str:
    """Insert (or replace) one fit record; returns its ``fit_id``.

    ``rec`` keys: axis, law, selection (dict), options (dict), result (FitResult.to_record()), replicates (dict or
    None), backtest (dict or None), checklist (dict), code_version.

    Raises
    ------
    KeyError
        If a required key is missing.
    """
    result = rec["result"]
    fid = fit_id_for(rec["axis"], rec["law"], rec["selection"], rec.get("options", {}), rec["code_version"])
    con.execute("DELETE FROM fits WHERE fit_id = ?", [fid])
    con.execute(
        "INSERT INTO fits VALUES (?, ?, ?, ?::JSON, ?::JSON, ?::JSON, ?::JSON, ?::JSON, ?::JSON, ?::JSON, ?, ?, ?, ?, ?, ?, ?)",
        [
            fid,
            rec["axis"],
            rec["law"],
            json.dumps(rec["selection"], sort_keys=True, default=str),
            json.dumps(result.get("params", {})),
            json.dumps(result.get("intervals_95", {})),
            json.dumps(result, default=str),
            json.dumps(rec.get("replicates")) if rec.get("replicates") is not None else None,
            json.dumps(rec.get("backtest"), default=str) if rec.get("backtest") is not None else None,
            json.dumps(rec.get("checklist", {}), default=str),
            result.get("n_points"),
            result.get("loss"),
            result.get("delta"),
            result.get("optimizer"),
            result.get("n_starts"),
            rec["code_version"],
            now(),
        ],
    )
    return fid


def list_fits(con: duckdb.DuckDBPyConnection, axis: str | None = None) -> pl.DataFrame:
    """Latest fit per (axis, law, selection), without replicates.

    Besides the stored columns, ``ident_verdict`` (the identifiability verdict stored under
    ``result_json.extra.identifiability.verdict``, null for records without one) and ``ident_not_identified``
    (JSON text of the list of not-identified parameters, or null).
    """
    sql = (
        "SELECT fit_id, axis, law, selection_json, params_json, intervals_json, n_points, loss_fn, delta, optimizer, "
        "n_starts, code_version, created_at, "
        "json_extract_string(result_json, '$.extra.identifiability.verdict') AS ident_verdict, "
        "CAST(json_extract(result_json, '$.extra.identifiability.not_identified') AS VARCHAR) "
        "AS ident_not_identified FROM v_fits_latest"
    )
    params: list = []
    if axis:
        sql += " WHERE axis = ?"
        params.append(axis)
    cur = con.cursor()
    try:
        return cur.sql(sql + " ORDER BY created_at DESC", params=params).pl()
    finally:
        cur.close()


def load_fit(con: duckdb.DuckDBPyConnection, fit_id: str) -> dict[str, Any] | None:
    """One fit as a dict with parsed JSON parts (including replicates), or None."""
    cur = con.cursor()
    try:
        row = cur.execute(
            "SELECT fit_id, axis, law, selection_json, result_json, replicates_json, backtest_json, checklist_json, "
            "code_version, created_at FROM fits WHERE fit_id = ?",
            [fit_id],
        ).fetchone()
    finally:
        cur.close()
    if row is None:
        return None
    keys = (
        "fit_id",
        "axis",
        "law",
        "selection",
        "result",
        "replicates",
        "backtest",
        "checklist",
        "code_version",
        "created_at",
    )
    out = dict(zip(keys, row, strict=True))
    for k in ("selection", "result", "replicates", "backtest", "checklist"):
        if isinstance(out[k], str):
            out[k] = json.loads(out[k])
    return out
