"""The empirical compute-optimal frontier of final-loss points: the lowest loss per compute budget.

Used to fit the saturating compute law L(C) = E + A C^-alpha to the frontier rather than to every run (most runs
of a sweep are deliberately off-optimal). Porian et al. (2024), arXiv:2406.19146, fit L*(C) to isoFLOP optima.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import ArrayLike


def lowest_loss_per_budget(
    C: ArrayLike, L: ArrayLike, budget: ArrayLike | None = None, *, bins_per_decade: int = 4
) -> pl.DataFrame:
    """Lowest loss per compute budget.

    Parameters
    ----------
    C : ndarray, shape (n,)
        Training compute of each run, FLOPs (> 0).
    L : ndarray, shape (n,)
        Final loss of each run, nats/token (> 0).
    budget : ndarray, shape (n,), optional
        Nominal isoFLOP budget of each run (FLOPs; NaN where none). When given, runs are grouped by it;
        runs without a budget are grouped by log-spaced bins of C.
    bins_per_decade : int
        Bin width for runs without a budget (default 4 bins per decade of C).

    Returns
    -------
    polars.DataFrame
        Columns ``budget_flops`` (group label: the nominal budget, or the bin's geometric centre),
        ``compute_flops`` and ``loss`` of the lowest-loss run of each group, ``n_runs`` in the group, sorted by
        compute.

    Raises
    ------
    ValueError
        On mismatched shapes, non-positive or NaN C or L, or ``bins_per_decade`` < 1.
    """
    C = np.asarray(C, dtype=float)
    L = np.asarray(L, dtype=float)
    if C.shape != L.shape or C.ndim != 1:
        raise ValueError(f"C and L must be 1-D of equal shape, got {C.shape} and {L.shape}")
    if C.size == 0:
        raise ValueError("no points")
    if not (np.all(np.isfinite(C)) and np.all(C > 0) and np.all(np.isfinite(L)) and np.all(L > 0)):
        raise ValueError("C and L must be finite and > 0")
    if bins_per_decade < 1:
        raise ValueError(f"bins_per_decade must be >= 1, got {bins_per_decade}")
    b = np.full(C.shape, np.nan) if budget is None else np.asarray(budget, dtype=float)
    if b.shape != C.shape:
        raise ValueError(f"budget must have shape {C.shape}, got {b.shape}")
    has = np.isfinite(b) & (b > 0)
    k = np.floor(np.log10(C) * bins_per_decade)
    label = np.where(has, b, 10 ** ((k + 0.5) / bins_per_decade))
    df = pl.DataFrame({"budget_flops": label, "compute_flops": C, "loss": L})
    return (
        df.sort("loss")
        .group_by("budget_flops", maintain_order=True)
        .agg(pl.col("compute_flops").first(), pl.col("loss").first(), pl.len().alias("n_runs"))
        .sort("compute_flops")
    )
