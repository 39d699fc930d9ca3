"""The only place that opens DuckDB connections.

DuckDB refuses to open one file twice in a process with different settings, and a read-write open fails while
another process holds the file (docs: "Concurrency"). So every connection to a path uses one config, read
connections are read-only, and writers build a copy and swap it in (:func:`writable_copy`).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
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
