"""AppTest: attacks typed into the SQL console page and the Test-time filter box are refused or contained, shown
as one error, and the next normal query on the page still returns the right numbers (issue 8)."""

from __future__ import annotations

import pytest

from tests.app.conftest import run_page

COUNT_GADRE = "select count(*) as n from v_pretrain_points where source = 'gadre_overtraining'"


def _submit(at, sql: str):
    at.text_area(key="sql_console.sql").input(sql)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        (
            "CALL enable_logging(storage='file', storage_path='/tmp/scaling-attack-log')",
            "refused a CALL statement",
        ),
        ("SET GLOBAL integer_division = true", "refused a SET statement"),
        ("SET default_order = 'desc'", "refused a SET statement"),
        ("ATTACH '/tmp/other.duckdb' AS o", "refused a ATTACH statement"),
        ("SELECT ';'; DROP VIEW v_final_loss", "one statement at a time"),
    ],
)
def test_console_page_shows_the_refusal_and_keeps_working(app_env, sql, needle):
    at = run_page("app_pages/sql_console.py", timeout=60)
    assert not at.exception, at.exception
    _submit(at, sql)
    assert len(at.error) == 1
    assert at.error[0].value.startswith("Not run: ") and needle in at.error[0].value
    assert not at.metric  # no stale result
    _submit(at, "SELECT 7/2 AS half, list(i ORDER BY i) AS ordered FROM range(3) t(i)")
    assert not at.error
    row = at.dataframe[0].value.iloc[0]
    assert row["half"] == 3.5 and list(row["ordered"]) == [0, 1, 2]
    _submit(at, COUNT_GADRE)
    assert int(at.dataframe[0].value.iloc[0, 0]) == 104


def test_console_page_shows_memory_limit_and_byte_truncation(app_env, monkeypatch):
    monkeypatch.setenv("SCALING_SQL_MEMORY_MB", "512")
    monkeypatch.setenv("SCALING_SQL_MAX_BYTES", "1000000")
    at = run_page("app_pages/sql_console.py", timeout=60)
    _submit(at, "SELECT repeat('x', 4000000000) AS s")
    assert len(at.error) == 1 and "memory" in at.error[0].value
    _submit(at, "SELECT repeat('x', 100000) AS s FROM range(10000)")
    assert not at.error
    assert any("truncated" in w.value and "bytes" in w.value for w in at.warning)
    assert 0 < at.dataframe[0].value.shape[0] < 20


@pytest.mark.parametrize(
    "where",
    [
        "1=1) UNION SELECT * FROM v_eval_by_problem --",
        "1=1; DROP TABLE runs",
        "EXISTS (SELECT * FROM read_text('/etc/passwd'))",
    ],
)
def test_test_time_filter_box_attacks_are_errors_not_crashes(app_env, where):
    at = run_page("app_pages/test_time.py")
    assert not at.exception, at.exception
    at.text_input(key="test_time.where").input(where).run()
    assert not at.exception, at.exception
    assert any("bad filter" in e.value for e in at.error), [e.value for e in at.error]
    assert "root:" not in " ".join(e.value for e in at.error)
    # a normal filter afterwards gives the normal numbers
    at.text_input(key="test_time.where").input("model = 'Pythia 12B'").run()
    assert not at.exception, at.exception
    pk = next(d.value for d in at.dataframe if "pass@100" in d.value.columns)
    assert list(pk["model"]) == ["Pythia 12B"]
