"""Inference-aware model sizing (Sardana et al. 2024).

For a target loss l and a lifetime inference demand D_inf (tokens), choose (N, D) on the iso-loss
curve of the Chinchilla law L(N, D) = E + A N^-alpha + B D^-beta that minimises total FLOPs

    F(N) = 6 N D(N) + 2 N D_inf,   D(N) = [ B / (l - E - A N^-alpha) ]^(1 / beta),

which is defined for N > N_min = (A / (l - E))^(1 / alpha). The minimisation is done over ln N with
a bounded scalar search (F is smooth and has one interior minimum on (N_min, inf)).

Reference: Sardana, Portes, Doubov, Frankle 2024, "Beyond Chinchilla-Optimal: Accounting for
Inference in Language Model Scaling Laws", arXiv 2401.00448 (ICML 2024).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = ["inference_aware_optimum", "tokens_for_loss"]

_KEYS = ("E", "A", "B", "alpha", "beta")


def _check_params(params: Mapping[str, float]) -> tuple[float, float, float, float, float]:
    missing = set(_KEYS) - set(params)
    if missing:
        raise ValueError(f"params lacks {sorted(missing)}")
    vals = tuple(float(params[k]) for k in _KEYS)
    if any(not math.isfinite(v) for v in vals):
        raise ValueError("params contain NaN or infinite values")
    E, A, B, alpha, beta = vals
    if A <= 0 or B <= 0 or alpha <= 0 or beta <= 0:
        raise ValueError("A, B, alpha and beta must be > 0")
    return vals  # type: ignore[return-value]


def tokens_for_loss(params: Mapping[str, float], target_loss: float, N: float | np.ndarray) -> np.ndarray:
    """Training tokens D(N) that bring a model of N parameters to ``target_loss``.

    D(N) = [ B / (l - E - A N^-alpha) ]^(1 / beta); infinite where l - E - A N^-alpha <= 0 (the
    model is too small to ever reach l).

    Parameters
    ----------
    params : mapping
        Chinchilla law ``E`` (nats/token), ``A``, ``B``, ``alpha``, ``beta``.
    target_loss : float
        Target loss l, nats/token (> E).
    N : float or ndarray, shape (m,)
        Parameters (> 0).

    Returns
    -------
    ndarray, shape (m,)
        Tokens (inf where unreachable).

    Raises
    ------
    ValueError
        On missing/invalid parameters, target_loss <= E, or non-positive N.

    Notes
    -----
    Sardana et al. 2024, arXiv 2401.00448, Sec. 3.
    """
    E, A, B, alpha, beta = _check_params(params)
    if not math.isfinite(target_loss) or target_loss <= E:
        raise ValueError(f"target_loss must be finite and > E = {E:.6g}, got {target_loss}")
    n = np.atleast_1d(np.asarray(N, dtype=float))
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise ValueError("N must be finite and > 0")
    gap = target_loss - E - A * n ** (-alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(gap > 0, (B / np.where(gap > 0, gap, 1.0)) ** (1.0 / beta), np.inf)
    return d


def inference_aware_optimum(
    params: Mapping[str, float],
    target_loss: float,
    inference_tokens: float,
) -> dict[str, float]:
    """Minimise 6 N D + 2 N D_inf over the iso-loss curve L(N, D) = target_loss.

    Parameters
    ----------
    params : mapping
        Chinchilla law ``E`` (nats/token), ``A``, ``B``, ``alpha``, ``beta``.
    target_loss : float
        Target loss l, nats/token (> E).
    inference_tokens : float
        Lifetime inference demand D_inf, tokens (>= 0). With 0 the result is the Chinchilla
        (training-only) optimum.

    Returns
    -------
    dict
        ``N``, ``D`` (tokens), ``tokens_per_param``, ``train_flops`` (6 N D),
        ``inference_flops`` (2 N D_inf), ``total_flops``; the training-compute-optimal model
        for the same loss ``N0``, ``D0``, ``total_flops0`` (its training + inference FLOPs);
        ``saving_flops`` = total_flops0 - total_flops and ``saving_fraction`` = saving / total_flops0.

    Raises
    ------
    ValueError
        On missing/invalid params, target_loss <= E, or negative/non-finite inference_tokens.

    Notes
    -----
    Sardana et al. 2024, arXiv 2401.00448: with the unrounded Chinchilla parameters, a 13B
    Chinchilla-optimal model (D0 = 617B, loss 2.0238) and D_inf = 2T tokens give N* = 7.1B,
    D* = 1.30T, saving 1.63e22 FLOPs (16.3%). The paper solves the first-order condition with
    Newton's method; a bounded 1-D search over ln N is used here.
    """
    E, A, B, alpha, beta = _check_params(params)
    if not math.isfinite(target_loss) or target_loss <= E:
        raise ValueError(f"target_loss must be finite and > E = {E:.6g}, got {target_loss}")
    if not math.isfinite(inference_tokens) or inference_tokens < 0:
        raise ValueError(f"inference_tokens must be finite and >= 0, got {inference_tokens}")
    log_nmin = math.log(A / (target_loss - E)) / alpha  # below this the loss is unreachable

    def total(logn: float, d_inf: float) -> float:
        n = math.exp(logn)
        gap = target_loss - E - A * n ** (-alpha)
        if gap <= 0:
            return math.inf
        d = (B / gap) ** (1.0 / beta)
        return math.log(6.0 * n * d + 2.0 * n * d_inf)

    def argmin(d_inf: float) -> float:
        lo, hi = log_nmin + 1e-9, log_nmin + 60.0
        # coarse scan to bracket the single interior minimum, then refine
        grid = np.linspace(lo, hi, 601)
        vals = np.array([total(g, d_inf) for g in grid])
        i = int(np.argmin(vals))
        a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        res = minimize_scalar(
            lambda x: total(x, d_inf), bounds=(a, b), method="bounded", options={"xatol": 1e-10}
        )
        return float(res.x)

    def summary(logn: float) -> tuple[float, float, float, float]:
        n = math.exp(logn)
        d = float(tokens_for_loss(params, target_loss, n)[0])
        return n, d, 6.0 * n * d, 2.0 * n * inference_tokens

    n, d, tr, inf = summary(argmin(float(inference_tokens)))
    n0, d0, tr0, inf0 = summary(argmin(0.0))
    tot, tot0 = tr + inf, tr0 + inf0
    return {
        "N": n,
        "D": d,
        "tokens_per_param": d / n,
        "train_flops": tr,
        "inference_flops": inf,
        "total_flops": tot,
        "N0": n0,
        "D0": d0,
        "total_flops0": tot0,
        "saving_flops": tot0 - tot,
        "saving_fraction": (tot0 - tot) / tot0,
    }
