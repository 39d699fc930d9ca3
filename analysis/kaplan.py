"""Kaplan-style single-variable power laws L(N) = (N_c / N)^alpha_N and L(D) = (D_c / D)^alpha_D.

References
----------
Kaplan et al. (2020), "Scaling Laws for Neural Language Models", arXiv:2001.08361.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from analysis.errors import InsufficientDataError
from analysis.results import FitResult

__all__ = ["fit_power_law"]

_VARIABLES = {"N": "kaplan_N", "D": "kaplan_D", "C": "kaplan_C"}


def fit_power_law(
    x: ArrayLike,
    L: ArrayLike,
    *,
    variable: str = "N",
    loss: str = "linear",
    delta: float = 1e-3,
) -> FitResult:
    """Fit a pure power law ``L = (x_c / x)**alpha`` by regression in log-log space.

    ``log L = alpha log x_c - alpha log x`` is a straight line: with ``loss="linear"`` it is fitted by
    ordinary least squares (closed form); with ``loss="huber"`` the summed Huber_delta of the log
    residuals is minimised by L-BFGS-B started from the least-squares line.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Scale variable, > 0: non-embedding parameters (``variable="N"``), tokens (``"D"``) or FLOPs
        (``"C"``, stored as law ``"kaplan_C"``).
    L : ndarray, shape (n,)
        Loss (nats/token), > 0.
    variable : {"N", "D", "C"}
        Which law is fitted; sets ``law`` to ``"kaplan_N"``, ``"kaplan_D"`` or ``"kaplan_C"``.
    loss : {"linear", "huber"}
        Squared error or Huber loss on the log residuals.
    delta : float
        Huber threshold (log units), used when ``loss="huber"``.

    Returns
    -------
    FitResult
        params ``x_c`` (unit of ``x``) and ``alpha`` (dimensionless); objective is the sum of squared
        log residuals (``"linear"``) or of Huber terms; ``derived["r2"]`` is the log-log R^2 and
        ``derived["residual_sd"]`` the SD of log residuals (n - 2 degrees of freedom).

    Raises
    ------
    ValueError
        If x, L are not 1-D of equal shape, contain NaN or values <= 0, x is constant, ``variable`` or
        ``loss`` is unknown, or ``delta`` <= 0.
    InsufficientDataError
        (a ValueError) if fewer than 3 points are given.

    Notes
    -----
    Kaplan et al. (2020), Eq. 1.1-1.2 and Table 5 (alpha_N = 0.076, N_c = 8.8e13 non-embedding
    parameters; alpha_D = 0.095, D_c = 5.4e13 tokens), arXiv:2001.08361. A fit with alpha <= 0 (loss
    not falling with scale) is returned with ``success=False``.
    """
    if variable not in _VARIABLES:
        raise ValueError(f"variable must be one of {sorted(_VARIABLES)}, got {variable!r}")
    if loss not in ("linear", "huber"):
        raise ValueError(f"loss must be 'linear' or 'huber', got {loss!r}")
    x = np.asarray(x, dtype=float)
    L = np.asarray(L, dtype=float)
    if x.ndim != 1 or L.ndim != 1 or x.shape != L.shape:
        raise ValueError(f"x and L must be 1-D with the same shape, got {x.shape} and {L.shape}")
    for name, a in (("x", x), ("L", L)):
        if np.any(np.isnan(a)):
            raise ValueError(f"{name} contains NaN")
        if np.any(a <= 0) or np.any(~np.isfinite(a)):
            raise ValueError(f"{name} must be finite and > 0")
    if x.size < 3:
        raise InsufficientDataError(f"need at least 3 points to fit a power law, got {x.size}")
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be > 0, got {delta}")
    lx, ly = np.log(x), np.log(L)
    mx = lx.mean()
    if np.ptp(lx) == 0:
        raise ValueError("x is constant: the exponent is not identifiable")
    lxc = lx - mx
    slope = float(np.dot(lxc, ly - ly.mean()) / np.dot(lxc, lxc))
    icpt = float(ly.mean())  # intercept at log x = mx
    optimizer = "ordinary least squares (log-log)"
    grad_norm = 0.0
    success, message = True, "closed form"
    if loss == "huber":

        def fg(z):
            r = z[0] + z[1] * lxc - ly
            ar = np.abs(r)
            q = ar <= delta
            psi = np.where(q, r, delta * np.sign(r))
            f = np.sum(np.where(q, 0.5 * r * r, delta * (ar - 0.5 * delta)))
            return f / delta, np.array([psi.sum(), np.dot(psi, lxc)]) / delta

        res = minimize(fg, [icpt, slope], jac=True, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-11})
        icpt, slope = float(res.x[0]), float(res.x[1])
        grad_norm = float(np.linalg.norm(fg(res.x)[1]) * delta)
        success, message = bool(res.success), str(res.message)
        optimizer = "L-BFGS-B on log-log Huber (from OLS)"
    r = icpt + slope * lxc - ly
    if loss == "linear":
        objective = float(np.sum(r * r))
    else:
        ar = np.abs(r)
        objective = float(np.sum(np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))))
    alpha = -slope
    # log L = alpha (log x_c - log x)  =>  icpt - slope*mx = alpha log x_c
    x_c = float(np.exp((icpt - slope * mx) / alpha)) if alpha != 0 else float("nan")
    if not alpha > 0:
        success = False
        message = f"fitted alpha = {alpha:.4g} <= 0: loss does not fall with {variable}"
    ss_tot = float(np.sum((ly - ly.mean()) ** 2))
    return FitResult(
        law=_VARIABLES[variable],
        params={"x_c": x_c, "alpha": alpha},
        n_points=int(x.size),
        objective=objective,
        loss=loss,
        delta=float(delta) if loss == "huber" else None,
        space="log",
        optimizer=optimizer,
        n_starts=1,
        grad_norm=grad_norm,
        success=success,
        message=message,
        derived={
            "r2": 1.0 - float(np.sum(r * r)) / ss_tot if ss_tot > 0 else float("nan"),
            "residual_sd": float(np.sqrt(np.sum(r * r) / (x.size - 2))) if x.size > 2 else float("nan"),
        },
        extra={"variable": variable, "log_x_centre": float(mx)},
    )
