"""The only place that opens DuckDB connections.

DuckDB refuses to open one file twice in a process with different settings, and a read-write open fails while
another process holds the file (docs: "Concurrency"). So writers build a copy and swap it in (:func:`writable_copy`),
and every read connection is its own in-memory DuckDB instance that attaches the file read-only (:func:`open_ro`):
it sees the file as it was when opened, never a replaced one, and no user setting leaks into another connection.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import glob
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

#: Settings used for every connection this package opens (one config per file, see module docstring).
_CONFIG: dict[str, str] = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}


def open_rw(path: str | Path, *, temp_directory: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) a DuckDB file for writing. Used by migrations and ingest only.

    Parameters
    ----------
    path : path
        DuckDB file.
    temp_directory : path, optional
        Where DuckDB spills intermediate results (its ``temp_directory`` setting). ``writable_copy`` passes a
        private folder so DuckDB's spill files never share a name with the ingest's own files.

    Raises
    ------
    duckdb.IOException
        If another process holds the file (e.g. the app has it open read-only); the message names the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = dict(_CONFIG)
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    con = duckdb.connect(str(path), read_only=False, config=config)
    con.execute("SET enable_progress_bar = false")  # the CLI prints its own progress; keep stderr clean
    return con


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


class LockTimeoutError(TimeoutError):
    """Another process held the database's write lock for longer than the caller wanted to wait."""


def lock_path_for(path: str | Path) -> Path:
    """The lock file guarding writes to ``path``: ``<db>.lock`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _lock_holder(fd: int) -> str:
    try:
        return os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
    except OSError:
        return "?"


@contextlib.contextmanager
def write_lock(
    path: str | Path,
    *,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    poll_s: float = 0.1,
) -> Iterator[Path]:
    """Hold the exclusive OS write lock of database ``path`` (``fcntl.flock`` on ``<db>.lock``).

    One writer at a time: a second writer blocks here, tells ``on_wait`` (default: stderr) once which process
    holds the lock, and gives up after ``timeout`` seconds. The kernel drops the lock when its holder exits,
    even on SIGKILL, so a crashed ingest never leaves a stale lock. The lock file holds the holder's pid and is
    never deleted (deleting it would let two writers lock two different files).

    Parameters
    ----------
    path : path
        The DuckDB file (the lock file is ``<path>.lock``; its folder is created if missing).
    timeout : float, optional
        Seconds to wait for the lock; None waits as long as the other writer runs.
    on_wait : callable, optional
        Receives the "waiting for the ingest lock held by pid N ..." message once.
    poll_s : float
        Seconds between attempts while waiting.

    Yields
    ------
    pathlib.Path
        The lock file.

    Raises
    ------
    LockTimeoutError
        If the lock was not free within ``timeout`` seconds; the message names the holder's pid and the lock file.
    """
    lock = lock_path_for(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            say = on_wait or (lambda m: print(m, file=sys.stderr, flush=True))
            limit = "" if timeout is None else f" (at most {timeout:g} s)"
            say(f"waiting for the ingest lock held by pid {holder} on {lock}{limit} ...")
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise LockTimeoutError(
                            f"{path}: another writer (pid {_lock_holder(fd)}) still holds {lock} after "
                            f"{timeout:g} s; try again later or raise --lock-timeout"
                        ) from None
                    time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield lock
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _temp_prefix(path: Path) -> str:
    return f"{path.name}.ingest-"


def _remove_db_files(db: Path) -> None:
    for f in (db, db.with_name(db.name + ".wal")):
        f.unlink(missing_ok=True)


@contextlib.contextmanager
def writable_copy(
    path: str | Path,
    *,
    lock_timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Write to a copy of ``path`` and atomically swap it in on success, holding the database's write lock.

    - One writer at a time: the whole copy-write-swap runs under :func:`write_lock`, so two ingests (or an
      ingest and a migrate or a fit being saved) never build copies of the same state and never lose each
      other's rows; the second waits (saying so through ``on_wait``) and starts from the first one's result.
    - The copy has a unique name in the same folder (``<db>.ingest-<pid>-<random>.tmp``, same file system so
      ``os.replace`` is atomic); copies left behind by a killed writer are removed by the next writer (it holds
      the lock, so no live writer owns them). On any failure the copy is removed.
    - DuckDB spills to a private ``tempfile.mkdtemp`` folder, never to ``<db>.tmp`` or next to the copy, and the
      folder is removed afterwards.
    - Readers (the app) keep their snapshot until they reopen; a failed or interrupted write leaves the live
      file untouched, because the copy is only ``os.replace``-d over it after the connection closed cleanly.

    Parameters
    ----------
    path : path
        The live DuckDB file (created if missing).
    lock_timeout : float, optional
        Seconds to wait for another writer; None waits as long as it runs.
    on_wait : callable, optional
        Receives the "waiting for the ingest lock held by pid N ..." message (default: stderr).

    Raises
    ------
    LockTimeoutError
        If another writer held the lock longer than ``lock_timeout``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with write_lock(path, timeout=lock_timeout, on_wait=on_wait):
        for stale in path.parent.glob(glob.escape(_temp_prefix(path)) + "*.tmp*"):
            stale.unlink(missing_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f"{_temp_prefix(path)}{os.getpid()}-", suffix=".tmp", dir=path.parent
        )
        os.close(fd)
        tmp = Path(name)
        spill = tempfile.mkdtemp(prefix="scaling-duckdb-spill-")
        try:
            if path.exists():
                shutil.copy2(path, tmp)
                wal = path.with_name(path.name + ".wal")
                if wal.exists():
                    shutil.copy2(wal, tmp.with_name(tmp.name + ".wal"))
            else:
                tmp.unlink()  # DuckDB refuses an empty file; the unique name stays reserved by our lock
            con = open_rw(tmp, temp_directory=spill)
            try:
                yield con
                con.execute("CHECKPOINT")
            finally:
                con.close()
            os.replace(tmp, path)
            path.with_name(path.name + ".wal").unlink(missing_ok=True)
        except BaseException:
            _remove_db_files(tmp)
            raise
        finally:
            shutil.rmtree(spill, ignore_errors=True)
