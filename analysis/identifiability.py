"""Is a fitted scaling law identified by its runs? Spans, objective profiles, verdicts and warnings.

A law fitted to runs that span a narrow range of N, D or C (or too few of them) can return exponents with a tight
bootstrap interval that still excludes the truth: the objective is flat along a ridge and the optimiser, and every
bootstrap refit warm-started from it, lands on an arbitrary point of that ridge. The checks here make that visible:

* the span of each input (N, D, C) in decades, ``log10(max / min)``;
* a **profile** of the objective over each exponent (and the asymptote E): the parameter is held fixed on a grid
  and every other parameter refitted; the values whose objective rise stays within the noise form the profile
  range. The rule (:func:`profile_threshold`) is the F-test profile region of Bates & Watts (1988, "Nonlinear
  Regression Analysis and Its Applications", s.6.1): ``f(theta) - f_min <= f_min * F_{0.95}(1, n - p) / (n - p)``,
  with the minimum objective per residual degree of freedom as the noise scale. It is exact for Gaussian least
  squares and, for the log-space Huber objective with delta = 1e-3 (close to least absolute deviations), about
  twice as wide as the Laplace likelihood-ratio region, i.e. conservative;
* a verdict per parameter: ``"identified"`` when the range is closed inside the profiled grid, ``"weakly
  identified"`` when that closed range is wider than the estimate or than half the grid, ``"not identified"``
  when the profile is flat up to an end of the grid (the parameter's bound), ``"fixed"`` for a constrained
  parameter; with zero residual degrees of freedom nothing is identified. The bootstrap interval of a parameter
  that is not identified is marked untrustworthy;
* warnings for parameters at a bound, spans under one decade, fewer than two points per free parameter and zero
  residual degrees of freedom.

Every function here is pure (numpy/scipy); the fitter is passed in as a callable.

References
----------
Bates & Watts (1988), Nonlinear Regression Analysis and Its Applications, Wiley, s.6.1 (profile t / F regions).
Besiroglu et al. (2024), arXiv:2404.10102 (likelihood-ratio tests on the Chinchilla fit).
Li, Kudugunta, Zettlemoyer (2025), arXiv:2502.18969 (reporting checklist).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import f as f_dist

__all__ = [
    "MIN_SPAN_DECADES",
    "POINTS_PER_PARAM",
    "PROFILE_RULE",
    "assess",
    "loss_to_error_identifiability",
    "overtraining_identifiability",
    "profile_grid",
    "profile_parameter",
    "profile_threshold",
    "span_decades",
]

#: An input spanning less than this many decades (log10(max/min)) is flagged: exponents are weakly constrained.
MIN_SPAN_DECADES = 1.0
#: Fewer than this many points per free parameter is flagged ("too few points").
POINTS_PER_PARAM = 2
#: A closed range wider than this fraction of the profiled grid is only "weakly identified" ...
WEAK_GRID_FRACTION = 0.5
#: ... and so is one wider than this multiple of the estimate (e.g. alpha = 0.3 within the noise from 0.1 to 0.5).
WEAK_RELATIVE_WIDTH = 1.0
#: The rule that turns the profile into a range, as stated in every identifiability record.
PROFILE_RULE = (
    "profile range = parameter values whose objective, with every other parameter refitted, rises above the "
    "minimum by at most f_min * F_0.95(1, n - p) / (n - p) (Bates & Watts 1988 F-test profile region; "
    "n points, p free parameters; conservative for the Huber objective). Not identified = the range reaches "
    "the end of the profiled grid (the parameter's bound): the runs do not pin the parameter down. Weakly "
    "identified = a closed range wider than the estimate itself or than half the profiled grid."
)


def span_decades(x: ArrayLike) -> float:
    """Span of a positive quantity in decades, ``log10(max / min)`` (NaN for an empty or non-positive input).

    Parameters
    ----------
    x : ndarray, shape (n,)
        Values > 0 (parameters, tokens or FLOPs).

    Returns
    -------
    float
        Decades spanned; 0 for a single distinct value.
    """
    a = np.asarray(x, dtype=float)
    a = a[np.isfinite(a) & (a > 0)]
    if a.size == 0:
        return math.nan
    return float(np.log10(a.max() / a.min()))


def profile_threshold(f_min: float, n: int, p: int, level: float = 0.95) -> float:
    """Largest objective rise over ``f_min`` that is within the noise (see :data:`PROFILE_RULE`).

    Parameters
    ----------
    f_min : float
        Objective at the optimum (>= 0).
    n : int
        Points fitted.
    p : int
        Free parameters of the fit.
    level : float
        Confidence level in (0, 1), default 0.95.

    Returns
    -------
    float
        ``f_min * F_level(1, n - p) / (n - p)``; NaN when ``n - p <= 0`` (no noise estimate).

    Raises
    ------
    ValueError
        If ``level`` is not in (0, 1) or ``f_min`` < 0.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if not f_min >= 0:
        raise ValueError(f"f_min must be >= 0, got {f_min}")
    dof = int(n) - int(p)
    if dof <= 0:
        return math.nan
    return float(f_min * f_dist.ppf(level, 1, dof) / dof)


def profile_grid(best: float, lo: float, hi: float, n_wide: int = 13, n_local: int = 9) -> np.ndarray:
    """Profile grid: ``n_wide`` values evenly over [lo, hi] plus ``n_local`` within +/-50% of ``best`` (clipped).

    Returns
    -------
    ndarray, shape (k,)
        Sorted unique values in [lo, hi].

    Raises
    ------
    ValueError
        If ``lo >= hi`` or they are not finite.
    """
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite lo < hi, got {lo}, {hi}")
    wide = np.linspace(lo, hi, n_wide)
    b = min(max(best, lo), hi) if math.isfinite(best) else 0.5 * (lo + hi)
    local = b + 0.5 * max(abs(b), 0.1 * (hi - lo)) * np.linspace(-1, 1, n_local)
    return np.unique(np.clip(np.concatenate([wide, local]), lo, hi))


def profile_parameter(
    refit: Callable[[float], float],
    grid: ArrayLike,
    best: float,
    f_min: float,
    threshold: float,
    bisect: int = 6,
) -> dict[str, Any]:
    """Profile the objective over one parameter and read off its within-noise range.

    Parameters
    ----------
    refit : callable
        ``refit(value) -> objective``: the minimum objective with the parameter fixed at ``value`` and every
        other parameter refitted (may raise ValueError/RuntimeError; such grid values are skipped).
    grid : ndarray, shape (k,)
        Values to profile (the parameter's allowed range, see :func:`profile_grid`).
    best : float
        The unconstrained optimum of the parameter (objective ``f_min`` there).
    f_min : float
        Objective at the optimum.
    threshold : float
        Allowed rise (:func:`profile_threshold`); NaN means no noise estimate (zero degrees of freedom).
    bisect : int
        Bisection steps (each one refit) locating each end of the range between its two grid values.

    Returns
    -------
    dict
        ``grid`` and ``rise`` (objective minus f_min at each grid value; None where the refit failed),
        ``range`` [lo, hi] (the connected within-noise set around ``best``, ends located by bisection between
        grid values; None without a noise scale), ``lower_open`` / ``upper_open`` (the set reaches that end of the
        grid), ``verdict`` ("identified", "weakly identified" or "not identified") and ``reason``.
    """
    g = np.asarray(grid, dtype=float)
    g = np.unique(np.concatenate([g, [best]])) if math.isfinite(best) else np.unique(g)
    rise = np.full(g.size, np.nan)
    for i, v in enumerate(g):
        if math.isfinite(best) and v == best:
            rise[i] = 0.0
            continue
        try:
            rise[i] = float(refit(float(v))) - f_min
        except (ValueError, RuntimeError, FloatingPointError):
            continue
    # a refit cannot beat the optimum by more than rounding; a lower value means the main fit missed a minimum
    rise = np.where(np.isfinite(rise), np.maximum(rise, 0.0), np.nan)
    out: dict[str, Any] = {
        "grid": [float(v) for v in g],
        "rise": [None if not np.isfinite(r) else float(r) for r in rise],
        "threshold": None if not math.isfinite(threshold) else float(threshold),
        "range": None,
        "lower_open": True,
        "upper_open": True,
    }
    if not math.isfinite(threshold):
        out.update(verdict="not identified", reason="zero residual degrees of freedom: no noise scale")
        return out
    ok = np.isfinite(rise)
    gi, ri = g[ok], rise[ok]
    k = int(np.argmin(np.abs(gi - best))) if math.isfinite(best) else int(np.argmin(ri))
    within = ri <= threshold
    lo_i = k
    while lo_i > 0 and within[lo_i - 1]:
        lo_i -= 1
    hi_i = k
    while hi_i < gi.size - 1 and within[hi_i + 1]:
        hi_i += 1
    lower_open, upper_open = lo_i == 0, hi_i == gi.size - 1

    def cross(i_in: int, i_out: int) -> float:
        """Where the rise crosses the threshold between two grid values: bisection with the refit, then linear."""
        a, b, ra, rb = float(gi[i_in]), float(gi[i_out]), float(ri[i_in]), float(ri[i_out])
        for _ in range(bisect):
            m = 0.5 * (a + b)
            try:
                rm = max(float(refit(m)) - f_min, 0.0)
            except (ValueError, RuntimeError, FloatingPointError):
                break
            if rm <= threshold:
                a, ra = m, rm
            else:
                b, rb = m, rm
        t = (threshold - ra) / (rb - ra) if rb != ra else 0.0
        return float(a + t * (b - a))

    lo = float(gi[0]) if lower_open else cross(lo_i, lo_i - 1)
    hi = float(gi[-1]) if upper_open else cross(hi_i, hi_i + 1)
    flat = lower_open or upper_open
    side = " and ".join(s for s, o in (("lower", lower_open), ("upper", upper_open)) if o)
    width, span = hi - lo, float(gi[-1] - gi[0])
    ref = abs(best) if math.isfinite(best) else abs(0.5 * (lo + hi))
    weak = (not flat) and (
        width > WEAK_GRID_FRACTION * span or (ref > 0 and width > WEAK_RELATIVE_WIDTH * ref)
    )
    if flat:
        verdict = "not identified"
        reason = (
            f"the objective stays within the noise up to the {side} end of the profiled range "
            f"[{gi[0]:.3g}, {gi[-1]:.3g}]"
        )
    elif weak:
        verdict = "weakly identified"
        reason = (
            f"the within-noise range [{lo:.3g}, {hi:.3g}] is wider than the estimate itself or than half the "
            f"profiled range [{gi[0]:.3g}, {gi[-1]:.3g}]"
        )
    else:
        verdict, reason = "identified", "the profile rises above the noise threshold on both sides"
    out.update(
        range=[lo, hi],
        lower_open=bool(lower_open),
        upper_open=bool(upper_open),
        verdict=verdict,
        reason=reason,
    )
    return out


def assess(
    *,
    n_points: int,
    n_free: int,
    f_min: float,
    profiles: Mapping[str, tuple[Callable[[float], float], Sequence[float] | np.ndarray, float]],
    spans: Mapping[str, float],
    fixed: Sequence[str] = (),
    at_bound: Sequence[str] = (),
    converged: bool = True,
    convergence: str = "",
    level: float = 0.95,
    unit: str = "points",
) -> dict[str, Any]:
    """Identifiability record of one fit: spans, profiles, per-parameter verdicts, overall verdict, warnings.

    Parameters
    ----------
    n_points : int
        Points the law was fitted to.
    n_free : int
        Free parameters (after constraints).
    f_min : float
        Objective at the optimum.
    profiles : mapping
        ``name -> (refit, grid, best)`` for each profiled parameter (see :func:`profile_parameter`).
    spans : mapping
        ``"N" / "D" / "C" -> decades`` of the inputs the law depends on.
    fixed : sequence of str
        Parameters held fixed by a constraint (verdict "fixed").
    at_bound : sequence of str
        Human-readable descriptions of parameters at a bound (e.g. ``"E = 1e-6 at its lower bound"``).
    converged : bool
        Whether the optimiser converged; ``convergence`` is its status text.
    level : float
        Confidence level of the profile rule.
    unit : str
        What a point is, for the warnings (e.g. ``"budgets"`` for a law fitted to the lowest loss per budget).

    Returns
    -------
    dict
        ``verdict`` ("identified" / "weakly identified" / "not identified"), ``spans_decades``, ``n_points``, ``n_free_params``,
        ``dof`` (n - p), ``rule`` (:data:`PROFILE_RULE`), ``threshold``, ``parameters`` (name -> profile dict
        with ``verdict`` and ``bootstrap_trustworthy``), ``not_identified`` and ``weakly_identified`` (names),
        ``untrustworthy_intervals``
        (names whose bootstrap interval must not be read as a confidence interval) and ``warnings`` (plain
        sentences).
    """
    dof = int(n_points) - int(n_free)
    thr = profile_threshold(max(float(f_min), 0.0), n_points, n_free, level)
    params: dict[str, Any] = {}
    for name in fixed:
        params[name] = {
            "verdict": "fixed",
            "reason": "held fixed by the constraint",
            "bootstrap_trustworthy": True,
        }
    for name, (refit, grid, best) in profiles.items():
        pr = profile_parameter(refit, grid, best, float(f_min), thr)
        pr["bootstrap_trustworthy"] = pr["verdict"] != "not identified"
        params[name] = pr
    not_id = [k for k, v in params.items() if v["verdict"] == "not identified"]
    weak = [k for k, v in params.items() if v["verdict"] == "weakly identified"]
    warnings: list[str] = []
    if dof <= 0:
        warnings.append(
            f"zero residual degrees of freedom: {n_points} {unit} for {n_free} free parameters; the fit "
            "interpolates the runs and nothing is identified."
        )
    elif n_points < POINTS_PER_PARAM * n_free:
        warnings.append(
            f"too few {unit}: {n_points} for {n_free} free parameters (fewer than {POINTS_PER_PARAM} per "
            "parameter); intervals are wide and the fit may be unstable."
        )
    for k, v in spans.items():
        if math.isfinite(v) and v < MIN_SPAN_DECADES:
            warnings.append(
                f"{k} spans only {v:.2g} decades (< {MIN_SPAN_DECADES:g}): the exponents are weakly constrained "
                "and extrapolation far beyond the runs is unreliable."
            )
    warnings.extend(f"{d}: the fit is degenerate for this selection." for d in at_bound)
    for k in not_id:
        pr = params[k]
        rng = pr.get("range")
        where = f" (within the noise from {rng[0]:.3g} to {rng[1]:.3g})" if rng else ""
        warnings.append(
            f"{k} is not identified{where}: {pr['reason']}; its bootstrap interval is untrustworthy."
        )
    for k in weak:
        rng = params[k]["range"]
        warnings.append(
            f"{k} is only weakly identified: within the noise from {rng[0]:.3g} to {rng[1]:.3g}; read that range, "
            "not a point estimate."
        )
    if not converged:
        warnings.append(f"the optimizer did not converge: {convergence}")
    return {
        "verdict": "not identified"
        if (not_id or dof <= 0)
        else ("weakly identified" if weak else "identified"),
        "spans_decades": {k: (None if not math.isfinite(v) else float(v)) for k, v in spans.items()},
        "n_points": int(n_points),
        "n_free_params": int(n_free),
        "dof": dof,
        "level": level,
        "rule": PROFILE_RULE,
        "threshold": None if not math.isfinite(thr) else thr,
        "parameters": params,
        "not_identified": not_id,
        "weakly_identified": weak,
        "untrustworthy_intervals": [k for k, v in params.items() if not v["bootstrap_trustworthy"]],
        "warnings": warnings,
        "convergence": convergence,
    }


# ----------------------------------------------------------------------------------------------------
# per-law front doors

_PROFILE_EXPONENT_GRID = np.linspace(0.05, 2.5, 25)


def _exponent_bound_notes(params: Mapping[str, float], keys: Sequence[str], hi: float = 2.5) -> list[str]:
    out = []
    for k in keys:
        v = params.get(k)
        if v is not None and (v < 1e-3 or v > hi - 1e-2):
            out.append(f"{k} = {v:.3g} is at its bound (0 or {hi:g})")
    return out


def _E_bound_note(params: Mapping[str, float], L: np.ndarray) -> list[str]:
    E = params.get("E")
    if E is not None and E < 1e-3 * float(np.min(L)):
        return [
            f"E = {E:.3g} sits at its lower bound (0): these runs do not pin down the irreducible loss, so "
            "extrapolations and the compute-optimal split are unreliable"
        ]
    if E is not None and E > 0.98 * float(np.min(L)):
        return [
            f"E = {E:.4g} is at (or above) the lowest observed loss ({float(np.min(L)):.4g}): the runs do not "
            "reach the curvature that separates the asymptote from the power-law terms"
        ]
    return []


def chinchilla_identifiability(
    N: ArrayLike,
    D: ArrayLike,
    L: ArrayLike,
    result: Any,
    *,
    delta: float = 1e-3,
    fixed: Mapping[str, float] | None = None,
    tie_exponents: bool = False,
    level: float = 0.95,
) -> dict[str, Any]:
    """Identifiability of a Chinchilla fit L = E + A/N^alpha + B/D^beta (see :func:`assess`).

    Profiles E (grid over (0, min L)), alpha and beta (grid over [0.05, 2.5]; with tied exponents one profile
    ``alpha=beta``), refitting the other parameters with :func:`analysis.chinchilla.fit_chinchilla` under the same
    constraints and Huber delta. Spans of N and D in decades.

    Parameters
    ----------
    N, D, L : ndarray, shape (n,)
        Parameters, tokens, final loss (nats/token) the fit used.
    result : FitResult
        The fit (``law="chinchilla"``) of these points with these constraints.
    delta : float
        Huber threshold the fit used.
    fixed, tie_exponents
        The constraints of the fit (as :func:`analysis.chinchilla.fit_chinchilla`).
    level : float
        Profile confidence level.

    Returns
    -------
    dict
        As :func:`assess`.

    Raises
    ------
    ValueError
        As :func:`analysis.chinchilla.fit_chinchilla` for invalid inputs.

    Notes
    -----
    Hoffmann et al. (2022), arXiv:2203.15556; Besiroglu et al. (2024), arXiv:2404.10102.
    """
    from analysis.chinchilla import fit_chinchilla

    N, D, L = (np.asarray(v, dtype=float) for v in (N, D, L))
    fx = dict(fixed or {})
    p = result.params

    def refit_with(name: str) -> Callable[[float], float]:
        def refit(v: float) -> float:
            extra = {"alpha": v} if name == "alpha=beta" else {name: v}
            return fit_chinchilla(
                N,
                D,
                L,
                delta=delta,
                fixed={**fx, **extra},
                tie_exponents=tie_exponents,
                exponent_grid=_PROFILE_EXPONENT_GRID,
                n_refine=3,
            ).objective

        return refit

    profiles: dict[str, tuple] = {}
    if "E" not in fx:
        Lmin = float(L.min())
        profiles["E"] = (refit_with("E"), profile_grid(p["E"], 0.01 * Lmin, 0.99 * Lmin), p["E"])
    if tie_exponents:
        if "alpha" not in fx and "beta" not in fx:
            profiles["alpha=beta"] = (
                refit_with("alpha=beta"),
                profile_grid(p["alpha"], 0.02, 2.5),
                p["alpha"],
            )
    else:
        for k in ("alpha", "beta"):
            if k not in fx:
                profiles[k] = (refit_with(k), profile_grid(p[k], 0.02, 2.5), p[k])
    fixed_names = sorted(fx) + (
        ["beta (= alpha)"] if tie_exponents and not ({"alpha", "beta"} & set(fx)) else []
    )
    out = assess(
        n_points=int(N.size),
        n_free=int(result.extra.get("n_free_params", 5)),
        f_min=float(result.objective),
        profiles=profiles,
        spans={"N": span_decades(N), "D": span_decades(D)},
        fixed=fixed_names,
        at_bound=_E_bound_note(p, L) * ("E" not in fx)
        + _exponent_bound_notes(p, [k for k in ("alpha", "beta") if k not in fx]),
        converged=bool(result.success),
        convergence=result.message,
        level=level,
    )
    if out["not_identified"]:
        # a, b, G and the allocations are functions of the unidentified parameters
        out["untrustworthy_intervals"] += ["a", "b", "G", "N_opt", "D_opt", "tokens_per_param"]
    return out


def compute_law_identifiability(
    C: ArrayLike,
    L: ArrayLike,
    result: Any,
    *,
    delta: float = 1e-3,
    fixed: Mapping[str, float] | None = None,
    level: float = 0.95,
) -> dict[str, Any]:
    """Identifiability of a compute-law fit L = E + A C^-alpha: profiles of E and alpha, span of C (:func:`assess`).

    Parameters
    ----------
    C, L : ndarray, shape (n,)
        Compute (FLOPs) and loss (nats/token) of the points the fit used.
    result : FitResult
        The fit (``law="compute"``).
    delta : float
        Huber threshold the fit used.
    fixed : mapping, optional
        Constraints of the fit (E and/or alpha).
    level : float
        Profile confidence level.

    Returns
    -------
    dict
        As :func:`assess`.

    Notes
    -----
    Porian et al. (2024), arXiv:2406.19146 (the saturating compute law).
    """
    from analysis.compute_optimal import fit_compute_law

    C, L = np.asarray(C, dtype=float), np.asarray(L, dtype=float)
    fx = dict(fixed or {})
    p = result.params

    def refit_with(name: str) -> Callable[[float], float]:
        def refit(v: float) -> float:
            return fit_compute_law(C, L, delta=delta, fixed={**fx, name: v}, n_refine=3).objective

        return refit

    profiles: dict[str, tuple] = {}
    if "E" not in fx:
        Lmin = float(L.min())
        profiles["E"] = (refit_with("E"), profile_grid(p["E"], 0.01 * Lmin, 0.99 * Lmin), p["E"])
    if "alpha" not in fx:
        profiles["alpha"] = (refit_with("alpha"), profile_grid(p["alpha"], 0.005, 1.5), p["alpha"])
    out = assess(
        n_points=int(C.size),
        n_free=int(result.extra.get("n_free_params", 3)),
        f_min=float(result.objective),
        profiles=profiles,
        spans={"C": span_decades(C)},
        fixed=sorted(fx),
        at_bound=_E_bound_note(p, L) * ("E" not in fx)
        + _exponent_bound_notes(p, ["alpha"] if "alpha" not in fx else []),
        converged=bool(result.success),
        convergence=result.message,
        level=level,
        unit="budgets (lowest loss per compute budget)",
    )
    return out


def power_law_identifiability(
    x: ArrayLike, L: ArrayLike, result: Any, *, variable: str = "N", level: float = 0.95
) -> dict[str, Any]:
    """Identifiability of a Kaplan power law L = (x_c / x)^alpha fitted by least squares in log-log space.

    The profile over alpha is exact: with alpha fixed, the best ln x_c is closed-form and the objective is the
    residual sum of squares of ln L. Span of x in decades (:func:`assess`).

    Parameters
    ----------
    x, L : ndarray, shape (n,)
        Scale variable (N or D) and loss of the fitted points.
    result : FitResult
        The fit (``law="kaplan_N"`` or ``"kaplan_D"``, least squares).
    variable : str
        Name of x in the span ("N" or "D").
    level : float
        Profile confidence level.

    Returns
    -------
    dict
        As :func:`assess`.

    Notes
    -----
    Kaplan et al. (2020), arXiv:2001.08361.
    """
    lx = np.log(np.asarray(x, dtype=float))
    ly = np.log(np.asarray(L, dtype=float))

    def rss(alpha: float) -> float:
        r = ly + alpha * lx
        return float(np.sum((r - r.mean()) ** 2))

    a = float(result.params["alpha"])
    return assess(
        n_points=int(lx.size),
        n_free=2,
        f_min=rss(a),
        profiles={"alpha": (rss, profile_grid(a, 0.0, 2.0), a)},
        spans={variable: span_decades(np.exp(lx))},
        at_bound=[],
        converged=bool(result.success),
        convergence=result.message,
        level=level,
    )


def _ls_ssr(X: np.ndarray, y: np.ndarray) -> float:
    """Residual sum of squares of the linear least-squares fit y ~ X (columns scaled for conditioning)."""
    s = np.max(np.abs(X), axis=0)
    s = np.where((s > 0) & np.isfinite(s), s, 1.0)
    coef, *_ = np.linalg.lstsq(X / s, y, rcond=None)
    r = y - (X / s) @ coef
    return float(r @ r)


def _min_over(fun: Callable[[float], float], lo: float, hi: float, n: int = 60) -> float:
    """Minimum of a 1-D function over [lo, hi]: a log-spaced grid, then a bounded refinement around the best."""
    from scipy.optimize import minimize_scalar

    g = np.geomspace(lo, hi, n)
    vals = np.array([fun(float(v)) for v in g])
    vals = np.where(np.isfinite(vals), vals, np.inf)
    i = int(np.argmin(vals))
    a, b = float(g[max(i - 1, 0)]), float(g[min(i + 1, n - 1)])
    best = float(vals[i])
    if b > a:
        res = minimize_scalar(fun, bounds=(a, b), method="bounded", options={"xatol": 1e-6 * b})
        if np.isfinite(res.fun):
            best = min(best, float(res.fun))
    return best


def overtraining_identifiability(
    N: ArrayLike, D: ArrayLike, L: ArrayLike, result: Any, *, level: float = 0.95
) -> dict[str, Any]:
    """Identifiability of Gadre's over-training law L(C, M) = E + (a M^eta + b M^-eta) C^-eta (see :func:`assess`).

    The law is least squares in linear loss space; in its (N, D) form L = E + alpha N^-2eta + beta' D^-2eta it
    is linear in (E, alpha, beta') at fixed eta, so the profiles are exact variable projections: at fixed eta the
    other three parameters are a linear least-squares solve; at fixed E, eta is minimised (grid then bounded
    search) with the prefactors solved linearly. The objective is the residual sum of squares ``n * rms^2``.
    Profiles: ``eta`` over [0.01, 1.25] (N and D exponents 2 eta up to 2.5) and ``E`` over (0, min L). Spans in
    decades: ``C`` = 6 N D and ``M`` = D / N (tokens per parameter); a law fitted at one M cannot separate a from b.

    Parameters
    ----------
    N, D, L : ndarray, shape (n,)
        Parameters, tokens and final loss (nats/token) of the runs the law was fitted to.
    result : FitResult
        The fit (``law="overtraining"``, :func:`analysis.overtraining.fit_overtraining`) of these runs.
    level : float
        Profile confidence level.

    Returns
    -------
    dict
        As :func:`assess` (n_free_params = 4); ``a``, ``b``, ``M_star`` and ``exponent_ND`` join the
        untrustworthy intervals when eta or E is not identified.

    Raises
    ------
    ValueError
        If N, D, L differ in shape, are empty, or N, D are not > 0.

    Notes
    -----
    Gadre et al. (2024), arXiv:2403.08540 (Eq. 4); Bates & Watts (1988) s.6.1.
    """
    N, D, L = (np.asarray(v, dtype=float).ravel() for v in (N, D, L))
    if not (N.shape == D.shape == L.shape) or N.size == 0:
        raise ValueError(f"N, D, L must be non-empty and of one shape, got {N.shape}, {D.shape}, {L.shape}")
    if np.any(~(N > 0)) or np.any(~(D > 0)):
        raise ValueError("N and D must be > 0")
    lN, lD = np.log(N), np.log(D)
    n = int(N.size)

    def cols(eta: float) -> np.ndarray:
        return np.column_stack([np.exp(-2 * eta * lN), np.exp(-2 * eta * lD)])

    def ssr_eta(eta: float) -> float:
        return _ls_ssr(np.column_stack([cols(eta), np.ones(n)]), L)

    def ssr_E(E: float) -> float:
        return _min_over(lambda eta: _ls_ssr(cols(eta), L - E), 0.005, 1.5)

    p = result.params
    f_min = n * float(result.objective) ** 2
    Lmin = float(L.min())
    profiles = {
        "eta": (ssr_eta, profile_grid(p["eta"], 0.01, 1.25), float(p["eta"])),
        "E": (ssr_E, profile_grid(p["E"], 0.01 * Lmin, 0.99 * Lmin), float(p["E"])),
    }
    at_bound = _E_bound_note(p, L)
    if not p["eta"] > 0:
        at_bound.append(f"eta = {p['eta']:.3g} is not > 0 (no decrease of loss with compute)")
    out = assess(
        n_points=n,
        n_free=4,
        f_min=f_min,
        profiles=profiles,
        spans={"C": span_decades(6.0 * N * D), "M": span_decades(D / N)},
        at_bound=at_bound,
        converged=bool(result.success),
        convergence=result.message,
        level=level,
        unit="runs",
    )
    if out["not_identified"]:
        out["untrustworthy_intervals"] += ["a", "b", "exponent_ND", "M_star"]
    return out


def loss_to_error_identifiability(
    L: ArrayLike, err: ArrayLike, result: Any, *, level: float = 0.95
) -> dict[str, Any]:
    """Identifiability of Gadre's loss-to-error map Err(L) = eps - k exp(-gamma L) (see :func:`assess`).

    Least squares in linear space; at fixed gamma the map is linear in (eps, k), so the profiles are exact
    variable projections: ``gamma`` over [0.01, 5] (eps, k solved linearly) and the ceiling ``eps`` over
    [max err, 1] (gamma minimised, k solved linearly). The objective is the residual sum of squares
    ``n * rms^2``. The input is a loss, not a scale, so no span in decades is given: the record carries
    ``loss_range_nats`` (max L - min L) instead.

    Parameters
    ----------
    L, err : ndarray, shape (n,)
        Loss (nats/token) and downstream error (fraction) of the models the map was fitted to.
    result : FitResult
        The fit (``law="loss_to_error"``, :func:`analysis.downstream.fit_loss_to_error`).
    level : float
        Profile confidence level.

    Returns
    -------
    dict
        As :func:`assess` (n_free_params = 3) plus ``loss_range_nats``.

    Raises
    ------
    ValueError
        If L and err differ in shape or are empty.

    Notes
    -----
    Gadre et al. (2024), arXiv:2403.08540 (Eq. 5); Bates & Watts (1988) s.6.1.
    """
    x = np.asarray(L, dtype=float).ravel()
    y = np.asarray(err, dtype=float).ravel()
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"L and err must be non-empty and of one shape, got {x.shape}, {y.shape}")
    n = int(x.size)

    def ssr_gamma(g: float) -> float:
        return _ls_ssr(np.column_stack([np.ones(n), -np.exp(-g * x)]), y)

    def ssr_eps(eps: float) -> float:
        return _min_over(lambda g: _ls_ssr(-np.exp(-g * x)[:, None], y - eps), 0.005, 10.0)

    p = result.params
    f_min = n * float(result.objective) ** 2
    eps_lo = float(y.max()) + 1e-3
    eps_hi = max(1.0, eps_lo + 0.1)
    profiles = {
        "gamma": (ssr_gamma, profile_grid(p["gamma"], 0.01, 5.0), float(p["gamma"])),
        "eps": (ssr_eps, profile_grid(p["eps"], eps_lo, eps_hi), float(p["eps"])),
    }
    at_bound = []
    if not p["gamma"] > 0:
        at_bound.append(f"gamma = {p['gamma']:.3g} is not > 0 (error does not fall with loss)")
    out = assess(
        n_points=n,
        n_free=3,
        f_min=f_min,
        profiles=profiles,
        spans={},
        at_bound=at_bound,
        converged=bool(result.success),
        convergence=result.message,
        level=level,
        unit="models",
    )
    out["loss_range_nats"] = float(x.max() - x.min())
    if out["not_identified"]:
        out["untrustworthy_intervals"] += ["k"]
    return out
