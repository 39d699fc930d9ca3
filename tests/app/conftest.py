"""App fixtures: one demo database per test session, built from the bundled samples through the real ingest."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.demo import demo_paths
from app.settings import SAMPLES_DIR
from data.ingest import ingest_paths

ENTRYPOINT = str(Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """A DuckDB file with every bundled sample ingested (no stored fits)."""
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    rep = ingest_paths(db, demo_paths(SAMPLES_DIR))
    assert rep.count("failed") == 0, [f.message for f in rep.files if f.status == "failed"]
    return db


@pytest.fixture
def app_env(monkeypatch, demo_db) -> Path:
    """Point the app at the demo database, with few bootstrap replicates to keep AppTest fast."""
    monkeypatch.setenv("SCALING_DB", str(demo_db))
    monkeypatch.setenv("SCALING_BOOTSTRAP", "20")
    monkeypatch.setenv("SCALING_SEED", "0")
    return demo_db


def run_page(page: str | None = None, timeout: float = 120):
    """AppTest of the entrypoint, switched to ``page`` (e.g. "app_pages/rl.py"), already run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(ENTRYPOINT, default_timeout=timeout)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at
