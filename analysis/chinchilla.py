"""Chinchilla Approach-3 fit of the parametric loss surface L(N, D) = E + A / N**alpha + B / D**beta.

One front door, :func:`fit_chinchilla`, with two algorithms behind it:

* ``method="lbfgs"``: the reference procedure of Hoffmann et al. (2022), Appendix D.2, as replicated by
  Besiroglu et al. (2024): L-BFGS-B (analytic gradient) from every point of Chinchilla's 4,500-point
  initialisation grid, keep the lowest objective.
* ``method="vpnls"`` (default): variable projection. For fixed (alpha, beta) the model is linear in
  (E, A, B), so a non-negative least-squares solve on a dense (alpha, beta) grid gives good starting
  points; the best few grid cells (ranked by the Huber objective) are then refined on all five
  parameters with L-BFGS-B. This is the idea of Open-Athena's ``vpnls`` (arXiv:2603.22339), written
  independently here.

Both minimise the same objective, the SUM over runs of Huber_delta(log L_hat - log L) with
``log L_hat = logsumexp(a - alpha log N, b - beta log D, e)``, A = exp(a), B = exp(b), E = exp(e).

References
----------
Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models", arXiv:2203.15556.
Besiroglu, Erdil, Barnett, You (2024), "Chinchilla Scaling: A replication attempt", arXiv:2404.10102.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize, nnls

from analysis._common import accept_small_gradient
from analysis.errors import InsufficientDataError
from analysis.results import FitResult

__all__ = ["chinchilla_grid", "fit_chinchilla", "huber"]

#: Bounds on the exponents used by both methods (METHODS.md s.11); a, b, e are unbounded.
EXPONENT_BOUNDS = (0.0, 2.5)
_MIN_POINTS = 6
_LBFGS_OPTIONS = {"maxiter": 20000, "maxfun": 40000, "ftol": 1e-15, "gtol": 1e-11, "maxcor": 10}


def huber(r: ArrayLike, delta: float) -> np.ndarray:
    """Huber loss of residuals ``r``.

    ``Huber_delta(r) = r**2 / 2`` if ``|r| <= delta`` else ``delta * (|r| - delta / 2)``.

    Parameters
    ----------
    r : ndarray, shape (n,)
        Residuals (here log L_hat - log L, dimensionless).
    delta : float
        Threshold between the quadratic and linear branches, > 0.

    Returns
    -------
    ndarray, shape (n,)
        Elementwise Huber loss.

    Raises
    ------
    ValueError
        If ``delta`` is not a positive finite number.

    Notes
    -----
    Used with delta = 1e-3 in Hoffmann et al. (2022), arXiv:2203.15556, Eq. 3.
    """
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be > 0, got {delta}")
    r = np.asarray(r, dtype=float)
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def chinchilla_grid(n_starts: int | None = None) -> np.ndarray:
    """Chinchilla's initialisation grid for L-BFGS, as rows (a, b, e, alpha, beta).

    The full grid is alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}:
    5 * 5 * 5 * 6 * 6 = 4,500 points.

    Parameters
    ----------
    n_starts : int or None
        None for the whole grid; otherwise an evenly spaced (deterministic) subset of that many rows,
        1 <= n_starts <= 4500, for quick tests.

    Returns
    -------
    ndarray, shape (n_starts or 4500, 5)
        Starting points in the internal order (a, b, e, alpha, beta).

    Raises
    ------
    ValueError
        If ``n_starts`` is outside [1, 4500].

    Notes
    -----
    Hoffmann et al. (2022), Appendix D.2, arXiv:2203.15556.
    """
    ab = np.arange(0.0, 25.0 + 1e-9, 5.0)
    ex = np.arange(0.0, 2.0 + 1e-9, 0.5)
    ee = np.arange(-1.0, 1.0 + 1e-9, 0.5)
    g = np.array(np.meshgrid(ab, ab, ee, ex, ex, indexing="ij")).reshape(5, -1).T
    if n_starts is None:
        return g
    if not 1 <= int(n_starts) <= len(g):
        raise ValueError(f"n_starts must be in [1, {len(g)}], got {n_starts}")
    idx = np.unique(np.round(np.linspace(0, len(g) - 1, int(n_starts))).astype(int))
    return g[idx]


# ----------------------------------------------------------------------------------------------------
# BLAS threads
#
# scipy's L-BFGS-B calls LAPACK from the OpenBLAS bundled with scipy for its 2m x 2m middle matrix.
# On a small shared machine, OpenBLAS handing those tiny problems to worker threads costs 3-15x in
# wall time (measured here). OpenBLAS >= 0.3.27 has a *thread-local* switch, so we turn threading off
# for the calling thread only while the optimiser runs and restore it afterwards. No-op if the
# bundled library cannot be found.


@functools.cache
def _openblas_set_threads_local():
    try:
        import scipy

        libdir = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), "scipy.libs")
        for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*.so*"))):
            fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
            if fn is not None:
                fn.restype = ctypes.c_int
                fn.argtypes = [ctypes.c_int]
                return fn
    except OSError:
        pass
    return None


@contextlib.contextmanager
def _blas_single_thread() -> Iterator[None]:
    """Run the body with the bundled OpenBLAS single-threaded for this thread (no-op if unavailable)."""
    fn = _openblas_set_threads_local()
    if fn is None:
        yield
        return
    old = fn(1)
    try:
        yield
    finally:
        fn(max(int(old), 1))


# ----------------------------------------------------------------------------------------------------
# objective


@dataclass(frozen=True)
class _Problem:
    logN: np.ndarray
    logD: np.ndarray
    logL: np.ndarray
    delta: float
    mN: float = 0.0  # centring offsets: the optimiser sees a_c = a - alpha * mN
    mD: float = 0.0

    def centred(self) -> _Problem:
        mN, mD = float(np.mean(self.logN)), float(np.mean(self.logD))
        return _Problem(self.logN - mN, self.logD - mD, self.logL, self.delta, mN, mD)

    def to_internal(self, x: np.ndarray) -> np.ndarray:
        """Raw (a, b, e, alpha, beta) -> centred coordinates of this problem."""
        a, b, e, al, be = x
        return np.array([a - al * self.mN, b - be * self.mD, e, al, be])

    def to_raw(self, z: np.ndarray) -> np.ndarray:
        a, b, e, al, be = z
        return np.array([a + al * self.mN, b + be * self.mD, e, al, be])


#: Parameters a constrained fit may fix (their index in the internal vector (a, b, e, alpha, beta)).
FIXABLE = {"E": 2, "alpha": 3, "beta": 4}


@dataclass(frozen=True)
class _Constraint:
    """Which of (a, b, e, alpha, beta) the optimiser moves: fixed entries keep ``base``; with ``tie`` beta = alpha.

    e, alpha and beta are the same in raw and centred coordinates, so one ``base`` serves both.
    """

    base: np.ndarray
    free: np.ndarray
    tie: bool

    def full(self, u: np.ndarray) -> np.ndarray:
        z = self.base.copy()
        z[self.free] = u
        if self.tie:
            z[4] = z[3]
        return z

    def reduce_grad(self, g: np.ndarray) -> np.ndarray:
        gu = g[self.free].copy()
        if self.tie and 3 in self.free:
            gu[int(np.flatnonzero(self.free == 3)[0])] += g[4]
        return gu

    def impose(self, z: np.ndarray) -> np.ndarray:
        """A start ``z`` with the fixed entries overwritten and beta tied to alpha."""
        z = np.array(z, dtype=float)
        fixed = np.setdiff1d(np.arange(5), self.free)
        z[fixed] = self.base[fixed]
        if self.tie:
            z[4] = z[3]
        return z


def _constraint(fixed: Mapping[str, float] | None, tie: bool) -> _Constraint:
    """Validate ``fixed`` (keys E, alpha, beta) and ``tie`` (alpha = beta) into a :class:`_Constraint`."""
    fixed = dict(fixed or {})
    bad = sorted(set(fixed) - set(FIXABLE))
    if bad:
        raise ValueError(f"cannot fix {bad}: a constrained fit may fix only {sorted(FIXABLE)}")
    base = np.zeros(5)
    for k, v in fixed.items():
        v = float(v)
        if not np.isfinite(v):
            raise ValueError(f"fixed {k} must be finite, got {v}")
        if k == "E":
            if v <= 0:
                raise ValueError(f"fixed E must be > 0 (nats/token), got {v}")
            base[2] = np.log(v)
        else:
            lo, hi = EXPONENT_BOUNDS
            if not lo <= v <= hi:
                raise ValueError(f"fixed {k} must be in [{lo}, {hi}], got {v}")
            base[FIXABLE[k]] = v
    if tie:
        if "alpha" in fixed and "beta" in fixed and fixed["alpha"] != fixed["beta"]:
            raise ValueError("alpha = beta is tied but they are fixed to different values")
        if "beta" in fixed and "alpha" not in fixed:
            base[3] = base[4]
            fixed["alpha"] = fixed["beta"]
    free = [i for i in range(5) if i not in (FIXABLE[k] for k in fixed)]
    if tie:
        free = [i for i in free if i != 4]
    return _Constraint(base, np.asarray(free, dtype=int), bool(tie))


def _value_and_grad(z: np.ndarray, p: _Problem, scale: float) -> tuple[float, np.ndarray]:
    """Summed Huber objective (times ``scale``) and its analytic gradient in (a, b, e, alpha, beta)."""
    a, b, e, al, be = z
    t1 = a - al * p.logN
    t2 = b - be * p.logD
    m = np.maximum(np.maximum(t1, t2), e)
    w1 = np.exp(t1 - m)
    w2 = np.exp(t2 - m)
    w3 = np.exp(e - m)
    s = w1 + w2 + w3
    r = m + np.log(s) - p.logL
    ar = np.abs(r)
    quad = ar <= p.delta
    f = np.sum(np.where(quad, 0.5 * r * r, p.delta * (ar - 0.5 * p.delta)))
    psi = np.where(quad, r, p.delta * np.sign(r)) / s
    g1 = psi * w1
    g2 = psi * w2
    grad = np.array([g1.sum(), g2.sum(), np.dot(psi, w3), -np.dot(g1, p.logN), -np.dot(g2, p.logD)])
    return float(f) * scale, grad * scale


def _bounds() -> list[tuple[float | None, float | None]]:
    return [(None, None), (None, None), (None, None), EXPONENT_BOUNDS, EXPONENT_BOUNDS]


def _value_and_grad_free(
    u: np.ndarray, p: _Problem, scale: float, cons: _Constraint
) -> tuple[float, np.ndarray]:
    f, g = _value_and_grad(cons.full(u), p, scale)
    return f, cons.reduce_grad(g)


def _lbfgs(z0: np.ndarray, p: _Problem, scale: float, cons: _Constraint):
    """L-BFGS-B over the free coordinates of ``cons`` from the full start ``z0``; ``res.x`` is the full vector."""
    bounds = _bounds()
    res = minimize(
        _value_and_grad_free,
        cons.impose(z0)[cons.free],
        args=(p, scale, cons),
        jac=True,
        method="L-BFGS-B",
        bounds=[bounds[i] for i in cons.free],
        options=_LBFGS_OPTIONS,
    )
    res.x = cons.full(res.x)
    return res


def _projected_grad_norm(x: np.ndarray, g: np.ndarray, cons: _Constraint | None = None) -> float:
    """Gradient norm over the free coordinates, with components that push against an active exponent bound removed."""
    g = g.copy()
    lo, hi = EXPONENT_BOUNDS
    for k in (3, 4):
        if (x[k] <= lo + 1e-12 and g[k] > 0) or (x[k] >= hi - 1e-12 and g[k] < 0):
            g[k] = 0.0
    if cons is not None:
        g = cons.reduce_grad(g)
        if cons.tie and 3 in cons.free:  # the tied gradient may itself push against the bound
            i = int(np.flatnonzero(cons.free == 3)[0])
            if (x[3] <= lo + 1e-12 and g[i] > 0) or (x[3] >= hi - 1e-12 and g[i] < 0):
                g[i] = 0.0
    return float(np.linalg.norm(g))


# ----------------------------------------------------------------------------------------------------
# validation


def _validate(N: ArrayLike, D: ArrayLike, L: ArrayLike, delta: float) -> tuple[np.ndarray, ...]:
    arrs = []
    for name, x in (("N", N), ("D", D), ("L", L)):
        a = np.asarray(x, dtype=float)
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
        arrs.append(a)
    N, D, L = arrs
    if not (N.shape == D.shape == L.shape):
        raise ValueError(f"N, D, L must have the same shape, got {N.shape}, {D.shape}, {L.shape}")
    for name, a in (("N", N), ("D", D), ("L", L)):
        if np.any(np.isnan(a)):
            raise ValueError(f"{name} contains NaN")
        if np.any(a <= 0) or np.any(~np.isfinite(a)):
            raise ValueError(f"{name} must be finite and > 0")
    if N.size < _MIN_POINTS:
        raise InsufficientDataError(
            f"need at least {_MIN_POINTS} points to fit the 5-parameter Chinchilla law, got {N.size}"
        )
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be > 0, got {delta}")
    return N, D, L


# ----------------------------------------------------------------------------------------------------
# variable projection


def _vp_grid(
    p: _Problem, L: np.ndarray, alphas: np.ndarray, betas: np.ndarray, E_fixed: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """NNLS for (E, A, B) on each (alpha, beta) cell; returns (cells x 5 raw starts, Huber objective).

    Uses the centred problem: the columns are exp(-alpha logN_c), exp(-beta logD_c), so the fitted
    coefficients are A_c = A * exp(-alpha mN) and B_c = B * exp(-beta mD). Rows are divided by L so
    the least squares is on relative error, which approximates the log-space residual.
    """
    w = 1.0 / L
    UN = np.exp(-np.outer(alphas, p.logN))  # (na, n)
    VD = np.exp(-np.outer(betas, p.logD))  # (nb, n)
    X = np.empty((L.size, 3))
    X[:, 0] = w
    ones = np.ones(L.size)
    coef = np.empty((alphas.size, betas.size, 3))
    rhs = ones if E_fixed is None else ones - E_fixed * w
    for i in range(alphas.size):
        X[:, 1] = UN[i] * w
        for j in range(betas.size):
            X[:, 2] = VD[j] * w
            if E_fixed is None:
                coef[i, j], _ = nnls(X, rhs)
            else:
                coef[i, j, 0] = E_fixed
                coef[i, j, 1:], _ = nnls(X[:, 1:], rhs)
    # Huber objective of every cell, vectorised: pred[i, j, k]
    pred = coef[:, :, 0, None] + coef[:, :, 1, None] * UN[:, None, :] + coef[:, :, 2, None] * VD[None, :, :]
    with np.errstate(divide="ignore"):
        r = np.log(pred) - p.logL
    ar = np.abs(r)
    obj = np.where(ar <= p.delta, 0.5 * r * r, p.delta * (ar - 0.5 * p.delta)).sum(axis=2)
    floor = 1e-6 * float(np.min(L))
    E, Ac, Bc = (np.log(np.maximum(coef[..., k], floor)) for k in range(3))
    al = np.broadcast_to(alphas[:, None], E.shape)
    be = np.broadcast_to(betas[None, :], E.shape)
    z = np.stack([Ac, Bc, E, al, be], axis=-1).reshape(-1, 5)  # centred coordinates
    return z, obj.reshape(-1)


def _default_exponent_grid() -> np.ndarray:
    return np.linspace(0.05, 2.5, 50)


# ----------------------------------------------------------------------------------------------------
# front door


def fit_chinchilla(
    N: ArrayLike,
    D: ArrayLike,
    L: ArrayLike,
    *,
    method: str = "vpnls",
    delta: float = 1e-3,
    n_starts: int | None = None,
    n_refine: int = 5,
    exponent_grid: ArrayLike | None = None,
    init: Mapping[str, float] | None = None,
    fixed: Mapping[str, float] | None = None,
    tie_exponents: bool = False,
) -> FitResult:
    """Fit the Chinchilla Approach-3 loss surface with a log-space Huber objective.

    Model: ``L_hat(N, D) = E + A / N**alpha + B / D**beta``, parametrised as A = e^a, B = e^b, E = e^e
    so that ``log L_hat = logsumexp(a - alpha log N, b - beta log D, e)``. Objective (minimised):
    ``sum_i Huber_delta(log L_hat(N_i, D_i) - log L_i)`` -- a SUM, not a mean (averaging shrinks the
    objective so that default tolerances stop far from the optimum; Besiroglu et al. 2024).
    Exponents are bounded to [0, 2.5]; a, b, e are free.

    Parameters
    ----------
    N : ndarray, shape (n,)
        Model parameters of each run (count, > 0).
    D : ndarray, shape (n,)
        Training tokens of each run (count, > 0).
    L : ndarray, shape (n,)
        Final loss of each run (nats/token, > 0).
    method : {"vpnls", "lbfgs"}
        ``"vpnls"`` (default, fast): NNLS for (E, A, B) on a dense (alpha, beta) grid, then L-BFGS-B
        on all five parameters from the ``n_refine`` best cells. ``"lbfgs"``: the reference procedure,
        L-BFGS-B from each point of Chinchilla's 4,500-point grid (or ``n_starts`` of them).
    delta : float
        Huber threshold on log residuals (dimensionless), default 1e-3 as in the paper.
    n_starts : int or None
        ``"lbfgs"`` only: number of grid starts (evenly spaced subset of the 4,500; None = all).
    n_refine : int
        ``"vpnls"`` only: number of best grid cells refined with L-BFGS-B (>= 1).
    exponent_grid : ndarray, shape (k,), optional
        ``"vpnls"`` only: values of alpha and of beta for the grid (default 50 values in [0.05, 2.5]).
    init : mapping, optional
        Warm start: E, A, B, alpha, beta. When given, the grid is skipped and a single L-BFGS-B run
        starts here (used by bootstrap refits, which start from the full-data optimum).
    fixed : mapping, optional
        Constrained fit: hold some of ``E`` (nats/token, > 0), ``alpha``, ``beta`` (in [0, 2.5]) at the given
        values and fit the rest, e.g. ``{"E": 1.69}`` (fixed irreducible loss) or ``{"alpha": 0.34}``.
    tie_exponents : bool
        Constrained fit with ``beta = alpha`` (one shared exponent, as in the symmetric laws of Muennighoff et
        al. 2023, arXiv:2305.16264, and Porian et al. 2024's alpha = beta variant).

    Returns
    -------
    FitResult
        ``law="chinchilla"``, params E, A, B (nats/token units as in the model), alpha, beta;
        ``objective`` the summed Huber value; ``grad_norm`` the norm of the objective's gradient with
        respect to (a, b, e, alpha, beta) at the optimum (projected on active bounds); derived
        ``a = beta/(alpha+beta)``, ``b = alpha/(alpha+beta)``,
        ``G = (alpha A / (beta B))**(1/(alpha+beta))``; ``extra`` holds ``best_objectives`` (the
        lowest objectives among starts), ``objective_spread`` (relative spread among the best
        ``min(5, n)`` of them), ``n_near_best`` (starts within 1e-6 relative of the best), the
        bounds, ``constraints`` (``{"fixed": {...}, "tie": "alpha=beta" or None}``) and ``n_free_params``.

    Raises
    ------
    ValueError
        If N, D, L are not 1-D of the same shape, contain NaN or non-positive values, ``delta`` <= 0,
        ``method`` is unknown, or ``fixed`` names a parameter other than E, alpha, beta or an invalid value.
    InsufficientDataError
        (a ValueError) if fewer than 6 points are given.

    Notes
    -----
    Hoffmann et al. (2022), Eq. 3 and Appendix D.2, arXiv:2203.15556; Besiroglu et al. (2024),
    arXiv:2404.10102 (sum the loss, tighten tolerances, check the gradient norm); variable projection
    as in Open-Athena (2026), arXiv:2603.22339.
    """
    N, D, L = _validate(N, D, L, delta)
    if method not in ("vpnls", "lbfgs"):
        raise ValueError(f"method must be 'vpnls' or 'lbfgs', got {method!r}")
    cons = _constraint(fixed, tie_exponents)
    raw = _Problem(np.log(N), np.log(D), np.log(L), float(delta))
    # The optimiser sees the objective divided by delta: the value is then O(sum |r|) instead of
    # O(1e-3), so relative tolerances bite (the optimum is unchanged).
    scale = 1.0 / float(delta)

    if init is not None:
        missing = [k for k in ("E", "A", "B", "alpha", "beta") if k not in init]
        if missing:
            raise ValueError(f"init is missing {missing}")
        x0 = np.array(
            [np.log(init["A"]), np.log(init["B"]), np.log(init["E"]), init["alpha"], init["beta"]], float
        )
        if not np.all(np.isfinite(x0)):
            raise ValueError("init must hold positive finite E, A, B and finite alpha, beta")
        x0 = cons.impose(x0)
        p = raw.centred()
        starts = [p.to_internal(x0)]
        optimizer = "L-BFGS-B (warm start)"
        extra: dict[str, Any] = {}
    elif method == "lbfgs":
        p = raw
        starts = list(np.unique(np.array([cons.impose(z) for z in chinchilla_grid(n_starts)]), axis=0))
        optimizer = "L-BFGS-B multi-start (Chinchilla grid)"
        extra = {"grid": "chinchilla_4500" if n_starts is None else f"chinchilla_subset_{len(starts)}"}
    else:
        if n_refine < 1:
            raise ValueError(f"n_refine must be >= 1, got {n_refine}")
        grid = _default_exponent_grid() if exponent_grid is None else np.asarray(exponent_grid, float)
        if grid.ndim != 1 or grid.size == 0 or np.any(~np.isfinite(grid)) or np.any(grid < 0):
            raise ValueError("exponent_grid must be a non-empty 1-D array of finite values >= 0")
        p = raw.centred()
        fx = dict(fixed or {})
        alphas = np.array([fx["alpha"]]) if "alpha" in fx else grid
        betas = np.array([fx["beta"]]) if "beta" in fx else grid
        if tie_exponents:
            alphas = betas = (
                np.array([fx["alpha"]]) if "alpha" in fx else np.array([fx["beta"]]) if "beta" in fx else grid
            )
        z_cells, obj_cells = _vp_grid(p, L, alphas, betas, fx.get("E"))
        if tie_exponents and alphas.size > 1:
            diag = np.ravel_multi_index(
                (np.arange(alphas.size), np.arange(alphas.size)), (alphas.size, betas.size)
            )
            z_cells, obj_cells = z_cells[diag], obj_cells[diag]
        order = np.argsort(obj_cells)[:n_refine]
        starts = list(z_cells[order])
        optimizer = "variable projection (NNLS + grid) + L-BFGS-B"
        extra = {
            "grid": f"alpha, beta: {grid.size} values in [{grid.min():g}, {grid.max():g}]",
            "grid_best_objective": float(obj_cells[order[0]]),
        }

    best = None
    objs = np.empty(len(starts))
    with _blas_single_thread():
        for k, z0 in enumerate(starts):
            res = _lbfgs(np.asarray(z0, float), p, scale, cons)
            objs[k] = res.fun if np.isfinite(res.fun) else np.inf
            if best is None or objs[k] < best.fun:
                best = res

    assert best is not None
    x = p.to_raw(best.x)
    f, g = _value_and_grad(x, raw, 1.0)
    a_, b_, e_, alpha, beta = (float(v) for v in x)
    params = {
        "E": float(np.exp(e_)),
        "A": float(np.exp(a_)),
        "B": float(np.exp(b_)),
        "alpha": alpha,
        "beta": beta,
    }
    srt = np.sort(objs[np.isfinite(objs)]) / scale
    top = srt[: min(5, srt.size)]
    extra.update(
        {
            "best_objectives": [float(v) for v in top],
            "objective_spread": float((top[-1] - top[0]) / top[0]) if top[0] > 0 else 0.0,
            "n_near_best": int(np.sum(srt <= srt[0] * (1 + 1e-6) + 1e-300)),
            "bounds": {"alpha": EXPONENT_BOUNDS, "beta": EXPONENT_BOUNDS},
            "log_params": {"a": a_, "b": b_, "e": e_},
            "nit": int(best.nit),
            "constraints": {
                "fixed": {k: float(v) for k, v in (fixed or {}).items()},
                "tie": "alpha=beta" if tie_exponents else None,
            },
            "n_free_params": int(cons.free.size),
        }
    )
    grad_norm = _projected_grad_norm(x, g, cons)
    success, message = accept_small_gradient(
        bool(best.success), str(best.message), grad_norm, 1e-5 * delta * N.size
    )
    return FitResult(
        law="chinchilla",
        params=params,
        n_points=int(N.size),
        objective=f,
        loss="huber",
        delta=float(delta),
        space="log",
        optimizer=optimizer,
        n_starts=len(starts),
        grad_norm=grad_norm,
        success=success,
        message=message,
        derived=_derived(params),
        extra=extra,
    )


def _derived(params: Mapping[str, float]) -> dict[str, float]:
    """a, b and G of the compute-optimal frontier (NaN when alpha + beta <= 0 or a scale is 0)."""
    al, be = params["alpha"], params["beta"]
    s = al + be
    if not s > 0 or be <= 0 or params["B"] <= 0:
        return {"a": float("nan"), "b": float("nan"), "G": float("nan")}
    with np.errstate(divide="ignore"):
        G = float(np.exp((np.log(al * params["A"]) - np.log(be * params["B"])) / s))
    return {"a": be / s, "b": al / s, "G": G}
