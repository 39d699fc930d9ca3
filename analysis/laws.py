"""Closed-form pretraining scaling laws, vectorised over numpy arrays.

Each function evaluates a law; fitting lives in :mod:`analysis.chinchilla`, :mod:`analysis.compute_optimal`
and :mod:`analysis.kaplan`. Inputs broadcast against each other with numpy rules.

References
----------
Kaplan et al. (2020), "Scaling Laws for Neural Language Models", arXiv:2001.08361.
Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models", arXiv:2203.15556.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _positive(name: str, x: ArrayLike) -> np.ndarray:
    """Convert ``x`` to a float array and check that every entry is finite and > 0."""
    arr = np.asarray(x, dtype=float)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} contains NaN")
    if np.any(arr <= 0) or np.any(~np.isfinite(arr)):
        raise ValueError(f"{name} must be finite and > 0")
    return arr


def _finite(name: str, x: ArrayLike) -> np.ndarray:
    """Convert ``x`` to a float array and check that every entry is finite."""
    arr = np.asarray(x, dtype=float)
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} contains NaN")
    if np.any(~np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _result(x: np.ndarray) -> np.ndarray | float:
    return float(x) if np.ndim(x) == 0 else x


def chinchilla_loss(
    N: ArrayLike, D: ArrayLike, E: float, A: float, B: float, alpha: float, beta: float
) -> np.ndarray | float:
    """Chinchilla Approach-3 parametric loss surface.

    ``L(N, D) = E + A / N**alpha + B / D**beta``.

    Parameters
    ----------
    N : float or ndarray, shape (n,)
        Model parameters (count). Must be > 0.
    D : float or ndarray, shape (n,) or broadcastable to ``N``
        Training tokens (count). Must be > 0.
    E : float
        Irreducible loss (nats/token), >= 0.
    A, B : float
        Scale of the finite-capacity and finite-data terms (nats/token times N**alpha, D**beta), >= 0.
    alpha, beta : float
        Exponents of N and D (dimensionless), finite.

    Returns
    -------
    float or ndarray
        Predicted loss in nats/token, with the broadcast shape of ``N`` and ``D``.

    Raises
    ------
    ValueError
        If any N or D is <= 0 or NaN, or a parameter is NaN / negative (E, A, B).

    Notes
    -----
    Hoffmann et al. (2022), Eq. 2 and Eq. 10, arXiv:2203.15556.
    """
    N = _positive("N", N)
    D = _positive("D", D)
    for name, v in (("E", E), ("A", A), ("B", B)):
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be finite and >= 0, got {v}")
    _finite("alpha", alpha)
    _finite("beta", beta)
    out = E + A * np.exp(-alpha * np.log(N)) + B * np.exp(-beta * np.log(D))
    return _result(out)


def compute_law_loss(C: ArrayLike, E: float, A: float, alpha: float) -> np.ndarray | float:
    """Saturating power law in training compute.

    ``L(C) = E + A * C**(-alpha)``.

    Parameters
    ----------
    C : float or ndarray, shape (n,)
        Training compute in FLOPs. Must be > 0.
    E : float
        Irreducible loss (nats/token), >= 0.
    A : float
        Scale (nats/token times FLOPs**alpha), >= 0.
    alpha : float
        Compute exponent (dimensionless), finite.

    Returns
    -------
    float or ndarray
        Predicted loss in nats/token, shape of ``C``.

    Raises
    ------
    ValueError
        If any C <= 0 or NaN, or E, A are negative / NaN.

    Notes
    -----
    The compute-optimal frontier of Hoffmann et al. (2022), arXiv:2203.15556, is of this form only
    approximately (exactly when alpha = beta); it is the usual form for L(C) envelopes.
    """
    C = _positive("C", C)
    for name, v in (("E", E), ("A", A)):
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be finite and >= 0, got {v}")
    _finite("alpha", alpha)
    return _result(E + A * np.exp(-alpha * np.log(C)))


def power_law_loss(x: ArrayLike, x_c: float, alpha: float) -> np.ndarray | float:
    """Kaplan-style pure power law.

    ``L(x) = (x_c / x)**alpha`` with x = N (non-embedding parameters), D (tokens) or C.

    Parameters
    ----------
    x : float or ndarray, shape (n,)
        Scale variable (parameters, tokens or compute). Must be > 0.
    x_c : float
        Critical scale in the unit of ``x``. Must be > 0.
    alpha : float
        Exponent (dimensionless), finite.

    Returns
    -------
    float or ndarray
        Loss in nats/token, shape of ``x``.

    Raises
    ------
    ValueError
        If x or x_c is <= 0 or NaN.

    Notes
    -----
    Kaplan et al. (2020), Table 5 (alpha_N = 0.076, N_c = 8.8e13; alpha_D = 0.095, D_c = 5.4e13),
    arXiv:2001.08361.
    """
    x = _positive("x", x)
    _positive("x_c", x_c)
    _finite("alpha", alpha)
    return _result(np.exp(alpha * (np.log(x_c) - np.log(x))))


def flops_6nd(N: ArrayLike, D: ArrayLike) -> np.ndarray | float:
    """Training compute by the 6ND approximation.

    ``C = 6 * N * D`` FLOPs (2 N for the forward pass, 4 N for the backward pass, per token).

    Parameters
    ----------
    N : float or ndarray, shape (n,)
        Model parameters (count), > 0.
    D : float or ndarray, broadcastable to ``N``
        Training tokens (count), > 0.

    Returns
    -------
    float or ndarray
        Training FLOPs, broadcast shape of ``N`` and ``D``.

    Raises
    ------
    ValueError
        If any N or D is <= 0 or NaN.

    Notes
    -----
    Kaplan et al. (2020), Sec. 2.1, arXiv:2001.08361; Hoffmann et al. (2022), arXiv:2203.15556.
    """
    return _result(6.0 * _positive("N", N) * _positive("D", D))
