"""Published constants the simulator ships as presets, with how their replicates are drawn.

Chinchilla constant sets (SIMULATOR.md s.0), ScaleRL Table 1 (Khatri et al. 2025, arXiv 2510.13786, App. A.13),
the two-anchor RL size dependence (8B dense vs Llama-4 Scout 17B-active MoE) and Sardana et al.'s cost-calculator
hardware defaults (arXiv 2401.00448, ``cost_calculator.py``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "CHINCHILLA_PRESETS",
    "CHINCHILLA_RANGE",
    "DEFAULT_LAW",
    "DEFAULT_RL",
    "SCALERL_GPUH_RANGE",
    "SCALERL_N_RANGE",
    "SCALERL_PRESETS",
    "besiroglu_replicates",
    "rl_replicates",
]

_KEYS = ("E", "A", "B", "alpha", "beta")

#: Chinchilla law constants (E nats/token; A, B; alpha, beta). Names match app.services.sizing.PRESETS where shared.
CHINCHILLA_PRESETS: dict[str, dict[str, float]] = {
    # Besiroglu et al. 2024 (Epoch AI), arXiv 2404.10102, Table: E 1.8172, A 482.01, B 2085.43, 0.3478, 0.3658.
    "Epoch refit (Besiroglu 2024)": {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658},
    # Hoffmann et al. 2022 as used in Sardana et al.'s code (utils.py): alpha .336, beta .283.
    "Hoffmann (Sardana code)": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.336, "beta": 0.283},
    "Chinchilla (rounded, Eq. 10)": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
    "Chinchilla (unrounded)": {
        "E": math.exp(0.5267228),
        "A": math.exp(6.0073404),
        "B": math.exp(6.0179186),
        "alpha": 0.33917084,
        "beta": 0.2849083,
    },
}
DEFAULT_LAW = "Epoch refit (Besiroglu 2024)"

#: Bootstrap standard errors of the Besiroglu refit (arXiv 2404.10102; METHODS.md s.3).
BESIROGLU_SE = {"E": 0.026, "A": 124.5, "B": 1293.3, "alpha": 0.015, "beta": 0.021}

#: Range of the Chinchilla runs (Hoffmann et al. 2022 abstract: 70M to over 16B parameters, 5 to 500B tokens).
CHINCHILLA_RANGE = {"N": (7e7, 1.6e10), "D": (5e9, 5e11)}

#: Pivots for the Besiroglu replicates: A and B are re-centred so that A N_piv^-alpha and B D_piv^-beta stay fixed
#: when alpha and beta are drawn. This mimics the strong A-alpha and B-beta correlation of a real fit; the pivots
#: are chosen so that the replicates reproduce the published SEs of A and B (checked in the tests) [A].
_PIVOT_LOG_N = math.log(1 + BESIROGLU_SE["A"] / 482.01) / BESIROGLU_SE["alpha"]
_PIVOT_LOG_D = math.log(1 + BESIROGLU_SE["B"] / 2085.43) / BESIROGLU_SE["beta"]


def besiroglu_replicates(n: int, rng: np.random.Generator, params: dict[str, float] | None = None) -> dict:
    """Draw ``n`` parameter vectors of the Besiroglu refit from its published bootstrap SEs.

    E, alpha, beta ~ independent normals with the published SEs; A = A_hat N_piv^(alpha - alpha_hat) and
    B = B_hat D_piv^(beta - beta_hat) (pivots chosen to reproduce the SEs of A and B; the full covariance is not
    published) [A].

    Parameters
    ----------
    n : int
        Replicates (>= 1).
    rng : numpy.random.Generator
    params : dict, optional
        Centre (default: the Besiroglu constants).

    Returns
    -------
    dict of ndarray, shape (n,)
        E, A, B, alpha, beta.

    Notes
    -----
    Besiroglu, Erdil, Barnett, You 2024, arXiv 2404.10102 (4,000 bootstrap resamples; SEs from their covariance).
    """
    p = params or CHINCHILLA_PRESETS[DEFAULT_LAW]
    se = BESIROGLU_SE
    al = p["alpha"] + se["alpha"] * rng.standard_normal(n)
    be = p["beta"] + se["beta"] * rng.standard_normal(n)
    E = p["E"] + se["E"] * rng.standard_normal(n)
    A = p["A"] * np.exp(_PIVOT_LOG_N * (al - p["alpha"]))
    B = p["B"] * np.exp(_PIVOT_LOG_D * (be - p["beta"]))
    return {"E": E, "A": A, "B": B, "alpha": np.maximum(al, 0.05), "beta": np.maximum(be, 0.05)}


#: ScaleRL Table 1 (arXiv 2510.13786, App. A.13): C_mid (GB200 GPU-hours), B, A; N = (active) parameters.
SCALERL_PRESETS: dict[str, dict[str, float]] = {
    "ScaleRL 8B": {"A": 0.610, "B": 1.92, "C_mid": 2542.0, "N": 8e9},
    "ScaleRL-32k generation": {"A": 0.645, "B": 1.89, "C_mid": 11272.0, "N": 8e9},
    "ScaleRL batch 2048": {"A": 0.645, "B": 1.70, "C_mid": 10909.0, "N": 8e9},
    "ScaleRL Scout 17Bx16": {"A": 0.710, "B": 1.65, "C_mid": 4242.0, "N": 17e9},
}
DEFAULT_RL = "ScaleRL 8B"
#: Range of RL compute the ScaleRL fits saw (fits start at ~1.5k GPU-h; the longest run is 100k GPU-h).
SCALERL_GPUH_RANGE = (1.5e3, 1.0e5)
#: Model sizes the RL fits saw (8B dense and 17B active).
SCALERL_N_RANGE = (8e9, 1.7e10)
#: Run-to-run margin on A (3 seeds: +/-0.015-0.02), arXiv 2510.13786 App. A.5 -> SE 0.01 [A].
SCALERL_A_SE = 0.01
#: Spread of B across the 8B rows of Table 1 (1.70-2.44) -> SE 0.2 [A]; C_mid log-SE 0.15 [A].
SCALERL_B_SE = 0.2
SCALERL_LOG_CMID_SE = 0.15

#: Two-anchor size dependence (8B: A 0.61, C_mid 2542; Scout 17B active: A 0.71, C_mid 4242) [A].
ANCHOR_A_PER_DECADE = (0.710 - 0.610) / math.log10(17 / 8)
ANCHOR_CMID_EXPONENT = math.log(4242 / 2542) / math.log(17 / 8)


def rl_replicates(base: dict[str, float], n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Replicates of a published RL fit: A ~ N(A, 0.01), B ~ N(B, 0.2) (>= 0.3), log C_mid ~ N(., 0.15) [A].

    Notes
    -----
    ScaleRL (arXiv 2510.13786) reports +/-0.015-0.02 on A across seeds and no intervals on B, C_mid; the B and C_mid
    spreads are assumptions read off the spread of Table 1's 8B rows.
    """
    return {
        "A": np.clip(base["A"] + SCALERL_A_SE * rng.standard_normal(n), 0.0, 1.0),
        "B": np.maximum(base["B"] + SCALERL_B_SE * rng.standard_normal(n), 0.3),
        "C_mid": base["C_mid"] * np.exp(SCALERL_LOG_CMID_SE * rng.standard_normal(n)),
    }
