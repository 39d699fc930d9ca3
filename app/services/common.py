"""Helpers shared by the per-axis services: code version, fit records, reporting checklist."""

from __future__ import annotations

import functools
import subprocess
from typing import Any

from analysis.results import FitResult
from app.settings import REPO_ROOT


@functools.cache
def code_version() -> str:
    """Package version plus the git commit of the checkout when available (``0.1.0+abc1234``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("scaling-dashboard")
    except PackageNotFoundError:
        v = "0.0.0"
    try:
        sha = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"{v}+{sha}" if sha else v
    except (OSError, subprocess.SubprocessError):
        return v


def fit_record(
    axis: str,
    result: FitResult,
    selection: dict[str, Any],
    options: dict[str, Any],
    *,
    backtest: dict | None = None,
    checklist: dict | None = None,
) -> dict[str, Any]:
    """The dict ``data.fits.save_fit`` stores: result, replicates, selection, options, backtest, checklist."""
    return {
        "axis": axis,
        "law": result.law,
        "selection": selection,
        "options": options,
        "result": result.to_record(),
        "replicates": result.bootstrap.to_record() if result.bootstrap is not None else None,
        "backtest": backtest,
        "checklist": checklist or {},
        "code_version": code_version(),
    }
