"""Copies of the store that other clients open: a DuckDB file in an older storage format (DuckDB 1.x CLI, DBeaver,
older Python packages) and a folder of Parquet files with the schema.

DuckDB 2.x writes storage version 69 by default, which DuckDB 1.x clients refuse ("can only read versions between
64 and 68"). ``ATTACH ... (STORAGE_VERSION 'v1.0.0')`` writes a file every DuckDB >= 1.0 reads, and
``COPY FROM DATABASE`` copies tables, sequences and views into it (DuckDB docs: "ATTACH", "COPY FROM DATABASE",
"Storage Versions and Format"). ``EXPORT DATABASE ... (FORMAT parquet)`` writes one Parquet file per table plus
``schema.sql`` and ``load.sql`` (docs: "EXPORT and IMPORT DATABASE").
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

#: Storage version of ``--duckdb-compat`` files: readable by DuckDB 1.0 and every later release.
COMPAT_STORAGE_VERSION = "v1.0.0"


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export_duckdb_compat(
    src: str | Path, out: str | Path, storage_version: str = COMPAT_STORAGE_VERSION
) -> Path:
    """Copy the store ``src`` (tables, views, sequences) into a new DuckDB file ``out`` written in
    ``storage_version`` (e.g. "v1.0.0"); returns ``out``. ``out`` is written next to itself and renamed when done.

    Raises
    ------
    FileNotFoundError
        If ``src`` does not exist.
    FileExistsError
        If ``out`` exists (never overwritten).
    duckdb.Error
        If DuckDB cannot write that storage version.
    """
    src, out = Path(src).resolve(), Path(out).resolve()
    if not src.exists():
        raise FileNotFoundError(f"database {src} does not exist")
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it or choose another name")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": "false"})
    try:
        con.execute(f"ATTACH {_sql_str(src)} AS src (READ_ONLY)")
        con.execute(f"ATTACH {_sql_str(tmp)} AS dst (STORAGE_VERSION '{storage_version}')")
        con.execute("COPY FROM DATABASE src TO dst")
        con.execute("DETACH dst")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, out)
    return out


def export_parquet(src: str | Path, folder: str | Path) -> list[Path]:
    """Write every table of ``src`` as Parquet into ``folder`` (created; must be empty) with ``schema.sql`` and
    ``load.sql`` (``IMPORT DATABASE 'folder'`` rebuilds the store, views included); returns the files written.

    Raises
    ------
    FileNotFoundError
        If ``src`` does not exist.
    FileExistsError
        If ``folder`` exists and is not empty.
    """
    src, folder = Path(src).resolve(), Path(folder).resolve()
    if not src.exists():
        raise FileNotFoundError(f"database {src} does not exist")
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": "false"})
    try:
        con.execute(f"ATTACH {_sql_str(src)} AS src (READ_ONLY)")
        con.execute(f"EXPORT DATABASE src TO {_sql_str(folder)} (FORMAT parquet)")
        views = con.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE database_name = 'src' AND NOT internal"
        ).fetchall()
    finally:
        con.close()
    _order_views(folder / "schema.sql", dict(views))
    return sorted(folder.iterdir())


def _order_views(schema: Path, views: dict[str, str]) -> None:
    """Rewrite the CREATE VIEW statements of ``schema`` so that every view comes after the views it reads
    (DuckDB writes them by name, and IMPORT DATABASE fails when v_isoflop_points precedes v_pretrain_points)."""
    import re

    text = schema.read_text()
    kept = [s for s in text.split(";\n") if s.strip() and not s.lstrip().upper().startswith("CREATE VIEW")]
    deps = {v: {w for w in views if w != v and re.search(rf"\b{w}\b", sql)} for v, sql in views.items()}
    order: list[str] = []
    while len(order) < len(views):
        ready = sorted(v for v in views if v not in order and deps[v] <= set(order))
        if not ready:  # a cycle cannot exist in a valid store; keep the rest as they are
            ready = sorted(v for v in views if v not in order)
        order += ready
    body = [s.strip() for s in kept] + [views[v].strip().rstrip(";") for v in order]
    schema.write_text(";\n".join(body) + ";\n")
