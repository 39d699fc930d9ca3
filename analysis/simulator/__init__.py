"""Budget reallocation simulator: pretraining x RL x test-time compute (pure; see ``chain`` and ``optimise``).

The chain and its links are documented in :mod:`analysis.simulator.chain`; formulas and published numbers in
docs SIMULATOR.md (Sardana et al. arXiv 2401.00448, T^2 arXiv 2604.01411, ScaleRL arXiv 2510.13786).
"""

from analysis.simulator.chain import Assumption, Chain, Link, build_chain, default_assumptions
from analysis.simulator.costs import Costs
from analysis.simulator.optimise import (
    AXES,
    Budget,
    Outcome,
    at_split,
    cheapest_for_target,
    marginal_returns,
    optimise,
    p_beats,
)

__all__ = [
    "AXES",
    "Assumption",
    "Budget",
    "Chain",
    "Costs",
    "Link",
    "Outcome",
    "at_split",
    "build_chain",
    "cheapest_for_target",
    "default_assumptions",
    "marginal_returns",
    "optimise",
    "p_beats",
]
