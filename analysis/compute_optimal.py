"""Compute-optimal allocation under C = 6 N D, and the saturating compute law L(C) = E + A C^-alpha.

References
----------
Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models", arXiv:2203.15556
(Approach 3 closed form; see METHODS.md s.2 for the derivation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize, nnls

from analysis._common import accept_small_gradient
from analysis.chinchilla import _blas_single_thread
from analysis.errors import InsufficientDataError
from analysis.results import FitResult

__all__ = ["Allocation", "allocation_exponents", "compute_optimal_allocation", "fit_compute_law"]

_ALLOC_KEYS = ("A", "B", "alpha", "beta")


@dataclass(frozen=True)
class Allocation:
    """Compute-optimal split of training budgets.

    Attributes
    ----------
    C : ndarray, shape (m,)
        Training compute budgets (FLOPs).
    N_opt : ndarray, shape (m,)
        Loss-minimising model size at each budget (parameters, in the N convention of the fit).
    D_opt : ndarray, shape (m,)
        Matching training tokens, C / (6 N_opt).
    tokens_per_param : ndarray, shape (m,)
        D_opt / N_opt.
    """

    C: np.ndarray
    N_opt: np.ndarray
    D_opt: np.ndarray
    tokens_per_param: np.ndarray


def _check_params(params: Mapping[str, float]) -> tuple[float, float, float, float]:
    missing = [k for k in _ALLOC_KEYS if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}")
    A, B, al, be = (float(params[k]) for k in _ALLOC_KEYS)
    for name, v in (("A", A), ("B", B), ("alpha", al), ("beta", be)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0 for a compute-optimal allocation, got {v}")
    return A, B, al, be


def allocation_exponents(params: Mapping[str, float]) -> tuple[float, float]:
    """Exponents of the compute-optimal frontier, N_opt ~ C^a and D_opt ~ C^b.

    ``a = beta / (alpha + beta)``, ``b = alpha / (alpha + beta)``; a + b = 1.

    Parameters
    ----------
    params : mapping
        Chinchilla-law parameters; uses ``alpha`` and ``beta`` (dimensionless, > 0) and checks that
        ``A``, ``B`` are present and > 0.

    Returns
    -------
    (float, float)
        (a, b).

    Raises
    ------
    ValueError
        If a key is missing or a value is not finite and > 0.

    Notes
    -----
    Hoffmann et al. (2022), Approach 3, arXiv:2203.15556.
    """
    _, _, al, be = _check_params(params)
    return be / (al + be), al / (al + be)


def compute_optimal_allocation(params: Mapping[str, float], C: ArrayLike) -> Allocation:
    """Split a compute budget between parameters and tokens.

    For ``L(N, D) = E + A / N**alpha + B / D**beta`` under ``C = 6 N D``, the loss-minimising size is
    ``N_opt = G * (C / 6)**a`` and ``D_opt = (C / 6)**b / G``, with ``a = beta / (alpha + beta)``,
    ``b = alpha / (alpha + beta)`` and ``G = (alpha A / (beta B))**(1 / (alpha + beta))``.

    Parameters
    ----------
    params : mapping
        Fitted A, B (loss units times N**alpha, D**beta), alpha, beta (dimensionless); E is not needed.
    C : float or ndarray, shape (m,)
        Training compute in FLOPs, > 0.

    Returns
    -------
    Allocation
        C, N_opt (parameters), D_opt (tokens) and tokens_per_param, each an ndarray of shape (m,)
        (shape (1,) for a scalar C).

    Raises
    ------
    ValueError
        If any C <= 0 or NaN, or a parameter is missing or not finite and > 0.

    Notes
    -----
    Hoffmann et al. (2022), Approach 3, arXiv:2203.15556. C = 6 N D is an approximation; with
    measured FLOPs per token use those. D_opt / N_opt grows like C^((alpha - beta)/(alpha + beta)).
    """
    A, B, al, be = _check_params(params)
    C = np.atleast_1d(np.asarray(C, dtype=float))
    if C.ndim != 1:
        raise ValueError(f"C must be a scalar or 1-D, got shape {C.shape}")
    if np.any(np.isnan(C)):
        raise ValueError("C contains NaN")
    if np.any(C <= 0) or np.any(~np.isfinite(C)):
        raise ValueError("C must be finite and > 0")
    s = al + be
    log_G = (np.log(al * A) - np.log(be * B)) / s
    log_c6 = np.log(C / 6.0)
    N_opt = np.exp(log_G + (be / s) * log_c6)
    D_opt = np.exp(-log_G + (al / s) * log_c6)
    return Allocation(C=C, N_opt=N_opt, D_opt=D_opt, tokens_per_param=D_opt / N_opt)


# ----------------------------------------------------------------------------------------------------
# compute law fit


def _value_and_grad(z, logC, logL, delta, scale):
    """Summed log-space Huber of L = exp(e) + exp(a - alpha logC) and its gradient in (e, a, alpha)."""
    e, a, al = z
    t = a - al * logC
    m = np.maximum(t, e)
    w1 = np.exp(e - m)
    w2 = np.exp(t - m)
    s = w1 + w2
    r = m + np.log(s) - logL
    ar = np.abs(r)
    quad = ar <= delta
    f = np.sum(np.where(quad, 0.5 * r * r, delta * (ar - 0.5 * delta)))
    psi = np.where(quad, r, delta * np.sign(r)) / s
    g2 = psi * w2
    g = np.array([np.dot(psi, w1), g2.sum(), -np.dot(g2, logC)])
    return float(f) * scale, g * scale


def fit_compute_law(
    C: ArrayLike,
    L: ArrayLike,
    *,
    delta: float = 1e-3,
    n_refine: int = 5,
    alpha_grid: ArrayLike | None = None,
    fixed: Mapping[str, float] | None = None,
) -> FitResult:
    """Fit ``L(C) = E + A * C**(-alpha)`` with a summed log-space Huber objective, multi-start.

    Objective: ``sum_i Huber_delta(log(E + A C_i^-alpha) - log L_i)`` over E = e^e, A = e^a, alpha in
    [0, 2.5]. Starts come from variable projection: for each alpha on a grid, (E, A) >= 0 is the
    non-negative least-squares solution on relative error; the ``n_refine`` best cells (by the Huber
    objective) are refined with L-BFGS-B (analytic gradient) and the lowest objective kept.

    Parameters
    ----------
    C : ndarray, shape (n,)
        Training compute of each run (FLOPs, > 0).
    L : ndarray, shape (n,)
        Loss of each run (nats/token, > 0).
    delta : float
        Huber threshold on log residuals (default 1e-3).
    n_refine : int
        Number of grid cells refined (>= 1).
    alpha_grid : ndarray, shape (k,), optional
        Exponent values for the grid (default 300 values in [0.005, 1.5]).
    fixed : mapping, optional
        Constrained fit: hold ``E`` (nats/token, > 0) and/or ``alpha`` (in [0, 2.5]) at the given values.

    Returns
    -------
    FitResult
        ``law="compute"``, params E (nats/token), A (nats/token times FLOPs**alpha), alpha; grad_norm of
        the objective with respect to (e, a, alpha); extra with the best objectives among starts and
        their relative spread.

    Raises
    ------
    ValueError
        If C, L are not 1-D of equal shape, contain NaN or values <= 0, ``delta`` <= 0, or ``fixed`` names
        another parameter or an invalid value.
    InsufficientDataError
        (a ValueError) if fewer than 4 points are given.

    Notes
    -----
    The form used for L(C) frontiers, e.g. Hoffmann et al. (2022), arXiv:2203.15556, and the
    saturating laws of METHODS.md s.6; the fitting recipe follows Besiroglu et al. (2024),
    arXiv:2404.10102 (sum the loss, tight tolerances, report the gradient norm).
    """
    C = np.asarray(C, dtype=float)
    L = np.asarray(L, dtype=float)
    if C.ndim != 1 or L.ndim != 1 or C.shape != L.shape:
        raise ValueError(f"C and L must be 1-D with the same shape, got {C.shape} and {L.shape}")
    for name, a in (("C", C), ("L", L)):
        if np.any(np.isnan(a)):
            raise ValueError(f"{name} contains NaN")
        if np.any(a <= 0) or np.any(~np.isfinite(a)):
            raise ValueError(f"{name} must be finite and > 0")
    if C.size < 4:
        raise InsufficientDataError(
            f"need at least 4 points to fit the 3-parameter compute law, got {C.size}"
        )
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be > 0, got {delta}")
    if n_refine < 1:
        raise ValueError(f"n_refine must be >= 1, got {n_refine}")
    fx = {k: float(v) for k, v in (fixed or {}).items()}
    bad = sorted(set(fx) - {"E", "alpha"})
    if bad:
        raise ValueError(f"cannot fix {bad}: the compute law may fix only E and alpha")
    if "E" in fx and not (np.isfinite(fx["E"]) and fx["E"] > 0):
        raise ValueError(f"fixed E must be finite and > 0, got {fx['E']}")
    if "alpha" in fx and not (np.isfinite(fx["alpha"]) and 0 <= fx["alpha"] <= 2.5):
        raise ValueError(f"fixed alpha must be in [0, 2.5], got {fx['alpha']}")
    grid = np.linspace(0.005, 1.5, 300) if alpha_grid is None else np.asarray(alpha_grid, dtype=float)
    if "alpha" in fx:
        grid = np.array([fx["alpha"]])
    if grid.ndim != 1 or grid.size == 0 or np.any(~np.isfinite(grid)) or np.any(grid < 0):
        raise ValueError("alpha_grid must be a non-empty 1-D array of finite values >= 0")

    logC = np.log(C)
    logL = np.log(L)
    mC = float(np.mean(logC))
    lc = logC - mC  # centred: A_c = A * exp(-alpha mC)
    w = 1.0 / L
    X = np.empty((C.size, 2))
    X[:, 0] = w
    ones = np.ones(C.size)
    U = np.exp(-np.outer(grid, lc))
    coef = np.empty((grid.size, 2))
    for i in range(grid.size):
        X[:, 1] = U[i] * w
        if "E" in fx:
            coef[i, 0] = fx["E"]
            coef[i, 1:], _ = nnls(X[:, 1:], ones - fx["E"] * w)
        else:
            coef[i], _ = nnls(X, ones)
    pred = coef[:, :1] + coef[:, 1:] * U
    with np.errstate(divide="ignore"):
        r = np.log(pred) - logL
    ar = np.abs(r)
    obj = np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta)).sum(axis=1)
    floor = 1e-6 * float(L.min())
    order = np.argsort(obj)[:n_refine]
    scale = 1.0 / delta
    bounds = [(None, None), (None, None), (0.0, 2.5)]
    free = [i for i, k in enumerate(("E", "a", "alpha")) if k not in fx]

    def vg(u, z0):
        z = z0.copy()
        z[free] = u
        f_, g_ = _value_and_grad(z, lc, logL, delta, scale)
        return f_, g_[free]

    best, objs = None, []
    with _blas_single_thread():
        for i in order:
            z0 = np.array([np.log(max(coef[i, 0], floor)), np.log(max(coef[i, 1], floor)), grid[i]])
            res = minimize(
                vg,
                z0[free],
                args=(z0,),
                jac=True,
                method="L-BFGS-B",
                bounds=[bounds[j] for j in free],
                options={"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-11},
            )
            full = z0.copy()
            full[free] = res.x
            res.x = full
            objs.append(res.fun / scale)
            if best is None or res.fun < best.fun:
                best = res
    assert best is not None
    e, a_c, al = (float(v) for v in best.x)
    f, g = _value_and_grad(best.x, lc, logL, delta, 1.0)
    # gradient w.r.t. raw a (= a_c + alpha mC): d/da = d/da_c, d/dalpha_raw = d/dalpha_c - mC d/da_c
    g_raw = np.array([g[0], g[1], g[2] - mC * g[1]])
    if al <= 1e-12 and g_raw[2] > 0:
        g_raw[2] = 0.0
    g_raw = g_raw[free]
    srt = np.sort(np.asarray(objs))
    grad_norm = float(np.linalg.norm(g_raw))
    success, message = accept_small_gradient(
        bool(best.success), str(best.message), grad_norm, 1e-5 * delta * C.size
    )
    params = {"E": float(np.exp(e)), "A": float(np.exp(a_c + al * mC)), "alpha": al}
    return FitResult(
        law="compute",
        params=params,
        n_points=int(C.size),
        objective=f,
        loss="huber",
        delta=float(delta),
        space="log",
        optimizer="variable projection (NNLS + alpha grid) + L-BFGS-B",
        n_starts=len(order),
        grad_norm=grad_norm,
        success=success,
        message=message,
        extra={
            "best_objectives": [float(v) for v in srt],
            "objective_spread": float((srt[-1] - srt[0]) / srt[0]) if srt[0] > 0 else 0.0,
            "alpha_grid": f"{grid.size} values in [{grid.min():g}, {grid.max():g}]",
            "bounds": {"alpha": (0.0, 2.5)},
            "constraints": {"fixed": fx, "tie": None},
            "n_free_params": len(free),
        },
    )
