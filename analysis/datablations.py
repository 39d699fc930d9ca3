"""Data-constrained scaling law of Muennighoff et al. 2023 ("datablations").

    L(N, D, U) = E + A / N'^alpha + B / D'^beta
    D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)),   U_D = min(U, D),  R_D = max(D / U_D - 1, 0)
    N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*)),   U_N = min(N, N_opt(U)),  R_N = max(N / U_N - 1, 0)

where N_opt(U) is the compute-optimal model size for U tokens under the base law. With the
balance condition alpha A / N^alpha = beta B / D^beta of the closed-form frontier,
N_opt(D) = (alpha A / (beta B))^(1/alpha) D^(beta/alpha); for the published tied exponents
(alpha = beta) this is N_opt(U) = (A / B)^(1/alpha) U.

Repeated tokens are worth less than fresh ones (decay constant R_D* ~ 15 extra epochs), and
parameters beyond the compute-optimal size for the unique data are worth less (R_N* ~ 5.3).

Reference: Muennighoff, Rush, Barak, Le Scao, Piktus, Tazi, Pyysalo, Wolf, Raffel 2023,
"Scaling Data-Constrained Language Models", arXiv 2305.16264 (NeurIPS 2023), Sec. 3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["DATABLATIONS_PUBLISHED", "datablations_loss", "effective_data", "effective_params"]

#: Published parameters (paper Sec. 3 / README / notebook of huggingface/datablations). A, B, E,
#: alpha = beta were fitted to C4 isoFLOP points read from Hoffmann et al.; R_D*, R_N* on 182 runs.
DATABLATIONS_PUBLISHED: dict[str, float] = {
    "E": math.exp(0.6254804),
    "A": math.exp(6.255414),
    "B": math.exp(7.3049974),
    "alpha": 0.3526596,
    "beta": 0.3526596,
    "R_D_star": 15.387756,
    "R_N_star": 5.309743,
}

ArrayLike = Sequence[float] | np.ndarray | float
_KEYS = ("E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star")


def _pos(name: str, x: ArrayLike) -> np.ndarray:
    a = np.atleast_1d(np.asarray(x, dtype=float))
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if np.any(np.isnan(a)):
        raise ValueError(f"{name} contains NaN")
    if np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name} must be finite and > 0")
    return a


def _params(params: Mapping[str, float]) -> dict[str, float]:
    missing = set(_KEYS) - set(params)
    if missing:
        raise ValueError(f"params lacks {sorted(missing)}")
    p = {k: float(params[k]) for k in _KEYS}
    if any(not math.isfinite(v) for v in p.values()):
        raise ValueError("params contain NaN or infinite values")
    if min(p["A"], p["B"], p["alpha"], p["beta"], p["R_D_star"], p["R_N_star"]) <= 0:
        raise ValueError("A, B, alpha, beta, R_D_star and R_N_star must be > 0")
    return p


def effective_data(D: ArrayLike, U: ArrayLike, R_D_star: float) -> np.ndarray:
    """Effective data D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)), R_D = max(D / U_D - 1, 0).

    U_D = min(U, D) is the number of unique tokens actually seen (the paper writes U_D = U
    and only considers D >= U).

    Parameters
    ----------
    D : float or array_like, shape (n,)
        Total training tokens (> 0).
    U : float or array_like, shape (n,)
        Unique tokens available (> 0); D / U is the number of epochs.
    R_D_star : float
        Decay constant in repeated epochs (> 0).

    Returns
    -------
    ndarray, shape (n,)
        Effective tokens (<= D, equal to D when D <= U).

    Raises
    ------
    ValueError
        On NaN, empty or non-positive input, or shape mismatch.

    Notes
    -----
    Muennighoff et al. 2023, arXiv 2305.16264, Eq. 5.
    """
    d, u = _pos("D", D), _pos("U", U)
    if d.shape != u.shape and d.size != 1 and u.size != 1:
        raise ValueError(f"D and U must have the same shape, got {d.shape} and {u.shape}")
    u_d = np.minimum(u, d)  # unique tokens actually seen
    r_d = np.maximum(d / u_d - 1.0, 0.0)
    return u_d + u_d * R_D_star * (1.0 - np.exp(-r_d / R_D_star))


def effective_params(N: ArrayLike, U: ArrayLike, params: Mapping[str, float]) -> np.ndarray:
    """Effective parameters N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*)).

    U_N = min(N, N_opt(U)) with N_opt(U) = (alpha A / (beta B))^(1/alpha) U^(beta/alpha), and
    R_N = max(N / U_N - 1, 0).

    Parameters
    ----------
    N : float or array_like, shape (n,)
        Parameters (> 0).
    U : float or array_like, shape (n,)
        Unique tokens (> 0).
    params : mapping
        ``A``, ``B``, ``alpha``, ``beta``, ``R_N_star`` (plus the other datablations keys).

    Returns
    -------
    ndarray, shape (n,)
        Effective parameters (<= N).

    Raises
    ------
    ValueError
        On invalid input or parameters.

    Notes
    -----
    Muennighoff et al. 2023, arXiv 2305.16264, Eq. 6.
    """
    p = _params(params)
    n, u = _pos("N", N), _pos("U", U)
    n_opt = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1.0 / p["alpha"]) * u ** (p["beta"] / p["alpha"])
    u_n = np.minimum(n, n_opt)
    r_n = np.maximum(n / u_n - 1.0, 0.0)
    return u_n + u_n * p["R_N_star"] * (1.0 - np.exp(-r_n / p["R_N_star"]))


def datablations_loss(
    N: ArrayLike, D: ArrayLike, U: ArrayLike, params: Mapping[str, float] = DATABLATIONS_PUBLISHED
) -> np.ndarray:
    """Loss under data repetition, L = E + A / N'^alpha + B / D'^beta.

    Parameters
    ----------
    N : float or array_like, shape (n,)
        Parameters (> 0).
    D : float or array_like, shape (n,)
        Total training tokens (> 0).
    U : float or array_like, shape (n,)
        Unique tokens available (> 0).
    params : mapping, default :data:`DATABLATIONS_PUBLISHED`
        ``E`` (nats/token), ``A``, ``B``, ``alpha``, ``beta``, ``R_D_star``, ``R_N_star``.

    Returns
    -------
    ndarray, shape (n,)
        Predicted loss, nats/token (GPT-2 tokenizer, C4 for the published parameters).

    Raises
    ------
    ValueError
        On NaN, empty, non-positive or mismatched inputs, or missing/invalid parameters.

    Notes
    -----
    Muennighoff et al. 2023, arXiv 2305.16264. The published law gives R^2 = 0.7722 on the
    paper's 182-run default fitting set.
    """
    p = _params(params)
    n, d, u = _pos("N", N), _pos("D", D), _pos("U", U)
    if not (n.shape == d.shape == u.shape):
        raise ValueError(f"N, D and U must have the same shape, got {n.shape}, {d.shape}, {u.shape}")
    d_eff = effective_data(d, u, p["R_D_star"])
    n_eff = effective_params(n, u, p)
    return p["E"] + p["A"] / n_eff ** p["alpha"] + p["B"] / d_eff ** p["beta"]
