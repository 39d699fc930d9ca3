"""The capability chain: pretraining (N, D) -> loss -> single-sample accuracy -> RL -> test-time accuracy.

Every link holds a point estimate and R bootstrap replicates as arrays of shape (R + 1,): index 0 is the point
estimate, 1..R the replicates. The chain is evaluated for all of them at once (numpy broadcasting), so bands cost
one vectorised call.

Pairing of replicates across links: links are fitted to different data, so their errors are independent; replicate
i of the chain takes replicate i of every link that has at least R replicates, and an independent draw (with
replacement, seeded) from the links that have fewer. Assumption links (RL ceiling vs base size, RL x test-time,
selection without a verifier) draw their value uniformly inside the user's band.

Links (SIMULATOR.md s.8):
1. L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, arXiv 2203.15556; Besiroglu et al. 2024, 2404.10102).
2. mu = theta2 / (1 + exp(theta1 (L - E - theta0))): accuracy from the *reducible* loss L - E, so that a map fitted
   on one corpus can be used with a law of another (equal reducible loss -> equal accuracy is an assumption [A]).
3. difficulty: p ~ Beta(a, b) with mean mu (T^2 Approach 2, arXiv 2604.01411). The link carries the left-tail
   exponent a = mu nu fitted on per-problem counts (1 - pass@k ~ k^-a, Schaeffer et al. 2025, arXiv 2502.17578),
   held fixed as mu changes, so nu = a / mu [A] (on the store's Pythia/MATH counts a varies 5x across 170x in N,
   nu 8x).
4. RL: ScaleRL sigmoid from R0 = mu (arXiv 2510.13786); A(N) = A_ref + a_per_decade log10(min(N, N_hi) / N_ref)
   (held flat above the largest model N_hi the RL fit saw) and
   C_mid(N) = C_mid_ref (N / N_ref)^c_exp [A]; the ceiling is capped by the base model's pass@K_cov (RL re-ranks
   what the base model can already sample; K_cov = 16 generations per prompt as in ScaleRL) [A]; after RL the tail
   exponent a is kept (nu = a / mu_RL) and RL polarises difficulty, nu' = nu / (1 + kappa gain) [A]. SIMULATOR.md
   writes nu' = nu (1 + kappa gain) with the intent "later gains from k are smaller"; by Jensen a larger nu at a
   fixed mean gives *larger* gains from k, so the sign is flipped here to match the stated intent.
5. test time: pass@k with an oracle verifier 1 - B(a, b+k)/B(a, b), or majority voting (saturates below 1) [A],
   or none (single sample).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.simulator import links
from analysis.simulator.costs import Costs

__all__ = ["Assumption", "Chain", "Link", "build_chain", "decades_outside"]

TEST_TIME_MODES = ("pass@k", "majority", "none")


@dataclass(frozen=True)
class Assumption:
    """A user-tunable assumption [A]: the point value and the band its replicates are drawn from (uniform)."""

    name: str
    value: float
    lo: float
    hi: float
    meaning: str

    def __post_init__(self):
        if not (self.lo <= self.value <= self.hi):
            raise ValueError(
                f"assumption {self.name}: value {self.value} outside its band [{self.lo}, {self.hi}]"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: name, value, band [lo, hi], meaning."""
        return {"name": self.name, "value": self.value, "band": [self.lo, self.hi], "meaning": self.meaning}


@dataclass
class Link:
    """One fitted link: point parameters, replicate parameters and the range of inputs its fit saw.

    Attributes
    ----------
    label : str
        Where it came from (preset name, stored fit id, fresh fit).
    params : dict[str, float]
        Point estimate.
    replicates : dict[str, ndarray]
        Same keys, each shape (M,) (M may be 0).
    ranges : dict[str, tuple[float, float]]
        Input ranges the fit saw (e.g. N, D for the law; x for the accuracy map).
    """

    label: str
    params: dict[str, float]
    replicates: dict[str, np.ndarray] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def n_replicates(self) -> int:
        """Replicates M held (the shortest replicate array; 0 without replicates)."""
        return min((len(v) for v in self.replicates.values()), default=0)

    def stacked(self, R: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Arrays of shape (R + 1,): point first, then R replicates (paired by index if M >= R, else drawn)."""
        M = self.n_replicates
        if M >= R:
            idx = np.arange(R)
        elif M > 0:
            idx = rng.integers(0, M, size=R)
        else:
            idx = None
        out = {}
        for k, v in self.params.items():
            reps = (
                np.full(R, float(v))
                if idx is None or k not in self.replicates
                else np.asarray(self.replicates[k], dtype=float)[idx]
            )
            out[k] = np.concatenate([[float(v)], reps])
        return out


def decades_outside(value: float, lo: float, hi: float) -> float:
    """How many decades ``value`` lies outside [lo, hi] (0 inside); values <= 0 count as inside."""
    if not (value > 0 and lo > 0 and hi > 0):
        return 0.0
    d = max(0.0, math.log10(lo / value), math.log10(value / hi))
    return float(d) if d > 1e-6 else 0.0  # a value at a bound (k at its cap) is inside


@dataclass
class Chain:
    """The assembled chain; every parameter array has shape (R + 1,) (index 0 = point estimate)."""

    law: dict[str, np.ndarray]
    acc: dict[str, np.ndarray]
    tail: np.ndarray
    rl: dict[str, np.ndarray] | None
    assumptions: dict[str, Assumption]
    assumption_draws: dict[str, np.ndarray]
    test_time: str
    costs: Costs
    links: dict[str, Link]
    pairing: str
    n_replicates: int
    widen_per_decade: float = 0.5
    #: default of the optimiser's and the split's ``within_data`` (see :meth:`within_data`); False = unconstrained
    within_data_only: bool = False

    def _take(self, d: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
        return {k: v[idx] for k, v in d.items()}

    def evaluate(self, N, D, k, rl_gpu_hours, idx=None) -> dict[str, np.ndarray]:
        """Metric and intermediate quantities for decisions (N, D, k, RL GPU-hours).

        Parameters
        ----------
        N, D, k, rl_gpu_hours : array_like, broadcastable to a shape S
            Parameters, training tokens, samples per query (>= 1) and RL compute in GPU-hours (>= 0).
        idx : slice or int array, optional
            Which of the R + 1 parameter rows to use (default all).

        Returns
        -------
        dict of ndarray, each shape (len(idx), *S)
            ``loss`` (nats/token), ``mu_base`` (pass@1 before RL), ``mu_rl`` (after RL), ``metric`` (the target
            metric after test-time compute), all fractions except loss.
        """
        idx = slice(None) if idx is None else idx
        N, D, k, g = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (N, D, k, rl_gpu_hours)))
        law = self._take(self.law, idx)
        nd = N.ndim
        col = lambda a: np.asarray(a).reshape((-1,) + (1,) * nd)  # noqa: E731
        E = col(law["E"])
        L = links.loss(N, D, E, col(law["A"]), col(law["B"]), col(law["alpha"]), col(law["beta"]))
        acc = self._take(self.acc, idx)
        mu0 = links.scaled_logistic(L - E, col(acc["theta0"]), col(acc["theta1"]), col(acc["theta2"]))
        nu = col(self.tail[idx]) / np.clip(mu0, 1e-9, None)
        mu1 = mu0
        if self.rl is not None:
            rl = self._take(self.rl, idx)
            a = self._take(self.assumption_draws, idx)
            lognr = np.log10(N / col(rl["N_ref"]))
            # the ceiling grows with N only up to the largest model the RL fit saw; beyond it A is held flat, the
            # conservative reading of two anchors (growing it further made a 0.3-tokens-per-parameter 500B model
            # look best) [A]
            n_hi = self.links["rl"].ranges.get("N", (0.0, math.inf))[1] if "rl" in self.links else math.inf
            lognr_a = np.log10(np.minimum(N, n_hi) / col(rl["N_ref"]))
            A = np.clip(col(rl["A"]) + col(a["rl_ceiling_per_decade"]) * lognr_a, 0.0, 1.0)
            # RL elicits what the base model can already sample: ceiling <= base pass@K_cov [A]
            A = np.minimum(A, links.beta_pass_at_k(mu0, nu, col(a["rl_coverage_k"])))
            cmid = col(rl["C_mid"]) * np.power(10.0, col(a["rl_cmid_exponent"]) * lognr)
            mu1 = links.scalerl_gain(mu0, A, col(rl["B"]), cmid, g)
            # the tail exponent a is kept through RL (RL moves the mean, not the hardest problems), and RL polarises
            # the difficulty distribution by 1 / (1 + kappa gain), which shrinks later gains from k [A]
            nu = col(self.tail[idx]) / np.clip(mu1, 1e-9, None) / (1.0 + col(a["rl_tt_kappa"]) * (mu1 - mu0))
        if self.test_time == "pass@k":
            metric = links.beta_pass_at_k(mu1, nu, k)
        elif self.test_time == "majority":
            ws = float(self.assumptions["wrong_answer_share"].value)
            metric = links.majority_at_k(mu1, nu, k, ws)
        else:
            metric = mu1 + 0.0 * k
        return {"loss": L, "mu_base": mu0, "mu_rl": mu1, "metric": metric}

    def admissible(self, N, D) -> np.ndarray:
        """Decisions the optimiser may choose: N not below the smallest model the law was fitted on, and the
        point-estimate reducible loss L - E not above the highest loss the accuracy map was fitted on (models worse
        or smaller than any the fits saw are never recommended; larger and better ones are extrapolated and
        flagged). Arrays broadcast; True everywhere when the links have no ranges."""
        ok = np.ones(np.broadcast(np.asarray(N), np.asarray(D)).shape, dtype=bool)
        n_rng = self.links["pretraining_law"].ranges.get("N")
        if n_rng is not None:
            ok &= np.asarray(N) >= n_rng[0] * (1 - 1e-9)
        rng = self.links["accuracy_map"].ranges.get("x")
        if rng is not None:
            law = {k: v[0] for k, v in self.law.items()}
            x = law["A"] * np.power(N, -law["alpha"]) + law["B"] * np.power(D, -law["beta"])
            ok &= x <= rng[1]
        return ok

    def within_data(self, k, rl_gpu_hours, mu_rl) -> np.ndarray:
        """Decisions whose *chosen* axes stay inside what the fits saw (the default recommendation's region).

        Samples per query k > 1 only where the single-sample accuracy ``mu_rl`` (point estimate, after RL) lies inside
        the accuracies the difficulty fit saw (a user-set or default tail exponent saw none: k = 1 only); RL compute
        no larger than the largest the RL fit saw. Extrapolations the budget forces (a law past its largest run, a
        loss below the accuracy map's) are allowed and flagged. Arrays broadcast; returns a bool array.
        """
        k, g, mu = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (k, rl_gpu_hours, mu_rl)))
        mu_rng = self.links["difficulty"].ranges.get("mu")
        if mu_rng is None:
            ok_k = k <= 1.0 + 1e-6
        else:
            ok_k = (k <= 1.0 + 1e-6) | ((mu >= mu_rng[0] * (1 - 1e-9)) & (mu <= mu_rng[1] * (1 + 1e-9)))
        ok_rl = g <= 0
        if self.rl is not None:
            g_hi = self.links["rl"].ranges.get("gpu_hours", (0.0, math.inf))[1]
            ok_rl = ok_rl | (g <= g_hi * (1 + 1e-9))
        return ok_k & ok_rl

    @property
    def k_cap(self) -> float:
        """Largest samples per query the chain uses: the most samples per problem the difficulty fit saw [A]."""
        return float(self.links["difficulty"].ranges.get("k", (1.0, 1e4))[1])

    def flags(self, N: float, D: float, k: float, rl_gpu_hours: float) -> dict[str, dict[str, Any]]:
        """Extrapolation flags at one decision (point estimate): per link, the value, the range its fit saw,
        whether it is outside and by how many decades."""
        out: dict[str, dict[str, Any]] = {}

        def put(name, value, rng):
            lo, hi = rng
            dec = decades_outside(value, lo, hi)
            out[name] = {
                "value": float(value),
                "range": [float(lo), float(hi)],
                "outside": dec > 0,
                "decades_outside": dec,
            }

        law = self.links["pretraining_law"]
        if "N" in law.ranges:
            put("pretraining_law.N", N, law.ranges["N"])
        if "D" in law.ranges:
            put("pretraining_law.D", D, law.ranges["D"])
        ev = self.evaluate(N, D, k, rl_gpu_hours, idx=slice(0, 1))
        x = float(ev["loss"][0] - self.law["E"][0])
        if "x" in self.links["accuracy_map"].ranges:
            put("accuracy_map.reducible_loss", x, self.links["accuracy_map"].ranges["x"])
        if self.rl is not None and rl_gpu_hours > 0:
            rl = self.links["rl"]
            put("rl.gpu_hours", rl_gpu_hours, rl.ranges["gpu_hours"])
            put("rl.N", N, rl.ranges["N"])
            gain = float(np.ravel(ev["mu_rl"])[0] - np.ravel(ev["mu_base"])[0])
            if gain < 1e-4:  # RL moves the metric by < 1e-4: its links' ranges do not widen the band
                for name in ("rl.gpu_hours", "rl.N"):
                    if out[name]["outside"]:
                        out[name]["decades_outside"] = 0.0
                        out[name]["note"] = f"RL gain {gain:.2g} < 1e-4: flagged, no widening"
        if self.test_time != "none" and k > 1.0 + 1e-6:
            put("test_time.k", k, self.links["difficulty"].ranges.get("k", (1.0, 1e4)))
            mu_here = float(np.ravel(ev["mu_rl"])[0])
            if "mu" in self.links["difficulty"].ranges:  # the accuracies the tail exponent was fitted at
                put("difficulty.mu", mu_here, self.links["difficulty"].ranges["mu"])
            else:  # an assumed tail exponent (no per-problem counts): every k > 1 rests on it; counted as 1 decade [A]
                out["difficulty.mu"] = {
                    "value": mu_here,
                    "range": None,
                    "outside": True,
                    "decades_outside": 1.0,
                    "note": "no per-problem counts: the tail exponent is assumed",
                }
        return out

    def widening(self, flags: dict[str, dict[str, Any]]) -> float:
        """Band widening factor 1 + widen_per_decade x (decades outside, summed over links) [A]."""
        return 1.0 + self.widen_per_decade * sum(f["decades_outside"] for f in flags.values())


def default_assumptions(**overrides: float) -> dict[str, Assumption]:
    """The assumption links [A] with their default values and bands (override a value with name=value)."""
    from analysis.simulator.presets import ANCHOR_A_PER_DECADE, ANCHOR_CMID_EXPONENT

    base = {
        "rl_ceiling_per_decade": Assumption(
            "rl_ceiling_per_decade",
            0.5 * ANCHOR_A_PER_DECADE,
            0.0,
            ANCHOR_A_PER_DECADE,
            "RL asymptote A change per decade of base-model N; band from none to the ScaleRL two-anchor line "
            "(8B 0.61 -> 17B-active 0.71)",
        ),
        "rl_cmid_exponent": Assumption(
            "rl_cmid_exponent",
            ANCHOR_CMID_EXPONENT,
            0.0,
            1.0,
            "C_mid (GPU-h) grows as N^c; ScaleRL two anchors give 0.68; 1 = RL steps cost in proportion to N",
        ),
        "rl_coverage_k": Assumption(
            "rl_coverage_k",
            16.0,
            4.0,
            64.0,
            "RL ceiling capped by the base model's pass@K (RL re-ranks what the base model can sample); "
            "K = 16 generations per prompt as in ScaleRL",
        ),
        "rl_tt_kappa": Assumption(
            "rl_tt_kappa",
            0.0,
            0.0,
            2.0,
            "RL x test-time interaction: RL gain g polarises difficulty, nu' = nu / (1 + kappa g), so later gains "
            "from k shrink (0 = only the mean moves)",
        ),
        "wrong_answer_share": Assumption(
            "wrong_answer_share",
            0.5,
            0.2,
            1.0,
            "majority voting without a verifier: share of wrong mass on the most common wrong answer",
        ),
    }
    for k, v in overrides.items():
        if k not in base:
            raise ValueError(f"unknown assumption {k!r}; choose from {', '.join(base)}")
        a = base[k]
        base[k] = Assumption(k, float(v), min(a.lo, float(v)), max(a.hi, float(v)), a.meaning)
    return base


def build_chain(
    law: Link,
    accuracy_map: Link,
    difficulty: Link,
    rl: Link | None,
    *,
    test_time: str = "pass@k",
    costs: Costs | None = None,
    assumptions: dict[str, Assumption] | None = None,
    n_replicates: int = 200,
    seed: int = 0,
    widen_per_decade: float = 0.5,
    within_data_only: bool = False,
) -> Chain:
    """Assemble a :class:`Chain` from its links.

    Parameters
    ----------
    law : Link
        ``E, A, B, alpha, beta``; ranges ``N``, ``D``.
    accuracy_map : Link
        ``theta0, theta1, theta2`` of the scaled logistic in reducible loss; range ``x``.
    difficulty : Link
        ``a_tail`` (left-tail exponent a = mu nu of the Beta difficulty distribution); range ``k`` (samples per
        problem the counts saw).
    rl : Link or None
        ``A, B, C_mid, N_ref``; ranges ``gpu_hours``, ``N``. None = no RL axis.
    test_time : str
        "pass@k" (oracle verifier), "majority" (no verifier, saturating) or "none" (single sample).
    costs : Costs, optional
    assumptions : dict, optional
        Default :func:`default_assumptions`.
    n_replicates : int
        R, replicates of the band (>= 0).
    seed : int
        Seed of the generator that pairs replicates and draws assumption values.
    widen_per_decade : float
        Band widening per decade a link is extrapolated [A].
    within_data_only : bool
        Default policy of optimise / at_split / cheapest_for_target: only decisions inside what the fits saw
        (:meth:`Chain.within_data`).

    Returns
    -------
    Chain

    Raises
    ------
    ValueError
        Unknown test-time mode, negative R, missing link parameters.
    """
    if test_time not in TEST_TIME_MODES:
        raise ValueError(f"test_time must be one of {TEST_TIME_MODES}, got {test_time!r}")
    if n_replicates < 0:
        raise ValueError("n_replicates must be >= 0")
    for lk, keys in (
        (law, ("E", "A", "B", "alpha", "beta")),
        (accuracy_map, ("theta0", "theta1", "theta2")),
        (difficulty, ("a_tail",)),
    ):
        miss = [k for k in keys if k not in lk.params]
        if miss:
            raise ValueError(f"link {lk.label!r} lacks {miss}")
    rng = np.random.default_rng(seed)
    R = int(n_replicates)
    assumptions = assumptions or default_assumptions()
    draws = {k: np.concatenate([[a.value], rng.uniform(a.lo, a.hi, size=R)]) for k, a in assumptions.items()}
    links_ = {"pretraining_law": law, "accuracy_map": accuracy_map, "difficulty": difficulty}
    rl_arr = None
    if rl is not None:
        links_["rl"] = rl
        rl_arr = rl.stacked(R, rng)
    pairing = (
        "replicate i of the chain uses replicate i of each link with >= R replicates and an independent seeded "
        "draw (with replacement) from links with fewer; links are fitted to different data, so they are treated as "
        "independent; assumption values are drawn uniformly within their bands"
    )
    return Chain(
        law=law.stacked(R, rng),
        acc=accuracy_map.stacked(R, rng),
        tail=difficulty.stacked(R, rng)["a_tail"],
        rl=rl_arr,
        assumptions=assumptions,
        assumption_draws=draws,
        test_time=test_time,
        costs=costs or Costs(),
        links=links_,
        pairing=pairing,
        n_replicates=R,
        widen_per_decade=widen_per_decade,
        within_data_only=bool(within_data_only),
    )
