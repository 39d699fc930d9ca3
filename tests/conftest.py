"""Shared fixtures. The real public data lives in ../shared/data beside the checkout (CI lays it there)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLES = REPO / "data" / "samples"


def pytest_report_header(config):
    import altair
    import duckdb
    import polars
    import scipy
    import streamlit

    return (
        f"duckdb {duckdb.__version__}, polars {polars.__version__}, streamlit {streamlit.__version__}, "
        f"altair {altair.__version__}, scipy {scipy.__version__}"
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20241129)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data (the real public run data); skips when it is not laid beside the repo."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def samples() -> Path:
    """Path to the bundled sample data (data/samples)."""
    return SAMPLES
