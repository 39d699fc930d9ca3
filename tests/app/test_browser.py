"""Smoke test in a real headless Chromium: every page of the navigation renders without an exception.

Starts ``python -m streamlit run app/streamlit_app.py`` on the demo database (bundled samples, ingest only) and
opens each registered page by its URL path (the page file's name) with Playwright. Marked ``browser``: run only
these with ``pytest -m browser``, leave them out with ``-m "not browser"``. Skipped when /usr/bin/chromium or the
playwright package is missing (a browser is never downloaded). About a minute on two cores.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

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

#: Pages registered in the entrypoint's navigation: (file stem, is the default page).
_SRC = (REPO / "app" / "streamlit_app.py").read_text()
PAGES = [
    (m.group(1), "default=True" in m.group(0))
    for m in re.finditer(r'st\.Page\(\s*"app_pages/(\w+)\.py"[^)]*\)', _SRC, flags=re.DOTALL)
]
#: Pages whose purpose is a chart: each must draw at least one (on the bundled samples).
CHART_PAGES = {"pretraining", "rl", "test_time", "compute_optimal", "data_mix", "inference_sizing"}
#: Titles known to this test (pages written elsewhere only need a real, non-placeholder title).
TITLES = {
    "overview": "Overview",
    "pretraining": "Pretraining scaling fit",
    "fits": "Stored fits",
    "sql_console": "SQL console",
}


@pytest.fixture(scope="module")
def app_url(demo_db, tmp_path_factory):
    """Base URL of a Streamlit server on the demo database (terminated after the module)."""
    log = tmp_path_factory.mktemp("browser") / "server.log"
    with shots.serve(demo_db, bootstrap=20, start_timeout_s=60, log=log) as base:
        yield base


@pytest.fixture(scope="module")
def browser_page(app_url):
    with shots.launch_browser() as page:
        yield page


def test_navigation_lists_every_registered_page(app_url, browser_page):
    assert PAGES, "no st.Page found in app/streamlit_app.py"
    links = shots.nav_pages(browser_page, app_url)
    paths = [url[len(app_url) :].strip("/") for _, url in links]
    expected = ["" if default else stem for stem, default in PAGES]
    assert paths == expected
    assert all(label for label, _ in links)


@pytest.mark.parametrize(("stem", "default"), PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_in_chromium(app_url, browser_page, stem, default):
    rep = shots.open_page(browser_page, stem, f"{app_url}/{stem}", timeout_s=60)
    # URL paths are the file names; the default page is served at "/"
    # (the query string carries the page's selections, see app/links.py)
    assert browser_page.url.split("?")[0].rstrip("/") == (app_url if default else f"{app_url}/{stem}")
    assert rep.n_exceptions == 0, rep.exception_text
    assert rep.h1, f"{stem}: no title"
    if stem in TITLES:
        assert rep.h1[0] == TITLES[stem]
    else:
        assert rep.h1[0].lower() not in (stem, stem.replace("_", " ")), (
            f"{stem}: placeholder title {rep.h1[0]!r}"
        )
    assert not rep.placeholder, f"{stem} is still a placeholder"
    if stem in CHART_PAGES:
        assert rep.n_charts >= 1, f"{stem}: no chart"
        assert rep.n_charts_drawn == rep.n_charts, (
            f"{stem}: {rep.n_charts - rep.n_charts_drawn} chart(s) not drawn"
        )
    assert rep.seconds < 60
