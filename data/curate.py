"""Curating the store: relabel or delete runs, each change recorded in ``audit_log`` (view ``v_audit``).

Writes run on a writable connection (``data.connect.writable_copy``); the run selection (``--where``) is resolved
beforehand on a read-only connection. A change is undone by re-ingesting the run's file: every file whose runs
were changed is marked ``status = 'curated'`` in ``ingest_files``, so the next ``scaling ingest`` of that path
loads it again and replaces what it had loaded (labels and deleted runs come back).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import polars as pl

#: Run columns ``label`` may set (text labels; N, D, C and the loss are measurements, re-ingest to change them).
LABEL_COLUMNS = (
    "source",
    "corpus",
    "recipe",
    "model_family",
    "base_model",
    "algorithm",
    "reward_shaping",
    "loss_metric",
)
#: Tables holding rows of a run (deleted with it).
RUN_TABLES = ("metrics", "eval_samples", "eval_counts")


def select_runs(con: duckdb.DuckDBPyConnection, run_ids: list[str], where: str | None = None) -> list[str]:
    """The runs named in ``run_ids`` plus those matching ``where`` (a SQL expression over ``v_runs`` columns).

    Run ``where`` only on a read-only connection (``data.connect.open_ro``).

    Raises
    ------
    ValueError
        If a named run does not exist, ``where`` is not one expression, or nothing is selected.
    duckdb.Error
        If ``where`` does not parse or names unknown columns.
    """
    ids = list(dict.fromkeys(run_ids))
    if ids:
        found = {
            r[0]
            for r in con.execute(
                "SELECT run_id FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [ids]
            ).fetchall()
        }
        missing = [i for i in ids if i not in found]
        if missing:
            raise ValueError(f"no such run(s): {', '.join(missing)}")
    if where:
        if ";" in where:
            raise ValueError(f"--where must be one SQL expression, got {where!r}")
        ids += [
            r[0]
            for r in con.execute(f"SELECT run_id FROM v_runs WHERE ({where}) ORDER BY run_id").fetchall()
            if r[0] not in ids
        ]
    if not ids:
        raise ValueError("no run selected: name runs or give a --where that matches some")
    return ids


def parse_assignments(items: list[str]) -> dict[str, str | None]:
    """``["corpus=c4", "recipe="]`` -> ``{"corpus": "c4", "recipe": None}`` (empty value clears the label).

    Raises
    ------
    ValueError
        If an item has no ``=`` or names a column outside :data:`LABEL_COLUMNS`.
    """
    out: dict[str, str | None] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set takes key=value, got {item!r}")
        key, value = item.split("=", 1)
        key = key.strip()
        if key not in LABEL_COLUMNS:
            raise ValueError(f"cannot set {key!r}; labels are {', '.join(LABEL_COLUMNS)}")
        out[key] = value if value != "" else None
    if not out:
        raise ValueError("nothing to set: give --set key=value")
    return out


def _mark_curated(con: duckdb.DuckDBPyConnection, file_ids: list[int]) -> None:
    con.execute(
        "UPDATE ingest_files SET status = 'curated', message = coalesce(message || '; ', '') || "
        "'curated: re-ingest this file to undo label/delete changes' "
        "WHERE file_id IN (SELECT unnest(?::BIGINT[])) AND status = 'loaded'",
        [file_ids],
    )


def _audit(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    if not rows:
        return
    frame = pl.DataFrame(
        rows,
        schema={
            "changed_at": pl.Datetime("us"),
            "actor": pl.String,
            "via": pl.String,
            "action": pl.String,
            "run_id": pl.String,
            "field": pl.String,
            "old_value": pl.String,
            "new_value": pl.String,
            "source_file": pl.String,
        },
    )
    con.register("_audit_rows", frame)
    try:
        con.execute(f"INSERT INTO audit_log ({', '.join(frame.columns)}) SELECT * FROM _audit_rows")
    finally:
        con.unregister("_audit_rows")


def label_runs(
    con: duckdb.DuckDBPyConnection,
    run_ids: list[str],
    updates: dict[str, str | None],
    *,
    actor: str | None,
    via: str = "cli",
) -> int:
    """Set label columns of ``run_ids`` (see :func:`parse_assignments`); returns the number of changed fields.

    One ``audit_log`` row per (run, field) whose value changed; unchanged fields are not recorded.

    Raises
    ------
    ValueError
        If a key is not in :data:`LABEL_COLUMNS` or a run does not exist.
    """
    bad = [k for k in updates if k not in LABEL_COLUMNS]
    if bad:
        raise ValueError(f"cannot set {', '.join(bad)}; labels are {', '.join(LABEL_COLUMNS)}")
    cols = ", ".join(updates)
    before = con.sql(
        f"SELECT run_id, file_id, source_file, {cols} FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
        params=[run_ids],
    ).pl()
    missing = sorted(set(run_ids) - set(before["run_id"].to_list()))
    if missing:
        raise ValueError(f"no such run(s): {', '.join(missing)}")
    when = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for r in before.iter_rows(named=True):
        for k, v in updates.items():
            if r[k] != v:
                rows.append(
                    {"changed_at": when, "actor": actor, "via": via, "action": "label", "run_id": r["run_id"],
                     "field": k, "old_value": r[k], "new_value": v, "source_file": r["source_file"]}
                )  # fmt: skip
    con.execute("BEGIN TRANSACTION")
    try:
        sets = ", ".join(f"{k} = ?" for k in updates)
        con.execute(
            f"UPDATE runs SET {sets} WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
            [*updates.values(), run_ids],
        )
        _audit(con, rows)
        _mark_curated(con, sorted({int(f) for f in before["file_id"].to_list()}))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def delete_runs(
    con: duckdb.DuckDBPyConnection, run_ids: list[str], *, actor: str | None, via: str = "cli"
) -> dict[str, int]:
    """Delete runs and their metric and eval rows; one ``audit_log`` row per run with the run's row as JSON.

    Returns
    -------
    dict
        Rows deleted per table (runs, metrics, eval_samples, eval_counts).

    Raises
    ------
    ValueError
        If a run does not exist.
    """
    before = con.sql(
        "SELECT * FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", params=[run_ids]
    ).pl()
    missing = sorted(set(run_ids) - set(before["run_id"].to_list()))
    if missing:
        raise ValueError(f"no such run(s): {', '.join(missing)}")
    when = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {"changed_at": when, "actor": actor, "via": via, "action": "delete", "run_id": r["run_id"], "field": None,
         "old_value": json.dumps(r, default=str), "new_value": None, "source_file": r["source_file"]}
        for r in before.iter_rows(named=True)
    ]  # fmt: skip
    counts = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table in (*RUN_TABLES, "runs"):
            counts[table] = con.execute(
                f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [run_ids]
            ).fetchone()[0]
        _audit(con, rows)
        _mark_curated(con, sorted({int(f) for f in before["file_id"].to_list()}))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def audit(con: duckdb.DuckDBPyConnection, run_id: str | None = None, limit: int = 500) -> pl.DataFrame:
    """Newest audit rows (``v_audit``), of one run or all; empty frame on stores without the table."""
    exists = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'v_audit'").fetchone()[0]
    if not exists:
        return pl.DataFrame()
    sql, params = "SELECT * FROM v_audit", []
    if run_id:
        sql += " WHERE run_id = ?"
        params.append(run_id)
    cur = con.cursor()
    try:
        return cur.sql(sql + " ORDER BY changed_at DESC, audit_id DESC LIMIT ?", params=[*params, limit]).pl()
    finally:
        cur.close()
