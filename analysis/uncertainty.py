"""Bootstrap uncertainty for scaling-law fits, and confidence / prediction bands.

The bootstrap resamples WHOLE GROUPS (runs) with replacement -- a cluster bootstrap, so that several
checkpoints of one run stay together -- refits each resample, and keeps every replicate's parameters
and derived quantities so that downstream tools can chain fits replicate by replicate.

References
----------
Efron & Tibshirani (1993), An Introduction to the Bootstrap (percentile intervals).
Besiroglu, Erdil, Barnett, You (2024), "Chinchilla Scaling: A replication attempt", arXiv:2404.10102
(nonparametric bootstrap of the Chinchilla fit, derived quantities per replicate).
Hoffmann et al. (2022), arXiv:2203.15556 (Approach 3 and the compute-optimal closed form).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from analysis.chinchilla import fit_chinchilla
from analysis.compute_optimal import compute_optimal_allocation
from analysis.errors import FitError
from analysis.results import Bootstrap, FitResult

__all__ = [
    "DEFAULT_BUDGETS",
    "bootstrap_fit",
    "budget_key",
    "chinchilla_bootstrap",
    "confidence_band",
    "prediction_band",
]

#: Compute budgets (FLOPs) at which :func:`chinchilla_bootstrap` records the allocation by default.
DEFAULT_BUDGETS: tuple[float, ...] = (1e21, 5.76e23, 1e26)

_FAILURES = (ValueError, FitError, ArithmeticError, np.linalg.LinAlgError, RuntimeError)


def budget_key(name: str, C: float) -> str:
    """Replicate key of a per-budget quantity, e.g. ``budget_key("N_opt", 5.76e23) == "N_opt@5.76e+23"``.

    Parameters
    ----------
    name : str
        Quantity name (``"N_opt"``, ``"D_opt"``, ``"tokens_per_param"``).
    C : float
        Compute budget (FLOPs).

    Returns
    -------
    str
        ``f"{name}@{C:g}"``.

    Raises
    ------
    ValueError
        If ``C`` cannot be converted to float.

    Notes
    -----
    Budgets in FLOPs as in Hoffmann et al. (2022), arXiv:2203.15556 (5.76e23 = the Gopher budget).
    """
    return f"{name}@{float(C):g}"


def _draw_seed(rng: np.random.Generator) -> int:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return int(rng.integers(0, 2**63 - 1))


def bootstrap_fit(
    fit_fn: Callable[..., FitResult],
    arrays: Mapping[str, ArrayLike],
    groups: ArrayLike | None,
    *,
    n_boot: int,
    rng: np.random.Generator,
    derived_fn: Callable[[FitResult], Mapping[str, float]] | None = None,
) -> Bootstrap:
    """Cluster (run-level) nonparametric bootstrap of any fit.

    For each replicate, draw as many groups as there are distinct groups, uniformly with replacement;
    the resample is the concatenation of all points of the drawn groups (a group drawn twice appears
    twice). Call ``fit_fn(**resampled_arrays)`` and record, in this order, ``result.params``,
    ``result.derived``, ``derived_fn(result)`` (if given) and ``objective``. A refit that raises
    (ValueError, FitError, arithmetic or linear-algebra errors) or returns non-finite parameters is
    stored as NaN in every key.

    Warm starts: pass a closure, e.g.
    ``functools.partial(fit_chinchilla, init=full_fit.params)``, so each refit starts from the
    full-data optimum.

    Parameters
    ----------
    fit_fn : callable
        ``fit_fn(**arrays) -> FitResult``, called with the resampled arrays as keyword arguments.
    arrays : mapping of str to ndarray, each shape (n,)
        The data, e.g. ``{"N": N, "D": D, "L": L}``; all the same length.
    groups : ndarray, shape (n,), or None
        Group (run) label of each point; None treats every point as its own group.
    n_boot : int
        Number of replicates (>= 1).
    rng : numpy.random.Generator
        Draws one integer seed (recorded in ``Bootstrap.seed``); the resamples come from
        ``numpy.random.default_rng(seed)``, so the seed alone reproduces them.
    derived_fn : callable, optional
        ``derived_fn(result) -> dict[str, float]`` of extra per-replicate quantities.

    Returns
    -------
    Bootstrap
        ``replicates[key]`` an ndarray of shape (n_boot,) per key; ``unit="run"`` (``"point"`` when
        ``groups`` is None); ``method="nonparametric"``.

    Raises
    ------
    ValueError
        If ``arrays`` is empty, lengths differ, ``groups`` has the wrong length or NaN, ``n_boot`` < 1,
        ``rng`` is not a Generator, or every replicate failed.

    Notes
    -----
    Besiroglu et al. (2024), arXiv:2404.10102, resample points (4,000 replicates); with several
    checkpoints per run, resample runs (METHODS.md s.10).
    """
    if not arrays:
        raise ValueError("arrays is empty")
    data = {k: np.asarray(v) for k, v in arrays.items()}
    n = {v.shape[0] if v.ndim else -1 for v in data.values()}
    if len(n) != 1 or -1 in n:
        raise ValueError(f"all arrays must be 1-D with the same length, got lengths {sorted(n)}")
    (n,) = n
    if n == 0:
        raise ValueError("arrays are empty")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    seed = _draw_seed(rng)
    if groups is None:
        members = [np.array([i]) for i in range(n)]
        unit = "point"
    else:
        g = np.asarray(groups)
        if g.shape != (n,):
            raise ValueError(f"groups must have shape ({n},), got {g.shape}")
        if g.dtype.kind == "f" and np.any(np.isnan(g)):
            raise ValueError("groups contains NaN")
        _, inv = np.unique(g, return_inverse=True)
        order = np.argsort(inv, kind="stable")
        cuts = np.flatnonzero(np.diff(inv[order])) + 1
        members = np.split(order, cuts)
        unit = "run"
    child = np.random.default_rng(seed)
    rows: list[dict[str, float] | None] = []
    keys: dict[str, None] = {}
    for _ in range(int(n_boot)):
        pick = child.integers(0, len(members), size=len(members))
        idx = np.concatenate([members[j] for j in pick])
        try:
            res = fit_fn(**{k: v[idx] for k, v in data.items()})
            row = {**res.params, **res.derived}
            if derived_fn is not None:
                row.update(derived_fn(res))
            row["objective"] = res.objective
            if not all(np.isfinite(v) for v in res.params.values()):
                row = None
        except _FAILURES:
            row = None
        if row is not None:
            keys.update(dict.fromkeys(row))
        rows.append(row)
    if not keys:
        raise ValueError(f"all {n_boot} bootstrap refits failed")
    reps = {k: np.array([np.nan if r is None else float(r.get(k, np.nan)) for r in rows]) for k in keys}
    return Bootstrap(replicates=reps, seed=seed, unit=unit, method="nonparametric")


def chinchilla_bootstrap(
    N: ArrayLike,
    D: ArrayLike,
    L: ArrayLike,
    groups: ArrayLike | None,
    *,
    n_boot: int = 1000,
    rng: np.random.Generator,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
    delta: float = 1e-3,
    full_fit: FitResult | None = None,
    check_every: int = 50,
    fixed: Mapping[str, float] | None = None,
    tie_exponents: bool = False,
) -> Bootstrap:
    """Run-level bootstrap of the Chinchilla Approach-3 fit with per-replicate allocations.

    Every replicate is refitted (log-space summed Huber, see :func:`analysis.chinchilla.fit_chinchilla`)
    by L-BFGS-B warm-started from the full-data optimum. Every ``check_every``-th replicate is also
    refitted from scratch with the variable-projection grid, and the lower objective kept; the relative
    objective improvement found by that check is stored under ``"grid_check_gain"`` (NaN where not
    checked), so jumps between local minima are visible. Derived quantities are computed per replicate
    (never from the point estimate): a = beta/(alpha+beta), b, G and, at each budget C (FLOPs),
    ``N_opt@C`` (parameters), ``D_opt@C`` (tokens) and ``tokens_per_param@C`` with
    ``N_opt = G (C/6)^a``, ``D_opt = (C/6)^b / G``.

    Parameters
    ----------
    N, D, L : ndarray, shape (n,)
        Parameters, tokens and final loss (nats/token) of each point; all > 0.
    groups : ndarray, shape (n,), or None
        Run label of each point (points of one run are resampled together); None = one run per point.
    n_boot : int
        Number of replicates (default 1000).
    rng : numpy.random.Generator
        Source of the resampling seed (see :func:`bootstrap_fit`).
    budgets : sequence of float
        Compute budgets (FLOPs, > 0) at which the allocation is recorded; keys from :func:`budget_key`.
    delta : float
        Huber threshold (default 1e-3).
    full_fit : FitResult, optional
        The full-data fit to warm-start from; computed with ``fit_chinchilla(N, D, L)`` if omitted.
    check_every : int
        Period of the from-scratch grid check (0 disables it).
    fixed, tie_exponents
        Constraints of the fit, applied to every refit (see :func:`analysis.chinchilla.fit_chinchilla`).

    Returns
    -------
    Bootstrap
        Replicates of E, A, B, alpha, beta, a, b, G, the per-budget allocation keys, ``objective`` and
        ``grid_check_gain``; ``unit="run"``.

    Raises
    ------
    ValueError
        For invalid data (as :func:`analysis.chinchilla.fit_chinchilla`), budgets <= 0, ``n_boot`` < 1,
        ``check_every`` < 0.

    Notes
    -----
    Besiroglu et al. (2024), arXiv:2404.10102 (bootstrap, derived quantities per replicate);
    Hoffmann et al. (2022), arXiv:2203.15556 (model and closed form).
    """
    budgets = np.atleast_1d(np.asarray(budgets, dtype=float))
    if budgets.ndim != 1 or np.any(~np.isfinite(budgets)) or np.any(budgets <= 0):
        raise ValueError("budgets must be finite and > 0")
    if check_every < 0:
        raise ValueError(f"check_every must be >= 0, got {check_every}")
    cons = {"fixed": fixed, "tie_exponents": tie_exponents}
    if full_fit is None:
        full_fit = fit_chinchilla(N, D, L, delta=delta, **cons)
    init = dict(full_fit.params)
    calls = [0]

    def fit_fn(N, D, L):
        calls[0] += 1
        res = fit_chinchilla(N, D, L, delta=delta, init=init, **cons)
        gain = np.nan
        if check_every and calls[0] % check_every == 0:
            fresh = fit_chinchilla(N, D, L, delta=delta, **cons)
            gain = max(0.0, (res.objective - fresh.objective) / res.objective)
            if fresh.objective < res.objective:
                res = fresh
        return dataclasses.replace(res, extra={**res.extra, "grid_check_gain": gain})

    def derived_fn(res: FitResult) -> dict[str, float]:
        out: dict[str, float] = {}
        try:
            alloc = compute_optimal_allocation(res.params, budgets)
        except ValueError:
            alloc = None
        for i, C in enumerate(budgets):
            for name in ("N_opt", "D_opt", "tokens_per_param"):
                out[budget_key(name, C)] = np.nan if alloc is None else float(getattr(alloc, name)[i])
        out["grid_check_gain"] = res.extra.get("grid_check_gain", np.nan)
        return out

    return bootstrap_fit(
        fit_fn, {"N": N, "D": D, "L": L}, groups, n_boot=n_boot, rng=rng, derived_fn=derived_fn
    )


def _replicate_predictions(
    predict_fn: Callable[[dict[str, float], np.ndarray], ArrayLike], boot: Bootstrap, x: ArrayLike
) -> np.ndarray:
    if not isinstance(boot, Bootstrap) or not boot.replicates:
        raise ValueError("boot must be a Bootstrap with replicates")
    x = np.asarray(x, dtype=float)
    keys = list(boot.replicates)
    first = np.asarray(boot.replicates[keys[0]], dtype=float)
    preds = []
    for b in np.flatnonzero(np.isfinite(first)):
        params = {k: float(boot.replicates[k][b]) for k in keys}
        y = np.asarray(predict_fn(params, x), dtype=float)
        if y.shape != np.shape(x) and y.size != np.size(x):
            raise ValueError(f"predict_fn returned shape {y.shape} for x of shape {np.shape(x)}")
        if np.all(np.isfinite(y)):
            preds.append(y.reshape(np.shape(x)))
    if not preds:
        raise ValueError("no successful replicate gave a finite prediction")
    return np.asarray(preds)


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def confidence_band(
    predict_fn: Callable[[dict[str, float], np.ndarray], ArrayLike],
    boot: Bootstrap,
    x: ArrayLike,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile confidence band of the fitted (mean) curve.

    For each successful replicate b, ``y_b(x) = predict_fn(theta_b, x)``; the band is the
    ``(1 - level)/2`` and ``(1 + level)/2`` quantiles of y_b(x) over b, pointwise in x.

    Parameters
    ----------
    predict_fn : callable
        ``predict_fn(params, x) -> ndarray`` with ``params`` the dict of replicate b's values (all keys
        of ``boot.replicates``), e.g. ``lambda p, C: compute_law_loss(C, p["E"], p["A"], p["alpha"])``.
    boot : Bootstrap
        Replicates; failed ones (NaN in the first key) and non-finite predictions are skipped.
    x : ndarray, shape (m,)
        Where to evaluate (unit of the law's input).
    level : float
        Coverage in (0, 1), default 0.95.

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper band, each shape (m,), in the unit of ``predict_fn``'s output.

    Raises
    ------
    ValueError
        If ``level`` is not in (0, 1) or no replicate gives a finite prediction.

    Notes
    -----
    METHODS.md s.10; Besiroglu et al. (2024), arXiv:2404.10102.
    """
    _check_level(level)
    P = _replicate_predictions(predict_fn, boot, x)
    lo, hi = np.quantile(P, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return lo, hi


def prediction_band(
    predict_fn: Callable[[dict[str, float], np.ndarray], ArrayLike],
    boot: Bootstrap,
    x: ArrayLike,
    *,
    residual_sd: float,
    rng: np.random.Generator,
    level: float = 0.95,
    space: str = "log",
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile prediction band for a NEW run: parameter uncertainty plus run-to-run noise.

    For each successful replicate b, ``y_b(x) = predict_fn(theta_b, x) * exp(eps_b)`` (``space="log"``,
    for log-space fits) or ``predict_fn(theta_b, x) + eps_b`` (``space="linear"``), with
    ``eps_b ~ Normal(0, residual_sd)`` drawn once per replicate (shared along x, so the band is smooth; its
    pointwise quantiles are those of independent draws); the band is the
    pointwise ``(1 - level)/2`` and ``(1 + level)/2`` quantiles.

    Parameters
    ----------
    predict_fn : callable
        ``predict_fn(params, x) -> ndarray`` (see :func:`confidence_band`).
    boot : Bootstrap
        Replicates of the fit.
    x : ndarray, shape (m,)
        Where to evaluate.
    residual_sd : float
        SD of the run-to-run noise, >= 0: in log units for ``space="log"`` (e.g. the SD of the fit's
        log residuals, or ~0.02 nats / L for Kaplan's seed noise), in output units for ``"linear"``.
    rng : numpy.random.Generator
        Source of the noise draws.
    level : float
        Coverage in (0, 1), default 0.95.
    space : {"log", "linear"}
        Multiplicative (log-space) or additive noise.

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper band, each shape (m,). It contains the confidence band.

    Raises
    ------
    ValueError
        If ``level`` is not in (0, 1), ``residual_sd`` is negative or NaN, ``space`` is unknown, or no
        replicate gives a finite prediction.

    Notes
    -----
    METHODS.md s.10 (prediction intervals add noise in the space of the fit's residuals).
    """
    _check_level(level)
    if not (np.isfinite(residual_sd) and residual_sd >= 0):
        raise ValueError(f"residual_sd must be finite and >= 0, got {residual_sd}")
    if space not in ("log", "linear"):
        raise ValueError(f"space must be 'log' or 'linear', got {space!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    P = _replicate_predictions(predict_fn, boot, x)
    # one draw per replicate, shared along x: the same marginal quantiles as independent draws, but a smooth
    # band (independent draws per x make the band's edges jagged with Monte-Carlo noise)
    eps = rng.normal(0.0, residual_sd, size=(P.shape[0],) + (1,) * (P.ndim - 1))
    Y = P * np.exp(eps) if space == "log" else P + eps
    lo, hi = np.quantile(Y, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return lo, hi
