"""Guarded user SQL: read-only, no access to other files, one statement, row cap, timeout."""

from __future__ import annotations

import pytest

from data.connect import open_rw
from data.migrate import migrate
from data.sql_console import QueryTimeout, SqlError, run_sql


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "s.duckdb"
    con = open_rw(path)
    migrate(con)
    con.close()
    return path


def test_row_cap_reports_truncation(db):
    res = run_sql(db, "SELECT * FROM range(25)", max_rows=10)
    assert res.frame.height == 10 and res.truncated
    assert not run_sql(db, "SELECT * FROM range(10)", max_rows=10).truncated


@pytest.mark.parametrize(
    "sql",
    ["COPY (SELECT 1) TO '{tmp}/leak.csv'", "SELECT * FROM read_text('/etc/passwd')", "INSERT INTO fits VALUES (1)"],
)
def test_no_writes_and_no_other_files(db, tmp_path, sql):
    with pytest.raises(SqlError):
        run_sql(db, sql.format(tmp=tmp_path))
    assert not (tmp_path / "leak.csv").exists()


def test_one_statement_at_a_time(db):
    with pytest.raises(ValueError, match="one statement at a time"):
        run_sql(db, "SELECT 1; SELECT 2")


def test_timeout_interrupts(db):
    with pytest.raises(QueryTimeout, match="stopped after 0.2 s"):
        run_sql(db, "SELECT count(*) FROM range(10000000000) a", timeout_s=0.2)
