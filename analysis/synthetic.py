"""Synthetic pretraining runs drawn from a known Chinchilla loss surface, and reference parameter sets.

Used by tests (parameter recovery), the benchmark and the demo database. Nothing here is real data.

References
----------
Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models", arXiv:2203.15556, Eq. 10
(rounded values) and its TeX source (unrounded values, via Besiroglu et al. 2024, arXiv:2404.10102).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import polars as pl

from analysis.laws import chinchilla_loss

#: Chinchilla Approach-3 parameters as typeset in the paper (Eq. 10), rounded.
CHINCHILLA_ROUNDED: dict[str, float] = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}

#: Chinchilla Approach-3 parameters from the paper's TeX source (ln E, ln A, ln B given there).
CHINCHILLA_UNROUNDED: dict[str, float] = {
    "E": math.exp(0.5267228),
    "A": math.exp(6.0073404),
    "B": math.exp(6.0179186),
    "alpha": 0.33917084,
    "beta": 0.2849083,
}

_KEYS = ("E", "A", "B", "alpha", "beta")


def synthetic_chinchilla_runs(
    rng: np.random.Generator,
    params: Mapping[str, float] = CHINCHILLA_UNROUNDED,
    n_sizes: int = 24,
    n_per_size: int = 10,
    noise_sd: float = 0.01,
    *,
    n_range: tuple[float, float] = (7e7, 1.6e10),
    tokens_per_param_range: tuple[float, float] = (2.0, 200.0),
) -> pl.DataFrame:
    """Simulate final losses of a grid of training runs from a known loss surface.

    Model sizes are log-spaced over ``n_range``; for each size, ``n_per_size`` token counts are
    log-spaced over ``tokens_per_param_range`` times N (each jittered by up to half a grid step, so
    that sizes do not share the same ratios). The observed loss is
    ``L = L_true(N, D) * exp(noise_sd * z)``, z ~ N(0, 1): log-normal noise, i.e. additive noise of
    standard deviation ``noise_sd`` on log L, matching the log-space residuals of Approach 3.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the jitter and the noise.
    params : mapping
        True E, A, B, alpha, beta of ``L = E + A / N**alpha + B / D**beta`` (loss in nats/token).
    n_sizes : int
        Number of distinct model sizes (>= 1).
    n_per_size : int
        Runs (token budgets) per model size (>= 1).
    noise_sd : float
        Standard deviation of the log-loss noise (>= 0); 0.01 is about the residual scale of the
        Chinchilla data.
    n_range : (float, float)
        Smallest and largest model size (parameters).
    tokens_per_param_range : (float, float)
        Smallest and largest D / N.

    Returns
    -------
    polars.DataFrame
        ``n_sizes * n_per_size`` rows with columns ``run_id`` (str), ``n_params`` (float, parameters),
        ``n_tokens`` (float, tokens), ``compute_flops`` (float, 6 N D) and ``loss`` (float, nats/token).

    Raises
    ------
    ValueError
        If a count is < 1, ``noise_sd`` is negative or NaN, a range is not positive and increasing, or
        ``params`` misses a key.
    """
    if n_sizes < 1 or n_per_size < 1:
        raise ValueError(f"n_sizes and n_per_size must be >= 1, got {n_sizes}, {n_per_size}")
    if not np.isfinite(noise_sd) or noise_sd < 0:
        raise ValueError(f"noise_sd must be finite and >= 0, got {noise_sd}")
    for name, (lo, hi) in (("n_range", n_range), ("tokens_per_param_range", tokens_per_param_range)):
        if not (0 < lo <= hi and np.isfinite(hi)):
            raise ValueError(f"{name} must satisfy 0 < lo <= hi, got {(lo, hi)}")
    missing = [k for k in _KEYS if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}")

    log_n = np.linspace(np.log(n_range[0]), np.log(n_range[1]), n_sizes)
    log_m = np.linspace(np.log(tokens_per_param_range[0]), np.log(tokens_per_param_range[1]), n_per_size)
    step = (log_m[1] - log_m[0]) if n_per_size > 1 else 0.0
    N = np.repeat(np.exp(log_n), n_per_size)
    jitter = rng.uniform(-0.5, 0.5, size=N.size) * step
    M = np.exp(np.tile(log_m, n_sizes) + jitter)
    D = np.round(N * M)
    truth = np.asarray(chinchilla_loss(N, D, *(float(params[k]) for k in _KEYS)))
    loss = truth * np.exp(noise_sd * rng.standard_normal(N.size))
    return pl.DataFrame(
        {
            "run_id": [f"syn-{i:04d}" for i in range(N.size)],
            "n_params": N,
            "n_tokens": D,
            "compute_flops": 6.0 * N * D,
            "loss": loss,
        }
    )
