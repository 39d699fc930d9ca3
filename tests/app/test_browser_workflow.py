"""Browser tests of the team workflow in Debian's headless Chromium (Playwright): a link copied from a page
reproduces the view in a fresh browser context, no request leaves the machine, no Deploy button, exports download
files that open, and a file uploaded in the browser lands in the store.

Marked ``browser`` and ``slow``; skipped when /usr/bin/chromium or playwright is missing (never downloads a browser).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found (the browser test never downloads a browser)", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

_spec = importlib.util.spec_from_file_location("screenshots", REPO / "scripts" / "screenshots.py")
shots = sys.modules.setdefault("screenshots", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(shots)

_SRC = (REPO / "app" / "streamlit_app.py").read_text()
PAGES = [m.group(1) for m in re.finditer(r'st\.Page\(\s*"app_pages/(\w+)\.py"', _SRC)]


@pytest.fixture(scope="module")
def served(demo_db, tmp_path_factory):
    """(base URL, database path) of a Streamlit server on a private copy of the demo database."""
    import shutil

    folder = tmp_path_factory.mktemp("browser_workflow")
    db = folder / "demo.duckdb"
    shutil.copy(demo_db, db)
    with shots.serve(db, bootstrap=10, start_timeout_s=90, log=folder / "server.log") as base:
        yield base, db


@pytest.fixture(scope="module")
def browser(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=shots.CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _page(browser, **kw):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, **kw)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    return ctx, page


def _selectbox_value(page, label: str) -> str:
    return page.get_by_role("combobox", name=label).first.input_value()


def test_no_request_leaves_the_machine_and_no_deploy_button(served, browser):
    base, _ = served
    ctx, page = _page(browser)
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlparse(r.url).hostname or urlparse(r.url).scheme))
    try:
        for stem in PAGES:
            shots.open_page(page, stem, f"{base}/{stem}", timeout_s=90)
            assert page.locator('[data-testid="stAppDeployButton"]').count() == 0
        assert page.locator('[data-testid="stMainMenu"]').count() <= 1  # viewer menu only
    finally:
        ctx.close()
    assert hosts - {"127.0.0.1", "localhost", "data", "blob"} == set(), hosts


def test_a_copied_link_reproduces_the_view_in_a_fresh_browser(served, browser):
    base, _ = served
    ctx, page = _page(browser)
    try:
        shots.open_page(page, "pretraining", f"{base}/pretraining", timeout_s=90)
        page.get_by_role("combobox", name="Source").first.click()
        page.get_by_role("option", name="gadre_overtraining").click()
        shots.wait_until_idle(page, 90)
        page.get_by_text("Compute law L(C)").click()
        shots.wait_until_idle(page, 90)
        link = page.locator('[data-testid="stSidebar"] [data-testid="stCode"]').inner_text().strip()
        assert link == page.url  # the copy-link box shows the address bar's URL
        assert "pretraining.source=gadre_overtraining" in link and "pretraining.law=compute" in link
        tiles = page.locator('[data-testid="stMetric"]').all_inner_texts()
        # switch pages through the navigation and back: the selections are still there
        page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Stored fits").click()
        shots.wait_until_idle(page, 90)
        page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Pretraining fit").click()
        shots.wait_until_idle(page, 90)
        assert _selectbox_value(page, "Source") == "gadre_overtraining"
        assert "pretraining.law=compute" in page.url
    finally:
        ctx.close()

    ctx, page = _page(browser)  # a colleague opens the link: no session state, no cookies
    try:
        shots.open_page(page, "pretraining", link, timeout_s=90)
        assert _selectbox_value(page, "Source") == "gadre_overtraining"
        assert page.get_by_role("radio", name="Compute law L(C)").is_checked()
        assert page.locator('[data-testid="stMetric"]').all_inner_texts() == tiles
        assert "pretraining.law=compute" in page.url
    finally:
        ctx.close()


def test_a_stale_link_falls_back_with_a_note(served, browser):
    base, _ = served
    ctx, page = _page(browser)
    try:
        rep = shots.open_page(page, "rl", f"{base}/rl?rl.transient_cut=lots&rl.gone=1", timeout_s=90)
        assert rep.n_exceptions == 0
        text = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "is not a float" in text and "rl.gone is not used" in text
        assert "rl.gone" not in page.url
    finally:
        ctx.close()


def test_chart_and_table_downloads_open(served, browser, tmp_path):
    import struct
    import xml.etree.ElementTree as ET

    import polars as pl

    base, _ = served
    ctx, page = _page(browser)
    try:
        shots.open_page(page, "pretraining", f"{base}/pretraining", timeout_s=90)
        got = {}
        for label in ("Chart (SVG)", "Chart (PNG)", "Data (CSV)"):
            page.locator('[data-testid="stPopover"] button').first.click()
            with page.expect_download() as info:
                page.get_by_role("button", name=label).click()
            d = info.value
            path = tmp_path / d.suggested_filename
            d.save_as(path)
            got[label] = path
            page.keyboard.press("Escape")
        assert got["Chart (SVG)"].name.startswith("pretraining_loss_vs_compute_")
        root = ET.fromstring(got["Chart (SVG)"].read_text())
        w, h = float(root.get("width")), float(root.get("height"))
        png = got["Chart (PNG)"].read_bytes()
        assert struct.unpack(">II", png[16:24]) == (round(2 * w), round(2 * h))
        data = pl.read_csv(got["Data (CSV)"])
        assert {"compute_flops", "loss"} <= set(data.columns) and data.height > 10
    finally:
        ctx.close()


def test_upload_in_the_browser_reaches_every_page(served, browser, tmp_path):
    base, db = served
    src = tmp_path / "browser_sweep.csv"
    src.write_text("run_id,n_params,n_tokens,final_loss\nbrowser-1,1e8,2e9,3.1\nbrowser-2,2e8,4e9,2.9\n")
    ctx, page = _page(browser)
    try:
        shots.open_page(page, "upload", f"{base}/upload", timeout_s=90)
        page.get_by_label("Source").first.fill("browser-sweep")
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(src))
        page.get_by_role("button", name="Ingest").click()
        page.get_by_text("1 loaded, 0 unchanged, 0 failed").wait_for(timeout=90_000)
        shots.wait_until_idle(page, 90)
        # another page, a fresh session: the new runs are there
        shots.open_page(page, "runs", f"{base}/runs?runs.source=browser-sweep", timeout_s=90)
        assert _selectbox_value(page, "Source") == "browser-sweep"
        assert "browser-1" in page.get_by_role("combobox", name="Run").first.input_value()
        assert "(2 match)" in page.locator('[data-testid="stMain"]').inner_text()
    finally:
        ctx.close()
