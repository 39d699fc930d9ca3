"""The only place that opens DuckDB connections.

DuckDB refuses to open one file twice in a process with different settings, and a read-write open fails while
another process holds the file (docs: "Concurrency"). So writers build a copy and swap it in (:func:`writable_copy`),
and every read connection is its own in-memory DuckDB instance that attaches the file read-only (:func:`open_ro`):
it sees the file as it was when opened, never a replaced one, and no user setting leaks into another connection.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

#: Settings used for every connection this package opens (one config per file, see module docstring).
_CONFIG: dict[str, str] = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}


def open_rw(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) a DuckDB file for writing. Used by migrations and ingest only.

    Raises
    ------
    duckdb.IOException
        If another process holds the file (e.g. the app has it open read-only); the message names the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=False, config=dict(_CONFIG))


#: Settings of every read instance (app pages, CLI reads, SQL console). Extensions are never installed or loaded,
#: Python variables are never scanned as tables (``python_enable_replacements``), no persistent secrets. After the
#: file is attached, ``enable_external_access`` is switched off (no COPY TO, ``read_*`` of other files, ATTACH,
#: extension loading) and the configuration is locked, so no statement can change a setting (DuckDB docs,
#: "Securing DuckDB").
_RO_CONFIG: dict[str, str] = {
    **_CONFIG,
    "allow_community_extensions": "false",
    "allow_persistent_secrets": "false",
    "python_enable_replacements": "false",
}

#: Catalog names DuckDB reserves; a database file with such a stem is attached as ``store``.
_RESERVED_CATALOGS = {"memory", "system", "temp", "main"}


def file_identity(path: str | Path) -> tuple[int, int, int] | None:
    """(inode, mtime in ns, size in bytes) of ``path``, or None when it does not exist.

    Ingest replaces the database with ``os.replace`` (a new inode), so a changed identity means new data; a cache
    keyed by it never hands out a connection to a replaced file.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


@functools.cache
def _read_temp_dir() -> str:
    """A private spill folder for read instances of this process (removed at exit), never beside the database."""
    d = tempfile.mkdtemp(prefix="scaling-read-")
    atexit.register(shutil.rmtree, d, True)
    return d


def catalog_name(path: str | Path) -> str:
    """Name the attached file gets: its stem as DuckDB's CLI would name it (``demo`` for ``demo.duckdb``), or
    ``store`` when the stem is not a plain identifier or is reserved."""
    stem = Path(path).stem
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", stem) and stem.lower() not in _RESERVED_CATALOGS:
        return stem
    return "store"


def open_ro(path: str | Path, *, settings: dict[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """Open an existing DuckDB file read-only, as its own DuckDB instance. Use a ``.cursor()`` per query per thread.

    Each call builds a fresh in-memory DuckDB instance that ATTACHes ``path`` READ_ONLY, makes it the default
    catalog (``USE``) and detaches the in-memory catalog, so unqualified names (``v_runs``) resolve in the file for
    this connection and for every ``.cursor()`` of it, and nothing can be written anywhere. Then external access is
    disabled and the configuration locked: no ``SET``/``RESET``/``PRAGMA`` from any cursor changes a setting, and
    other instances (other connections, other users) are never affected. Unlike ``duckdb.connect(path)``, this
    never reuses DuckDB's per-process instance for the same path, which would keep serving a file that ingest has
    since replaced (issue 8).

    Parameters
    ----------
    path : str or Path
        An existing DuckDB file.
    settings : dict, optional
        Extra DuckDB settings applied before the lock, e.g. ``{"memory_limit": "1GB", "threads": "1"}``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (DuckDB would otherwise fail with a less clear message).
    duckdb.Error
        If the file is not a DuckDB database or a setting is invalid (the connection is closed first).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"database {path} does not exist; run `scaling ingest` or `scaling demo` first"
        )
    con = duckdb.connect(":memory:", config={**_RO_CONFIG, "temp_directory": _read_temp_dir()})
    try:
        literal = "'" + str(path.resolve()).replace("'", "''") + "'"
        name = catalog_name(path)
        con.execute(f'ATTACH {literal} AS "{name}" (READ_ONLY)')
        con.execute(f'USE "{name}"')
        con.execute("DETACH memory")
        for key, value in (settings or {}).items():
            if not re.fullmatch(r"[a-z_]+", key):
                raise ValueError(f"not a DuckDB setting name: {key!r}")
            con.execute(f"SET {key} = ?", [str(value)])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def is_usable(con: duckdb.DuckDBPyConnection) -> bool:
    """True when ``con`` (from :func:`open_ro`) is open and its database is still attached and the default.

    A cache of read connections checks this before handing one out, so a connection that was closed or whose
    catalog was detached is replaced instead of failing every later query.
    """
    try:
        cur = con.cursor()
    except duckdb.Error:
        return False
    try:
        row = cur.execute(
            "SELECT count(*) FROM duckdb_databases() WHERE NOT internal AND database_name = current_database()"
        ).fetchone()
        return bool(row and row[0] == 1)
    except duckdb.Error:
        return False
    finally:
        cur.close()


@contextlib.contextmanager
def writable_copy(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Write to a copy of ``path`` and atomically swap it in on success.

    Readers (the app) keep their snapshot until they reopen; a failed or interrupted write leaves the live file
    untouched, because the copy is only ``os.replace``-d over it after the connection closed cleanly.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    if path.exists():
        shutil.copy2(path, tmp)
        wal = path.with_name(path.name + ".wal")
        if wal.exists():
            shutil.copy2(wal, tmp.with_name(tmp.name + ".wal"))
    con = open_rw(tmp)
    try:
        yield con
        con.execute("CHECKPOINT")
        con.close()
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
