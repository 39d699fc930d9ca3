"""Private helpers shared by the fitting modules: input validation and multi-start ``curve_fit``."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import OptimizeWarning, curve_fit

from analysis.errors import FitError


def positive_1d(name: str, x: ArrayLike) -> np.ndarray:
    """``x`` as a 1-D float array, or ValueError naming ``name`` (not 1-D, empty, NaN, non-finite or <= 0)."""
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if np.any(np.isnan(a)):
        raise ValueError(f"{name} contains NaN")
    if np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name} must be finite and > 0")
    return a


def multistart_curve_fit(
    model: Callable[..., np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    starts: Iterable[Sequence[float]],
    *,
    maxfev: int = 10000,
) -> tuple[float, np.ndarray, int]:
    """Least squares (``scipy.optimize.curve_fit``, Levenberg-Marquardt) from every start; keep the lowest RMS.

    Returns (rms, parameters, number of starts tried). Starts that fail or give non-finite parameters are skipped.

    Raises
    ------
    FitError
        If no start converged.
    """
    best: tuple[float, np.ndarray] | None = None
    n_starts = 0
    for p0 in starts:
        n_starts += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                popt, _ = curve_fit(model, x, y, p0=p0, maxfev=maxfev)
        except (RuntimeError, ValueError):
            continue
        if not np.all(np.isfinite(popt)):
            continue
        with np.errstate(all="ignore"):
            rms = float(np.sqrt(np.mean((model(x, *popt) - y) ** 2)))
        if np.isfinite(rms) and (best is None or rms < best[0]):
            best = (rms, popt)
    if best is None:
        raise FitError("curve_fit did not converge from any start")
    return best[0], best[1], n_starts


def grid_starts(grid: dict[str, Sequence[float]], order: Sequence[str]) -> Iterable[tuple[float, ...]]:
    """Cartesian product of the grid values in ``order``."""
    return itertools.product(*(grid[k] for k in order))


def accept_small_gradient(success: bool, message: str, grad_norm: float, tol: float) -> tuple[bool, str]:
    """A plain-language convergence status for an L-BFGS-B fit, and whether it converged.

    L-BFGS-B's line search often stops with scipy's "ABNORMAL" message at machine precision on these objectives;
    the fit counts as converged when the gradient norm at the returned optimum is at most ``tol``. The returned
    message never repeats scipy's wording: it is ``"converged: ..."`` or ``"not converged: ..."`` with the
    gradient norm, the tolerance and the optimizer's own reason in lower case.

    Returns
    -------
    (bool, str)
        (converged, status message).
    """
    reason = (
        " ".join(str(message).replace("ABNORMAL:", "line search stopped").split()).strip().lower()
        or "stopped"
    )
    if grad_norm <= tol:
        return True, f"converged: gradient norm {grad_norm:.3g} at the optimum (tolerance {tol:.3g})"
    if success:
        return True, f"converged: {reason}; gradient norm {grad_norm:.3g} (above the {tol:.3g} check)"
    return False, f"not converged: {reason}; gradient norm {grad_norm:.3g} > tolerance {tol:.3g}"
