"""AppTest: the Overview pages its ingest ledger (issue 12: it used to send the whole ledger on every visit)."""

from __future__ import annotations

import pytest

from data import queries
from data.connect import open_ro
from tests.app.conftest import run_page


def _ledger(at):
    return next(
        d.value for d in at.dataframe if "ingested_at" in d.value.columns and "format" in d.value.columns
    )


def test_ledger_page_queries_use_limit_offset(demo_db):
    con = open_ro(demo_db)
    try:
        full = queries.ingest_files(con)
        counts = queries.ingest_status_counts(con)
        p0 = queries.ingest_files_page(con, 0, 7)
        p1 = queries.ingest_files_page(con, 1, 7)
        with pytest.raises(ValueError, match="page must be >= 0"):
            queries.ingest_files_page(con, -1, 7)
    finally:
        con.close()
    assert int(counts["n_files"].sum()) == full.height > 14
    assert p0.height == p1.height == 7
    assert p0["path"].to_list() + p1["path"].to_list() == full["path"].head(14).to_list()


def test_overview_shows_one_ledger_page_and_status_counts(app_env):
    con = open_ro(app_env)
    try:
        full = queries.ingest_files(con)
        counts = dict(queries.ingest_status_counts(con).iter_rows())
    finally:
        con.close()
    n = full.height
    at = run_page()
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Files by status: "))
    for status, k in counts.items():
        assert f"{status}: {k:,}" in caption
    shown = _ledger(at)
    assert len(shown) == min(n, 100)
    assert list(shown["path"]) == full["path"].head(100).to_list()
    n_pages = -(-n // 100)
    sel = at.number_input(key="overview.ledger_page")
    assert sel.max == n_pages
    if n_pages > 1:
        sel.set_value(n_pages).run()
        assert not at.exception
        last = _ledger(at)
        assert len(last) == n - 100 * (n_pages - 1)
        assert list(last["path"]) == full["path"].tail(len(last)).to_list()
