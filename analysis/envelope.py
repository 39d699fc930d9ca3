"""Chinchilla Approach 1: lower envelope of training curves.

Each run's loss curve L(C) (checkpoints of one model size N) is interpolated linearly in
(ln C, ln L). On a log-spaced grid of FLOP values the run with the lowest interpolated loss is
taken; the envelope points (C, N, D, L) then give N_opt(C) and D_opt(C), and the allocation
exponents a, b follow from least squares of ln N and ln D on ln C.

Reference: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
arXiv 2203.15556, Approach 1 (1500 log-spaced FLOP values; a = 0.50, b = 0.50).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from analysis._common import positive_1d
from analysis.errors import InsufficientDataError
from analysis.results import FitResult

__all__ = [
    "training_curve_envelope",
    "fit_envelope_allocation",
    "envelope_runs_excluded",
    "MAX_EDGE_FRACTION",
]

#: Approach 1 is flagged when more than this share of the fitted envelope points are won by the smallest or the
#: largest model covering that compute (the minimum over N is not bracketed there).
MAX_EDGE_FRACTION = 0.2
#: ... and when fewer than this many distinct runs (model sizes) win envelope points.
MIN_ENVELOPE_RUNS = 3


def training_curve_envelope(
    run_id: Sequence[object] | np.ndarray,
    N: Sequence[float] | np.ndarray,
    C: Sequence[float] | np.ndarray,
    L: Sequence[float] | np.ndarray,
    *,
    n_grid: int = 1500,
    D: Sequence[float] | np.ndarray | None = None,
) -> pl.DataFrame:
    """Lowest-loss run at each of ``n_grid`` log-spaced FLOP values.

    Parameters
    ----------
    run_id : array_like, shape (n,)
        Run identifier of each checkpoint (any hashable; converted to str in the output).
    N : array_like, shape (n,)
        Parameters of the run (> 0, constant within a run).
    C : array_like, shape (n,)
        Cumulative training FLOPs at the checkpoint (> 0).
    L : array_like, shape (n,)
        Loss at the checkpoint, nats/token (> 0).
    n_grid : int, default 1500
        Number of log-spaced FLOP values between the smallest and largest C (>= 2).
    D : array_like, shape (n,), optional
        Tokens seen at the checkpoint; interpolated like L when given, otherwise D = C / (6 N).

    Returns
    -------
    polars.DataFrame
        One row per grid value covered by at least one run (a run covers [its first, its last
        checkpoint]; no extrapolation; duplicated checkpoints of a run are averaged in ln L),
        columns ``C``, ``N``, ``D``, ``L``, ``run_id``, ``edge`` (the winning run is the smallest or the largest
        model among the runs covering that C: the minimum over N is not bracketed there), sorted by C.
        Runs with fewer than two distinct checkpoints are skipped (see
        :func:`envelope_runs_excluded`).

    Raises
    ------
    ValueError
        On empty input, shape mismatch, NaN or non-positive values, N varying within a run,
        or ``n_grid < 2``.
    InsufficientDataError
        If no run has two checkpoints with distinct C.

    Notes
    -----
    Hoffmann et al. 2022, arXiv 2203.15556, Approach 1. Intermediate checkpoints of a cosine
    schedule are not equivalent to finished shorter runs; the envelope inherits that bias
    (Li et al. 2025, arXiv 2502.18969).
    """
    if n_grid < 2:
        raise ValueError(f"n_grid must be >= 2, got {n_grid}")
    ids = np.asarray(run_id).astype(str)
    n = positive_1d("N", N)
    c = positive_1d("C", C)
    loss = positive_1d("L", L)
    d = None if D is None else positive_1d("D", D)
    shapes = {ids.shape, n.shape, c.shape, loss.shape} | ({d.shape} if d is not None else set())
    if len(shapes) != 1:
        raise ValueError(f"run_id, N, C, L (and D) must have the same shape, got {sorted(shapes)}")
    grid = np.logspace(math.log10(c.min()), math.log10(c.max()), n_grid)
    lg = np.log(grid)
    best_l = np.full(n_grid, np.inf)
    best_n = np.full(n_grid, np.nan)
    best_d = np.full(n_grid, np.nan)
    best_id = np.full(n_grid, "", dtype=object)
    cover_min = np.full(n_grid, np.inf)
    cover_max = np.full(n_grid, -np.inf)
    used = 0
    for rid in np.unique(ids):
        m = ids == rid
        nn = n[m]
        if np.ptp(nn) > 1e-9 * nn.max():
            raise ValueError(f"N varies within run {rid!r}")
        # duplicated checkpoints (same C) are averaged in ln L (and ln D)
        lc, inv = np.unique(np.log(c[m]), return_inverse=True)
        cnt = np.bincount(inv)
        ll = np.bincount(inv, weights=np.log(loss[m])) / cnt
        if lc.size < 2:
            continue
        used += 1
        inside = (lg >= lc[0]) & (lg <= lc[-1])
        cover_min[inside] = np.minimum(cover_min[inside], nn[0])
        cover_max[inside] = np.maximum(cover_max[inside], nn[0])
        vals = np.full(n_grid, np.inf)
        vals[inside] = np.exp(np.interp(lg[inside], lc, ll))
        better = vals < best_l
        if not better.any():
            continue
        best_l[better] = vals[better]
        best_n[better] = nn[0]
        best_id[better] = rid
        if d is not None:
            ld = np.bincount(inv, weights=np.log(d[m])) / cnt
            best_d[better] = np.exp(np.interp(lg[better], lc, ld))
        else:
            best_d[better] = grid[better] / (6.0 * nn[0])
    if used == 0:
        raise InsufficientDataError("no run has at least two checkpoints with distinct C")
    ok = np.isfinite(best_l)
    return pl.DataFrame(
        {
            "C": grid[ok],
            "N": best_n[ok],
            "D": best_d[ok],
            "L": best_l[ok],
            "run_id": [str(x) for x in best_id[ok]],
            "edge": (best_n[ok] <= cover_min[ok]) | (best_n[ok] >= cover_max[ok]),
        }
    )


def envelope_runs_excluded(
    run_id: Sequence[object] | np.ndarray, C: Sequence[float] | np.ndarray
) -> list[str]:
    """Runs the envelope cannot use: fewer than two checkpoints with distinct C (FLOPs).

    Returns
    -------
    list of str
        The run ids, sorted.
    """
    ids = np.asarray(run_id).astype(str)
    c = np.asarray(C, dtype=float)
    return sorted(str(r) for r in np.unique(ids) if np.unique(c[ids == r]).size < 2)


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    res = y - X @ coef
    tot = float(np.sum((y - y.mean()) ** 2))
    return float(coef[1]), float(coef[0]), (1.0 - float(res @ res) / tot) if tot > 0 else math.nan


def fit_envelope_allocation(
    envelope: pl.DataFrame, *, C_min: float | None = None, C_max: float | None = None
) -> FitResult:
    """Fit N_opt = k_N C^a and D_opt = k_D C^b to envelope points by OLS in log-log space.

    Parameters
    ----------
    envelope : polars.DataFrame
        Output of :func:`training_curve_envelope` (columns ``C``, ``N``, ``D`` in FLOPs,
        parameters, tokens).
    C_min, C_max : float, optional
        Restrict the regression to envelope points with C_min <= C <= C_max (FLOPs).

    Returns
    -------
    FitResult
        ``law="envelope_allocation"``, params ``a``, ``b``, ``k_N``, ``k_D``; derived
        ``a_plus_b``, ``r2_N``, ``r2_D``, ``n_runs`` (distinct runs on the envelope), ``edge_fraction`` (share
        of points whose winning run is the smallest or largest covering model; NaN without an ``edge`` column);
        ``objective`` = residual sum of squares of ln N.

    Raises
    ------
    ValueError
        If columns are missing or values are non-positive / NaN.
    InsufficientDataError
        With fewer than two distinct C or fewer than two distinct N in the selection.

    Notes
    -----
    Hoffmann et al. 2022, arXiv 2203.15556, Approach 1: a = 0.50 (10-90%: 0.488-0.502).
    """
    missing = {"C", "N", "D"} - set(envelope.columns)
    if missing:
        raise ValueError(f"envelope lacks columns {sorted(missing)}")
    env = envelope
    if C_min is not None:
        env = env.filter(pl.col("C") >= C_min)
    if C_max is not None:
        env = env.filter(pl.col("C") <= C_max)
    if env.height == 0:
        raise ValueError("envelope is empty (after the C range filter)")
    c = positive_1d("C", env["C"].to_numpy())
    n = positive_1d("N", env["N"].to_numpy())
    d = positive_1d("D", env["D"].to_numpy())
    if np.unique(c).size < 2 or np.unique(n).size < 2:
        raise InsufficientDataError("need at least two distinct C and two distinct N on the envelope")
    lc = np.log(c)
    a, ln_kn, r2n = _line(lc, np.log(n))
    b, ln_kd, r2d = _line(lc, np.log(d))
    resid = np.log(n) - ln_kn - a * lc
    n_runs = env["run_id"].n_unique() if "run_id" in env.columns else int(np.unique(n).size)
    return FitResult(
        law="envelope_allocation",
        params={"a": a, "b": b, "k_N": math.exp(ln_kn), "k_D": math.exp(ln_kd)},
        n_points=int(c.size),
        objective=float(resid @ resid),
        loss="linear",
        delta=None,
        space="log",
        optimizer="OLS (log-log)",
        n_starts=1,
        success=True,
        derived={
            "a_plus_b": a + b,
            "r2_N": r2n,
            "r2_D": r2d,
            "n_runs": float(n_runs),
            "edge_fraction": float(env["edge"].mean()) if "edge" in env.columns else math.nan,
        },
        extra={"C_min": C_min, "C_max": C_max},
    )
