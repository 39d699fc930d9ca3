"""Streamlit entrypoint: page config, shared sidebar, navigation."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run app/streamlit_app.py` puts app/ (not the repo root) on sys.path; make the packages importable.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from app import auth, cache, links  # noqa: E402

# a local favicon: a material-icon page_icon makes the browser fetch the icon from fonts.gstatic.com
st.set_page_config(
    page_title="Scaling dashboard",
    page_icon=str(Path(__file__).parent / "static" / "favicon.png"),
    layout="wide",
)

PAGES = {
    "Data": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/table_view:", default=True),
        st.Page("app_pages/runs.py", title="Run explorer", icon=":material/query_stats:"),
        st.Page("app_pages/upload.py", title="Upload", icon=":material/upload_file:"),
    ],
    "Budget": [st.Page("app_pages/budget.py", title="Budget simulator", icon=":material/savings:")],
    "Pretraining": [
        st.Page("app_pages/pretraining.py", title="Pretraining fit", icon=":material/trending_down:"),
        st.Page(
            "app_pages/compute_optimal.py", title="Compute-optimal: 3 approaches", icon=":material/balance:"
        ),
        st.Page("app_pages/data_mix.py", title="Data-mix comparison", icon=":material/compare_arrows:"),
        st.Page("app_pages/inference_sizing.py", title="Inference-aware sizing", icon=":material/calculate:"),
    ],
    "RL post-training": [
        st.Page("app_pages/rl.py", title="RL compute scaling", icon=":material/model_training:")
    ],
    "Test-time": [
        st.Page("app_pages/test_time.py", title="Test-time reasoning", icon=":material/psychology:")
    ],
    "Records": [
        st.Page("app_pages/fits.py", title="Stored fits", icon=":material/inventory_2:"),
        CONSOLE_PAGE := st.Page("app_pages/sql_console.py", title="SQL console", icon=":material/terminal:"),
    ],
}

cache.settings().apply_filter_limits()  # time and memory limits of user filters (they run in sandbox workers)
path, version = cache.db_state()


def _rerun_on_new_data(seen: cache.Version) -> None:
    """Rerun the whole page when the database file was replaced (an ingest finished): new data in seconds."""
    if cache.db_state()[1] != seen:
        st.rerun(scope="app")


with st.sidebar:
    st.caption(f"Database: `{path}`")
    if not version:
        st.error(f"No database at {path}. Run `scaling demo` or `scaling ingest PATH --db {path}`.")
    refresh_s = cache.settings().refresh_s
    if refresh_s > 0:
        st.fragment(run_every=refresh_s)(_rerun_on_new_data)(version)

if not auth.sign_in_wall():  # sign-in configured and nobody signed in: only the sign-in screen
    st.stop()
console = auth.current_console_access(cache.settings().console_users)
if not console.allowed:  # pages not given to st.navigation cannot be opened, not even by URL
    PAGES = {group: [p for p in pages if p is not CONSOLE_PAGE] for group, pages in PAGES.items()}
    st.sidebar.caption(f"SQL console unavailable: {console.reason}.")

page = st.navigation(PAGES)
if version:
    links.run_page(page)  # selections restored from and written to the URL query
else:
    st.title("No data yet")
    st.markdown(
        f"The database `{path}` does not exist. Build it with `scaling demo` (bundled real samples) or "
        f"`scaling ingest PATH --db {path}`, then reload."
    )
