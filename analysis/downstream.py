"""Loss-to-downstream-error law of Gadre et al. 2024.

    Err(L) = eps - k exp(-gamma L)

eps is the error ceiling approached as the loss grows (roughly chance level); k and gamma shape
the descent as the loss falls.

Reference: Gadre et al. 2024, "Language models scale reliably with over-training and on
downstream tasks", arXiv 2403.08540 (Eq. 5); fitted like the authors' repository
``mlfoundations/scaling`` (linear-space least squares, multi-start ``curve_fit``, lowest RMS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from analysis._common import grid_starts, multistart_curve_fit
from analysis.errors import InsufficientDataError
from analysis.results import FitResult

__all__ = ["fit_loss_to_error", "predict_error"]

ArrayLike = Sequence[float] | np.ndarray | float


def _loss_array(L: ArrayLike) -> np.ndarray:
    x = np.atleast_1d(np.asarray(L, dtype=float))
    if x.ndim != 1:
        raise ValueError(f"L must be 1-D, got shape {x.shape}")
    if x.size == 0:
        raise ValueError("L is empty")
    if np.any(np.isnan(x)):
        raise ValueError("L contains NaN")
    if np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise ValueError("L must be finite and > 0")
    return x


def _model(L: np.ndarray, eps: float, k: float, gamma: float) -> np.ndarray:
    return eps - k * np.exp(-gamma * L)


def fit_loss_to_error(
    L: ArrayLike,
    err: ArrayLike,
    *,
    grid: Mapping[str, Sequence[float]] | None = None,
    maxfev: int = 10000,
) -> FitResult:
    """Fit Err(L) = eps - k exp(-gamma L) by multi-start linear-space least squares.

    Parameters
    ----------
    L : array_like, shape (n,)
        Loss of each model, nats/token (> 0), e.g. C4 validation loss.
    err : array_like, shape (n,)
        Downstream top-1 error of each model (fraction in [0, 1]), e.g. the 17-task average.
    grid : mapping, optional
        Start values for ``eps``, ``k``, ``gamma``. Default: eps in {0.5, 0.8, 1.0},
        k in {0.5, 1, 2, 5}, gamma in {0.1, 0.5, 1, 2}.
    maxfev : int
        Function-evaluation limit per start.

    Returns
    -------
    FitResult
        ``law="loss_to_error"``, params ``eps``, ``k``, ``gamma``; ``objective`` = residual RMS;
        ``loss="linear"``, ``space="linear"``.

    Raises
    ------
    ValueError
        On shape mismatch, empty input, NaN, non-positive L, or err outside [0, 1].
    InsufficientDataError
        With fewer than 3 points.
    FitError
        If no start converges.

    Notes
    -----
    Gadre et al. 2024, arXiv 2403.08540: default fit (RedPajama, C4 loss, 17-task error,
    6 runs) gives eps, k, gamma = 0.857, 2.206, 0.715.
    """
    x = _loss_array(L)
    y = np.asarray(err, dtype=float).ravel()
    if y.shape != x.shape:
        raise ValueError(f"err must have the same shape as L, got {y.shape} and {x.shape}")
    if np.any(~np.isfinite(y)) or np.any((y < 0) | (y > 1)):
        raise ValueError("err must be finite and within [0, 1]")
    if x.size < 3:
        raise InsufficientDataError(f"need at least 3 points to fit 3 parameters, got {x.size}")
    g = dict(eps=(0.5, 0.8, 1.0), k=(0.5, 1.0, 2.0, 5.0), gamma=(0.1, 0.5, 1.0, 2.0))
    if grid is not None:
        g.update({k: tuple(v) for k, v in grid.items()})
    rms, (eps, k, gamma), n_starts = multistart_curve_fit(
        _model, x, y, grid_starts(g, ("eps", "k", "gamma")), maxfev=maxfev
    )
    return FitResult(
        law="loss_to_error",
        params={"eps": float(eps), "k": float(k), "gamma": float(gamma)},
        n_points=int(x.size),
        objective=rms,
        loss="linear",
        delta=None,
        space="linear",
        optimizer="curve_fit (Levenberg-Marquardt) multi-start, lowest RMS",
        n_starts=n_starts,
        success=True,
        derived={"rms": rms},
        extra={"grid": {k_: list(v) for k_, v in g.items()}},
    )


def predict_error(params: Mapping[str, float], L: ArrayLike) -> np.ndarray:
    """Downstream error predicted from loss, Err(L) = eps - k exp(-gamma L).

    Parameters
    ----------
    params : mapping
        ``eps``, ``k``, ``gamma`` (e.g. ``fit_loss_to_error(...).params``).
    L : float or array_like, shape (n,)
        Loss, nats/token (> 0).

    Returns
    -------
    ndarray, shape (n,)
        Predicted top-1 error (fraction).

    Raises
    ------
    ValueError
        If a parameter is missing or L is invalid (empty, NaN, non-positive).

    Notes
    -----
    Gadre et al. 2024, arXiv 2403.08540, Eq. 5.
    """
    missing = {"eps", "k", "gamma"} - set(params)
    if missing:
        raise ValueError(f"params lacks {sorted(missing)}")
    return _model(_loss_array(L), params["eps"], params["k"], params["gamma"])
