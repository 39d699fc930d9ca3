"""Chinchilla Approach 2: IsoFLOP profiles.

For each compute budget C a sweep of model sizes is trained with D = C / (6 N). A parabola in
log N (equivalently in log D, since log D = log(C/6) - log N at fixed C) is fitted to the final
losses; its vertex is the compute-optimal N_opt(C), with D_opt = C / (6 N_opt). Power laws
N_opt = k_N C^a and D_opt = k_D C^b are then fitted by least squares in log-log space.

Reference: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", arXiv 2203.15556,
Approach 2; Llama 3 Team 2024, arXiv 2407.21783, Sec. 3.2.1 (parabola in log tokens).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from analysis._common import positive_1d
from analysis.errors import InsufficientDataError
from analysis.results import Bootstrap, FitResult

__all__ = [
    "DIVERGED_RATIO",
    "MIN_BUDGETS",
    "MIN_CELLS_PER_BUDGET",
    "OUTLIER_NATS",
    "budget_report",
    "screen_cells",
    "isoflop_minima",
    "fit_allocation_power_laws",
    "isoflop_extrapolate",
    "isoflop_noise_bootstrap",
]


#: A budget's minimum is "ok" only with at least this many cells in its parabola: one more than the parabola's
#: three coefficients, so the fit has a residual (Hoffmann et al. used ~9 sizes per budget).
MIN_CELLS_PER_BUDGET = 4
#: Approach 2's exponent is "ok" with at least this many usable budgets; with 2 it is a line through two points
#: (no residual, flagged "warning"); with fewer it is refused.
MIN_BUDGETS = 3
#: A cell is "diverged" when its loss exceeds this many times the loss of every adjacent size of its budget.
DIVERGED_RATIO = 1.5
#: A cell is an outlier when its loss is further than this (nats/token; 5-25 seed-noise SDs at the 0.002-0.01
#: nats of Porian et al.) from the parabola through the two sizes on each side of it (leave-one-out; interior
#: cells of budgets with >= 6 cells; the worst is removed first and the test repeated).
OUTLIER_NATS = 0.05
#: ... and further than this fraction of the loss range of those four cells (a steep part of the profile is
#: interpolated less accurately, so the allowance grows there).
OUTLIER_LOCAL = 0.5

#: The exclusion rules, as stated in reports.
CELL_RULES = (
    "failed: no final loss; not finished: last logged tokens < 99% of the planned tokens; diverged: loss > "
    f"{DIVERGED_RATIO:g}x the loss of every adjacent size of the budget; outlier: |loss - parabola through the two "
    f"sizes on each side| > max({OUTLIER_NATS:g} nats, {OUTLIER_LOCAL:g} x the loss range of those four) "
    "(interior cells of budgets with >= 6 cells, worst first, "
    f"repeated). A budget is ok with >= {MIN_CELLS_PER_BUDGET} cells in its parabola, a convex parabola and a "
    "bracketed minimum (the lowest-loss cell is not the smallest or largest size and the vertex lies inside the "
    f"sizes); the exponent is ok with >= {MIN_BUDGETS} such budgets."
)


def screen_cells(
    C: Sequence[float] | np.ndarray,
    N: Sequence[float] | np.ndarray,
    L: Sequence[float] | np.ndarray,
    *,
    finished: Sequence[bool] | np.ndarray | None = None,
) -> pl.DataFrame:
    """Classify the cells (runs) of isoFLOP profiles as used or excluded, with the reason (:data:`CELL_RULES`).

    Parameters
    ----------
    C : array_like, shape (n,)
        Budget of each cell, FLOPs (> 0).
    N : array_like, shape (n,)
        Parameters of each cell (> 0).
    L : array_like, shape (n,)
        Final loss, nats/token; NaN (or <= 0) for a run that produced none ("failed").
    finished : array_like of bool, shape (n,), optional
        False for runs that stopped before their planned tokens ("not finished"); default all finished.

    Returns
    -------
    polars.DataFrame
        Columns ``C``, ``N``, ``L``, ``used`` (bool) and ``reason`` (None for used cells; "failed", "not finished",
        "diverged" or "outlier" followed by the numbers), in input order.

    Raises
    ------
    ValueError
        If shapes differ or C, N are not positive and finite.

    Notes
    -----
    Porian et al. (2024), arXiv:2406.19146 (noisy and unfinished cells distort the minimum); Hoffmann et al.
    (2022), arXiv:2203.15556, Approach 2.
    """
    C = positive_1d("C", C)
    N = positive_1d("N", N)
    L = np.asarray(L, dtype=float)
    fin = np.ones(C.size, bool) if finished is None else np.asarray(finished, dtype=bool)
    if not (C.shape == N.shape == L.shape == fin.shape):
        raise ValueError(
            f"C, N, L (and finished) must have the same shape, got {C.shape}, {N.shape}, {L.shape}"
        )
    reason: list[str | None] = [None] * C.size
    for i in range(C.size):
        if not (np.isfinite(L[i]) and L[i] > 0):
            reason[i] = "failed: no final loss"
        elif not fin[i]:
            reason[i] = "not finished: stopped before its planned tokens"
    for c in np.unique(C):
        idx = np.flatnonzero((C == c) & np.array([r is None for r in reason]))
        idx = idx[np.argsort(N[idx], kind="stable")]
        for j, i in enumerate(idx):
            nb = [L[idx[k]] for k in (j - 1, j + 1) if 0 <= k < idx.size]
            if nb and L[i] > DIVERGED_RATIO * max(nb):
                reason[i] = f"diverged: loss {L[i]:.4g} > {DIVERGED_RATIO:g}x its neighbours' ({max(nb):.4g})"
        idx = np.array([i for i in idx if reason[i] is None], dtype=int)
        # one outlier at a time (the worst), then recompute: an outlier also pulls its neighbours' predictions
        while idx.size >= 6:
            x, y = np.log(N[idx]), L[idx]
            loo = np.zeros(idx.size)
            excess = np.zeros(idx.size)
            for j in range(
                2, idx.size - 2
            ):  # interior cells: the prediction interpolates (2 sizes each side)
                near = np.array([j - 2, j - 1, j + 1, j + 2])
                loo[j] = y[j] - np.polyval(np.polyfit(x[near], y[near], 2), x[j])
                excess[j] = abs(loo[j]) / max(OUTLIER_NATS, OUTLIER_LOCAL * float(np.ptp(y[near])))
            j = int(np.argmax(excess))
            if excess[j] <= 1.0:
                break
            reason[idx[j]] = f"outlier: {loo[j]:+.3g} nats from the parabola through the 2 sizes on each side"
            idx = np.delete(idx, j)
    return pl.DataFrame(
        {"C": C, "N": N, "L": L, "used": [r is None for r in reason], "reason": reason},
        schema={"C": pl.Float64, "N": pl.Float64, "L": pl.Float64, "used": pl.Boolean, "reason": pl.String},
    )


def budget_report(minima: pl.DataFrame, cells: pl.DataFrame) -> pl.DataFrame:
    """Per-budget reliability: the minima of :func:`isoflop_minima` joined with the cell screen.

    Parameters
    ----------
    minima : polars.DataFrame
        Output of :func:`isoflop_minima` on the used cells.
    cells : polars.DataFrame
        Output of :func:`screen_cells` (all cells, used or not).

    Returns
    -------
    polars.DataFrame
        ``minima``'s columns plus ``n_cells`` (all cells of the budget), ``n_excluded`` and ``excluded`` (reasons,
        "; "-joined, e.g. "2 diverged, 1 failed"), sorted by C. Budgets whose every cell was excluded appear with
        ``status="too_few_points"``.
    """
    ex = (
        cells.filter(~pl.col("used"))
        .with_columns(pl.col("reason").str.split(":").list.first().alias("why"))
        .group_by("C", "why")
        .agg(pl.len().alias("k"))
        .sort("C", "why")
        .group_by("C", maintain_order=True)
        .agg(
            pl.col("k").sum().alias("n_excluded"),
            pl.concat_str([pl.col("k").cast(pl.String), pl.col("why")], separator=" ")
            .str.join("; ")
            .alias("excluded"),
        )
    )
    tot = cells.group_by("C").agg(pl.len().alias("n_cells"))
    out = tot.join(minima, on="C", how="left").join(ex, on="C", how="left")
    return out.with_columns(
        pl.col("n_excluded").fill_null(0),
        pl.col("excluded").fill_null(""),
        pl.col("status").fill_null("too_few_points"),
        pl.col("n_points").fill_null(0),
    ).sort("C")


def isoflop_minima(
    C: Sequence[float] | np.ndarray,
    N: Sequence[float] | np.ndarray,
    L: Sequence[float] | np.ndarray,
    *,
    min_points: int = MIN_CELLS_PER_BUDGET,
    axis: str = "N",
    neighbors: int | None = None,
) -> pl.DataFrame:
    """Compute-optimal point of each isoFLOP profile from a parabola in log N (or log D).

    For every distinct budget C the losses are fitted by ``L = c2 x^2 + c1 x + c0`` with
    ``x = ln N`` (``axis="N"``) or ``x = ln D = ln(C / (6 N))`` (``axis="D"``). The vertex
    ``x* = -c1 / (2 c2)`` gives N_opt = exp(x*) (or D_opt = exp(x*)), D_opt = C / (6 N_opt) and
    L_opt = c0 - c1^2 / (4 c2). Because ln D is an affine function of ln N at fixed C, both axes
    give the same vertex when D = C / (6 N) exactly; the option exists to mirror papers that
    state the fit in tokens (Llama 3).

    Parameters
    ----------
    C : array_like, shape (n,)
        Training compute budget of each run, FLOPs (> 0). Runs sharing a value form one profile.
    N : array_like, shape (n,)
        Model parameters of each run (> 0).
    L : array_like, shape (n,)
        Final loss of each run, nats/token (finite).
    min_points : int, default :data:`MIN_CELLS_PER_BUDGET` (4)
        Budgets with fewer runs in the parabola are reported with NaN optimum and ``status="too_few_points"``.
        Must be >= 3 (a parabola has three coefficients); the default keeps one residual degree of freedom.
    axis : {"N", "D"}
        Variable on which the parabola is fitted.
    neighbors : int, optional
        If given (>= 1), fit each parabola only to the lowest-loss run of the budget and its
        ``neighbors`` nearest sizes on each side (sorted by N), i.e. a local quadratic around the
        sampled minimum. A parabola through a wide sweep (e.g. 5M-901M at one budget) is biased by
        the asymmetric shape of the profile; a local fit approximates the dense interpolation
        (Akima) of Porian et al. 2024 (arXiv 2406.19146). Default None uses every run.

    Returns
    -------
    polars.DataFrame
        One row per budget, sorted by C, with columns ``C``, ``N_opt``, ``D_opt``, ``L_opt``,
        ``tokens_per_param`` (D_opt / N_opt), ``n_points`` (runs in the parabola),
        ``curvature`` (c2, loss per ln-unit squared), ``N_min``, ``N_max`` (range of the runs
        used), ``inside`` (vertex strictly inside that range), ``edge`` (True when the vertex lies at or outside
        the range — an unreliable minimum to be flagged or dropped), ``convex`` (c2 > 0), ``bracketed`` (the
        lowest-loss cell has a larger and a smaller size beside it and the vertex is inside) and ``status``
        (``"ok"``, ``"edge"`` (vertex outside the sizes), ``"not_bracketed"`` (vertex inside but the lowest-loss
        cell is the smallest or largest size), ``"too_few_points"``, ``"not_convex"``).

    Raises
    ------
    ValueError
        If the arrays are empty, of different lengths, not 1-D, contain NaN, C or N are
        non-positive, ``min_points < 3`` or ``axis`` is not "N" or "D".
    """
    if axis not in ("N", "D"):
        raise ValueError(f"axis must be 'N' or 'D', got {axis!r}")
    if neighbors is not None and neighbors < 1:
        raise ValueError(f"neighbors must be >= 1 or None, got {neighbors}")
    if min_points < 3:
        raise ValueError(f"min_points must be >= 3 for a parabola, got {min_points}")
    C = positive_1d("C", C)
    N = positive_1d("N", N)
    L = np.asarray(L, dtype=float)
    if not (C.shape == N.shape == L.shape):
        raise ValueError(f"C, N and L must have the same shape, got {C.shape}, {N.shape}, {L.shape}")
    if np.any(~np.isfinite(L)):
        raise ValueError("L contains NaN or infinite values")

    rows = []
    for c in np.unique(C):
        m = C == c
        n, loss = N[m], L[m]
        sampled_min_at_edge = bool(n.size > 0 and n[int(np.argmin(loss))] in (n.min(), n.max()))
        if neighbors is not None:
            order = np.argsort(n, kind="stable")
            n, loss = n[order], loss[order]
            i = int(np.argmin(loss))
            lo, hi = max(0, i - neighbors), min(n.size, i + neighbors + 1)
            n, loss = n[lo:hi], loss[lo:hi]
        logn = np.log(n)
        row = {
            "C": float(c),
            "N_opt": math.nan,
            "D_opt": math.nan,
            "L_opt": math.nan,
            "tokens_per_param": math.nan,
            "n_points": int(n.size),
            "curvature": math.nan,
            "N_min": float(n.min()),
            "N_max": float(n.max()),
            "inside": False,
            "edge": False,
            "convex": False,
            "bracketed": False,
            "status": "ok",
        }
        if n.size < min_points or np.unique(logn).size < 3:
            row["status"] = "too_few_points"
            rows.append(row)
            continue
        x = logn if axis == "N" else np.log(c / 6.0) - logn
        c2, c1, c0 = np.polyfit(x, loss, 2)
        row["curvature"] = float(c2)
        row["convex"] = bool(c2 > 0)
        if c2 <= 0:
            row["status"] = "not_convex"
            rows.append(row)
            continue
        xv = -c1 / (2.0 * c2)
        log_nopt = xv if axis == "N" else math.log(c / 6.0) - xv
        n_opt = math.exp(log_nopt)
        d_opt = c / (6.0 * n_opt)
        inside = bool(logn.min() < log_nopt < logn.max())
        row.update(
            N_opt=n_opt,
            D_opt=d_opt,
            L_opt=float(c0 - c1 * c1 / (4.0 * c2)),
            tokens_per_param=d_opt / n_opt,
            inside=inside,
            edge=not inside,
            bracketed=inside and not sampled_min_at_edge,
            status="edge" if not inside else ("not_bracketed" if sampled_min_at_edge else "ok"),
        )
        rows.append(row)
    return pl.DataFrame(rows)


def _loglog_line(x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> tuple[float, float, float]:
    """Weighted least squares of ln y on ln x: returns (slope, ln intercept, R^2)."""
    lx, ly = np.log(x), np.log(y)
    ww = np.ones_like(lx) if w is None else w
    sw = np.sqrt(ww)
    X = np.column_stack([np.ones_like(lx), lx]) * sw[:, None]
    coef, *_ = np.linalg.lstsq(X, ly * sw, rcond=None)
    fit = coef[0] + coef[1] * lx
    ybar = np.average(ly, weights=ww)
    ss_res = float(np.sum(ww * (ly - fit) ** 2))
    ss_tot = float(np.sum(ww * (ly - ybar) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
    return float(coef[1]), float(coef[0]), r2


def fit_allocation_power_laws(
    C: Sequence[float] | np.ndarray,
    N_opt: Sequence[float] | np.ndarray,
    D_opt: Sequence[float] | np.ndarray,
    *,
    weights: Sequence[float] | np.ndarray | None = None,
) -> FitResult:
    """Fit N_opt = k_N C^a and D_opt = k_D C^b by (weighted) least squares in log-log space.

    Parameters
    ----------
    C : array_like, shape (m,)
        Compute budgets, FLOPs (> 0), at least two distinct values.
    N_opt : array_like, shape (m,)
        Compute-optimal parameter counts (> 0), e.g. ``isoflop_minima(...)["N_opt"]``.
    D_opt : array_like, shape (m,)
        Compute-optimal token counts (> 0).
    weights : array_like, shape (m,), optional
        Non-negative regression weights (e.g. 1 / sigma^2 of ln N_opt, as Porian et al.).

    Returns
    -------
    FitResult
        ``law="isoflop_allocation"``, params ``a``, ``b`` (exponents), ``k_N``, ``k_D``
        (coefficients, so N_opt = k_N C^a in parameters and D_opt = k_D C^b in tokens);
        derived ``a_plus_b``, ``r2_N``, ``r2_D``; ``objective`` = residual sum of squares of ln N_opt.

    Raises
    ------
    ValueError
        On shape mismatch, empty input, NaN or non-positive values, or negative weights.
    InsufficientDataError
        With fewer than two distinct budgets.

    Notes
    -----
    Hoffmann et al. 2022 (arXiv 2203.15556) Approaches 1 and 2: a = 0.50 and 0.49.
    """
    C = positive_1d("C", C)
    N = positive_1d("N_opt", N_opt)
    D = positive_1d("D_opt", D_opt)
    if not (C.shape == N.shape == D.shape):
        raise ValueError(f"C, N_opt and D_opt must have the same shape, got {C.shape}, {N.shape}, {D.shape}")
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != C.shape or np.any(~np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite, >= 0 and have the same shape as C")
    if np.unique(C).size < 2:
        raise InsufficientDataError("need at least two distinct compute budgets to fit a power law")
    a, ln_kn, r2n = _loglog_line(C, N, w)
    b, ln_kd, r2d = _loglog_line(C, D, w)
    resid = np.log(N) - (ln_kn + a * np.log(C))
    ww = np.ones_like(resid) if w is None else w
    return FitResult(
        law="isoflop_allocation",
        params={"a": a, "b": b, "k_N": math.exp(ln_kn), "k_D": math.exp(ln_kd)},
        n_points=int(C.size),
        objective=float(np.sum(ww * resid**2)),
        loss="linear",
        delta=None,
        space="log",
        optimizer="weighted least squares (log-log)" if w is not None else "OLS (log-log)",
        n_starts=1,
        grad_norm=None,
        success=True,
        message="",
        derived={"a_plus_b": a + b, "r2_N": r2n, "r2_D": r2d},
    )


def isoflop_extrapolate(fit: FitResult, C: float | Sequence[float] | np.ndarray) -> pl.DataFrame:
    """Evaluate a fitted allocation law at new budgets.

    N_opt = k_N C^a, D_opt = k_D C^b, tokens_per_param = D_opt / N_opt.

    Parameters
    ----------
    fit : FitResult
        Output of :func:`fit_allocation_power_laws` (or of the envelope fit) with params
        ``a``, ``b``, ``k_N``, ``k_D``.
    C : float or array_like, shape (m,)
        Budgets in FLOPs (> 0).

    Returns
    -------
    polars.DataFrame
        Columns ``C``, ``N_opt``, ``D_opt``, ``tokens_per_param``, ``C_6ND`` (6 N_opt D_opt, a
        consistency check: equals C only if the two laws were fitted with D = C / 6N).

    Raises
    ------
    ValueError
        If C is not positive / finite or ``fit`` lacks the parameters.
    """
    missing = {"a", "b", "k_N", "k_D"} - set(fit.params)
    if missing:
        raise ValueError(f"fit lacks parameters {sorted(missing)}")
    c = positive_1d("C", np.atleast_1d(np.asarray(C, dtype=float)))
    p = fit.params
    n = p["k_N"] * c ** p["a"]
    d = p["k_D"] * c ** p["b"]
    return pl.DataFrame({"C": c, "N_opt": n, "D_opt": d, "tokens_per_param": d / n, "C_6ND": 6 * n * d})


def isoflop_noise_bootstrap(
    C: Sequence[float] | np.ndarray,
    N: Sequence[float] | np.ndarray,
    L: Sequence[float] | np.ndarray,
    *,
    sigma: float,
    rng: np.random.Generator,
    n_boot: int = 1000,
    neighbors: int | None = None,
    axis: str = "N",
) -> FitResult:
    """Approach 2 with a seed-noise (noise-injection) bootstrap of the allocation exponents.

    The point estimate is :func:`isoflop_minima` followed by :func:`fit_allocation_power_laws`
    on the budgets whose vertex is inside the sampled range (``status == "ok"``). Each replicate
    adds independent Gaussian noise of standard deviation ``sigma`` to every loss and redoes the
    whole pipeline (parabolas, dropping edge minima, log-log regression).

    Parameters
    ----------
    C, N, L : array_like, shape (n,)
        Budgets (FLOPs), parameters and losses (nats/token) as in :func:`isoflop_minima`.
    sigma : float
        Seed-noise standard deviation of a loss, nats/token (> 0); Porian et al. use 0.002 on
        RefinedWeb and 0.01 on OpenWebText2.
    rng : numpy.random.Generator
        Randomness source (a child seed is drawn from it and recorded).
    n_boot : int, default 1000
        Number of replicates (>= 1).
    neighbors, axis
        Passed to :func:`isoflop_minima`.

    Returns
    -------
    FitResult
        As :func:`fit_allocation_power_laws` (``law="isoflop_allocation"``) with ``bootstrap``
        holding replicates of ``a``, ``b``, ``k_N``, ``k_D`` (NaN where fewer than two budgets
        survived), ``unit="point"``, ``method="noise-injection"``; ``extra["n_budgets"]``.

    Raises
    ------
    ValueError
        On invalid inputs (see :func:`isoflop_minima`), ``sigma <= 0`` or ``n_boot < 1``.
    InsufficientDataError
        If fewer than two budgets have an interior minimum in the original data.

    Notes
    -----
    Porian et al. 2024, arXiv 2406.19146 (noise-injection bootstrap; they interpolate with Akima
    splines and use weighted regression, here parabolas and OLS).
    """
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be finite and > 0, got {sigma}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")

    def pipeline(loss: np.ndarray) -> FitResult:
        m = isoflop_minima(C, N, loss, neighbors=neighbors, axis=axis).filter(pl.col("status") == "ok")
        return fit_allocation_power_laws(m["C"], m["N_opt"], m["D_opt"])

    L = np.asarray(L, dtype=float)
    point = pipeline(L)
    seed = int(rng.integers(0, 2**63 - 1))
    child = np.random.default_rng(seed)
    keys = ("a", "b", "k_N", "k_D")
    reps = {k: np.full(int(n_boot), np.nan) for k in keys}
    for i in range(int(n_boot)):
        try:
            r = pipeline(L + sigma * child.standard_normal(L.shape))
        except InsufficientDataError:
            continue
        for k in keys:
            reps[k][i] = r.params[k]

    boot = Bootstrap(replicates=reps, seed=seed, unit="point", method="noise-injection")
    return FitResult(
        **{
            **{f: getattr(point, f) for f in point.__dataclass_fields__},
            "bootstrap": boot,
            "extra": {"n_budgets": point.n_points, "sigma": sigma, "neighbors": neighbors},
        }
    )
