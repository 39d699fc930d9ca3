"""Read connections (data.connect.open_ro): fresh after a swap, isolated, locked, thread-safe per cursor."""

from __future__ import annotations

import threading

import duckdb
import pytest

from data.connect import file_identity, is_usable, open_ro, open_rw, writable_copy


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store.duckdb"
    con = open_rw(path)
    con.execute("CREATE TABLE t AS SELECT range AS i FROM range(3)")
    con.execute("CREATE VIEW v_t AS SELECT i, i * 10 AS ten_i FROM t")
    con.close()
    return path


def _count(con) -> int:
    cur = con.cursor()
    try:
        return cur.execute("SELECT count(*) FROM v_t").fetchone()[0]
    finally:
        cur.close()


def test_new_connection_sees_the_swapped_file_while_old_one_keeps_its_snapshot(db):
    old = open_ro(db)
    before = file_identity(db)
    assert _count(old) == 3
    with writable_copy(db) as w:
        w.execute("INSERT INTO t SELECT 100 + range FROM range(4)")
    assert file_identity(db) != before  # a new inode: caches keyed by identity reopen
    new = open_ro(db)
    assert _count(new) == 7  # duckdb.connect(path) would hand back the cached old instance here (3)
    assert _count(old) == 3  # a consistent snapshot for queries already running
    old.close()
    new.close()


def test_views_resolve_in_every_cursor_and_nothing_is_writable(db):
    con = open_ro(db)
    cur = con.cursor()
    assert cur.execute("SELECT current_database()").fetchone()[0] == "store"
    assert cur.execute("SELECT sum(ten_i) FROM v_t").fetchone()[0] == 30
    names = {
        r[0]
        for r in cur.execute("SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall()
    }
    assert names == {"store"}  # no writable in-memory catalog
    for sql in (
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO t VALUES (9)",
        "CREATE TABLE memory.main.x (a INT)",
    ):
        with pytest.raises(duckdb.Error):
            con.cursor().execute(sql)
    con.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SET integer_division = true",
        "SET GLOBAL integer_division = true",
        "SET default_order = 'desc'",
        "SET memory_limit = '10MB'",
        "RESET memory_limit",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "CALL enable_logging(storage = 'file', storage_path = '/tmp')",
    ],
)
def test_settings_are_locked_and_never_leak(db, sql):
    a, b = open_ro(db), open_ro(db)
    with pytest.raises(duckdb.Error, match="configuration"):
        a.cursor().execute(sql)
    for con in (a, b):
        cur = con.cursor()
        assert cur.execute("SELECT 7 / 2").fetchone()[0] == 3.5  # integer_division unchanged
        assert cur.execute("SELECT i FROM v_t ORDER BY i LIMIT 1").fetchone()[0] == 0  # still ascending
    a.close()
    b.close()


def test_external_access_is_off(db, tmp_path):
    con = open_ro(db)
    (tmp_path / "x.csv").write_text("a\n1\n")
    for sql in (
        f"SELECT * FROM read_csv('{tmp_path / 'x.csv'}')",
        f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
        f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
    ):
        with pytest.raises(duckdb.Error):
            con.cursor().execute(sql)
    assert not (tmp_path / "out.csv").exists()
    con.close()


def test_extra_settings_are_applied_before_the_lock(db):
    con = open_ro(db, settings={"threads": "1"})
    assert con.cursor().execute("SELECT current_setting('threads')").fetchone()[0] == 1
    with pytest.raises(ValueError, match="setting name"):
        open_ro(db, settings={"threads; DROP": "1"})
    con.close()


def test_cursors_serve_concurrent_threads(db):
    con = open_ro(db)
    results, errors = [], []

    def work():
        try:
            for _ in range(20):
                results.append(_count(con))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and results == [3] * 160
    con.close()


def test_the_store_cannot_be_detached_and_closed_connections_are_unusable(db):
    con = open_ro(db)
    assert is_usable(con)
    for sql in ("DETACH store", "USE temp", "USE system"):
        with pytest.raises(duckdb.Error):
            con.cursor().execute(sql)
    assert is_usable(con)
    con.close()
    assert not is_usable(con)


def test_missing_file_is_a_clear_error(tmp_path):
    assert file_identity(tmp_path / "nope.duckdb") is None
    with pytest.raises(FileNotFoundError, match="scaling ingest"):
        open_ro(tmp_path / "nope.duckdb")
