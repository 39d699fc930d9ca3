"""RL post-training compute curves: the ScaleRL sigmoid and its comparison tools.

Khatri et al. 2025, "The Art of Scaling Reinforcement Learning Compute for LLMs" (ScaleRL),
arXiv:2510.13786, Eq. 1: the mean validation pass rate after RL compute C (GPU-hours) is

    R(C) = R0 + (A - R0) / (1 + (C_mid / C)**B)

with R0 the pass rate of the starting policy, A the asymptote (ceiling, 0 <= A <= 1), B > 0 the
scaling exponent (compute efficiency) and C_mid the compute at which half of the gain A - R0 is
realised. Equivalently R = R0 + (A - R0) * sigmoid(B * (ln C - ln C_mid)).

Everything here is pure (numpy, scipy, polars); randomness comes in as ``rng``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import least_squares
from scipy.special import expit

from analysis.errors import FitError, InsufficientDataError
from analysis.results import Bootstrap, FitResult

__all__ = [
    "RECIPE_VERDICTS",
    "bootstrap_sigmoid",
    "compare_recipes",
    "compute_to_target",
    "compute_to_target_interval",
    "fit_rl_power_law",
    "fit_scale_dependence",
    "fit_sigmoid",
    "rl_backtest",
    "sigmoid_curve",
]

#: ScaleRL's run-to-run margin on A (3 seeds: +/-0.015 observed, +/-0.02 used), arXiv:2510.13786 App. A.5.
SCALERL_NOISE_A = 0.02
#: Default early-transient cut as a fraction of the largest compute (ScaleRL starts fits after
#: ~1.5k of 50k GPU-hours, i.e. 3 %).
DEFAULT_TRANSIENT_FRACTION = 0.03


# ------------------------------------------------------------------------------------------------
# validation helpers
# ------------------------------------------------------------------------------------------------
def _as_1d(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _check_curve(C: Any, R: Any) -> tuple[np.ndarray, np.ndarray]:
    c = _as_1d(C, "C")
    r = _as_1d(R, "R")
    if c.shape != r.shape:
        raise ValueError(f"C and R must have the same shape, got {c.shape} and {r.shape}")
    if np.any(c < 0):
        raise ValueError("C (compute, GPU-hours) must be >= 0")
    return c, r


def _check_R0(R0: float) -> float:
    R0 = float(R0)
    if not math.isfinite(R0):
        raise ValueError("R0 must be finite")
    return R0


def _transient_cut(c: np.ndarray, transient_cut: float | None) -> float:
    if transient_cut is None:
        return DEFAULT_TRANSIENT_FRACTION * float(c.max())
    cut = float(transient_cut)
    if not math.isfinite(cut) or cut < 0:
        raise ValueError(f"transient_cut must be a finite number >= 0, got {transient_cut}")
    return cut


# ------------------------------------------------------------------------------------------------
# the law
# ------------------------------------------------------------------------------------------------
def sigmoid_curve(C: Any, R0: float, A: float, B: float, C_mid: float) -> np.ndarray | float:
    """ScaleRL sigmoid R(C) = R0 + (A - R0) / (1 + (C_mid / C)**B), vectorised.

    Parameters
    ----------
    C : float or ndarray, any shape
        RL training compute (GPU-hours in ScaleRL; any unit, as long as C_mid uses the same).
        Must be >= 0; C = 0 gives R0.
    R0 : float
        Pass rate of the starting policy (fraction, 0-1).
    A : float
        Asymptotic pass rate (fraction).
    B : float
        Scaling exponent, > 0 (dimensionless; steepness in log C).
    C_mid : float
        Compute at which half of the gain A - R0 is realised, > 0 (same unit as C).

    Returns
    -------
    ndarray of the shape of C (float for scalar C)
        Predicted pass rate R(C).

    Raises
    ------
    ValueError
        If C has NaN or negative values, or B <= 0, or C_mid <= 0, or a parameter is not finite.

    Notes
    -----
    Khatri et al. 2025 (ScaleRL), arXiv:2510.13786, Eq. 1. Evaluated as
    R0 + (A - R0) * expit(B * (ln C - ln C_mid)), which is stable for large B.
    """
    for name, v in (("R0", R0), ("A", A), ("B", B), ("C_mid", C_mid)):
        if not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite, got {v}")
    if B <= 0:
        raise ValueError(f"B must be > 0, got {B}")
    if C_mid <= 0:
        raise ValueError(f"C_mid must be > 0, got {C_mid}")
    c = np.asarray(C, dtype=float)
    if np.any(np.isnan(c)):
        raise ValueError("C contains NaN")
    if np.any(c < 0):
        raise ValueError("C (compute) must be >= 0")
    with np.errstate(divide="ignore"):
        z = B * (np.log(c) - math.log(C_mid))
    out = R0 + (A - R0) * expit(z)
    return float(out) if out.ndim == 0 else out


# ------------------------------------------------------------------------------------------------
# fitting
# ------------------------------------------------------------------------------------------------
def fit_sigmoid(
    C: Any,
    R: Any,
    *,
    R0: float,
    transient_cut: float | None = None,
    A_bounds: tuple[float, float] = (0.0, 1.0),
    A_step: float = 0.005,
    C_mid_range: tuple[float, float] | None = None,
    n_C_mid: int = 100,
    B_bounds: tuple[float, float] = (0.05, 10.0),
    n_B: int = 80,
    noise_A: float = SCALERL_NOISE_A,
) -> FitResult:
    """Fit the ScaleRL sigmoid R = R0 + (A - R0) / (1 + (C_mid / C)**B) with R0 fixed.

    Procedure (ScaleRL App. A.5, as summarised in the rl_published_fits PROVENANCE): drop the early
    transient (points with C < ``transient_cut``); grid-search A (step ``A_step``, default 0.005)
    and C_mid (``n_C_mid`` log-spaced values), with B fitted for every (A, C_mid) cell (here by a
    dense ``n_B``-point log grid evaluated in closed form, equivalent to a 1-D fit up to grid
    resolution); take the best cell and refine (A, log B, log C_mid) jointly by bounded least
    squares (``scipy.optimize.least_squares``, trust-region reflective). Objective: sum of squared
    residuals R_pred - R_obs in linear space.

    Parameters
    ----------
    C : array_like, shape (n,)
        RL training compute of each evaluation (GPU-hours), >= 0.
    R : array_like, shape (n,)
        Mean validation pass rate at C (fraction, 0-1).
    R0 : float
        Pass rate of the starting policy (from the initial evaluation); held fixed.
    transient_cut : float, optional
        Points with C < cut (and any C = 0) are dropped. Default: 3 % of max(C) (ScaleRL starts
        after ~1.5k of 50k GPU-hours). Recorded in ``extra["transient_cut"]``.
    A_bounds : (float, float)
        Bounds on A (default (0, 1)); A is also kept above R0.
    A_step : float
        Grid step of A (default 0.005, as ScaleRL).
    C_mid_range : (float, float), optional
        C_mid grid range (same unit as C); default [min(C_fit) / 100, max(C) * 100].
    n_C_mid : int
        Number of log-spaced C_mid grid values (default 100).
    B_bounds : (float, float)
        Bounds on B (default (0.05, 10)).
    n_B : int
        Number of log-spaced B values per grid cell (default 80).
    noise_A : float
        Run-to-run noise on A (default 0.02, ScaleRL) used to flag a poorly determined A.

    Returns
    -------
    FitResult
        law ``"rl_sigmoid"``, params {A, B, C_mid, R0}, loss ``"linear"``, space ``"linear"``;
        derived {gain = A - R0, frac_realised = share of the gain reached at max C};
        extra {transient_cut, n_dropped, A_profile_range (A values whose best SSE is within the
        95 % profile threshold), grid_best, rmse, at_A_bound}. ``message`` warns when A is poorly
        determined (curve has barely started to saturate: < 80 % of the gain realised at the
        largest compute, or the A profile range is wider than 2 * noise_A, or A at a bound).
        ``objective`` is the SSE; ``grad_norm`` is |J^T r| in the refined coordinates
        (A, ln B, ln C_mid); ``n_starts`` counts the (A, C_mid) grid cells.

    Raises
    ------
    ValueError
        Bad shapes, NaN, negative C, R0 >= upper A bound, bad bounds.
    InsufficientDataError
        Fewer than 3 points remain after the transient cut.

    Notes
    -----
    Khatri et al. 2025, arXiv:2510.13786 (Eq. 1, App. A.5-A.7). A and C_mid trade off when the
    data stop before saturation; read A with its ``A_profile_range``.
    """
    c_all, r_all = _check_curve(C, R)
    R0 = _check_R0(R0)
    cut = _transient_cut(c_all, transient_cut)
    keep = (c_all >= cut) & (c_all > 0)
    c, r = c_all[keep], r_all[keep]
    if c.size < 3:
        raise InsufficientDataError(
            f"fit_sigmoid needs at least 3 points with C >= transient_cut ({cut:.4g}); got {c.size}"
        )
    A_lo, A_hi = float(A_bounds[0]), float(A_bounds[1])
    if not (A_lo < A_hi):
        raise ValueError(f"A_bounds must be increasing, got {A_bounds}")
    if R0 >= A_hi:
        raise ValueError(f"R0 ({R0}) must be below the upper A bound ({A_hi})")
    B_lo, B_hi = float(B_bounds[0]), float(B_bounds[1])
    if not (0 < B_lo < B_hi):
        raise ValueError(f"B_bounds must satisfy 0 < lo < hi, got {B_bounds}")
    if C_mid_range is None:
        cm_lo, cm_hi = float(c.min()) / 100.0, float(c.max()) * 100.0
    else:
        cm_lo, cm_hi = float(C_mid_range[0]), float(C_mid_range[1])
        if not (0 < cm_lo < cm_hi):
            raise ValueError(f"C_mid_range must satisfy 0 < lo < hi, got {C_mid_range}")
    if A_step <= 0:
        raise ValueError(f"A_step must be > 0, got {A_step}")

    A_min = max(A_lo, R0 + 1e-6)
    A_grid = np.arange(math.ceil(A_min / A_step) * A_step, A_hi + 1e-12, A_step)
    A_grid = A_grid[(A_grid > R0) & (A_grid >= A_lo - 1e-12) & (A_grid <= A_hi + 1e-12)]
    if A_grid.size == 0:
        A_grid = np.array([0.5 * (A_min + A_hi)])
    lcm = np.linspace(math.log(cm_lo), math.log(cm_hi), int(n_C_mid))
    lB = np.linspace(math.log(B_lo), math.log(B_hi), int(n_B))
    lc = np.log(c)
    y = r - R0
    # s[k, j, i] = sigmoid(B_j * (ln C_i - ln C_mid_k))
    s = expit(np.exp(lB)[None, :, None] * (lc[None, None, :] - lcm[:, None, None]))
    Sy = s @ y  # (nc, nb)
    Ss = np.einsum("kji,kji->kj", s, s)
    Syy = float(y @ y)
    a = A_grid - R0
    sse = Syy - 2.0 * a[:, None, None] * Sy[None] + (a**2)[:, None, None] * Ss[None]
    ia, ik, ij = np.unravel_index(int(np.argmin(sse)), sse.shape)
    sse_min_grid = float(sse[ia, ik, ij])
    profile_A = sse.reshape(sse.shape[0], -1).min(axis=1)

    def resid(theta: np.ndarray) -> np.ndarray:
        A, lb, lm = theta
        return R0 + (A - R0) * expit(np.exp(lb) * (lc - lm)) - r

    lo = np.array([A_min, math.log(B_lo), math.log(cm_lo)])
    hi = np.array([A_hi, math.log(B_hi), math.log(cm_hi)])
    x0 = np.clip(np.array([A_grid[ia], lB[ij], lcm[ik]]), lo + 1e-9, hi - 1e-9)
    try:
        sol = least_squares(
            resid,
            x0,
            bounds=(lo, hi),
            method="trf",
            x_scale="jac",
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-12,
            max_nfev=2000,
        )
    except (ValueError, FloatingPointError) as exc:  # pragma: no cover - defensive
        raise FitError(f"sigmoid refinement failed: {exc}") from exc
    theta = sol.x if 2 * sol.cost <= sse_min_grid + 1e-15 else x0
    A, B, C_mid = float(theta[0]), float(math.exp(theta[1])), float(math.exp(theta[2]))
    rr = resid(theta)
    sse_fit = float(rr @ rr)
    n = int(c.size)
    grad = sol.jac.T @ sol.fun if sol.jac is not None else np.array([np.nan])
    frac = float(expit(B * (math.log(c.max()) - math.log(C_mid))))

    # profile range of A: cells whose SSE is within the 95 % chi2(1) threshold
    dof = max(n - 3, 1)
    thr = sse_fit + 3.841 * max(sse_fit, 1e-300) / dof
    in_range = A_grid[profile_A <= thr]
    A_range = (float(min(in_range.min(), A)), float(max(in_range.max(), A))) if in_range.size else (A, A)
    tol = 0.1 * A_step  # the refinement stops a hair inside an active bound
    at_bound = bool(A <= A_min + tol or A >= A_hi - tol)
    warnings: list[str] = []
    if frac < 0.8:
        warnings.append(
            f"A poorly determined: only {100 * frac:.0f}% of the fitted gain is realised at the "
            "largest compute (curve has barely started to saturate); A is an extrapolation"
        )
    if A_range[1] - A_range[0] > 2 * noise_A:
        warnings.append(
            f"A poorly determined: A in [{A_range[0]:.3f}, {A_range[1]:.3f}] fits about as well "
            f"(wider than +/-{noise_A})"
        )
    if at_bound:
        warnings.append(f"A at its bound ({A:.4f}); the ceiling is not identified")
    msg = "; ".join(warnings) if warnings else str(sol.message)
    return FitResult(
        law="rl_sigmoid",
        params={"A": A, "B": B, "C_mid": C_mid, "R0": R0},
        n_points=n,
        objective=sse_fit,
        loss="linear",
        delta=None,
        space="linear",
        optimizer="grid (A x C_mid, B per cell) + least_squares TRF refine",
        n_starts=int(A_grid.size * lcm.size),
        grad_norm=float(np.linalg.norm(grad)),
        success=bool(sol.status > 0),
        message=msg,
        derived={"gain": A - R0, "frac_realised": frac},
        extra={
            "transient_cut": cut,
            "n_dropped": int(c_all.size - n),
            "A_profile_range": A_range,
            "grid_best": {
                "A": float(A_grid[ia]),
                "B": float(math.exp(lB[ij])),
                "C_mid": float(math.exp(lcm[ik])),
                "sse": sse_min_grid,
            },
            "rmse": math.sqrt(sse_fit / n),
            "at_A_bound": at_bound,
            "A_bounds": (A_lo, A_hi),
            "B_bounds": (B_lo, B_hi),
            "C_mid_range": (cm_lo, cm_hi),
        },
    )


def fit_rl_power_law(C: Any, R: Any, *, R0: float, transient_cut: float | None = None) -> FitResult:
    """Fit the ceiling-free power law R = R0 + k * C**p (k > 0, p > 0) with R0 fixed.

    This is the comparison form ScaleRL argues against (arXiv:2510.13786, App. A.4): it has no
    asymptote, so it keeps rising when extrapolated. Initial guess from a straight line of
    ln(R - R0) against ln C over the points with R > R0; then least squares in linear space.

    Parameters
    ----------
    C : array_like, shape (n,)
        RL compute (GPU-hours), >= 0.
    R : array_like, shape (n,)
        Pass rate (fraction).
    R0 : float
        Pass rate of the starting policy; held fixed.
    transient_cut : float, optional
        As in :func:`fit_sigmoid` (default 3 % of max C).

    Returns
    -------
    FitResult
        law ``"rl_power"``, params {k, p, R0}; loss ``"linear"``, space ``"linear"``;
        extra {transient_cut, rmse}.

    Raises
    ------
    ValueError
        Bad shapes, NaN, negative C.
    InsufficientDataError
        Fewer than 2 points after the cut, or no point above R0.
    """
    c_all, r_all = _check_curve(C, R)
    R0 = _check_R0(R0)
    cut = _transient_cut(c_all, transient_cut)
    keep = (c_all >= cut) & (c_all > 0)
    c, r = c_all[keep], r_all[keep]
    if c.size < 2:
        raise InsufficientDataError(f"fit_rl_power_law needs at least 2 points; got {c.size}")
    pos = r > R0
    if pos.sum() < 1:
        raise InsufficientDataError("fit_rl_power_law needs points above R0")
    lc = np.log(c)
    if pos.sum() >= 2 and np.ptp(lc[pos]) > 0:
        p0, lk0 = np.polyfit(lc[pos], np.log(r[pos] - R0), 1)
        p0 = float(np.clip(p0, 1e-3, 5.0))
    else:
        p0, lk0 = 0.5, float(np.log(np.mean(r[pos] - R0)))

    def resid(theta: np.ndarray) -> np.ndarray:
        lk, p = theta
        return R0 + np.exp(lk + p * lc) - r

    sol = least_squares(
        resid,
        np.array([lk0, p0]),
        bounds=([-50.0, 1e-4], [50.0, 10.0]),
        method="trf",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
    )
    lk, p = sol.x
    sse = float(sol.fun @ sol.fun)
    return FitResult(
        law="rl_power",
        params={"k": float(math.exp(lk)), "p": float(p), "R0": R0},
        n_points=int(c.size),
        objective=sse,
        loss="linear",
        space="linear",
        optimizer="log-log line + least_squares TRF",
        n_starts=1,
        grad_norm=float(np.linalg.norm(sol.jac.T @ sol.fun)),
        success=bool(sol.status > 0),
        message="no ceiling: extrapolation grows without bound (ScaleRL App. A.4)",
        extra={"transient_cut": cut, "rmse": math.sqrt(sse / c.size)},
    )


# ------------------------------------------------------------------------------------------------
# inversion
# ------------------------------------------------------------------------------------------------
def _params_of(params: Mapping[str, float] | FitResult) -> dict[str, float]:
    p = params.params if isinstance(params, FitResult) else params
    missing = [k for k in ("A", "B", "C_mid", "R0") if k not in p]
    if missing:
        raise ValueError(f"params lack {missing} (need A, B, C_mid, R0)")
    return {k: float(p[k]) for k in ("A", "B", "C_mid", "R0")}


def compute_to_target(params: Mapping[str, float] | FitResult, target: float) -> float:
    """Compute needed to reach pass rate ``target`` on a fitted ScaleRL curve (closed form).

    Inverting R = R0 + (A - R0) / (1 + (C_mid / C)**B):

        C = C_mid * ((A - R0) / (target - R0) - 1) ** (-1 / B)

    Parameters
    ----------
    params : mapping or FitResult
        A, B, C_mid, R0 (pass rates as fractions, C_mid in GPU-hours).
    target : float
        Target pass rate (fraction).

    Returns
    -------
    float
        Compute in the unit of C_mid (GPU-hours); ``math.inf`` when target >= A (unreachable).

    Raises
    ------
    ValueError
        If target <= R0 (already reached before any RL compute: meaningless), A <= R0, B <= 0,
        C_mid <= 0, or a value is NaN.

    Notes
    -----
    Khatri et al. 2025, arXiv:2510.13786, Eq. 1. At target = (A + R0) / 2 the answer is C_mid.
    """
    p = _params_of(params)
    target = float(target)
    if any(math.isnan(v) for v in (*p.values(), target)):
        raise ValueError("params and target must not be NaN")
    A, B, C_mid, R0 = p["A"], p["B"], p["C_mid"], p["R0"]
    if B <= 0 or C_mid <= 0:
        raise ValueError(f"need B > 0 and C_mid > 0, got B={B}, C_mid={C_mid}")
    if A <= R0:
        raise ValueError(f"A ({A}) must exceed R0 ({R0}) for an improving curve")
    if target <= R0:
        raise ValueError(
            f"target {target} <= R0 {R0}: already reached by the starting policy; "
            "compute-to-target is meaningless"
        )
    if target >= A:
        return math.inf
    return C_mid * ((A - R0) / (target - R0) - 1.0) ** (-1.0 / B)


def compute_to_target_interval(
    boot: Bootstrap, target: float, *, R0: float | None = None, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of compute-to-``target`` over bootstrap replicates of (A, B, C_mid).

    Each replicate b gives C_b = C_mid_b * ((A_b - R0) / (target - R0) - 1)**(-1 / B_b), or inf
    when target >= A_b; the interval takes sample quantiles (``inverted_cdf``, so infinite
    replicates give an infinite upper end instead of NaN). Failed (NaN) replicates are ignored.

    Parameters
    ----------
    boot : Bootstrap
        With replicate arrays ``A``, ``B``, ``C_mid`` (and ``R0`` unless given).
    target : float
        Target pass rate (fraction), > R0.
    R0 : float, optional
        Starting pass rate; default: the replicates' ``R0``.
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    (float, float)
        Lower and upper compute (GPU-hours); (nan, nan) when no replicate is valid.

    Raises
    ------
    ValueError
        target <= R0, level outside (0, 1), missing replicates.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    for k in ("A", "B", "C_mid"):
        if k not in boot.replicates:
            raise ValueError(f"bootstrap lacks replicates of {k}")
    A = np.asarray(boot.replicates["A"], float)
    B = np.asarray(boot.replicates["B"], float)
    Cm = np.asarray(boot.replicates["C_mid"], float)
    if R0 is None:
        if "R0" not in boot.replicates:
            raise ValueError("give R0 or store R0 replicates")
        r0 = np.asarray(boot.replicates["R0"], float)
    else:
        r0 = np.full_like(A, float(R0))
    ok = np.isfinite(A) & np.isfinite(B) & np.isfinite(Cm) & np.isfinite(r0)
    if np.any(float(target) <= r0[ok]):
        raise ValueError(f"target {target} <= R0: compute-to-target is meaningless")
    vals = np.array(
        [
            compute_to_target({"A": a, "B": b, "C_mid": m, "R0": z}, target) if a > z else math.inf
            for a, b, m, z in zip(A[ok], B[ok], Cm[ok], r0[ok], strict=True)
        ]
    )
    if vals.size == 0:
        return (math.nan, math.nan)
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    lo, hi = np.quantile(vals, q, method="inverted_cdf")
    return (float(lo), float(hi))


# ------------------------------------------------------------------------------------------------
# uncertainty and validation
# ------------------------------------------------------------------------------------------------
def bootstrap_sigmoid(
    C: Any,
    R: Any,
    *,
    R0: float,
    n_boot: int,
    rng: np.random.Generator,
    groups: Any = None,
    targets: Sequence[float] = (),
    transient_cut: float | None = None,
    seed: int = -1,
    **fit_kwargs: Any,
) -> Bootstrap:
    """Nonparametric bootstrap of the ScaleRL sigmoid fit.

    Each replicate resamples, with replacement, either the evaluation points (``groups`` None,
    unit ``"point"``) or whole groups, e.g. seeds or runs (cluster bootstrap, unit ``"run"``),
    and refits with :func:`fit_sigmoid` (same R0 and the same transient cut as the full-data fit).

    Parameters
    ----------
    C, R : array_like, shape (n,)
        Compute (GPU-hours, >= 0) and pass rate (fraction) of each evaluation.
    R0 : float
        Starting pass rate, fixed in every replicate.
    n_boot : int
        Number of replicates, >= 1.
    rng : numpy.random.Generator
        Source of the resamples.
    groups : array_like, shape (n,), optional
        Group label of each point (seed or run id); whole groups are resampled.
    targets : sequence of float
        Pass rates for which compute-to-target replicates are added as ``C_to_<target>``.
    transient_cut : float, optional
        Cut used in every replicate; default 3 % of max(C) of the full data.
    seed : int
        Recorded in ``Bootstrap.seed`` only (the generator is ``rng``); -1 = unknown.
    **fit_kwargs
        Passed to :func:`fit_sigmoid` (grid sizes, bounds).

    Returns
    -------
    Bootstrap
        replicates A, B, C_mid, R0 (and C_to_<target>), NaN where the refit failed;
        method ``"nonparametric"``.

    Raises
    ------
    ValueError
        Bad shapes, NaN, n_boot < 1, groups of the wrong length.

    Notes
    -----
    METHODS.md section 10: resample whole runs when several checkpoints come from one run.
    ScaleRL (arXiv:2510.13786) uses 3 seeds to put +/-0.02 on A.
    """
    c, r = _check_curve(C, R)
    R0 = _check_R0(R0)
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    cut = _transient_cut(c, transient_cut)
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != c.shape:
            raise ValueError(f"groups must have shape {c.shape}, got {g.shape}")
        labels = np.unique(g)
        members = [np.flatnonzero(g == lab) for lab in labels]
        unit = "run"
    else:
        members = [np.array([i]) for i in range(c.size)]
        unit = "point"
    keys = ["A", "B", "C_mid", "R0"] + [f"C_to_{t:g}" for t in targets]
    reps = {k: np.full(int(n_boot), np.nan) for k in keys}
    for b in range(int(n_boot)):
        pick = rng.integers(0, len(members), size=len(members))
        idx = np.concatenate([members[i] for i in pick])
        try:
            f = fit_sigmoid(c[idx], r[idx], R0=R0, transient_cut=cut, **fit_kwargs)
        except (InsufficientDataError, FitError, ValueError):
            continue
        for k in ("A", "B", "C_mid", "R0"):
            reps[k][b] = f.params[k]
        for t in targets:
            reps[f"C_to_{t:g}"][b] = compute_to_target(f, t) if t > R0 else np.nan
    return Bootstrap(replicates=reps, seed=int(seed), unit=unit, method="nonparametric")


def rl_backtest(
    C: Any,
    R: Any,
    *,
    R0: float,
    fit_fraction: float = 0.5,
    transient_cut: float | None = None,
    **fit_kwargs: Any,
) -> dict[str, Any]:
    """Fit the sigmoid on the first part of the compute axis and predict the rest.

    ScaleRL's check (arXiv:2510.13786: fit up to 50k GPU-hours, predict to 100k): points with
    C <= fit_fraction * max(C) are fitted (after the transient cut), points beyond are predicted.

    Parameters
    ----------
    C, R : array_like, shape (n,)
        Compute (GPU-hours, >= 0) and pass rate (fraction).
    R0 : float
        Starting pass rate.
    fit_fraction : float
        Share of the compute axis used for fitting, in (0, 1); default 0.5.
    transient_cut : float, optional
        Default 3 % of max(C) of the full curve.
    **fit_kwargs
        Passed to :func:`fit_sigmoid`.

    Returns
    -------
    dict
        ``fit`` (FitResult), ``C_split``, ``n_fit``, ``n_test``, ``C_test``, ``R_test``,
        ``R_pred`` (ndarrays), ``mean_abs_error``, ``max_abs_error`` (pass-rate points, fraction),
        ``mean_rel_error``, ``max_rel_error`` (|pred - obs| / obs), ``extrapolation_ratio``
        (max C / C_split).

    Raises
    ------
    ValueError
        Bad shapes, NaN, fit_fraction outside (0, 1).
    InsufficientDataError
        Fewer than 3 fit points or no held-out point.
    """
    c, r = _check_curve(C, R)
    if not 0.0 < fit_fraction < 1.0:
        raise ValueError(f"fit_fraction must be in (0, 1), got {fit_fraction}")
    cut = _transient_cut(c, transient_cut)
    split = fit_fraction * float(c.max())
    train = c <= split
    test = ~train
    if not test.any():
        raise InsufficientDataError("rl_backtest: no held-out point beyond the split")
    fit = fit_sigmoid(c[train], r[train], R0=R0, transient_cut=cut, **fit_kwargs)
    p = fit.params
    pred = np.asarray(sigmoid_curve(c[test], p["R0"], p["A"], p["B"], p["C_mid"]))
    err = np.abs(pred - r[test])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(r[test] != 0, err / np.abs(r[test]), np.inf)
    return {
        "fit": fit,
        "C_split": split,
        "n_fit": fit.n_points,
        "n_test": int(test.sum()),
        "C_test": c[test],
        "R_test": r[test],
        "R_pred": pred,
        "mean_abs_error": float(err.mean()),
        "max_abs_error": float(err.max()),
        "mean_rel_error": float(rel.mean()),
        "max_rel_error": float(rel.max()),
        "extrapolation_ratio": float(c.max()) / split,
    }


# ------------------------------------------------------------------------------------------------
# recipe comparison and scale dependence
# ------------------------------------------------------------------------------------------------
def _disjoint(lo1: float, hi1: float, lo2: float, hi2: float) -> bool | None:
    if any(math.isnan(v) for v in (lo1, hi1, lo2, hi2)):
        return None
    return hi1 < lo2 or hi2 < lo1


#: Colour classes of :func:`compare_recipes` verdicts (``verdict`` column), best first.
RECIPE_VERDICTS: tuple[str, ...] = (
    "baseline",
    "better",
    "trade-off",
    "slower",
    "worse",
    "no significant difference",
)


def _recipe_label(ceiling: int, faster: list[str], slower: list[str]) -> tuple[str, str]:
    """(label, verdict) from the ceiling direction (+1/0/-1) and the significant efficiency changes."""
    fast, slow = ", ".join(faster), ", ".join(slower)
    if faster and slower:
        eff = f"mixed efficiency ({fast}; {slow})"
    elif faster:
        eff = f"faster ({fast})"
    elif slower:
        eff = f"slower ({slow})"
    else:
        eff = ""
    if ceiling > 0:
        if faster and not slower:
            return "both", "better"
        if not eff:
            return "ceiling-raiser", "better"
        return f"ceiling-raiser, {eff}", "trade-off"
    if ceiling < 0:
        if faster and not slower:
            return f"{eff}, lower ceiling", "trade-off"
        return ("worse (lower ceiling)" + (f", {eff}" if eff else "")), "worse"
    if faster and not slower:
        return "efficiency-raiser", "better"
    if slower and not faster:
        return f"{eff}, ceiling not significantly different", "slower"
    if eff:
        return f"{eff}, ceiling not significantly different", "trade-off"
    return "no significant difference", "no significant difference"


def compare_recipes(
    fits: Mapping[str, FitResult],
    *,
    baseline: str,
    noise_A: float = SCALERL_NOISE_A,
    rel_noise_B: float = 0.10,
    rel_noise_C_mid: float = 0.10,
    level: float = 0.95,
) -> pl.DataFrame:
    """Compare fitted ScaleRL curves of recipe variants against a baseline: ceiling (A) vs efficiency (B, C_mid).

    Significance rules (documented choices):

    * **A** differs iff |dA| > noise_A (ScaleRL's run-to-run margin, default 0.02) AND, when both
      fits carry bootstrap replicates, their ``level`` intervals of A do not overlap.
    * **B** differs iff |B_v / B_base - 1| > rel_noise_B AND (with bootstraps) B intervals are
      disjoint; **C_mid** likewise with rel_noise_C_mid.

    Each significant change has a direction. Ceiling: higher A is better. Efficiency: higher B
    ("steeper B") or lower C_mid ("lower C_mid") is faster; lower B ("flatter B") or higher C_mid
    ("higher C_mid") is slower. Only significant changes count; efficiency is "faster" when every
    significant efficiency change is an improvement, "slower" when every one is a regression, "mixed"
    when there are both.

    Labels (``label``) and colour classes (``verdict``, one of :data:`RECIPE_VERDICTS`):

    ==================  =====================  ====================================================  =========
    ceiling (A)          efficiency            label                                                 verdict
    ==================  =====================  ====================================================  =========
    (baseline row)       --                    "baseline"                                            baseline
    higher               faster                "both"                                                better
    higher               none significant      "ceiling-raiser"                                      better
    higher               slower / mixed        "ceiling-raiser, slower (higher C_mid)" etc.          trade-off
    not significant      faster                "efficiency-raiser"                                   better
    not significant      slower                "slower (higher C_mid), ceiling not significantly     slower
                                               different"
    not significant      mixed                 "mixed efficiency (...), ceiling not significantly    trade-off
                                               different"
    not significant      none significant      "no significant difference"                           no sig.
    lower                faster                "faster (lower C_mid), lower ceiling" etc.            trade-off
    lower                none / slower / mixed "worse (lower ceiling)" [+ ", slower (...)"]          worse
    ==================  =====================  ====================================================  =========

    Hence "worse" requires a significantly *lower* A: a variant whose A is higher than the baseline's
    by more than noise_A is never "worse" (it is a ceiling-raiser when the intervals are disjoint,
    otherwise its ceiling is "not significantly different").

    Parameters
    ----------
    fits : mapping str -> FitResult
        ``rl_sigmoid`` fits (params A, B, C_mid), optionally with ``bootstrap``.
    baseline : str
        Key of the baseline recipe.
    noise_A : float
        Threshold on |dA| (pass-rate fraction).
    rel_noise_B, rel_noise_C_mid : float
        Relative thresholds on B and C_mid changes (default 10 %, our choice).
    level : float
        Interval level for the overlap rule.

    Returns
    -------
    polars.DataFrame
        One row per variant: variant, A, A_lo, A_hi, B, B_lo, B_hi, C_mid, C_mid_lo, C_mid_hi,
        dA, dB, C_mid_ratio, sig_A, sig_B, sig_C_mid, significant, label, verdict.

    Raises
    ------
    ValueError
        If ``baseline`` is not in ``fits``, ``fits`` is empty, or a fit lacks A, B or C_mid.

    Notes
    -----
    Khatri et al. 2025, arXiv:2510.13786, Sec. 4 / App. A.5 (ceiling vs efficiency).
    """
    if not fits:
        raise ValueError("fits is empty")
    if baseline not in fits:
        raise ValueError(f"baseline {baseline!r} not among fits {sorted(fits)}")
    for name, f in fits.items():
        if not all(k in f.params for k in ("A", "B", "C_mid")):
            raise ValueError(f"fit {name!r} lacks A, B or C_mid")

    def iv(f: FitResult, k: str) -> tuple[float, float]:
        return f.interval(k, level)

    base = fits[baseline]
    bA, bB, bM = (base.params[k] for k in ("A", "B", "C_mid"))
    rows = []
    for name, f in fits.items():
        A, B, M = (f.params[k] for k in ("A", "B", "C_mid"))
        (Alo, Ahi), (Blo, Bhi), (Mlo, Mhi) = iv(f, "A"), iv(f, "B"), iv(f, "C_mid")
        dA, dB, ratio = A - bA, B - bB, M / bM
        if name == baseline:
            sig_A = sig_B = sig_M = False
            label = verdict = "baseline"
        else:
            dj = _disjoint(Alo, Ahi, *iv(base, "A"))
            sig_A = abs(dA) > noise_A and dj is not False
            dj = _disjoint(Blo, Bhi, *iv(base, "B"))
            sig_B = abs(B / bB - 1) > rel_noise_B and dj is not False
            dj = _disjoint(Mlo, Mhi, *iv(base, "C_mid"))
            sig_M = abs(ratio - 1) > rel_noise_C_mid and dj is not False
            faster = [
                w for w, ok in (("steeper B", sig_B and dB > 0), ("lower C_mid", sig_M and ratio < 1)) if ok
            ]
            slower = [
                w for w, ok in (("flatter B", sig_B and dB < 0), ("higher C_mid", sig_M and ratio > 1)) if ok
            ]
            ceiling = (1 if dA > 0 else -1) if sig_A else 0
            label, verdict = _recipe_label(ceiling, faster, slower)
        rows.append(
            {
                "variant": name,
                "A": A, "A_lo": Alo, "A_hi": Ahi,
                "B": B, "B_lo": Blo, "B_hi": Bhi,
                "C_mid": M, "C_mid_lo": Mlo, "C_mid_hi": Mhi,
                "dA": dA, "dB": dB, "C_mid_ratio": ratio,
                "sig_A": sig_A, "sig_B": sig_B, "sig_C_mid": sig_M,
                "significant": bool(sig_A or sig_B or sig_M),
                "label": label,
                "verdict": verdict,
            }
        )  # fmt: skip
    return pl.DataFrame(rows)


def fit_scale_dependence(N: Any, A: Any, C_mid: Any) -> dict[str, Any]:
    """Fit how the ScaleRL asymptote A and midpoint C_mid change with model size N.

    A = a0 + a1 * log10(N)  (linear in log N);  log10(C_mid) = m0 + m1 * log10(N), i.e.
    C_mid = 10**m0 * N**m1  (log-linear), both by ordinary least squares.

    Parameters
    ----------
    N : array_like, shape (k,)
        Model sizes (parameters), > 0; k >= 2 with at least 2 distinct sizes.
    A : array_like, shape (k,)
        Fitted asymptotes (fraction) for each N.
    C_mid : array_like, shape (k,)
        Fitted midpoints (GPU-hours), > 0.

    Returns
    -------
    dict
        ``A_intercept`` (a0), ``A_per_decade`` (a1), ``C_mid_log10_intercept`` (m0),
        ``C_mid_exponent`` (m1), ``n_sizes``, ``A_rmse``, ``C_mid_log10_rmse`` and ``message``
        (says when only 2 sizes exist: the lines pass exactly through them, no residual check).

    Raises
    ------
    ValueError
        Shape mismatch, NaN, N <= 0 or C_mid <= 0.
    InsufficientDataError
        Fewer than 2 distinct model sizes.

    Notes
    -----
    ScaleRL (arXiv:2510.13786) reports a larger model (17Bx16 MoE) with a higher A (0.71 vs 0.61
    for 8B); this helper only summarises such per-size fits, it is not a law from the paper.
    """
    n = _as_1d(N, "N")
    a = _as_1d(A, "A")
    m = _as_1d(C_mid, "C_mid")
    if not (n.shape == a.shape == m.shape):
        raise ValueError(f"N, A, C_mid must have the same shape, got {n.shape}, {a.shape}, {m.shape}")
    if np.any(n <= 0):
        raise ValueError("N (parameters) must be > 0")
    if np.any(m <= 0):
        raise ValueError("C_mid must be > 0")
    k = int(np.unique(n).size)
    if k < 2:
        raise InsufficientDataError(
            f"fit_scale_dependence needs at least 2 distinct model sizes, got {k}; "
            "A and C_mid cannot be related to N"
        )
    x = np.log10(n)
    a1, a0 = np.polyfit(x, a, 1)
    m1, m0 = np.polyfit(x, np.log10(m), 1)
    res_a = a - (a0 + a1 * x)
    res_m = np.log10(m) - (m0 + m1 * x)
    msg = (
        "only 2 model sizes: the lines pass exactly through them (no residual check)"
        if k == 2
        else f"fitted on {k} model sizes"
    )
    return {
        "A_intercept": float(a0),
        "A_per_decade": float(a1),
        "C_mid_log10_intercept": float(m0),
        "C_mid_exponent": float(m1),
        "n_sizes": k,
        "A_rmse": float(np.sqrt(np.mean(res_a**2))),
        "C_mid_log10_rmse": float(np.sqrt(np.mean(res_m**2))),
        "message": msg,
    }
