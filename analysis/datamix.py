"""Compare pretraining data mixes through their compute laws.

For two mixes with compute laws L_x(C) and L_y(C) (e.g. L = E + A C^-alpha fitted to isoFLOP
minima), the compute multiplier of X relative to Y at budget C is

    m(C) = C' / C,   where L_x(C') = L_y(C),

the compute mix X needs to reach the loss mix Y reaches at C. m > 1 means X is less
compute-efficient than Y at that budget. m is infinite when Y's loss at C lies at or below X's
asymptote (X can never reach it), and C' is found by root finding on ln C'.

Reference: the equivalent-compute ("effective compute") comparison of data recipes used e.g. in
Porian et al. 2024 (arXiv 2406.19146, saturating compute law L = E + A C^-alpha fitted to
isoFLOP optima) and Hoffmann et al. 2022 (arXiv 2203.15556).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import polars as pl
from scipy.optimize import brentq

__all__ = ["compute_multiplier", "compare_mixes", "compute_law"]

LossFn = Callable[[float], float]


def compute_law(params: Mapping[str, float], C: float | np.ndarray) -> np.ndarray:
    """Saturating compute law L(C) = E + A C^-alpha.

    Parameters
    ----------
    params : mapping
        ``E`` (nats/token), ``A`` (nats/token x FLOPs^alpha), ``alpha`` (> 0).
    C : float or ndarray, shape (m,)
        Training compute, FLOPs (> 0).

    Returns
    -------
    ndarray, shape (m,)
        Loss, nats/token.

    Raises
    ------
    ValueError
        If a parameter is missing or C is not positive and finite.

    Notes
    -----
    Porian et al. 2024, arXiv 2406.19146 (compute-optimal loss law).
    """
    missing = {"E", "A", "alpha"} - set(params)
    if missing:
        raise ValueError(f"params lacks {sorted(missing)}")
    c = np.atleast_1d(np.asarray(C, dtype=float))
    if np.any(np.isnan(c)) or np.any(~np.isfinite(c)) or np.any(c <= 0):
        raise ValueError("C must be finite and > 0")
    return float(params["E"]) + float(params["A"]) * c ** (-float(params["alpha"]))


def compute_multiplier(
    loss_x: LossFn,
    loss_y: LossFn,
    C: float,
    *,
    max_ratio: float = 1e12,
    return_reason: bool = False,
) -> float | tuple[float, str]:
    """Compute mix X needs to reach mix Y's loss at budget C, divided by C.

    Solves L_x(C') = L_y(C) for C' by Brent's method on ln C' (bracket grown by factors of 10 up
    to ``max_ratio`` either side of C). L_x must be decreasing in C.

    Parameters
    ----------
    loss_x : callable
        ``loss_x(C) -> L`` of mix X (FLOPs -> nats/token), scalar in, scalar (or 1-element) out.
    loss_y : callable
        Same for mix Y.
    C : float
        Budget at which Y's loss is taken, FLOPs (> 0).
    max_ratio : float, default 1e12
        Search C' within [C / max_ratio, C * max_ratio].
    return_reason : bool, default False
        Also return a short reason string (``"ok"``, ``"unreachable: ..."``, ...).

    Returns
    -------
    float or (float, str)
        The multiplier C' / C; ``inf`` when X cannot reach Y's loss within ``max_ratio`` (e.g.
        Y's loss is below X's asymptote E_x), ``0.0`` when X beats it even at C / max_ratio, and
        NaN when a loss is not finite.

    Raises
    ------
    ValueError
        If C is not positive and finite or ``max_ratio <= 1``.

    Notes
    -----
    Effective-compute comparison of data recipes; see the module docstring.
    """
    if not (math.isfinite(C) and C > 0):
        raise ValueError(f"C must be finite and > 0, got {C}")
    if not max_ratio > 1:
        raise ValueError(f"max_ratio must be > 1, got {max_ratio}")

    def fx(logc: float) -> float:
        return float(np.asarray(loss_x(math.exp(logc))).ravel()[0])

    target = float(np.asarray(loss_y(C)).ravel()[0])
    lc = math.log(C)

    def out(v: float, why: str) -> float | tuple[float, str]:
        return (v, why) if return_reason else v

    if not math.isfinite(target) or not math.isfinite(fx(lc)):
        return out(math.nan, "non-finite loss")
    g = lambda z: fx(z) - target  # noqa: E731
    g0 = g(lc)
    if g0 == 0:
        return out(1.0, "ok")
    step = math.log(10.0)
    lim = math.log(max_ratio)
    if g0 > 0:  # X is worse at C: search upward
        lo, hi = lc, lc
        while True:
            hi = min(hi + step, lc + lim)
            if g(hi) <= 0:
                break
            if hi >= lc + lim:
                return out(
                    math.inf, f"unreachable: X's loss stays above {target:.6g} up to {max_ratio:g} x C"
                )
            lo = hi
    else:  # X is better at C: search downward
        lo, hi = lc, lc
        while True:
            lo = max(lo - step, lc - lim)
            if g(lo) >= 0:
                break
            if lo <= lc - lim:
                return out(0.0, f"X reaches {target:.6g} with less than C / {max_ratio:g}")
            hi = lo
    root = brentq(g, lo, hi, xtol=1e-12, rtol=1e-12)
    return out(math.exp(root - lc), "ok")


def compare_mixes(
    fits: Mapping[str, Mapping[str, float]],
    C: float | Sequence[float],
    boot: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    *,
    reference: str | None = None,
    level: float = 0.95,
) -> pl.DataFrame:
    """Tabulate compute laws of several mixes and their multipliers against a reference.

    Parameters
    ----------
    fits : mapping name -> params
        Compute-law parameters ``E``, ``A``, ``alpha`` of each mix (L = E + A C^-alpha).
    C : float or sequence of float
        Budget(s), FLOPs (> 0).
    boot : mapping name -> {param: ndarray of shape (n_rep,)}, optional
        Bootstrap replicates of each mix's parameters (same n_rep for every mix; replicate b of
        each mix is paired with replicate b of the reference). Adds ``*_lo``/``*_hi`` columns.
    reference : str, optional
        Mix the multipliers are measured against (default: the first key of ``fits``).
    level : float, default 0.95
        Interval level.

    Returns
    -------
    polars.DataFrame
        One row per (mix, C): ``mix``, ``C``, ``E``, ``A``, ``alpha``, ``L`` (loss at C),
        ``multiplier`` = compute_multiplier(L_reference, L_mix, C), i.e. how many times C the
        reference needs to match this mix's loss at C (> 1: the mix is better than the
        reference), ``reason``; with ``boot`` also ``E_lo``, ``E_hi``, ``alpha_lo``,
        ``alpha_hi``, ``multiplier_lo``, ``multiplier_hi``.

    Raises
    ------
    ValueError
        If ``fits`` is empty, the reference is unknown, parameters are missing, C is not
        positive, replicate counts differ, or ``level`` is outside (0, 1).

    Notes
    -----
    Porian et al. 2024, arXiv 2406.19146 (compute law); module docstring for the multiplier.
    """
    if not fits:
        raise ValueError("fits is empty")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    ref = next(iter(fits)) if reference is None else reference
    if ref not in fits:
        raise ValueError(f"reference {ref!r} not in fits")
    budgets = [float(c) for c in np.atleast_1d(np.asarray(C, dtype=float))]
    for c in budgets:
        if not (math.isfinite(c) and c > 0):
            raise ValueError(f"C must be finite and > 0, got {c}")
    for p in fits.values():
        compute_law(p, 1.0)  # validates keys
    n_rep = None
    if boot is not None:
        sizes = {len(np.asarray(v)) for b in boot.values() for v in b.values()}
        if len(sizes) != 1:
            raise ValueError(f"all bootstrap replicate arrays must have the same length, got {sorted(sizes)}")
        n_rep = sizes.pop()
        if ref not in boot:
            raise ValueError(f"boot lacks the reference mix {ref!r}")

    def law(p: Mapping[str, float]) -> LossFn:
        return lambda c: float(compute_law(p, c)[0])

    q = [(1 - level) / 2, (1 + level) / 2]
    rows = []
    for name, p in fits.items():
        for c in budgets:
            m, why = compute_multiplier(law(fits[ref]), law(p), c, return_reason=True)
            row = {
                "mix": name,
                "C": c,
                "E": float(p["E"]),
                "A": float(p["A"]),
                "alpha": float(p["alpha"]),
                "L": float(compute_law(p, c)[0]),
                "multiplier": float(m),
                "reason": why,
            }
            if boot is not None and name in boot:
                b, br = boot[name], boot[ref]
                mult = np.empty(n_rep)
                for i in range(n_rep):
                    pi = {k: float(np.asarray(b[k])[i]) for k in ("E", "A", "alpha")}
                    ri = {k: float(np.asarray(br[k])[i]) for k in ("E", "A", "alpha")}
                    if not all(math.isfinite(v) for v in (*pi.values(), *ri.values())):
                        mult[i] = math.nan
                        continue
                    mult[i] = float(compute_multiplier(law(ri), law(pi), c))
                for key, arr in (("E", b["E"]), ("alpha", b["alpha"]), ("multiplier", mult)):
                    a = np.asarray(arr, dtype=float)
                    a = a[~np.isnan(a)]
                    lo, hi = _quantiles(a, q)
                    row[f"{key}_lo"], row[f"{key}_hi"] = float(lo), float(hi)
            rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)


def _quantiles(a: np.ndarray, q) -> tuple[float, float]:
    """Linear-interpolation quantiles; where that is undefined because replicates are infinite (unreachable loss),
    fall back to the inverted-CDF quantile so an infinite upper bound reads as inf, not NaN."""
    if a.size == 0:
        return (math.nan, math.nan)
    with np.errstate(invalid="ignore"):
        lin = np.quantile(a, q)
    inv = np.quantile(a, q, method="inverted_cdf")
    lo, hi = (float(x if np.isfinite(x) else y) for x, y in zip(lin, inv, strict=True))
    return lo, hi
