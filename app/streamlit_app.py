"""Streamlit entrypoint: page config, shared sidebar, navigation."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run app/streamlit_app.py` puts app/ (not the repo root) on sys.path; make the packages importable.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from app import cache  # noqa: E402

st.set_page_config(page_title="Scaling dashboard", page_icon=":material/show_chart:", layout="wide")

PAGES = {
    "Data": [st.Page("app_pages/overview.py", title="Overview", icon=":material/table_view:", default=True)],
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
        st.Page("app_pages/sql_console.py", title="SQL console", icon=":material/terminal:"),
    ],
}

path, mtime = cache.db_state()
with st.sidebar:
    st.caption(f"Database: `{path}`")
    if not mtime:
        st.error(f"No database at {path}. Run `scaling demo` or `scaling ingest PATH --db {path}`.")

page = st.navigation(PAGES)
if mtime:
    page.run()
else:
    st.title("No data yet")
    st.markdown(
        f"The database `{path}` does not exist. Build it with `scaling demo` (bundled real samples) or "
        f"`scaling ingest PATH --db {path}`, then reload."
    )
