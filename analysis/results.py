"""Frozen result records shared by every fitter.

Every fitter in ``analysis`` returns a :class:`FitResult`; bootstrap procedures return a
:class:`Bootstrap` whose replicate arrays are kept so that downstream tools (the budget simulator)
can chain fits replicate by replicate. Both convert to plain JSON-able dicts with ``to_record()``
so the data layer can store them without importing ``analysis``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Bootstrap:
    """Replicates of a fit's parameters (and derived quantities).

    Attributes
    ----------
    replicates : dict[str, ndarray of shape (n_replicates,)]
        One array per parameter or derived quantity, aligned across keys (row b of every array
        comes from replicate b). Failed replicates are NaN.
    seed : int
        Seed of the ``numpy.random.Generator`` that drew the resamples.
    unit : str
        What was resampled: ``"run"`` (whole runs, cluster bootstrap), ``"point"``, ``"problem"``.
    method : str
        ``"nonparametric"`` (resample with replacement) or e.g. ``"noise-injection"``.
    """

    replicates: dict[str, np.ndarray]
    seed: int
    unit: str = "run"
    method: str = "nonparametric"

    @property
    def n(self) -> int:
        """Number of replicates (including failed ones)."""
        return len(next(iter(self.replicates.values()))) if self.replicates else 0

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        """Percentile interval of ``name`` at confidence ``level`` (0 < level < 1), NaNs ignored.

        Raises
        ------
        KeyError
            If ``name`` has no replicates.
        ValueError
            If ``level`` is not in (0, 1).
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {level}")
        x = np.asarray(self.replicates[name], dtype=float)
        x = x[np.isfinite(x)]
        if x.size == 0:
            return (math.nan, math.nan)
        lo, hi = np.quantile(x, [(1 - level) / 2, 1 - (1 - level) / 2])
        return (float(lo), float(hi))

    def intervals(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Percentile intervals for every key."""
        return {k: self.interval(k, level) for k in self.replicates}

    def n_failed(self) -> int:
        """Replicates whose first parameter is NaN (the refit failed)."""
        if not self.replicates:
            return 0
        return int(np.sum(~np.isfinite(next(iter(self.replicates.values())))))

    def to_record(self) -> dict[str, Any]:
        """Plain dict (lists of floats, NaN as None) for storage."""
        return {
            "seed": self.seed,
            "unit": self.unit,
            "method": self.method,
            "replicates": {
                k: [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float)]
                for k, a in self.replicates.items()
            },
        }


@dataclass(frozen=True)
class FitResult:
    """Outcome of one fit of one law to one data selection.

    Attributes
    ----------
    law : str
        Law identifier, e.g. ``"chinchilla"`` (L = E + A/N^alpha + B/D^beta), ``"compute"``
        (L = E + A C^-alpha), ``"sigmoid"`` (ScaleRL), ``"coverage_exp_power"``.
    params : dict[str, float]
        Fitted parameters in natural units (A, B stored raw, not log).
    n_points : int
        Number of data points used.
    objective : float
        Final value of the objective that was minimised.
    loss : str
        ``"huber"``, ``"linear"``, ``"soft_l1"`` ...; ``delta`` is the Huber threshold if any.
    space : str
        ``"log"`` when residuals are log(prediction) - log(observed), ``"linear"`` otherwise.
    optimizer : str
        E.g. ``"L-BFGS-B multi-start"``, ``"variable projection (NNLS + grid) + L-BFGS-B"``.
    n_starts : int
        Number of optimizer starts tried.
    grad_norm : float or None
        Norm of the objective's gradient at the returned optimum (a convergence check).
    success : bool
        Whether the optimizer reported convergence.
    message : str
        Optimizer message or a human-readable warning.
    derived : dict[str, float]
        Derived quantities (a, b, G, tokens per parameter at a budget, ...).
    bootstrap : Bootstrap or None
        Replicates, when an uncertainty analysis was run.
    extra : dict
        Law-specific details (bounds, initialisation grid, spread among best starts, ...).
    """

    law: str
    params: dict[str, float]
    n_points: int
    objective: float
    loss: str = "huber"
    delta: float | None = None
    space: str = "log"
    optimizer: str = ""
    n_starts: int = 1
    grad_norm: float | None = None
    success: bool = True
    message: str = ""
    derived: dict[str, float] = field(default_factory=dict)
    bootstrap: Bootstrap | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        """Bootstrap percentile interval of a parameter or derived quantity (NaNs if none)."""
        if self.bootstrap is None or name not in self.bootstrap.replicates:
            return (math.nan, math.nan)
        return self.bootstrap.interval(name, level)

    def to_record(self) -> dict[str, Any]:
        """Plain JSON-able dict (without replicates; see ``Bootstrap.to_record``)."""
        d = asdict(self)
        d.pop("bootstrap")
        d["intervals_95"] = (
            {k: list(v) for k, v in self.bootstrap.intervals(0.95).items()} if self.bootstrap else {}
        )
        return _jsonable(d)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
