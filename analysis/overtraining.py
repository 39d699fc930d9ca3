"""Over-training law of Gadre et al. 2024 (shared exponent for N and D).

    L(C, M) = E + (a M^eta + b M^-eta) C^-eta,   C = 6 N D,  M = D / N.

Substituting C = 6 M N^2 gives the equivalent (N, D) form used for fitting,

    L(N, D) = E + a 6^-eta N^-2 eta + b 6^-eta D^-2 eta,

i.e. a Chinchilla surface whose N and D exponents are both 2 eta. For fixed M the reducible loss
is a pure power law in C; the prefactor is minimised at M* = (b / a)^(1 / (2 eta)).

Reference: Gadre et al. 2024, "Language models scale reliably with over-training and on
downstream tasks", arXiv 2403.08540 (Eq. 4); fitting procedure of the authors' repository
``mlfoundations/scaling`` (least squares in linear loss space, multi-start ``curve_fit``, keep the
start with the lowest residual RMS), re-implemented here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from analysis._common import grid_starts, multistart_curve_fit
from analysis.errors import InsufficientDataError
from analysis.results import FitResult

__all__ = ["fit_overtraining", "predict_overtraining", "overtraining_loss"]

ArrayLike = Sequence[float] | np.ndarray | float


def _arrays(N: ArrayLike, D: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    n = np.atleast_1d(np.asarray(N, dtype=float))
    d = np.atleast_1d(np.asarray(D, dtype=float))
    if n.shape != d.shape or n.ndim != 1:
        raise ValueError(f"N and D must be 1-D of the same shape, got {n.shape} and {d.shape}")
    if n.size == 0:
        raise ValueError("N and D are empty")
    if np.any(np.isnan(n)) or np.any(np.isnan(d)):
        raise ValueError("N or D contains NaN")
    if np.any(n <= 0) or np.any(d <= 0) or not (np.all(np.isfinite(n)) and np.all(np.isfinite(d))):
        raise ValueError("N and D must be finite and > 0")
    return n, d


def overtraining_loss(N: ArrayLike, D: ArrayLike, E: float, a: float, b: float, eta: float) -> np.ndarray:
    """Gadre et al. loss L = E + (a M^eta + b M^-eta) C^-eta with C = 6 N D, M = D / N.

    Parameters
    ----------
    N : float or array_like, shape (n,)
        Parameters (> 0).
    D : float or array_like, shape (n,)
        Training tokens (> 0), same shape as N.
    E : float
        Irreducible loss, nats/token.
    a, b : float
        Prefactors of the paper's form (dimensionless in FLOP units).
    eta : float
        Compute exponent (the N and D exponents are 2 eta).

    Returns
    -------
    ndarray, shape (n,)
        Predicted loss, nats/token.

    Raises
    ------
    ValueError
        On shape mismatch, empty input, NaN or non-positive N, D.

    Notes
    -----
    arXiv 2403.08540, Eq. 4.
    """
    n, d = _arrays(N, D)
    C = 6.0 * n * d
    M = d / n
    return E + (a * M**eta + b * M ** (-eta)) * C ** (-eta)


def _model(X: np.ndarray, alpha: float, beta: float, e: float, bexp: float) -> np.ndarray:
    # repository parametrisation: alpha N^b + beta 6^(b/2) (M N)^b + E, b = -2 eta
    n, m = X
    return alpha * n**bexp + beta * 6.0 ** (bexp / 2.0) * (m * n) ** bexp + e


def fit_overtraining(
    N: ArrayLike,
    D: ArrayLike,
    L: ArrayLike,
    *,
    grid: Mapping[str, Sequence[float]] | None = None,
    maxfev: int = 10000,
) -> FitResult:
    """Fit L(C, M) = E + (a M^eta + b M^-eta) C^-eta by multi-start linear-space least squares.

    The model is fitted in the repository's parametrisation
    L = alpha N^c + beta 6^(c/2) D^c + E with c = -2 eta, using ``scipy.optimize.curve_fit``
    (Levenberg-Marquardt, unweighted squared residuals in loss units) from every point of a grid
    of starts; the solution with the lowest residual RMS is kept. Then a = alpha 6^eta, b = beta.

    Parameters
    ----------
    N : array_like, shape (n,)
        Parameters of each run (> 0; Gadre et al. count embeddings).
    D : array_like, shape (n,)
        Training tokens of each run (> 0).
    L : array_like, shape (n,)
        Final loss of each run, nats/token (finite).
    grid : mapping, optional
        Start values for ``alpha``, ``beta``, ``E``, ``c`` (the N/D exponent, negative). The
        default is a 4 x 4 x 2 x 4 grid: alpha, beta in {1, 10, 100, 1000}, E in {1, 2},
        c in {-0.1, -0.3, -0.5, -0.7}.
    maxfev : int
        Function-evaluation limit per start.

    Returns
    -------
    FitResult
        ``law="overtraining"``, params ``E``, ``a``, ``b``, ``eta``; derived ``exponent_ND``
        (= 2 eta, the shared N and D exponent), ``M_star`` = (b/a)^(1/(2 eta)) (the
        tokens-per-parameter ratio minimising loss at fixed compute), ``alpha_repo``, ``rms``.
        ``objective`` is the residual RMS, ``loss="linear"``, ``space="linear"``.

    Raises
    ------
    ValueError
        On shape mismatch, empty input, NaN or non-positive N, D, or non-finite L.
    InsufficientDataError
        With fewer than 4 runs (the law has 4 parameters).
    FitError
        If no start converges.

    Notes
    -----
    Gadre et al. 2024, arXiv 2403.08540: default fit (RedPajama, C4 val loss, 5 runs) gives
    E = 1.837, shared exponent 0.273 (eta = 0.136).
    """
    n, d = _arrays(N, D)
    y = np.asarray(L, dtype=float).ravel()
    if y.shape != n.shape:
        raise ValueError(f"L must have the same shape as N, got {y.shape} and {n.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("L contains NaN or infinite values")
    if n.size < 4:
        raise InsufficientDataError(f"need at least 4 runs to fit 4 parameters, got {n.size}")
    g = dict(
        alpha=(1.0, 10.0, 100.0, 1000.0),
        beta=(1.0, 10.0, 100.0, 1000.0),
        E=(1.0, 2.0),
        c=(-0.1, -0.3, -0.5, -0.7),
    )
    if grid is not None:
        g.update({k: tuple(v) for k, v in grid.items()})
    X = np.vstack([n, d / n])
    rms, (alpha, beta, e, c), n_starts = multistart_curve_fit(
        _model, X, y, grid_starts(g, ("alpha", "beta", "E", "c")), maxfev=maxfev
    )
    eta = -c / 2.0
    a = alpha * 6.0**eta
    msg = ""
    if not (eta > 0 and a > 0 and beta > 0):
        msg = "fitted parameters outside the physical range (eta, a, b should be > 0)"
    m_star = (beta / a) ** (1.0 / (2.0 * eta)) if eta > 0 and a > 0 and beta > 0 else math.nan
    return FitResult(
        law="overtraining",
        params={"E": float(e), "a": float(a), "b": float(beta), "eta": float(eta)},
        n_points=int(n.size),
        objective=rms,
        loss="linear",
        delta=None,
        space="linear",
        optimizer="curve_fit (Levenberg-Marquardt) multi-start, lowest RMS",
        n_starts=n_starts,
        grad_norm=None,
        success=msg == "",
        message=msg,
        derived={
            "exponent_ND": float(2 * eta),
            "M_star": float(m_star),
            "alpha_repo": float(alpha),
            "rms": rms,
        },
        extra={"grid": {k: list(v) for k, v in g.items()}},
    )


def predict_overtraining(params: Mapping[str, float], N: ArrayLike, D: ArrayLike) -> np.ndarray:
    """Predicted loss of the over-training law for given runs.

    Parameters
    ----------
    params : mapping
        ``E``, ``a``, ``b``, ``eta`` (e.g. ``fit_overtraining(...).params``).
    N : float or array_like, shape (n,)
        Parameters (> 0).
    D : float or array_like, shape (n,)
        Training tokens (> 0).

    Returns
    -------
    ndarray, shape (n,)
        L = E + (a M^eta + b M^-eta) C^-eta, nats/token.

    Raises
    ------
    ValueError
        If a parameter is missing, or on invalid N, D (empty, NaN, non-positive, mismatched).

    Notes
    -----
    Gadre et al. 2024, arXiv 2403.08540.
    """
    missing = {"E", "a", "b", "eta"} - set(params)
    if missing:
        raise ValueError(f"params lacks {sorted(missing)}")
    return overtraining_loss(N, D, params["E"], params["a"], params["b"], params["eta"])
