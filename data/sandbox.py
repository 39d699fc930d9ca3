"""Run user SQL in killable worker processes with hard limits (issue 8): the parent side.

Used by the SQL console (``data.sql_console.run_sql``: the page and ``scaling sql``) and by every query that
carries a user-written filter (``data.queries``: ``--where`` of the CLI fits, the Test-time page's filter box).

Design (the "killable subprocess" advice of DuckDB's "Securing DuckDB" page and duckdb/duckdb#15925, where
``interrupt()`` does not stop every query):

* Workers are forked by a small factory process (``python -m data.sandbox_worker --zygote``, started with
  ``subprocess`` from one long-lived launcher thread) that imported DuckDB and pyarrow once: never a plain
  ``fork`` of the threaded Streamlit server, and no multiprocessing start method, which would re-run the caller's
  ``__main__`` in the child. Idle workers are kept (at most
  :data:`MAX_IDLE`) and reused; a worker is replaced after :data:`MAX_USES` queries, and one that was killed or
  crashed is replaced in the background.
* Each worker limits its own memory (``RLIMIT_DATA``, with ``RLIMIT_AS`` as a looser backstop) and opens a fresh,
  locked, read-only DuckDB instance per query (see :mod:`data.sandbox_worker`); the parent enforces the
  wall-clock limit by SIGKILL and reports a worker that died as a :class:`SqlError`.
* At most :data:`MAX_WORKERS` queries run at once; a query waits for a free slot at most its own time limit.
* A worker's DuckDB temp directory is a private folder under the system temp folder, never next to the
  database, and is deleted when the worker ends.
"""

from __future__ import annotations

import atexit
import io
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import duckdb
import polars as pl

#: Queries running at once (each in its own worker process).
MAX_WORKERS = 4
#: Idle workers kept warm for the next query.
MAX_IDLE = 2
#: Queries a worker answers before it is replaced (bounds memory fragmentation of a long-lived process).
MAX_USES = 200


class SqlError(ValueError):
    """The query failed or was refused: not a single read statement, syntax error, missing table, file access,
    out of memory, or a crash of the worker that ran it. The message says which."""


class StatementRefused(SqlError):
    """The text is not exactly one read statement; the message names the statement type that was refused."""


class QueryTimeout(RuntimeError):
    """The query ran longer than its time limit and its worker process was killed."""


class FilterError(SqlError, duckdb.Error):
    """A user filter (``where``) was refused or failed in the sandbox.

    Also a ``duckdb.Error`` so callers that report a bad filter by catching DuckDB errors keep working.
    """


@dataclass(frozen=True)
class Limits:
    """Hard limits of one sandboxed query.

    Attributes
    ----------
    timeout_s : float
        Wall-clock seconds before the worker is killed.
    memory_mb : int
        MiB of memory the worker may add beyond its start-up size (``RLIMIT_DATA``); DuckDB's own
        ``memory_limit`` is 60 % of it.
    max_rows : int or None
        Rows returned at most (the result says it was truncated); None: no row cap.
    max_bytes : int
        Bytes of Arrow data returned at most; console results are truncated there, filter results raise.
    """

    timeout_s: float = 5.0
    memory_mb: int = 1024
    max_rows: int | None = 10_000
    max_bytes: int = 50_000_000


#: Limits of queries that carry a user filter (set once from the app's settings by :func:`set_filter_limits`).
_filter_limits = Limits(timeout_s=60.0, memory_mb=4096, max_rows=None, max_bytes=2_000_000_000)


def set_filter_limits(timeout_s: float, memory_mb: int) -> None:
    """Set the limits of every filtered query in this process (the app and CLI call this with their settings).

    The byte cap of a filtered result is half of ``memory_mb`` (a filtered result is never truncated).
    """
    global _filter_limits
    _filter_limits = Limits(
        timeout_s=float(timeout_s), memory_mb=int(memory_mb), max_rows=None, max_bytes=int(memory_mb) * 2**19
    )


def filter_limits() -> Limits:
    """The limits filtered queries currently run with."""
    return _filter_limits


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = {
            "SIGKILL": " (killed, usually by the kernel for running out of memory)",
            "SIGABRT": " (DuckDB aborted)",
            "SIGSEGV": " (segmentation fault)",
        }.get(name, "")
        return f"{name}{why}"
    return f"exit code {code}"


class _Zygote:
    """The worker factory (``python -m data.sandbox_worker --zygote``) and a thread reading its messages.

    It has imported DuckDB and pyarrow once; each worker is a fork of it, so a new worker is ready in tens of
    milliseconds instead of the second an import takes. The app learns each worker's exit status from it.
    """

    def __init__(self):
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, env.get("PYTHONPATH")) if p)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "data.sandbox_worker", "--zygote", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=tempfile.gettempdir(),
            )
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        self.sock = mine
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._started: dict[int, int] = {}
        self._exited: dict[int, int] = {}
        self._tokens = itertools.count()
        self.dead = False
        threading.Thread(target=self._read, daemon=True, name="scaling-sql-zygote").start()

    def _read(self) -> None:
        while True:
            try:
                msg = self.sock.recv(65536)
            except OSError:
                msg = b""
            with self._cond:
                if not msg:
                    self.dead = True
                    self._cond.notify_all()
                    return
                d = json.loads(msg)
                if "exited" in d:
                    self._exited[d["exited"]] = d["code"]
                else:
                    self._started[d["token"]] = d["pid"]
                self._cond.notify_all()

    def spawn(self, temp_root: str, memory_mb: int) -> tuple[int, Connection]:
        """Fork a worker; returns its pid and the parent's end of its socket."""
        mine, theirs = socket.socketpair()
        token = next(self._tokens)
        msg = json.dumps({"token": token, "temp_root": temp_root, "memory_mb": memory_mb}).encode()
        try:
            with self._send_lock:
                socket.send_fds(self.sock, [msg], [theirs.fileno()])
        except OSError:
            mine.close()
            raise
        finally:
            theirs.close()
        with self._cond:
            self._cond.wait_for(lambda: token in self._started or self.dead, START_TIMEOUT_S)
            pid = self._started.pop(token, None)
        if pid is None:
            mine.close()
            raise SqlError("the query worker factory did not answer")
        return pid, Connection(mine.detach())

    def exited(self, pid: int) -> bool:
        with self._cond:
            return pid in self._exited or self.dead

    def exit_code(self, pid: int, timeout: float) -> int | None:
        """The worker's exit status once the factory reaped it (None if not within ``timeout``)."""
        with self._cond:
            self._cond.wait_for(lambda: pid in self._exited or self.dead, timeout)
            return self._exited.pop(pid, None)

    def close(self) -> None:
        self.sock.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


_ZYGOTE: _Zygote | None = None


def _zygote() -> _Zygote:
    """The running worker factory, (re)started when needed. Called on the launcher thread only."""
    global _ZYGOTE
    if _ZYGOTE is None or _ZYGOTE.dead or _ZYGOTE.proc.poll() is not None:
        _ZYGOTE = _Zygote()
    return _ZYGOTE


class _Worker:
    """One worker process (forked by the factory) and the parent's end of its socket."""

    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self.uses = 0
        self.code: int | None = None
        self.temp_root = tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}{os.getpid()}-")
        try:
            self.factory = _zygote()
            self.pid, self.conn = self.factory.spawn(self.temp_root, memory_mb)
        except BaseException:
            shutil.rmtree(self.temp_root, ignore_errors=True)
            raise
        self.killed = False

    def alive(self) -> bool:
        return not self.killed and not self.factory.exited(self.pid)

    def ended(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` s for the worker to end by itself; its exit status or None."""
        if self.code is None:
            self.code = self.factory.exit_code(self.pid, timeout)
        return self.code

    def kill(self) -> int | None:
        """SIGKILL the worker, reap it, delete its temp folder; returns its exit status (negative: signal)."""
        if not self.killed:
            self.killed = True
            if self.code is None and not self.factory.exited(self.pid):
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if self.code is None:
                self.code = self.factory.exit_code(self.pid, 5)
            self.conn.close()
            shutil.rmtree(self.temp_root, ignore_errors=True)
            _LIVE.discard(self)
        return self.code


#: Temp folders of workers are ``<system temp>/scaling-sql-<pid of the app>-<random>``.
_TEMP_PREFIX = "scaling-sql-"


def sweep_stale_temp_folders() -> list[Path]:
    """Delete worker temp folders left by app processes that no longer exist (e.g. killed with SIGKILL).

    Returns the folders removed. Only folders of this user whose owning process is gone are touched.
    """
    removed = []
    for p in Path(tempfile.gettempdir()).glob(f"{_TEMP_PREFIX}*-*"):
        try:
            pid = int(p.name[len(_TEMP_PREFIX) :].split("-", 1)[0])
            if p.stat().st_uid != os.getuid() or pid == os.getpid():
                continue
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
        except (ValueError, OSError):
            continue
    return removed


#: Every worker not yet killed (killed at interpreter exit).
_LIVE: set[_Worker] = set()
#: Workers are started from this one long-lived thread: the worker's parent-death signal (PR_SET_PDEATHSIG)
#: fires when the *thread* that started it ends, and Streamlit's script threads come and go.
_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scaling-sql-launcher")
_REPO_ROOT = str(Path(__file__).resolve().parents[1])


#: Seconds a new worker may take to import DuckDB and report ready (not counted in any query's time limit).
START_TIMEOUT_S = 60.0


def _launch(memory_mb: int) -> _Worker:
    """Start a worker and wait until it has imported DuckDB and limited itself."""
    w = _Worker(memory_mb)
    _LIVE.add(w)
    try:
        ready = w.conn.poll(START_TIMEOUT_S) and w.conn.recv()
    except (EOFError, OSError):
        ready = None
    if not (isinstance(ready, tuple) and ready and ready[0] == "ready"):
        code = w.kill()
        raise SqlError(f"the query worker did not start: {_describe_exit(code)}")
    return w


class _Pool:
    """Warm worker processes, keyed by their memory limit; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._slots = threading.BoundedSemaphore(MAX_WORKERS)
        self._swept = False

    def _take(self, memory_mb: int) -> _Worker:
        if not self._swept:
            self._swept = True
            _LAUNCHER.submit(sweep_stale_temp_folders)
        with self._lock:
            for w in [w for w in self._idle if w.memory_mb == memory_mb]:
                self._idle.remove(w)
                if w.alive():
                    return w
                w.kill()
        return _LAUNCHER.submit(_launch, memory_mb).result()

    def _park(self, w: _Worker) -> bool:
        """Keep ``w`` idle; a full pool drops its oldest worker of another memory limit to make room."""
        evicted = None
        with self._lock:
            if len(self._idle) >= MAX_IDLE:
                other = [x for x in self._idle if x.memory_mb != w.memory_mb]
                if not other:
                    return False
                evicted = other[0]
                self._idle.remove(evicted)
            self._idle.append(w)
        if evicted is not None:
            evicted.kill()
        return True

    def _give_back(self, w: _Worker) -> None:
        w.uses += 1
        if w.uses < MAX_USES and self._park(w):
            return
        try:
            w.conn.send(None)
        except OSError:
            pass
        w.kill()

    def _refill(self, memory_mb: int) -> None:
        """Start a replacement in the background so the next query after a kill does not wait for a start."""

        def start():
            w = _launch(memory_mb)
            if not self._park(w):
                w.kill()

        with self._lock:
            if any(w.memory_mb == memory_mb for w in self._idle):
                return
        _LAUNCHER.submit(start)

    def warm_up(self, memory_mb: int) -> None:
        """Start one idle worker in the background unless one is already waiting."""
        self._refill(memory_mb)

    def run(self, request: dict, limits: Limits) -> tuple:
        """Send one request to a worker and return its reply, killing the worker at the time limit."""
        if not self._slots.acquire(timeout=limits.timeout_s):
            raise QueryTimeout(
                f"all {MAX_WORKERS} query workers stayed busy for {limits.timeout_s:g} s; try again"
            )
        try:
            w = self._take(limits.memory_mb)
            try:
                w.conn.send(request)
                ready = w.conn.poll(limits.timeout_s)
            except OSError:
                ready = True  # the worker is gone; recv below reports how it ended
            if not ready:
                w.kill()
                self._refill(limits.memory_mb)
                raise QueryTimeout(
                    f"query stopped after {limits.timeout_s:g} s (its worker process was killed)"
                )
            try:
                reply = w.conn.recv()
            except (EOFError, OSError):
                w.ended(5)
                code = w.kill()
                self._refill(limits.memory_mb)
                raise SqlError(f"the query crashed the worker: {_describe_exit(code)}") from None
            except BaseException:
                w.kill()
                raise
            self._give_back(w)
            return reply
        finally:
            self._slots.release()

    def shutdown(self) -> None:
        """Stop every idle worker (running ones end with their query)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.kill()


def _kill_all() -> None:
    for w in list(_LIVE):
        w.kill()
    if _ZYGOTE is not None:
        _ZYGOTE.close()


atexit.register(_kill_all)
_POOL = _Pool()


def shutdown() -> None:
    """Stop the idle worker processes of this process (tests; workers also die with the process)."""
    _POOL.shutdown()


def warm_up(memory_mb: int) -> None:
    """Start an idle worker with ``memory_mb`` in the background (a long-lived server calls this once)."""
    _POOL.warm_up(memory_mb)


@dataclass(frozen=True)
class Answer:
    """A sandboxed result: the rows, why they were truncated (None: complete) and the worker's time."""

    frame: pl.DataFrame
    truncated_reason: str | None
    worker_s: float


def _frame(ipc: bytes) -> pl.DataFrame:
    return pl.read_ipc_stream(io.BytesIO(ipc))


def _answer(reply: tuple, error: type[SqlError]) -> Answer:
    if reply[0] == "ok":
        _, ipc, _n_rows, reason, worker_s = reply
        try:
            frame = _frame(ipc)
        except (KeyboardInterrupt, SystemExit):
            raise
        # polars signals an Arrow type it cannot import with a panic, which is a BaseException
        except BaseException as e:
            raise error(f"cannot convert the result: {type(e).__name__}: {e}") from None
        return Answer(frame, reason, worker_s)
    _, kind, message = reply
    if kind == "refused" and error is SqlError:
        raise StatementRefused(message)
    raise error(message)


def _db(db_path: str | Path) -> str:
    path = Path(db_path).resolve()
    if not path.exists():
        raise FileNotFoundError(
            f"database {path} does not exist; run `scaling ingest` or `scaling demo` first"
        )
    return str(path)


def run_query(db_path: str | Path, sql: str, limits: Limits) -> Answer:
    """Run one console statement in a worker.

    Parameters
    ----------
    db_path : str or Path
        DuckDB file, opened read-only by the worker.
    sql : str
        Exactly one read statement (see :data:`data.sandbox_worker.READ_HELP`); a comment after the final ``;``
        is fine.
    limits : Limits
        Time, memory, row and byte limits.

    Raises
    ------
    StatementRefused
        Not exactly one read statement (the message names the refused statement type).
    SqlError
        Syntax or binder errors, file access, out of memory, a worker crash.
    QueryTimeout
        The worker ran past ``limits.timeout_s`` and was killed.
    FileNotFoundError
        ``db_path`` does not exist.
    """
    req = {
        "op": "sql",
        "db": _db(db_path),
        "sql": sql,
        "max_rows": limits.max_rows,
        "max_bytes": limits.max_bytes,
    }
    return _answer(_POOL.run(req, limits), SqlError)


def database_path(con: duckdb.DuckDBPyConnection) -> str | None:
    """File behind ``con``'s current database, or None for an in-memory database."""
    cur = con.cursor()
    try:
        row = cur.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
    finally:
        cur.close()
    path = row[0] if row else None
    return path if path and path != ":memory:" else None


def run_filter(
    con: duckdb.DuckDBPyConnection, view: str, where: str, template: str, params: list | None = None
) -> pl.DataFrame:
    """Rows of ``template`` where ``{filtered}`` stands for ``view`` restricted by the user filter ``where``.

    The query runs in a sandbox worker on the file behind ``con`` (so a filter cannot reach the caller's
    connection or settings), with :func:`filter_limits`. ``where`` must be one SQL boolean expression over the
    view's columns; it is checked by DuckDB's parser in the worker (see
    :func:`data.sandbox_worker.filtered_sql`).

    Raises
    ------
    FilterError
        A refused, invalid, failing or too large filter, a worker crash, or ``con`` without a database file.
    QueryTimeout
        Never: a filter that runs past its time limit raises :class:`FilterError` saying so.
    """
    path = database_path(con)
    if path is None:
        raise FilterError("a filter runs in a sandbox that opens the database file; this connection has none")
    limits = _filter_limits
    req = {
        "op": "filter",
        "db": path,
        "view": view,
        "where": where,
        "template": template,
        "params": list(params or []),
        "max_bytes": limits.max_bytes,
    }
    try:
        reply = _POOL.run(req, limits)
    except QueryTimeout as e:
        raise FilterError(f"the filtered {e}") from None
    except SqlError as e:
        raise FilterError(str(e)) from None
    return _answer(reply, FilterError).frame
