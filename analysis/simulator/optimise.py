"""Simulate a budget split, find the best split (scipy), the cheapest split reaching a target, marginal returns.

Decision variables: model size N, samples per query k (>= 1) and the RL share r of the budget. Given them, the
lifetime serving cost Q (2 N T_in + 2 N k T_out) and the RL cost are paid first and the rest of the budget trains
the model, D = C_pre / (6 N). With no RL and k = 1 this is exactly Sardana et al.'s problem (arXiv 2401.00448) on a
single budget; with no demand it is Chinchilla's (arXiv 2203.15556). A user-set split (p, r, t) instead fixes the
three spends and the inner size N is optimised.

Decisions are chosen on the point estimate, among models no worse than the worst the accuracy map was fitted on
(Chain.admissible);  the band is the metric of that decision under every replicate (what
happens if we do this), 2.5-97.5 percentiles, widened by the chain's extrapolation factor and extended to contain
the point estimate. Per-replicate optima (what each replicate would have chosen) give intervals on N and the shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from analysis.simulator.chain import Chain
from analysis.simulator.costs import serving_flops

__all__ = [
    "AXES",
    "Budget",
    "Outcome",
    "at_split",
    "cheapest_for_target",
    "marginal_returns",
    "optimise",
    "p_beats",
]

AXES = ("pretraining", "rl", "test_time")
_K_MAX = 1e4
_NEG = -1e9


@dataclass(frozen=True)
class Budget:
    """Total budget and lifetime demand.

    Attributes
    ----------
    total : float
        Budget in ``unit`` (FLOPs or US dollars), > 0.
    unit : str
        "flops" (every phase's FLOP counts 1) or "usd" (each phase priced by its MFU and $/GPU-h).
    queries : float
        Lifetime queries Q (>= 0). With 0 there is no demand: no serving cost and one sample (k = 1).
    prompt_tokens : float
        T_in, prompt tokens per query (processed once), >= 0.
    output_tokens : float
        T_out, generated tokens per sample, > 0.
    """

    total: float
    unit: str = "flops"
    queries: float = 0.0
    prompt_tokens: float = 70.0
    output_tokens: float = 215.0

    def __post_init__(self):
        if not (math.isfinite(self.total) and self.total > 0):
            raise ValueError(f"budget must be a positive number, got {self.total}")
        if self.unit not in ("flops", "usd"):
            raise ValueError(f"unit must be 'flops' or 'usd', got {self.unit!r}")
        if not (math.isfinite(self.queries) and self.queries >= 0):
            raise ValueError(f"queries must be >= 0, got {self.queries}")
        if self.prompt_tokens < 0 or not self.output_tokens > 0:
            raise ValueError("prompt tokens must be >= 0 and output tokens per sample > 0")

    def scaled(self, total: float) -> Budget:
        """The same demand and unit with another total."""
        return Budget(total, self.unit, self.queries, self.prompt_tokens, self.output_tokens)


@dataclass
class Outcome:
    """A simulated decision: what is spent where and the metric with its band.

    ``replicates`` (shape (R,)) holds the metric of the decision under each replicate, for P(beats).
    """

    N: float
    D: float
    k: float
    shares: dict[str, float]
    flops: dict[str, float]
    gpu_hours: dict[str, float]
    usd: dict[str, float]
    metric: dict[str, float]
    loss: float
    base_accuracy: float
    rl_accuracy: float
    flags: dict[str, dict[str, Any]]
    widening: float
    replicates: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    unused_share: float = 0.0
    intervals: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (no replicate array)."""
        return {
            "shares": dict(self.shares),
            "N": self.N,
            "D": self.D,
            "tokens_per_param": self.D / self.N,
            "samples_per_query": self.k,
            "metric": dict(self.metric),
            "loss": self.loss,
            "base_accuracy": self.base_accuracy,
            "rl_accuracy": self.rl_accuracy,
            "flops": dict(self.flops),
            "gpu_hours": dict(self.gpu_hours),
            "usd": dict(self.usd),
            "unused_share": self.unused_share,
            "intervals_95": dict(self.intervals),
        }


# ------------------------------------------------------------------------------------------------------------
# allocation
# ------------------------------------------------------------------------------------------------------------
def _weights(chain: Chain, budget: Budget) -> dict[str, float]:
    return chain.costs.weights(budget.unit)


def _alloc(chain: Chain, budget: Budget, N, k, r):
    """Spend per phase (budget units) and D, RL GPU-hours for decisions (N, k, r); arrays broadcast."""
    w = _weights(chain, budget)
    pre_f, dec_f = serving_flops(N, budget.queries, budget.prompt_tokens, budget.output_tokens, k)
    serve = pre_f * w["prefill"] + dec_f * w["decode"]
    rl_cost = np.asarray(r, dtype=float) * budget.total
    pre_cost = budget.total - serve - rl_cost
    D = pre_cost / w["train"] / (6.0 * np.asarray(N, dtype=float))
    rl_flops = rl_cost / w["rl"]
    gpuh = rl_flops / (3600.0 * chain.costs.rl_peak_flops * chain.costs.mfu_rl)
    return D, gpuh, pre_cost, serve


def _metric_decision(
    chain: Chain, budget: Budget, N, k, r, idx=None, within_data: bool = False
) -> np.ndarray:
    D, gpuh, pre_cost, _ = _alloc(chain, budget, N, k, r)
    ok = D > 0
    ok = ok & chain.admissible(N, np.where(ok, D, 1.0))
    Dx = np.where(ok, D, 1.0)
    ev = chain.evaluate(N, Dx, k, gpuh, idx=idx)
    if within_data:  # judged on the point estimate, so every replicate sees the same region
        point = idx is not None and isinstance(idx, slice) and idx.start in (0, None) and idx.stop == 1
        mu = ev["mu_rl"][0] if point else chain.evaluate(N, Dx, k, gpuh, idx=slice(0, 1))["mu_rl"][0]
        ok = ok & chain.within_data(k, gpuh, mu)
    return np.where(ok, ev["metric"], _NEG)


def _k_axis(chain: Chain, budget: Budget) -> bool:
    return budget.queries > 0 and chain.test_time != "none"


def _n_bracket(chain: Chain, budget: Budget) -> tuple[float, float]:
    """log N search interval around Chinchilla's N* for the whole budget spent on training (point law)."""
    from analysis.simulator.links import chinchilla_optimum

    law = {k: float(v[0]) for k, v in chain.law.items()}
    w = _weights(chain, budget)
    n_star, _ = chinchilla_optimum(law, budget.total / w["train"])
    lo = math.log(float(n_star)) - math.log(1e4)
    n_rng = chain.links["pretraining_law"].ranges.get("N")
    if n_rng is not None:  # always include the smallest admissible model
        lo = min(lo, math.log(n_rng[0]))
    return lo, max(math.log(float(n_star)) + math.log(10.0), lo + math.log(10.0))


def _grid(chain: Chain, budget: Budget, n_n: int = 48, n_k: int = 14, coarse: bool = False):
    """Decision grid (N, k, r) flattened; ``coarse`` halves it (per-replicate optima)."""
    if coarse:
        n_n, n_k = n_n // 2, n_k // 2 + 1
    lo, hi = _n_bracket(chain, budget)
    logN = np.linspace(lo, hi, n_n)
    ks = np.geomspace(1.0, min(_K_MAX, chain.k_cap), n_k) if _k_axis(chain, budget) else np.array([1.0])
    r_all = (
        [0.0, 1e-3, 0.01, 0.05, 0.2, 0.5]
        if coarse
        else [0.0, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.2, 0.35, 0.5]
    )
    rs = np.array(r_all) if chain.rl is not None else np.array([0.0])
    G = np.meshgrid(np.exp(logN), ks, rs, indexing="ij")
    return [g.ravel() for g in G]


# ------------------------------------------------------------------------------------------------------------
# describing a decision
# ------------------------------------------------------------------------------------------------------------
def _band(chain: Chain, vals: np.ndarray, widening: float) -> dict[str, float]:
    point = float(vals[0])
    reps = vals[1:]
    reps = reps[np.isfinite(reps) & (reps > _NEG / 2)]
    if reps.size < 2:
        return {"value": point, "lo": point, "hi": point}
    lo, hi = np.quantile(reps, [0.025, 0.975])
    lo = point - (point - lo) * widening if lo < point else lo
    hi = point + (hi - point) * widening if hi > point else hi
    lo, hi = min(float(lo), point), max(float(hi), point)
    return {"value": point, "lo": max(lo, 0.0), "hi": min(hi, 1.0)}


def describe(chain: Chain, budget: Budget, N: float, k: float, r: float, unused: float = 0.0) -> Outcome:
    """Outcome of one decision (N parameters, k samples per query, RL share r) under every replicate.

    Raises
    ------
    ValueError
        If the decision leaves nothing for pretraining (serving plus RL exceed the budget).
    """
    D, gpuh, pre_cost, serve = (float(x) for x in _alloc(chain, budget, N, k, r))
    if D <= 0:
        raise ValueError("serving the demand and RL leave no budget for pretraining")
    ev = chain.evaluate(N, D, k, gpuh)
    flags = chain.flags(N, D, k, gpuh)
    widen = chain.widening(flags)
    c = chain.costs
    pre_f, dec_f = (
        float(x) for x in serving_flops(N, budget.queries, budget.prompt_tokens, budget.output_tokens, k)
    )
    rl_flops = gpuh * 3600.0 * c.rl_peak_flops * c.mfu_rl
    flops = {"pretraining": 6 * N * D, "rl": rl_flops, "prefill": pre_f, "decode": dec_f}
    flops["test_time"] = pre_f + dec_f
    flops["total"] = flops["pretraining"] + rl_flops + pre_f + dec_f
    ph = {"pretraining": "train", "rl": "rl", "prefill": "prefill", "decode": "decode"}
    gpu_hours = {a: c.gpu_hours(flops[a], p) for a, p in ph.items()}
    usd = {a: c.usd(flops[a], p) for a, p in ph.items()}
    for d in (gpu_hours, usd):
        d["test_time"] = d["prefill"] + d["decode"]
        d["total"] = d["pretraining"] + d["rl"] + d["test_time"]
    shares = {"pretraining": pre_cost / budget.total, "rl": r, "test_time": serve / budget.total + unused}
    tot = sum(shares.values())
    shares = {a: v / tot for a, v in shares.items()}
    metric = ev["metric"][:, 0] if ev["metric"].ndim > 1 else ev["metric"]
    return Outcome(
        N=float(N),
        D=D,
        k=float(k),
        shares=shares,
        flops=flops,
        gpu_hours=gpu_hours,
        usd=usd,
        metric=_band(chain, np.ravel(metric), widen),
        loss=float(np.ravel(ev["loss"])[0]),
        base_accuracy=float(np.ravel(ev["mu_base"])[0]),
        rl_accuracy=float(np.ravel(ev["mu_rl"])[0]),
        flags=flags,
        widening=widen,
        replicates=np.ravel(metric)[1:].copy(),
        unused_share=unused / budget.total if unused else 0.0,
    )


# ------------------------------------------------------------------------------------------------------------
# optimisation
# ------------------------------------------------------------------------------------------------------------
def _refine(
    chain: Chain, budget: Budget, N0: float, k0: float, r0: float, within_data: bool = False
) -> tuple[float, float, float, float]:
    """Polish a grid optimum on the point estimate (scipy): bounded 1-D search in log N when only N is free,
    Nelder-Mead in (log N, log k, log r) otherwise, then a final 1-D polish in log N."""
    free_k = _k_axis(chain, budget)
    free_r = chain.rl is not None and r0 > 0

    def f(logn, logk, logr):
        k = math.exp(logk) if free_k else 1.0
        r = math.exp(logr) if free_r else 0.0
        if k < 1.0 or k > chain.k_cap * (1 + 1e-9) or r >= 1.0:
            return -_NEG
        return -float(
            _metric_decision(chain, budget, math.exp(logn), k, r, idx=slice(0, 1), within_data=within_data)[0]
        )

    x = [math.log(N0), math.log(max(k0, 1.0)), math.log(r0) if r0 > 0 else 0.0]
    if free_k or free_r:
        names = [0] + ([1] if free_k else []) + ([2] if free_r else [])

        def g(z):
            y = list(x)
            for i, v in zip(names, z, strict=True):
                y[i] = v
            return f(*y)

        res = minimize(
            g,
            [x[i] for i in names],
            method="Nelder-Mead",
            options={"xatol": 1e-7, "fatol": 1e-12, "maxiter": 4000},
        )
        for i, v in zip(names, res.x, strict=True):
            x[i] = float(v)
    res1 = minimize_scalar(
        lambda z: f(z, x[1], x[2]),
        bounds=(x[0] - 0.5, x[0] + 0.5),
        method="bounded",
        options={"xatol": 1e-11},
    )
    if res1.fun <= f(*x):
        x[0] = float(res1.x)
    k = math.exp(x[1]) if free_k else 1.0
    r = math.exp(x[2]) if free_r else 0.0
    return math.exp(x[0]), k, r, -f(*x)


#: An RL share whose point-estimate gain over no RL is below this (metric units) is not recommended (set to 0):
#: a sliver of RL far below the compute the RL fit saw buys nothing and only adds extrapolation flags.
RL_MIN_GAIN = 1e-4


def optimise(
    chain: Chain, budget: Budget, *, replicate_optima: bool = True, within_data: bool | None = None
) -> Outcome:
    """Best decision (N, k, RL share) for the budget: maximise the point-estimate metric.

    A vectorised grid over (log N, log k, r) finds the basin; scipy polishes it (bounded 1-D search / Nelder-Mead).
    With ``replicate_optima`` a coarser grid (24 sizes, 8 sample counts, 6 RL shares) is also maximised per replicate
    to give 95% intervals of N, k and the shares.

    Parameters
    ----------
    chain : Chain
    budget : Budget
    replicate_optima : bool
        Also report per-replicate optima intervals (one extra vectorised grid evaluation).
    within_data : bool, optional
        Only decisions whose chosen axes stay inside what the fits saw (:meth:`Chain.within_data`: k > 1 only at
        accuracies the difficulty fit saw, RL compute within the RL fit's range). Default ``chain.within_data_only``
        (the app's chains set it). The published limits (Chinchilla, Sardana) are unchanged by it (k = 1, no RL).

    Returns
    -------
    Outcome

    Raises
    ------
    ValueError
        If no grid point is feasible (the demand alone exceeds the budget).

    Notes
    -----
    With Q = 0, no RL and k = 1 the optimum is Chinchilla's closed form (Hoffmann et al. 2022, arXiv 2203.15556);
    with demand, no RL and k = 1 it is Sardana et al.'s (arXiv 2401.00448).
    """
    if within_data is None:
        within_data = chain.within_data_only
    Ng, kg, rg = _grid(chain, budget)
    m = _metric_decision(chain, budget, Ng, kg, rg, idx=slice(0, 1), within_data=within_data)[0]
    if not np.any(m > _NEG / 2):
        raise ValueError(
            "no feasible decision: the lifetime demand alone exceeds the budget, or what is left cannot train a "
            "model to the losses the accuracy map was fitted on"
        )
    candidates = []
    i = int(np.argmax(m))
    candidates.append(_refine(chain, budget, Ng[i], kg[i], rg[i], within_data))
    if chain.rl is not None:  # best grid point with RL on, and with RL off, both polished
        for mask in (rg > 0, rg == 0):
            mm = np.where(mask, m, -np.inf)
            j = int(np.argmax(mm))
            if j != i and np.isfinite(mm[j]) and mm[j] > _NEG / 2:
                candidates.append(_refine(chain, budget, Ng[j], kg[j], rg[j], within_data))
    N, k, r, best = max(candidates, key=lambda c: c[3])
    no_rl = [c for c in candidates if c[2] == 0.0]
    if r > 0 and no_rl:  # a negligible RL gain is not worth the RL run (nor its extrapolation flags)
        c0 = max(no_rl, key=lambda c: c[3])
        if c0[3] >= best - RL_MIN_GAIN:
            N, k, r, best = c0
    if k < 1.0 + 1e-5:  # the polish stops a hair above one sample: report one sample
        k = 1.0
    out = describe(chain, budget, N, k, r)
    if replicate_optima and chain.n_replicates >= 2:
        Ng, kg, rg = _grid(chain, budget, coarse=True)
        M = _metric_decision(chain, budget, Ng, kg, rg, idx=slice(1, None), within_data=within_data)
        j = np.argmax(M, axis=1)
        D, _, pre_cost, serve = _alloc(chain, budget, Ng[j], kg[j], rg[j])
        iv = lambda a: [float(x) for x in np.quantile(a, [0.025, 0.975])]  # noqa: E731
        out.intervals = {
            "N": iv(Ng[j]),
            "samples_per_query": iv(kg[j]),
            "shares.pretraining": iv(pre_cost / budget.total),
            "shares.rl": iv(rg[j]),
            "shares.test_time": iv(serve / budget.total),
        }
    return out


def at_split(
    chain: Chain,
    budget: Budget,
    shares: tuple[float, float, float] | dict[str, float],
    *,
    within_data: bool | None = None,
) -> Outcome:
    """Simulate a user-set split (pretraining p, RL r, test-time t of the budget; normalised to sum 1).

    The model size N is optimised on the point estimate for the fixed spends (D = p C / (6 N); the test-time spend
    sets k = (t C / Q - 2 N T_in) / (2 N T_out), capped at ``chain.k_cap``); with Q = 0, test-time mode "none" or
    k at its cap, the test-time spend beyond what is used is reported as ``unused_share``.

    With ``within_data`` (default ``chain.within_data_only``) k stays at 1 where the accuracy lies outside the
    accuracies the difficulty fit saw (:meth:`Chain.within_data`); the spend more samples would take is unused.

    Raises
    ------
    ValueError
        Negative, non-finite or all-zero shares; a test-time share too small to serve the demand with any model size.
    """
    if within_data is None:
        within_data = chain.within_data_only
    if isinstance(shares, dict):
        shares = tuple(float(shares[a]) for a in AXES)
    p, r, t = (float(s) for s in shares)
    if not all(math.isfinite(x) for x in (p, r, t)) or min(p, r, t) < 0 or p + r + t <= 0:
        raise ValueError(f"shares must be finite, >= 0 and not all zero, got {shares}")
    s = p + r + t
    p, r, t = p / s, r / s, t / s
    if p <= 0:
        raise ValueError("the pretraining share must be > 0")
    if r > 0 and chain.rl is None:
        raise ValueError("an RL share needs an RL link (choose --rl preset:... or stored:...)")
    w = _weights(chain, budget)
    tt = t * budget.total
    Q, Ti, To = budget.queries, budget.prompt_tokens, budget.output_tokens

    def k_of(N):
        if Q <= 0:
            return np.ones_like(N)
        return (tt / Q - 2 * N * Ti * w["prefill"]) / (2 * N * To * w["decode"])

    def m_of(logN, idx=slice(0, 1)):
        N = np.exp(np.atleast_1d(logN))
        k = k_of(N)
        kk = np.clip(k, 1.0, chain.k_cap) if _k_axis(chain, budget) else np.ones_like(k)
        D = p * budget.total / w["train"] / (6 * N)
        feas = (k >= 1.0 - 1e-12) & chain.admissible(N, D)
        gpuh = r * budget.total / w["rl"] / (3600.0 * chain.costs.rl_peak_flops * chain.costs.mfu_rl)
        if within_data:  # more samples only where the difficulty fit saw such accuracies (point estimate)
            mu = chain.evaluate(N, D, 1.0, gpuh, idx=slice(0, 1))["mu_rl"][0]
            kk = np.where(chain.within_data(kk, 0.0, mu), kk, 1.0)
        mm = chain.evaluate(N, D, kk, gpuh, idx=idx)["metric"]
        return np.where(feas, mm, _NEG), kk

    lo, _ = _n_bracket(chain, budget.scaled(p * budget.total))
    _, hi = _n_bracket(chain, budget)
    grid = np.linspace(lo, hi, 241)
    mg, _ = m_of(grid)
    mg = mg[0]
    if not np.any(mg > _NEG / 2):
        raise ValueError(
            "the test-time share cannot serve the lifetime demand with any model size tried (or the pretraining "
            "share is too small to reach the losses the accuracy map was fitted on)"
        )
    i = int(np.argmax(mg))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = minimize_scalar(
        lambda z: -float(m_of(z)[0][0, 0]), bounds=(a, b), method="bounded", options={"xatol": 1e-11}
    )
    logN = float(res.x) if -res.fun >= mg[i] else float(grid[i])
    N = math.exp(logN)
    k = float(m_of(logN)[1][0])
    serve_cost = 0.0
    if Q > 0:
        serve_cost = Q * 2 * N * (Ti * w["prefill"] + k * To * w["decode"])
    unused = max(tt - serve_cost, 0.0)
    # describe() recomputes D from (N, k, r) by paying serving first: pass the unused test-time spend along
    out = describe(
        chain,
        budget.scaled(budget.total - unused),
        N,
        k,
        r * budget.total / (budget.total - unused),
        unused=0.0,
    )
    out.shares = {"pretraining": p, "rl": r, "test_time": t}
    out.unused_share = unused / budget.total
    return out


def marginal_returns(
    chain: Chain, budget: Budget, outcome: Outcome, step: float = 0.02, *, within_data: bool | None = None
) -> dict[str, dict]:
    """d(metric)/d(log budget) per axis at ``outcome``: the metric gain if the budget grew by ``step`` (a fraction)
    and the increment went entirely to that axis (the other spends fixed; N re-optimised), divided by
    log(1 + step). Computed for every replicate: value (point), lo, hi (95%).

    Returns
    -------
    dict
        axis -> {"value", "lo", "hi"} (metric per unit of log budget), ``extrapolated`` and ``outside`` (the links
        the increment takes outside their fitted range while the point itself is inside them).
    """
    base_sh = np.array([outcome.shares[a] for a in AXES])
    base = at_split(chain, budget, tuple(base_sh), within_data=within_data)
    dl = math.log1p(step)
    out = {}
    for j, a in enumerate(AXES):
        if a == "rl" and chain.rl is None:
            out[a] = {"value": 0.0, "lo": 0.0, "hi": 0.0, "extrapolated": False, "outside": []}
            continue
        sh = base_sh.copy()
        sh[j] += step
        new = at_split(chain, budget.scaled(budget.total * (1 + step)), tuple(sh), within_data=within_data)
        dv = (
            np.concatenate([[new.metric["value"]], new.replicates])
            - np.concatenate([[base.metric["value"]], base.replicates])
        ) / dl
        reps = dv[1:]
        lo, hi = np.quantile(reps, [0.025, 0.975]) if reps.size >= 2 else (dv[0], dv[0])
        # the increment leaves a fit's range that the point itself is inside: this return is extrapolated
        newly = sorted(
            n
            for n, f in new.flags.items()
            if f["outside"] and not base.flags.get(n, {}).get("outside", False)
        )
        out[a] = {
            "value": float(dv[0]),
            "lo": float(min(lo, dv[0])),
            "hi": float(max(hi, dv[0])),
            "extrapolated": bool(newly),
            "outside": newly,
        }
    return out


#: Metric differences up to this are ties (rounding noise between re-optimised copies of one decision).
P_BEATS_TIE = 1e-6


def p_beats(a: Outcome, b: Outcome) -> float:
    """Probability that outcome ``a`` beats ``b``: the share of replicates (paired by index) whose metric is higher
    by more than ``P_BEATS_TIE`` (so a decision never beats itself; it used to 'beat' its own copy about half the
    time on floating-point noise)."""
    n = min(a.replicates.size, b.replicates.size)
    if n == 0:
        return float(a.metric["value"] > b.metric["value"] + P_BEATS_TIE)
    return float(np.mean(a.replicates[:n] > b.replicates[:n] + P_BEATS_TIE))


def cheapest_for_target(
    chain: Chain, budget: Budget, target: float, *, rtol: float = 1e-7, within_data: bool | None = None
) -> Outcome:
    """Smallest budget (same unit and demand as ``budget``) whose optimum reaches ``target`` on the point estimate.

    Bisection in log budget over :func:`optimise` (the optimum is non-decreasing in the budget).

    Raises
    ------
    ValueError
        Target outside (0, 1) or not reached within 12 decades above ``budget.total``.

    Notes
    -----
    With no RL and k = 1 this is Sardana et al.'s problem (arXiv 2401.00448): minimise 6 N D + 2 N T at fixed
    quality.
    """
    if not 0 < target < 1:
        raise ValueError(f"target metric must be in (0, 1), got {target}")
    if within_data is None:
        within_data = chain.within_data_only

    def best(total):
        try:
            return optimise(
                chain, budget.scaled(total), replicate_optima=False, within_data=within_data
            ).metric["value"]
        except ValueError:
            return -1.0

    lo = hi = budget.total
    if best(hi) >= target:
        while best(lo) >= target:
            lo /= 10
            if lo < budget.total * 1e-12:
                break
        hi = lo * 10
    else:
        while best(hi) < target:
            hi *= 10
            if hi > budget.total * 1e12:
                raise ValueError(f"target {target} is not reached within 12 decades of budget")
        lo = hi / 10
    while hi / lo > 1 + rtol:
        mid = math.sqrt(lo * hi)
        if best(mid) >= target:
            hi = mid
        else:
            lo = mid
    return optimise(chain, budget.scaled(hi), within_data=within_data)
