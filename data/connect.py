"""The only place that opens DuckDB connections.

DuckDB refuses to open one file twice in a process with different settings, and a read-write open fails while
another process holds the file (docs: "Concurrency"). So every connection to a path uses one config, read
connections are read-only, and writers build a copy and swap it in (:func:`writable_copy`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
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


#: Read connections (the app, the CLI's fits and the SQL console) cannot touch other files: no COPY TO,
#: read_csv/read_text of arbitrary paths, ATTACH or extension loading (DuckDB "Securing DuckDB").
_RO_CONFIG: dict[str, str] = {**_CONFIG, "enable_external_access": "false"}


def open_ro(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open an existing DuckDB file read-only. Use a fresh ``.cursor()`` per query per thread.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (DuckDB would otherwise fail with a less clear message).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"database {path} does not exist; run `scaling ingest` or `scaling demo` first"
        )
    return duckdb.connect(str(path), read_only=True, config=dict(_RO_CONFIG))


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
