"""Extrapolation backtests: fit small, predict large.

A law is fitted on the points whose cut variable (usually compute C, FLOPs) is at most a cutoff
and used to predict the held-out larger points; the relative error of each prediction is
reported against its extrapolation ratio x / max(x of the fitting set). A rolling-origin
variant repeats this over successive cutoffs (Porian et al.'s "anytime" analysis).

References: Gadre et al. 2024, arXiv 2403.08540 (hold out the largest runs: 0.7% loss error at
~300x extrapolation); Porian et al. 2024, arXiv 2406.19146 (growing-prefix refits); Choshen,
Zhang, Andreas 2024, arXiv 2410.11840 (absolute relative error, ARE).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

__all__ = ["holdout_backtest", "rolling_origin_backtest"]

FitFn = Callable[[dict[str, np.ndarray]], Mapping[str, float]]
PredictFn = Callable[[Mapping[str, float], dict[str, np.ndarray]], Any]
IntervalFn = Callable[[Mapping[str, float], dict[str, np.ndarray]], tuple[Any, Any]]


def _prepare(
    x_cut: Sequence[float] | np.ndarray,
    arrays: Mapping[str, Sequence[float] | np.ndarray],
    target: str,
    groups: Sequence[object] | np.ndarray | None,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
    x = np.asarray(x_cut, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x_cut must be a non-empty 1-D array, got shape {x.shape}")
    if np.any(np.isnan(x)):
        raise ValueError("x_cut contains NaN")
    if np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise ValueError("x_cut must be finite and > 0")
    arr = {k: np.asarray(v) for k, v in arrays.items()}
    if target not in arr:
        raise ValueError(f"arrays has no target column {target!r}")
    for k, v in arr.items():
        if v.shape[:1] != x.shape:
            raise ValueError(f"arrays[{k!r}] has length {v.shape[:1]}, expected {x.shape}")
    y = arr[target].astype(float)
    if np.any(~np.isfinite(y)):
        raise ValueError(f"target {target!r} contains NaN or infinite values")
    g = None
    if groups is not None:
        g = np.asarray(groups).astype(str)
        if g.shape != x.shape:
            raise ValueError(f"groups has shape {g.shape}, expected {x.shape}")
    return x, arr, g


def _subset(arr: dict[str, np.ndarray], m: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[m] for k, v in arr.items()}


def _fit_mask(x: np.ndarray, g: np.ndarray | None, cutoff: float) -> np.ndarray:
    if g is None:
        return x <= cutoff
    # a group (run) is in the fitting set only if all of its points are at or below the cutoff
    gmax = {k: x[g == k].max() for k in np.unique(g)}
    return np.array([gmax[k] <= cutoff for k in g])


def holdout_backtest(
    fit_fn: FitFn,
    predict_fn: PredictFn,
    x_cut: Sequence[float] | np.ndarray,
    arrays: Mapping[str, Sequence[float] | np.ndarray],
    *,
    cutoff: float,
    target: str = "L",
    groups: Sequence[object] | np.ndarray | None = None,
    bootstrap: int | None = None,
    rng: np.random.Generator | None = None,
    level: float = 0.95,
    interval_fn: IntervalFn | None = None,
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Fit on x_cut <= cutoff, predict the held-out points, report errors and coverage.

    Parameters
    ----------
    fit_fn : callable
        ``fit_fn(arrays_subset) -> params`` (a mapping of fitted parameters).
    predict_fn : callable
        ``predict_fn(params, arrays_subset) -> array`` of predicted targets, shape (m,).
    x_cut : array_like, shape (n,)
        Variable the split is made on (> 0), e.g. training FLOPs C or parameters N.
    arrays : mapping of str to array_like, each shape (n, ...)
        Columns handed to ``fit_fn``/``predict_fn`` (row-subset), including ``target``.
    cutoff : float
        Points (or whole groups) with x_cut <= cutoff are fitted; the rest are predicted.
    target : str, default "L"
        Key of ``arrays`` holding the observed values (e.g. loss, nats/token).
    groups : array_like, shape (n,), optional
        Run labels: a run enters the fitting set only if all its points are <= cutoff, and the
        bootstrap resamples whole runs (cluster bootstrap).
    bootstrap : int, optional
        Number of bootstrap refits (resampling the fitting set with replacement) used to form a
        percentile interval for each held-out prediction. Requires ``rng``.
    rng : numpy.random.Generator, optional
        Source of randomness for the bootstrap.
    level : float, default 0.95
        Interval level (0 < level < 1).
    interval_fn : callable, optional
        ``interval_fn(params, arrays_subset) -> (lower, upper)``; takes precedence over the
        bootstrap for the ``lower``/``upper``/``covered`` columns.

    Returns
    -------
    frame : polars.DataFrame
        One row per held-out point: ``index`` (row in the input), ``x``, ``target``,
        ``predicted``, ``relative_error`` ((predicted - target) / target), ``abs_relative_error``,
        ``extrapolation_ratio`` (x / max x of the fitting set), and when an interval is
        available ``lower``, ``upper``, ``covered``.
    summary : dict
        ``cutoff``, ``n_fit``, ``n_test``, ``mean_abs_rel_error``, ``max_abs_rel_error``,
        ``median_abs_rel_error``, ``max_extrapolation_ratio``, ``coverage`` (NaN without interval),
        ``n_boot_failed``.

    Raises
    ------
    ValueError
        On shape mismatches, NaN/non-positive x_cut, NaN targets, missing target key, an empty
        fitting or test set, ``bootstrap`` without ``rng``, or ``level`` outside (0, 1).

    Notes
    -----
    Hold-out validation as in Gadre et al. 2024 (arXiv 2403.08540) and METHODS.md s.10.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if bootstrap is not None and (rng is None or bootstrap < 1):
        raise ValueError("bootstrap needs a positive number of replicates and an rng")
    x, arr, g = _prepare(x_cut, arrays, target, groups)
    fit_m = _fit_mask(x, g, cutoff)
    test_m = ~fit_m
    if not fit_m.any():
        raise ValueError(f"no points with x_cut <= cutoff = {cutoff:g}: empty fitting set")
    if not test_m.any():
        raise ValueError(f"no points with x_cut > cutoff = {cutoff:g}: nothing to predict")
    fit_arr, test_arr = _subset(arr, fit_m), _subset(arr, test_m)
    params = fit_fn(fit_arr)
    pred = np.asarray(predict_fn(params, test_arr), dtype=float).ravel()
    y = test_arr[target].astype(float)
    if pred.shape != y.shape:
        raise ValueError(f"predict_fn returned shape {pred.shape}, expected {y.shape}")
    x_fit_max = float(x[fit_m].max())
    rel = (pred - y) / y
    cols: dict[str, Any] = {
        "index": np.flatnonzero(test_m),
        "x": x[test_m],
        "target": y,
        "predicted": pred,
        "relative_error": rel,
        "abs_relative_error": np.abs(rel),
        "extrapolation_ratio": x[test_m] / x_fit_max,
    }
    lower = upper = None
    n_failed = 0
    if interval_fn is not None:
        lo, hi = interval_fn(params, test_arr)
        lower = np.asarray(lo, dtype=float).ravel()
        upper = np.asarray(hi, dtype=float).ravel()
    elif bootstrap is not None:
        idx_fit = np.flatnonzero(fit_m)
        units = np.unique(g[idx_fit]) if g is not None else None
        reps = np.full((bootstrap, y.size), np.nan)
        for bi in range(bootstrap):
            if units is None:
                take = rng.choice(idx_fit, size=idx_fit.size, replace=True)
            else:
                chosen = rng.choice(units, size=units.size, replace=True)
                take = np.concatenate([idx_fit[g[idx_fit] == u] for u in chosen])
            try:
                p_b = fit_fn(_subset(arr, take))
                reps[bi] = np.asarray(predict_fn(p_b, test_arr), dtype=float).ravel()
            except (ValueError, RuntimeError, ArithmeticError):
                n_failed += 1
        ok = np.all(np.isfinite(reps), axis=1)
        n_failed = int(bootstrap - ok.sum())
        if ok.sum() >= 2:
            lower, upper = np.quantile(reps[ok], [(1 - level) / 2, (1 + level) / 2], axis=0)
    if lower is not None and upper is not None:
        cols["lower"] = lower
        cols["upper"] = upper
        cols["covered"] = (lower <= y) & (y <= upper)
    frame = pl.DataFrame(cols)
    summary = {
        "cutoff": float(cutoff),
        "n_fit": int(fit_m.sum()),
        "n_test": int(test_m.sum()),
        "mean_abs_rel_error": float(np.mean(np.abs(rel))),
        "median_abs_rel_error": float(np.median(np.abs(rel))),
        "max_abs_rel_error": float(np.max(np.abs(rel))),
        "max_extrapolation_ratio": float(np.max(x[test_m]) / x_fit_max),
        "coverage": float(np.mean(cols["covered"])) if "covered" in cols else math.nan,
        "n_boot_failed": n_failed,
    }
    return frame, summary


def rolling_origin_backtest(
    fit_fn: FitFn,
    predict_fn: PredictFn,
    x_cut: Sequence[float] | np.ndarray,
    arrays: Mapping[str, Sequence[float] | np.ndarray],
    *,
    cutoffs: Sequence[float] | None = None,
    target: str = "L",
    groups: Sequence[object] | np.ndarray | None = None,
    min_fit: int = 1,
    interval_fn: IntervalFn | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Holdout backtests over successive cutoffs (growing fitting prefixes).

    Parameters
    ----------
    fit_fn, predict_fn, x_cut, arrays, target, groups, interval_fn
        As in :func:`holdout_backtest`.
    cutoffs : sequence of float, optional
        Cutoffs to try; default every distinct x_cut value except the largest.
    min_fit : int, default 1
        Skip cutoffs whose fitting set has fewer points than this (e.g. the number of law
        parameters).

    Returns
    -------
    detail : polars.DataFrame
        The per-point frames of every cutoff stacked, with a ``cutoff`` column; the relative
        error against ``extrapolation_ratio`` is the curve to plot.
    summary : polars.DataFrame
        One row per cutoff with the summary fields of :func:`holdout_backtest` and ``status``
        (``"ok"`` or the error message when the fit failed).

    Raises
    ------
    ValueError
        On invalid inputs (as :func:`holdout_backtest`) or if no cutoff is usable.

    Notes
    -----
    Porian et al. 2024 (arXiv 2406.19146), anytime extrapolation analysis; METHODS.md s.10.
    """
    x, arr, g = _prepare(x_cut, arrays, target, groups)
    cuts = np.unique(x)[:-1] if cutoffs is None else np.asarray(sorted(cutoffs), dtype=float)
    frames, rows = [], []
    for c in cuts:
        fit_m = _fit_mask(x, g, float(c))
        if fit_m.sum() < min_fit or fit_m.all():
            continue
        try:
            fr, sm = holdout_backtest(
                fit_fn,
                predict_fn,
                x,
                arr,
                cutoff=float(c),
                target=target,
                groups=g,
                interval_fn=interval_fn,
            )
        except (ValueError, RuntimeError, ArithmeticError) as exc:
            rows.append({"cutoff": float(c), "n_fit": int(fit_m.sum()), "status": str(exc)})
            continue
        frames.append(fr.with_columns(pl.lit(float(c)).alias("cutoff")))
        rows.append({**sm, "status": "ok"})
    if not rows:
        raise ValueError("no usable cutoff (check min_fit and cutoffs)")
    detail = pl.concat(frames, how="diagonal") if frames else pl.DataFrame()
    return detail, pl.DataFrame(rows, infer_schema_length=None)
