"""Fitting the data-driven links of the chain: loss-to-accuracy map and per-question difficulty (pure).

* :func:`fit_accuracy_map`: scaled logistic mu(x) = theta2 / (1 + exp(theta1 (x - theta0))) of the reducible loss
  x = L - E, least squares, bootstrap over runs (T^2 Approach 2 mean link, Roberts et al. 2026, arXiv 2604.01411).
* :func:`fit_difficulty`: Beta(mu nu, (1 - mu) nu) per-question accuracy from per-problem counts (n, c), by
  beta-binomial maximum likelihood per model; the simulator keeps the left-tail exponent a = mu nu (median over
  models; replicates resample the models; a taken independent of loss [A]). Schaeffer et al. 2025 (arXiv 2502.17578) use the same
  per-problem distribution to explain pass@k power laws.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import OptimizeWarning, curve_fit, minimize
from scipy.special import betaln, expit

from analysis.errors import FitError, InsufficientDataError
from analysis.simulator.chain import Link

__all__ = ["fit_accuracy_map", "fit_beta_binomial", "fit_difficulty"]


def _logistic(x, t0, t1, t2):
    return t2 * expit(-t1 * (x - t0))


def _fit_one(x: np.ndarray, y: np.ndarray, start: np.ndarray | None = None) -> np.ndarray | None:
    """Least-squares scaled logistic from ``start`` (or a small grid of starts); None when nothing converged."""
    lo, hi = [x.min() - 10, 1e-3, 1e-3], [x.max() + 10, 100.0, 1.0]
    if start is not None:
        starts = [np.clip(start, np.add(lo, 1e-3), np.subtract(hi, 1e-3))]
    else:
        top = min(max(y.max(), 0.05) * 1.2, 1.0 - 1e-3)
        starts = [(t0, t1, top) for t0 in np.quantile(x, [0.25, 0.5, 0.75]) for t1 in (1.0, 3.0, 10.0)]
    best = None
    for p0 in starts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                p, _ = curve_fit(_logistic, x, y, p0=p0, bounds=(lo, hi), maxfev=5000)
        except (RuntimeError, ValueError):
            continue
        rss = float(np.sum((_logistic(x, *p) - y) ** 2))
        if best is None or rss < best[0]:
            best = (rss, p)
    return None if best is None else best[1]


def fit_accuracy_map(
    reducible_loss: ArrayLike, accuracy: ArrayLike, *, n_boot: int = 200, seed: int = 0, label: str = ""
) -> Link:
    """Fit mu(x) = theta2 / (1 + exp(theta1 (x - theta0))) to (reducible loss, accuracy) pairs of runs.

    Parameters
    ----------
    reducible_loss : array_like, shape (n,)
        L - E of each run (nats/token), E from a Chinchilla fit to the same runs.
    accuracy : array_like, shape (n,)
        Single-sample task accuracy of each run (fraction in [0, 1]).
    n_boot : int
        Bootstrap replicates (resampling runs).
    seed : int
    label : str
        Where the data came from (shown in the UI).

    Returns
    -------
    Link
        params theta0 (nats), theta1 (1/nats), theta2 (ceiling); replicates; range ``x`` = the losses seen.

    Raises
    ------
    InsufficientDataError
        Fewer than 5 runs.
    FitError
        The least-squares fit did not converge.

    Notes
    -----
    Scaled logistic of T^2 Approach 2 (arXiv 2604.01411); fitted on the reducible loss so the map can be moved to a
    law with another irreducible loss E (equal reducible loss -> equal accuracy, assumption [A]).
    """
    x = np.asarray(reducible_loss, dtype=float)
    y = np.asarray(accuracy, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 5:
        raise InsufficientDataError(
            f"the accuracy map needs >= 5 runs with a loss and the metric, got {x.size}"
        )
    if np.any((y < 0) | (y > 1)):
        raise ValueError("accuracy must be a fraction in [0, 1]")
    p = _fit_one(x, y)
    if p is None:
        raise FitError("the scaled-logistic accuracy map did not converge")
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(int(n_boot)):
        i = rng.integers(0, x.size, x.size)
        q = _fit_one(x[i], y[i], start=p)
        if q is not None:
            reps.append(q)
    R = np.array(reps).reshape(-1, 3)
    return Link(
        label or "scaled logistic fitted on the store",
        {"theta0": float(p[0]), "theta1": float(p[1]), "theta2": float(p[2])},
        {"theta0": R[:, 0], "theta1": R[:, 1], "theta2": R[:, 2]},
        {"x": (float(x.min()), float(x.max()))},
    )


def fit_beta_binomial(n: ArrayLike, c: ArrayLike) -> tuple[float, float]:
    """Maximum-likelihood Beta(mu nu, (1 - mu) nu) of per-problem accuracy from counts (c correct of n samples).

    Parameters
    ----------
    n, c : array_like, shape (m,)
        Samples and correct samples per problem (0 <= c <= n, n >= 1).

    Returns
    -------
    (float, float)
        (mu, nu): mean accuracy and concentration.

    Raises
    ------
    ValueError
        Bad counts or fewer than 3 problems.
    FitError
        Optimiser failure.
    """
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    if n.shape != c.shape or n.size < 3 or np.any(n < 1) or np.any(c < 0) or np.any(c > n):
        raise ValueError("counts must be arrays of equal shape with 0 <= c <= n, n >= 1, and >= 3 problems")

    def nll(z):
        mu, nu = expit(z[0]), np.exp(z[1])
        a, b = mu * nu, (1 - mu) * nu
        return -float(np.sum(betaln(c + a, n - c + b) - betaln(a, b)))

    m0 = float(np.clip(c.sum() / n.sum(), 1e-4, 1 - 1e-4))
    best = None
    for lz in (-2.0, 0.0, 2.0):
        res = minimize(
            nll,
            [np.log(m0 / (1 - m0)), lz],
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
        )
        if best is None or res.fun < best.fun:
            best = res
    if best is None or not np.all(np.isfinite(best.x)):
        raise FitError("beta-binomial fit failed")
    return float(expit(best.x[0])), float(np.exp(best.x[1]))


def fit_difficulty(groups: dict[str, tuple[ArrayLike, ArrayLike]], *, label: str = "") -> Link:
    """Left-tail exponent a = mu nu of the per-question accuracy distribution, one beta-binomial fit per model.

    Parameters
    ----------
    groups : dict
        model/run -> (n, c) per-problem counts.
    label : str

    Returns
    -------
    Link
        params ``a_tail`` (median over models); replicates = the per-model values (the chain draws them with
        replacement); ranges ``k`` = (1, largest n seen) and ``mu`` = the mean accuracies of the fitted models.

    Raises
    ------
    InsufficientDataError
        No group with usable counts.

    Notes
    -----
    1 - pass@k ~ Gamma(a + b)/Gamma(b) k^-a (T^2, arXiv 2604.01411; Schaeffer et al. 2025, arXiv 2502.17578).
    """
    tails, mus, kmax = [], [], 1.0
    for _name, (n, c) in groups.items():
        try:
            mu, nu = fit_beta_binomial(n, c)
        except (ValueError, FitError):
            continue
        tails.append(mu * nu)
        mus.append(mu)
        kmax = max(kmax, float(np.max(n)))
    if not tails:
        raise InsufficientDataError("no model has per-problem counts to fit the difficulty distribution")
    arr = np.array(tails)
    return Link(
        label or "beta-binomial fit to per-problem counts",
        {"a_tail": float(np.median(arr))},
        {"a_tail": arr},
        {"k": (1.0, kmax), "mu": (float(min(mus)), float(max(mus)))},
    )
