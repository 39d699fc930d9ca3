"""The child side of the SQL sandbox: one process that runs user SQL under hard limits (issue 8).

This module runs as ``python -m data.sandbox_worker FD TEMP_ROOT MEMORY_MB`` (started by :mod:`data.sandbox`,
which keeps idle workers warm so the import of DuckDB is not paid per query). It imports duckdb and pyarrow, never polars: the parent turns
the Arrow IPC bytes it gets back into a polars frame.

What the worker enforces on itself (the parent adds the wall-clock limit by killing it):

* ``RLIMIT_DATA`` = the data size after start-up and a DuckDB warm-up + ``memory_mb`` MiB (``RLIMIT_AS`` is a
  looser backstop), so one huge allocation inside a single function call (``repeat('x', 4e9)``, ``range(5e8)``)
  fails in this process, not in the server; ``RLIMIT_CORE`` = 0 (an abort writes no core file).
* A fresh read-only DuckDB instance per query (opened while the worker waits for the next query, see
  :class:`Spare`): ``threads=1``, ``memory_limit``, ``temp_directory`` in a private
  folder the parent created under the system temp folder (never next to the database),
  ``max_temp_directory_size``, no extension auto-install/auto-load, no community extensions, no persistent
  secrets, ``enable_external_access=false`` and finally ``lock_configuration=true`` (DuckDB "Securing DuckDB").
  Nothing a query sets survives the query.
* Statements are classified by DuckDB's parser (``extract_statements`` statement types), never by text.

Protocol: the parent sends a request dict over a :class:`multiprocessing.connection.Connection` on the socket
``FD``; the worker
answers ``("ok", ipc_bytes, n_rows, truncated_reason, elapsed_s)`` or ``("error", kind, message)`` where kind is
``"refused"``, ``"sql"`` or ``"too_large"``. ``None`` asks the worker to exit.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.ipc

#: Statement types a console user may run. DESCRIBE, SHOW, SUMMARIZE, FROM-first, VALUES and WITH parse as SELECT.
READ_TYPES = ("SELECT",)
#: Shown in refusals: what "a read statement" means here.
READ_HELP = "SELECT (also WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE) or EXPLAIN [ANALYZE] of one"
#: Rows per Arrow batch read from DuckDB: the byte cap is checked after each batch, so a batch of very wide rows
#: (10,000 rows of 100 KB strings) never has to fit in memory whole.
BATCH_ROWS = 256


class Refused(Exception):
    """The text is not exactly one read statement (the message names what was found)."""


class TooLarge(Exception):
    """A filtered result is larger than its byte cap (filters never truncate: a fit would be silently wrong)."""


def _set_parent_death_signal() -> None:
    """Ask Linux to SIGKILL this worker when its parent (the forkserver) exits, so no worker outlives the app."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent still kills workers on timeout and at exit
        pass


def _vm_bytes(field: str) -> int:
    """``VmSize`` or ``VmData`` of this process in bytes (from /proc/self/status), 0 when unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limit_memory(memory_mb: int, temp_root: str) -> None:
    """Cap this process's memory at its size after a warm-up DuckDB query plus ``memory_mb`` MiB; no core files.

    The warm-up (an in-memory instance with the worker's settings) makes DuckDB's fixed cost part of the baseline.
    ``RLIMIT_DATA`` (heap and private writable mappings, Linux >= 4.7) is the limit that bites; ``RLIMIT_AS`` is a
    looser backstop, because DuckDB and pyarrow reserve address space they never touch.
    """
    warm = duckdb.connect(":memory:", config={"threads": "1", "temp_directory": temp_root})
    warm.execute("SELECT sum(i) FROM range(1000) t(i)").fetchall()
    warm.close()
    extra = int(memory_mb) * 1024 * 1024
    data, size = _vm_bytes("VmData"), _vm_bytes("VmSize")
    if data:
        resource.setrlimit(resource.RLIMIT_DATA, (data + extra, data + extra))
    if size:
        resource.setrlimit(resource.RLIMIT_AS, (size + 2 * extra + 2**30, size + 2 * extra + 2**30))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def connect(db_path: str, temp_dir: str, memory_mb: int) -> duckdb.DuckDBPyConnection:
    """A fresh, locked, read-only DuckDB instance on ``db_path``.

    DuckDB's own ``memory_limit`` is 60 % of ``memory_mb`` (the rest is headroom for what its buffer manager does
    not count, which the address-space limit catches), spilling goes to ``temp_dir`` (at most ``memory_mb`` MiB).
    The security settings are applied in order with SET because a config dict does not keep order and
    ``temp_directory`` cannot be set once external access is off.
    """
    config = {
        "threads": "1",
        "memory_limit": f"{max(int(memory_mb * 0.6), 64)}MB",
        "temp_directory": temp_dir,
        "max_temp_directory_size": f"{max(int(memory_mb), 64)}MB",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "allow_community_extensions": "false",
        "allow_persistent_secrets": "false",
    }
    con = duckdb.connect(db_path, read_only=True, config=config)
    try:
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _statements(con: duckdb.DuckDBPyConnection, sql: str) -> list:
    try:
        return con.extract_statements(sql)
    except ValueError as e:  # a statement type this duckdb build does not name (e.g. UPDATE EXTENSIONS)
        raise Refused(
            f"refused a statement of unknown type ({e}): the console is read-only and runs only {READ_HELP}"
        ) from None


def _words(query: str) -> list[tuple[int, str]]:
    """(position, text) of each non-comment token of ``query`` (DuckDB's tokenizer)."""
    tokens = duckdb.tokenize(query)
    out = []
    for i, (pos, kind) in enumerate(tokens):
        if kind == duckdb.token_type.comment:
            continue
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(query)
        out.append((pos, query[pos:end].strip()))
    return out


def _without_terminator(query: str) -> str:
    """``query`` without its final ``;`` and what follows it (only comments can follow, by the parser's split)."""
    words = _words(query)
    while words and words[-1][1] == ";":
        query = query[: words[-1][0]]
        words.pop()
    return query


def _type_name(stmt) -> str:
    return str(stmt.type).rsplit(".", 1)[-1]


def _explained(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """The statement an ``EXPLAIN [ANALYZE]`` wraps (found with DuckDB's tokenizer), which must itself be a read."""
    words = [(pos, w.upper()) for pos, w in _words(query)]
    rest_at = None
    if len(words) >= 2 and words[0][1] == "EXPLAIN":
        rest_at = words[2][0] if words[1][1] == "ANALYZE" and len(words) >= 3 else words[1][0]
        if words[1][1] == "ANALYZE" and len(words) < 3:
            rest_at = None
    if rest_at is None:
        raise Refused("EXPLAIN must be followed by the statement to explain")
    inner = query[rest_at:]
    stmts = _statements(con, inner)
    if len(stmts) != 1 or _type_name(stmts[0]) not in READ_TYPES:
        found = ", ".join(_type_name(s) for s in stmts) or "nothing"
        raise Refused(f"EXPLAIN [ANALYZE] is allowed for one SELECT only; it wraps {found}")
    return inner


def classify(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The text of the single read statement in ``sql``, or :class:`Refused` saying which type was refused.

    Uses DuckDB's parser (``extract_statements``), so separators inside strings and comments do not count and a
    comment after the final ``;`` is fine. Parser errors propagate as ``duckdb.ParserException``.
    """
    stmts = _statements(con, sql)
    if not stmts:
        raise Refused("no statement to run (the text is empty or only comments)")
    if len(stmts) > 1:
        kinds = ", ".join(_type_name(s) for s in stmts)
        raise Refused(f"one statement at a time, got {len(stmts)} ({kinds})")
    stmt = stmts[0]
    kind = _type_name(stmt)
    query = _without_terminator(stmt.query)
    if kind == "EXPLAIN":
        _explained(con, query)
        return query
    if kind not in READ_TYPES:
        raise Refused(f"refused a {kind} statement: the console is read-only and runs only {READ_HELP}")
    return query


def _plain_filter_select(ast: dict, view: str) -> bool:
    """Whether a serialized statement is exactly ``SELECT * FROM <view> WHERE <expr>`` (nothing else)."""
    if ast.get("error") or len(ast.get("statements", [])) != 1:
        return False
    node = ast["statements"][0].get("node", {})
    star = node.get("select_list", [])
    src = node.get("from_table") or {}
    return (
        node.get("type") == "SELECT_NODE"
        and not node.get("modifiers")
        and not (node.get("cte_map") or {}).get("map")
        and len(star) == 1
        and star[0].get("type") == "STAR"
        and src.get("type") == "BASE_TABLE"
        and src.get("table_name") == view
        and not src.get("schema_name")
        and not src.get("catalog_name")
        and not src.get("sample")
        and node.get("where_clause") is not None
        and not node.get("group_expressions")
        and node.get("having") is None
        and node.get("qualify") is None
        and node.get("sample") is None
    )


def filtered_sql(con: duckdb.DuckDBPyConnection, view: str, where: str, template: str) -> str:
    """``template`` with ``{filtered}`` replaced by ``(SELECT * FROM <view> WHERE (<where>)) AS filtered``.

    The inner statement is checked with DuckDB's parser first: exactly one SELECT, and its syntax tree
    (``json_serialize_sql``) is a plain select-star from ``view`` with a WHERE clause and nothing else, so text
    such as ``1=1) UNION SELECT ... --`` or ``1=1); DROP ...`` is refused. Because the checked statement is used
    whole as a subquery, a filter such as ``1) OR (1`` cannot widen the caller's own conditions either.
    """
    if any(w == ";" for _, w in _words(where)):
        raise Refused(f"--where must be one SQL expression over {view} columns (no ';'), got {where!r}")
    inner = f"SELECT * FROM {view} WHERE ({where}\n)"
    stmts = _statements(con, inner)  # parser errors propagate with DuckDB's message
    if len(stmts) != 1 or _type_name(stmts[0]) != "SELECT":
        raise Refused(f"--where must be one SQL expression over {view} columns, got {where!r}")
    ((text,),) = con.execute("SELECT json_serialize_sql(?)", [inner]).fetchall()
    if '"PARAMETER"' in text:  # a ? or $1 in the filter would take the caller's bound values
        raise Refused(f"--where cannot hold query parameters (? or $n), got {where!r}")
    if not _plain_filter_select(json.loads(text), view):
        raise Refused(f"--where must be one SQL expression over {view} columns, got {where!r}")
    return template.replace("{filtered}", f"({inner}) AS filtered")


#: DuckDB types that polars cannot import from Arrow (it panics): returned as text instead.
_TEXT_TYPES = ("INTERVAL", "UNION(")


def _polars_safe(con: duckdb.DuckDBPyConnection, rel, sql: str, params: list | None):
    """``rel``, or the same rows with columns of a type in :data:`_TEXT_TYPES` (also nested) cast to VARCHAR."""
    types = [str(t).upper() for t in rel.types]
    if not any(k in t for t in types for k in _TEXT_TYPES):
        return rel
    cols = []
    for name, t in zip(rel.columns, types, strict=True):
        q = '"' + name.replace('"', '""') + '"'
        cols.append(f"CAST({q} AS VARCHAR) AS {q}" if any(k in t for k in _TEXT_TYPES) else q)
    return con.sql(f"SELECT {', '.join(cols)} FROM ({sql}\n) AS q", params=params or None)


def _collect(rel, max_rows: int | None, max_bytes: int, truncate: bool) -> tuple[pa.Table, str | None]:
    """Read ``rel`` batch by batch into an Arrow table, stopping at ``max_rows`` rows or ``max_bytes`` bytes."""
    if max_rows is not None:
        rel = rel.limit(max_rows + 1)
    reader = rel.to_arrow_reader(BATCH_ROWS)
    batches, n_rows, n_bytes, reason = [], 0, 0, None
    for batch in reader:
        if max_rows is not None and n_rows + batch.num_rows > max_rows:
            batch, reason = batch.slice(0, max_rows - n_rows), f"more rows than the cap of {max_rows:,}"
        size = batch.nbytes
        if n_bytes + size > max_bytes:
            if not truncate:
                raise TooLarge(f"the result is larger than {max_bytes / 1e6:,.0f} MB; narrow the filter")
            per_row = size / max(batch.num_rows, 1)
            keep = max(int((max_bytes - n_bytes) // per_row), 0) if per_row else batch.num_rows
            batch, reason = batch.slice(0, keep), f"more bytes than the cap of {max_bytes / 1e6:,.1f} MB"
        batches.append(batch)
        n_rows += batch.num_rows
        n_bytes += batch.nbytes
        if reason:
            break
    return pa.Table.from_batches(batches, schema=reader.schema), reason


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _file_identity(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Spare:
    """A fresh DuckDB instance opened ahead of the next query while the worker is idle (no query ever ran on it).

    Opening an instance costs tens of milliseconds; doing it between queries takes that off the next query's
    latency while every query still gets an instance of its own. It is used only if the next request is for the
    same file and the file was not replaced in between (device, inode, size, mtime).
    """

    def __init__(self, db: str, temp_root: str, memory_mb: int):
        self.db, self.identity = db, _file_identity(db)
        self.qdir = os.path.join(temp_root, "q")
        os.makedirs(self.qdir, exist_ok=True)
        self.con = connect(db, self.qdir, memory_mb)

    def take(self, db: str) -> duckdb.DuckDBPyConnection | None:
        """The instance if it is for ``db`` as it is now, else None (and the spare is closed)."""
        if db == self.db and self.identity is not None and _file_identity(db) == self.identity:
            return self.con
        self.con.close()
        shutil.rmtree(self.qdir, ignore_errors=True)
        return None


def run_request(
    req: dict, temp_root: str, memory_mb: int, cleanup: list | None = None, spare: Spare | None = None
) -> tuple:
    """Answer one request (see the module docstring); never raises for a bad query.

    The DuckDB instance (``spare``'s if it fits, else a new one) is closed and the query's temp folder removed
    after the answer is built; when ``cleanup`` is a list, that work is appended to it instead (the worker answers
    first and cleans up afterwards).
    """
    t0 = time.perf_counter()
    qdir = os.path.join(temp_root, "q")
    con = spare.take(req["db"]) if spare is not None else None
    if con is None:
        os.makedirs(qdir, exist_ok=True)
        try:
            con = connect(req["db"], qdir, memory_mb)
        except duckdb.Error as e:
            shutil.rmtree(qdir, ignore_errors=True)
            return ("error", "sql", f"cannot open the database read-only: {e}")

    def close():
        con.close()
        shutil.rmtree(qdir, ignore_errors=True)

    try:
        if req["op"] == "filter":
            sql = filtered_sql(con, req["view"], req["where"], req["template"])
            truncate, max_rows = False, None
        else:
            sql = classify(con, req["sql"])
            truncate, max_rows = True, req["max_rows"]
        rel = con.sql(sql, params=req.get("params") or None)
        if rel is None:
            raise Refused("the statement returned no result set")
        rel = _polars_safe(con, rel, sql, req.get("params"))
        table, reason = _collect(rel, max_rows, req["max_bytes"], truncate)
        return ("ok", _ipc(table), table.num_rows, reason, time.perf_counter() - t0)
    except Refused as e:
        return ("error", "refused", str(e))
    except TooLarge as e:
        return ("error", "too_large", str(e))
    except duckdb.OutOfMemoryException as e:
        first = str(e).split("\n\n")[0]
        return ("error", "sql", f"the query needs more memory than its limit ({memory_mb:,} MiB): {first}")
    except duckdb.Error as e:
        return ("error", "sql", f"{type(e).__name__}: {e}")
    except (MemoryError, pa.ArrowMemoryError):
        return ("error", "sql", f"the query needs more memory than its limit ({memory_mb:,} MiB)")
    except Exception as e:  # pyarrow conversion errors, OSError from an allocator: never kill the worker loop
        first = str(e).split("\n\n")[0]
        if "Out of Memory" in first:
            return (
                "error",
                "sql",
                f"the query needs more memory than its limit ({memory_mb:,} MiB): {first}",
            )
        return ("error", "sql", f"cannot return the result: {type(e).__name__}: {first}")
    finally:
        if cleanup is None:
            close()
        else:
            cleanup.append(close)


def serve(conn, temp_root: str, memory_mb: int) -> None:
    """Worker main loop: limit this process, then answer requests from ``conn`` until ``None`` or EOF."""
    _set_parent_death_signal()
    _limit_memory(memory_mb, temp_root)
    conn.send(("ready", os.getpid()))
    spare = None
    while True:
        try:
            req = conn.recv()
        except (EOFError, OSError):
            return
        if req is None:
            return
        cleanup: list = []
        try:
            reply = run_request(req, temp_root, memory_mb, cleanup, spare)
            spare = None
            conn.send(reply)
        except (BrokenPipeError, ConnectionResetError):
            return
        # e.g. no memory left to pickle the answer: say so and keep serving
        except (Exception, MemoryError) as e:
            reply = None
            conn.send(("error", "sql", f"the query's result could not be returned: {type(e).__name__}: {e}"))
        del reply
        for fn in cleanup:
            fn()
        try:
            spare = Spare(req["db"], temp_root, memory_mb)
        except (duckdb.Error, OSError, MemoryError):
            spare = None


def zygote(ctl_fd: int) -> None:
    """Fork ready-imported workers on request (``python -m data.sandbox_worker --zygote FD``).

    The parent sends ``{"token", "temp_root", "memory_mb"}`` with the worker's socket attached (SCM_RIGHTS) on the
    SOCK_SEQPACKET socket ``FD``; the zygote forks a child that runs :func:`serve` on it and answers
    ``{"token", "pid"}``. It reaps its children and reports ``{"exited": pid, "code": exit code (negative:
    signal)}``. It never opens DuckDB itself, so it holds no DuckDB threads or state to fork. Ends when the parent
    closes the socket (and, through the parent-death signal, when the parent dies).
    """
    import select
    import socket
    from multiprocessing.connection import Connection

    _set_parent_death_signal()
    ctl = socket.socket(fileno=ctl_fd)
    rsig, wsig = os.pipe()
    os.set_blocking(wsig, False)
    signal.set_wakeup_fd(wsig)
    signal.signal(signal.SIGCHLD, lambda *_: None)

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            ctl.send(json.dumps({"exited": pid, "code": os.waitstatus_to_exitcode(status)}).encode())

    while True:
        ready, _, _ = select.select([ctl, rsig], [], [])
        if rsig in ready:
            os.read(rsig, 4096)
            reap()
        if ctl not in ready:
            continue
        msg, fds, _, _ = socket.recv_fds(ctl, 65536, 1)
        if not msg:
            return
        req = json.loads(msg)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                ctl.close()
                os.close(rsig)
                os.close(wsig)
                serve(Connection(fds[0]), req["temp_root"], int(req["memory_mb"]))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        ctl.send(json.dumps({"token": req["token"], "pid": pid}).encode())


def main(argv: list[str] | None = None) -> None:
    """``python -m data.sandbox_worker FD TEMP_ROOT MEMORY_MB`` (one worker on socket ``FD``) or
    ``python -m data.sandbox_worker --zygote FD`` (the worker factory, see :func:`zygote`)."""
    import sys
    from multiprocessing.connection import Connection

    args = argv if argv is not None else sys.argv[1:]
    if args and args[0] == "--zygote":
        zygote(int(args[1]))
        return
    fd, temp_root, memory_mb = args[:3]
    serve(Connection(int(fd)), temp_root, int(memory_mb))


if __name__ == "__main__":
    main()
