"""Attack suite for the SQL console and every user filter (issue 8, "a SQL console that cannot hurt the server").

Each attack runs through the public entry points (``run_sql`` for the console and ``scaling sql``; the named
queries of ``data.queries`` for ``--where`` and the Test-time filter box) with small limits so the suite takes
seconds. While it runs, another thread plays a second user; after it:

* the caller (this process) is alive and a normal query still returns the right numbers (104 Gadre et al. points,
  their summed token count);
* the other user's queries returned unchanged results: ``7/2`` stays 3.5 (no ``integer_division``), ordering
  stays ascending (no ``default_order``), on a console worker and on an app-style read connection alike;
* nothing was written next to the database (no ``<db>.tmp/`` spill folder, no exported or copied files).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from data import queries, sandbox
from data.connect import open_ro
from data.ingest import ingest_paths
from data.sql_console import QueryTimeout, SqlError, StatementRefused, run_sql

REPO = Path(__file__).resolve().parents[2]
GADRE = REPO / "data" / "samples" / "gadre_overtraining"
#: Limits small enough to keep every attack under a few seconds.
FAST = {"timeout_s": 5.0, "memory_mb": 256, "max_rows": 1000, "max_bytes": 1_000_000}
#: A cross join that runs for minutes in little memory (one side of 100,000 rows is materialised).
RUNAWAY = "SELECT sum(i * j) FROM range(100000) a(i), range(100000) b(j)"
OTHER_USER_SQL = "SELECT 7/2 AS half, list(i ORDER BY i) AS ordered FROM range(3) t(i)"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """A database with the 104 Gadre et al. (arXiv:2403.08540) pretraining runs, alone in its folder."""
    path = tmp_path_factory.mktemp("attack") / "store.duckdb"
    rep = ingest_paths(path, [GADRE])
    assert rep.count("failed") == 0
    return path


@pytest.fixture(scope="module")
def truth(db) -> dict:
    """The numbers a normal query must keep returning (read once, before any attack)."""
    con = open_ro(db)
    try:
        df = queries.pretrain_points(con, "gadre_overtraining")
    finally:
        con.close()
    assert df.height == 104
    return {"n": df.height, "tokens": float(df["n_tokens"].sum())}


@pytest.fixture(autouse=True)
def _small_filter_limits():
    before = sandbox.filter_limits()
    sandbox.set_filter_limits(5.0, 256)
    yield
    sandbox.set_filter_limits(before.timeout_s, before.memory_mb)


@pytest.fixture(scope="module")
def app_con(db):
    """The app's long-lived read connection (each user gets a cursor), as app/cache.py keeps one."""
    con = open_ro(db)
    yield con
    con.close()


class OtherUser(threading.Thread):
    """A second session querying while the attack runs: console queries and the app's read connection."""

    def __init__(self, db: Path, app_con):
        super().__init__(daemon=True)
        self.db, self.app_con, self.results, self.errors = db, app_con, [], []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set() or not self.results:
            try:
                row = run_sql(self.db, OTHER_USER_SQL, timeout_s=10).frame.row(0)
                cur = self.app_con.cursor()
                try:
                    app_row = cur.execute(OTHER_USER_SQL).fetchall()[0]
                finally:
                    cur.close()
                self.results += [row, app_row]
            except Exception as e:  # recorded, asserted in the main thread
                self.errors.append(f"{type(e).__name__}: {e}")
                return
            time.sleep(0.05)


def files_beside(db: Path) -> set[str]:
    return {p.name for p in db.parent.iterdir()}


def attack(db: Path, truth: dict, app_con, fn):
    """Run ``fn()`` while another user queries; return what it raised (or returned); check nothing changed."""
    before = files_beside(db)
    other = OtherUser(db, app_con)
    other.start()
    t0 = time.perf_counter()
    try:
        outcome = fn()
    except Exception as e:
        outcome = e
    elapsed = time.perf_counter() - t0
    other.stop.set()
    other.join(30)
    assert not other.is_alive(), "the other user's query hung"
    assert other.errors == []
    assert other.results and all(r == (3.5, [0, 1, 2]) for r in other.results), other.results
    # the caller is alive and a normal query on the same file still returns the right numbers
    res = run_sql(db, "SELECT count(*) AS n, sum(n_tokens) AS tokens FROM v_pretrain_points", timeout_s=10)
    assert res.frame.row(0) == (truth["n"], truth["tokens"])
    cur = app_con.cursor()
    try:
        assert queries.pretrain_points(cur, "gadre_overtraining").height == truth["n"]
        assert cur.execute(OTHER_USER_SQL).fetchall() == [(3.5, [0, 1, 2])]
    finally:
        cur.close()
    assert files_beside(db) <= before | {db.name + ".wal"}, files_beside(db) - before
    assert not Path(str(db) + ".tmp").exists()
    return outcome, elapsed


def console(db, sql, **kw):
    return lambda: run_sql(db, sql, **{**FAST, **kw})


# --- statements that are not one read statement: refused by DuckDB's parser's statement type ----------------------

REFUSED = [
    ("ATTACH '{dir}/other.duckdb' AS other", "ATTACH"),
    ("DETACH store", "DETACH"),
    ("USE memory", "SET"),
    ("COPY (SELECT * FROM runs) TO '{dir}/leak.csv'", "COPY"),
    ("COPY runs TO '{db}.tmp/x.csv'", "COPY"),
    ("EXPORT DATABASE '{dir}/export'", "EXPORT"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("LOAD '{dir}/evil.duckdb_extension'", "LOAD"),
    ("SET memory_limit = '1TB'", "SET"),
    ("SET GLOBAL integer_division = true", "SET"),
    ("SET default_order = 'desc'", "SET"),
    ("SET VARIABLE x = 1", "SET"),
    ("RESET threads", "SET"),
    ("PRAGMA threads = 64", "SET"),  # the parser makes an assignment PRAGMA a SET
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("CALL enable_logging(storage='file', storage_path='{dir}/log')", "CALL"),
    ("CHECKPOINT", "CALL"),
    ("CREATE TABLE t AS SELECT 1", "CREATE"),
    ("CREATE TEMP TABLE t AS SELECT 1", "CREATE"),
    ("CREATE MACRO half(x) AS x // 2", "CREATE"),
    ("CREATE SECRET (TYPE s3, KEY_ID 'x', SECRET 'y')", "CREATE"),
    ("INSERT INTO runs (run_id, kind) VALUES ('x', 'eval')", "INSERT"),
    ("UPDATE runs SET n_params = 1", "UPDATE"),
    ("DELETE FROM runs", "DELETE"),
    ("DROP VIEW v_pretrain_points", "DROP"),
    ("ALTER TABLE runs ADD COLUMN x INT", "ALTER"),
    ("VACUUM", "VACUUM"),
    ("BEGIN TRANSACTION", "TRANSACTION"),
    ("PREPARE p AS SELECT 1", "PREPARE"),
    ("PIVOT runs ON kind USING count(*)", "MULTI"),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{dir}/leak.csv'", "COPY"),
]


@pytest.mark.parametrize(("sql", "kind"), REFUSED, ids=[s for s, _ in REFUSED])
def test_non_read_statements_are_refused_by_type(db, truth, app_con, sql, kind):
    out, _ = attack(db, truth, app_con, console(db, sql.format(dir=db.parent, db=db)))
    assert isinstance(out, StatementRefused), out
    assert kind in str(out)
    assert not (db.parent / "log").exists()


HIDDEN = [
    "SELECT ';'; DROP TABLE runs",
    "SELECT 1 /* ; */; DELETE FROM runs",
    "SELECT 1 -- a comment\n; SET GLOBAL integer_division = true",
    "SELECT $$ ; $$ AS s; SET default_order = 'desc'",
    "SELECT 'it''s; fine'; CALL enable_logging(storage='file', storage_path='/tmp')",
    "SELECT 1;;SELECT 2",
]


@pytest.mark.parametrize("sql", HIDDEN)
def test_several_statements_hidden_behind_strings_and_comments_are_refused(db, truth, app_con, sql):
    out, _ = attack(db, truth, app_con, console(db, sql))
    assert isinstance(out, StatementRefused), out
    assert "one statement at a time" in str(out)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 42 AS x; -- a trailing comment after the final semicolon is fine", 42),
        ("SELECT 42 AS x; /* also fine */", 42),
        ("SELECT ';' || '--' AS x", ";--"),
        ("WITH a AS (SELECT 42 AS x) SELECT * FROM a", 42),
        ("FROM (SELECT 42 AS x)", 42),
    ],
)
def test_read_statements_run(db, sql, expected):
    assert run_sql(db, sql, **FAST).frame.item(0, 0) == expected


def test_explain_and_explain_analyze_of_a_select_run_under_the_same_limits(db):
    plan = run_sql(db, "EXPLAIN SELECT count(*) FROM v_pretrain_points", **FAST).frame
    assert plan.columns == ["explain_key", "explain_value"]
    analyzed = run_sql(db, "EXPLAIN ANALYZE SELECT count(*) FROM v_pretrain_points", **FAST).frame
    assert "analyzed_plan" in analyzed["explain_key"].to_list()
    with pytest.raises(QueryTimeout):  # EXPLAIN ANALYZE executes the query: the time limit still holds
        run_sql(
            db, "EXPLAIN ANALYZE SELECT count(*) FROM range(100000000000) a", **{**FAST, "timeout_s": 0.5}
        )


# --- reads of other files, and configuration changes hidden inside a SELECT ----------------------------------------

FILE_READS = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('{dir}/secret.txt')",
    "SELECT * FROM read_csv('{dir}/secret.txt')",
    "SELECT * FROM read_parquet('{dir}/*.parquet')",
    "SELECT * FROM glob('{dir}/*')",
    "SELECT * FROM '{dir}/secret.csv'",
    "SELECT * FROM read_text('/proc/self/environ')",
    "SELECT * FROM read_text('{db}.tmp/*')",
    "SELECT * FROM enable_logging(storage='file', storage_path='{dir}/log')",
    "SELECT * FROM query('SET GLOBAL integer_division = true')",
]


@pytest.fixture(scope="module")
def secret(db) -> Path:
    """A file next to the database that no console user may read."""
    path = db.parent / "secret.txt"
    path.write_text("token,value\nAPI_KEY,do-not-leak\n")
    (db.parent / "secret.csv").write_text(path.read_text())
    return path


@pytest.mark.parametrize("sql", FILE_READS)
def test_file_access_and_hidden_configuration_fail_inside_the_worker(db, truth, app_con, secret, sql):
    out, _ = attack(db, truth, app_con, console(db, sql.format(dir=db.parent, db=db)))
    assert isinstance(out, SqlError) and not isinstance(out, StatementRefused), out
    needles = (
        "disabled by configuration",
        "configuration has been locked",
        "Expected a single SELECT statement",
    )
    assert any(k in str(out) for k in needles), out
    assert "root:" not in str(out) and "do-not-leak" not in str(out)
    assert not (db.parent / "log").exists()


def test_settings_visible_in_the_worker_are_the_locked_ones(db):
    df = run_sql(
        db,
        "SELECT name, value FROM duckdb_settings() WHERE name IN "
        "('enable_external_access', 'lock_configuration', 'threads', 'autoload_known_extensions', "
        "'autoinstall_known_extensions', 'allow_community_extensions', 'temp_directory')",
        **FAST,
    ).frame
    got = dict(zip(df["name"], df["value"], strict=True))
    assert got["enable_external_access"] == "false" and got["lock_configuration"] == "true"
    assert got["threads"] == "1"
    assert got["autoload_known_extensions"] == got["autoinstall_known_extensions"] == "false"
    assert got["allow_community_extensions"] == "false"
    temp = Path(got["temp_directory"])
    assert db.parent not in temp.parents and temp != db.parent  # never next to the database
    assert "scaling-sql-" in str(temp)


# --- resource attacks: time, memory inside one function call, result size -----------------------------------------


def test_runaway_cross_join_is_killed_at_the_time_limit(db, truth, app_con):
    out, elapsed = attack(db, truth, app_con, console(db, RUNAWAY, timeout_s=0.5))
    assert isinstance(out, QueryTimeout), out
    assert "stopped after 0.5 s" in str(out)
    assert elapsed < 5


HUGE_CALLS = [
    "SELECT len(range(500000000))",
    "SELECT len(range(5e8::BIGINT))",
    "SELECT list(range(1000000000))",
    "SELECT repeat('x', 4000000000)",
    "SELECT list_sort(range(150000000))",
]


@pytest.mark.parametrize("sql", HUGE_CALLS)
def test_single_huge_function_call_hits_the_memory_limit_not_the_server(db, truth, app_con, sql):
    out, elapsed = attack(db, truth, app_con, console(db, sql))
    assert isinstance(out, SqlError | QueryTimeout), out
    if isinstance(out, SqlError):
        assert "memory" in str(out) or "crashed the worker" in str(out), out
    assert elapsed < FAST["timeout_s"] + 5


def test_single_uninterruptible_call_within_memory_is_killed_at_the_time_limit(db, truth, app_con):
    out, elapsed = attack(
        db,
        truth,
        app_con,
        console(db, "SELECT len(list_sort(list_reverse(range(30000000))))", memory_mb=2048, timeout_s=0.3),
    )
    assert isinstance(out, QueryTimeout), out
    assert elapsed < 5


def test_huge_result_in_rows_is_truncated_with_the_reason(db, truth, app_con):
    res, _ = attack(db, truth, app_con, console(db, "SELECT i FROM range(5000000) t(i)"))
    assert res.truncated and res.frame.height == FAST["max_rows"]
    assert res.frame["i"].to_list()[:3] == [0, 1, 2]
    assert "rows" in res.truncated_reason


def test_huge_result_in_bytes_is_truncated_with_the_reason(db, truth, app_con):
    # 10,000 rows of 100 KB strings: 1 GB of text against a 1 MB byte cap (and a 10,000-row cap it would pass)
    res, _ = attack(
        db,
        truth,
        app_con,
        console(
            db,
            "SELECT repeat('x', 100000) AS s FROM range(10000)",
            max_rows=10_000,
            memory_mb=1024,
            timeout_s=30,
        ),
    )
    assert isinstance(res, object) and not isinstance(res, Exception), res
    assert res.truncated and "bytes" in res.truncated_reason
    assert 0 < res.frame.height < 20
    assert res.frame.estimated_size() <= FAST["max_bytes"]


def test_spilling_query_writes_only_to_a_private_temp_folder(db, truth, app_con):
    """Issue 8 item 6: a spilling query, then a COPY into ``<db>.tmp/``, made every later ingest fail."""
    # sorting ~200 MB of rows with 60 % of 256 MiB for DuckDB spills to its temp directory
    sql = (
        "SELECT i, md5(i::VARCHAR) || repeat('y', 100) AS s FROM range(1500000) t(i) ORDER BY s DESC LIMIT 3"
    )
    out, _ = attack(db, truth, app_con, console(db, sql, timeout_s=30))
    assert not isinstance(out, Exception), out
    assert out.frame.height == 3
    assert not Path(str(db) + ".tmp").exists()
    with pytest.raises(StatementRefused):
        run_sql(db, f"COPY (SELECT 1) TO '{db}.tmp/x.csv'", **FAST)
    # the ingest's temporary copy name stays free: a later ingest into the same file still works, data unchanged
    assert ingest_paths(db, [GADRE]).count("failed") == 0
    assert run_sql(db, "SELECT count(*) FROM v_pretrain_points", **FAST).frame.item() == truth["n"]


def test_killed_worker_leaves_no_temp_folder(db, monkeypatch):
    removed = []
    real_kill = sandbox._Worker.kill

    def kill(self):
        code = real_kill(self)
        removed.append(Path(self.temp_root))
        return code

    monkeypatch.setattr(sandbox._Worker, "kill", kill)
    with pytest.raises(QueryTimeout):
        run_sql(db, RUNAWAY, **{**FAST, "timeout_s": 0.3})
    assert removed and not any(p.exists() for p in removed)
    assert all(Path(tempfile_root()) in p.parents for p in removed)


def test_temp_folders_of_dead_app_processes_are_swept(tmp_path):
    import tempfile

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = Path(tempfile.mkdtemp(prefix=f"scaling-sql-{dead.pid}-"))
    (stale / "q").mkdir()
    mine = Path(tempfile.mkdtemp(prefix=f"scaling-sql-{os.getpid()}-"))
    try:
        removed = sandbox.sweep_stale_temp_folders()
        assert stale in removed and not stale.exists()
        assert mine.exists()
    finally:
        mine.rmdir()


def test_many_concurrent_users_share_the_bounded_pool(db, truth):
    """Eight sessions at once, three queries each, while one of them times out: all others get right answers."""
    results, errors = [], []

    def session(i: int):
        try:
            for _ in range(3):
                if i == 0:
                    with pytest.raises(QueryTimeout):
                        run_sql(db, RUNAWAY, **{**FAST, "timeout_s": 0.5})
                else:
                    results.append(run_sql(db, OTHER_USER_SQL, timeout_s=30).frame.row(0))
        except BaseException as e:  # noqa: BLE001 - recorded, asserted below
            errors.append(repr(e))

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert results == [(3.5, [0, 1, 2])] * 21
    assert len(sandbox._LIVE) <= sandbox.MAX_WORKERS + sandbox.MAX_IDLE + 1  # + one background replacement


def test_killed_worker_factory_is_restarted(db):
    run_sql(db, "SELECT 1", **FAST)
    factory = sandbox._ZYGOTE
    assert factory is not None
    os.kill(factory.proc.pid, 9)
    factory.proc.wait(10)
    assert run_sql(db, "SELECT 7/2 AS half", **FAST).frame.item() == 3.5
    assert sandbox._ZYGOTE is not factory and sandbox._ZYGOTE.proc.poll() is None


def tempfile_root() -> str:
    import tempfile

    return tempfile.gettempdir()


def test_worker_crash_is_a_clear_error_and_the_next_query_works(db, truth, app_con, monkeypatch):
    """A worker that dies mid-query (here: SIGABRT from outside, like a DuckDB abort) is a SqlError, no crash."""
    import signal as _signal

    taken = []
    real_take = sandbox._POOL._take

    def take(memory_mb):
        w = real_take(memory_mb)
        taken.append(w)
        return w

    monkeypatch.setattr(sandbox._POOL, "_take", take)

    def abort_soon():
        deadline = time.time() + 20
        while not taken and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        os.kill(taken[0].pid, _signal.SIGABRT)

    killer = threading.Thread(target=abort_soon, daemon=True)
    killer.start()
    with pytest.raises(SqlError, match="the query crashed the worker: SIGABRT"):
        run_sql(db, RUNAWAY, **{**FAST, "timeout_s": 30})
    killer.join()
    monkeypatch.undo()
    attack(db, truth, app_con, lambda: None)  # the caller and the other users are fine afterwards


# --- user filters: --where of the CLI fits and the Test-time page's filter box --------------------------------------

FILTER_ATTACKS = [
    ("1=1; DROP TABLE runs", "one SQL expression"),
    ("1=1) UNION SELECT * FROM v_pretrain_points --", "Parser Error"),
    ("true) ORDER BY (1", "one SQL expression"),
    ("true) LIMIT (1", "one SQL expression"),
    ("source = ? OR true", "cannot hold query parameters"),
    ("EXISTS (SELECT * FROM read_text('/etc/passwd'))", "disabled by configuration"),
    ("(SELECT sum(i * j) FROM range(100000) a(i), range(100000) b(j)) > 0", "stopped after 5 s"),
    ("len(range(500000000)) > 0", "memory"),
    ("length(repeat('x', 4000000000)) > 0", "memory"),
    ("EXISTS (SELECT * FROM enable_logging(storage='file', storage_path='/tmp/x'))", "locked"),
]


@pytest.mark.parametrize(("where", "needle"), FILTER_ATTACKS, ids=[w for w, _ in FILTER_ATTACKS])
def test_filter_attacks_fail_in_the_sandbox(db, truth, app_con, where, needle):
    def go():
        con = open_ro(db)
        try:
            return queries.pretrain_points(con, "gadre_overtraining", where)
        finally:
            con.close()

    out, elapsed = attack(db, truth, app_con, go)
    assert isinstance(out, sandbox.FilterError), out
    assert needle in str(out), out
    assert elapsed < 10


def test_filter_cannot_widen_the_callers_own_conditions(db):
    con = open_ro(db)
    try:
        # "1) OR (1" would turn "source = ? AND (x)" into "... OR 1"; the checked filter runs whole as a subquery
        assert queries.pretrain_points(con, "no-such-source", "1) OR (1").height == 0
        assert queries.pretrain_points(con, "gadre_overtraining", "1) OR (1").height == 104
        rpj = queries.pretrain_points(con, "gadre_overtraining", "corpus = 'rpj'")
        assert rpj.height == 35 and set(rpj["corpus"]) == {"rpj"}
        # a comment cannot swallow the closing parenthesis either: the filter ends at a line break
        assert queries.pretrain_points(con, "gadre_overtraining", "corpus = 'rpj' -- note").height == 35
    finally:
        con.close()


def test_filtered_query_does_not_run_on_the_callers_connection(db, monkeypatch):
    """The filter goes to the sandbox: the caller's connection only answers where its database file is."""
    seen = []
    real = sandbox._POOL.run

    def spy(request, limits):
        seen.append((request["op"], request["view"], request["where"], limits.timeout_s))
        return real(request, limits)

    monkeypatch.setattr(sandbox._POOL, "run", spy)
    con = open_ro(db)
    try:
        df = queries.pretrain_points(con, "gadre_overtraining", "n_params > 1e8")
    finally:
        con.close()
    assert seen == [("filter", "v_pretrain_points", "n_params > 1e8", 5.0)]
    assert df.height > 0 and df["n_params"].min() > 1e8


# --- the CLI: exit code 2 and a clear message, never a crash -----------------------------------------------------


def test_scaling_sql_enable_logging_exits_2_not_134(db, tmp_path):
    """The issue's reproduction: this statement aborted the whole process (exit 134)."""
    log = tmp_path / "log"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "sql",
            f"CALL enable_logging(storage='file', storage_path='{log}')",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 2, proc.stderr
    assert "refused a CALL statement" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not log.exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["SET GLOBAL integer_division = true"], "refused a SET statement"),
        (["SELECT repeat('x', 4000000000)", "--memory-mb", "256"], "memory"),
        ([RUNAWAY, "--timeout", "0.5"], "stopped after 0.5 s"),
        (["SELECT 1; SELECT 2"], "one statement at a time"),
    ],
)
def test_scaling_sql_attacks_exit_2_with_the_reason(db, capsys, argv, needle):
    from app.cli import main

    assert main(["sql", *argv, "--db", str(db)]) == 2
    assert needle in capsys.readouterr().err
    assert main(["sql", "SELECT 7/2 AS half", "--db", str(db), "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["half", "3.5"]


def test_scaling_sql_reports_byte_truncation(db, capsys):
    from app.cli import main

    code = main(
        [
            "sql",
            "SELECT repeat('x', 100000) AS s FROM range(10000)",
            "--db",
            str(db),
            "--max-bytes",
            "500000",
            "--csv",
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "truncated at" in err and "bytes" in err
