"""Budget simulator service: build the capability chain from the store and presets, simulate, optimise, compare.

The page (app/app_pages/budget.py) and the CLI (``scaling simulate``, app/services/simulator_cli.py) both call
:func:`simulate` and :func:`compare_scenarios`, so they show the same numbers. Links and formulas:
:mod:`analysis.simulator` (SIMULATOR.md; Sardana et al. arXiv 2401.00448, T^2 arXiv 2604.01411, ScaleRL arXiv
2510.13786).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analysis.simulator import (
    AXES,
    Budget,
    Chain,
    Costs,
    Link,
    Outcome,
    at_split,
    build_chain,
    cheapest_for_target,
    default_assumptions,
    marginal_returns,
    optimise,
    p_beats,
)
from analysis.simulator.fits import fit_accuracy_map, fit_difficulty
from analysis.simulator.presets import (
    CHINCHILLA_PRESETS,
    CHINCHILLA_RANGE,
    DEFAULT_LAW,
    DEFAULT_RL,
    SCALERL_GPUH_RANGE,
    SCALERL_N_RANGE,
    SCALERL_PRESETS,
    besiroglu_replicates,
    rl_replicates,
)

_LAW_KEYS = ("E", "A", "B", "alpha", "beta")
DEFAULT_ACCURACY_SOURCE = "gadre_overtraining"
DEFAULT_ACCURACY_METRIC = "acc_lambada_openai"


@dataclass(frozen=True)
class SimConfig:
    """Which fit feeds each link (hashable, so the page can cache the chain).

    Attributes
    ----------
    law : str
        ``preset:NAME`` (analysis.simulator.presets.CHINCHILLA_PRESETS), ``stored:FIT_ID`` or ``fit:SOURCE``.
    accuracy_source, accuracy_metric : str
        Pretraining source and summary metric the loss-to-accuracy map is fitted on; a metric whose name starts with
        ``err`` is an error rate (accuracy = 1 - value).
    difficulty : str
        ``counts`` (beta-binomial fit to the store's per-problem counts) or ``tail:VALUE`` (user-set left-tail
        exponent a = mu nu of the Beta difficulty distribution).
    rl : str
        ``preset:NAME`` (ScaleRL Table 1), ``stored:FIT_ID`` (an rl_sigmoid fit over GPU-hours), ``user:A,B,C_mid``
        or ``none``.
    test_time : str
        ``pass@k`` (oracle verifier), ``majority`` (no verifier) or ``none`` (one sample).
    n_replicates, seed : int
        Band replicates R and the seed pairing them.
    assumptions : tuple of (name, value)
        Overrides of the assumption links' point values (analysis.simulator.chain.default_assumptions).
    costs : tuple of (field, value)
        Overrides of analysis.simulator.Costs (peak FLOP/s, $/GPU-h, MFU per phase).
    extrapolate : bool
        False (default): the recommended optimum (and the target search) only chooses decisions inside what the
        fits saw (analysis.simulator.Chain.within_data: samples per query > 1 only at accuracies the per-problem
        counts covered, RL compute within the RL fit's range); the unconstrained optimum is reported beside it as
        ``optimum_extrapolated``. True: the unconstrained optimum is the recommendation (flagged).
    """

    law: str = f"preset:{DEFAULT_LAW}"
    accuracy_source: str = DEFAULT_ACCURACY_SOURCE
    accuracy_metric: str = DEFAULT_ACCURACY_METRIC
    difficulty: str = "counts"
    rl: str = f"preset:{DEFAULT_RL}"
    test_time: str = "pass@k"
    n_replicates: int = 200
    seed: int = 0
    assumptions: tuple = ()
    costs: tuple = ()
    extrapolate: bool = False


# ------------------------------------------------------------------------------------------------------------
# links from the store and presets
# ------------------------------------------------------------------------------------------------------------
def _law_link(con: duckdb.DuckDBPyConnection, law: str, R: int, seed: int) -> Link:
    from data.scenarios import pretrain_ranges

    kind, _, arg = law.partition(":")
    if kind == "preset" and arg in CHINCHILLA_PRESETS:
        params = dict(CHINCHILLA_PRESETS[arg])
        reps = (
            besiroglu_replicates(max(R, 2), np.random.default_rng(seed + 11), params)
            if arg == DEFAULT_LAW
            else {}
        )
        note = (
            "replicates from the published bootstrap SEs"
            if reps
            else "no replicates (published point values)"
        )
        return Link(f"preset {arg} ({note})", params, reps, dict(CHINCHILLA_RANGE))
    from app.services.sizing import _law

    label, params, rep_list, ident = _law(con, law, n_boot=min(max(R, 20), 100))
    verdict = (ident or {}).get("verdict")
    if verdict:  # the law's identifiability verdict (analysis.identifiability) travels with its label
        label = f"{label}; {verdict}"
    reps = {k: np.array([r[k] for r in rep_list]) for k in _LAW_KEYS} if rep_list else {}
    ranges: dict[str, tuple[float, float]] = {}
    source = arg.partition("|")[0] if kind == "fit" else None
    if kind == "stored":
        from data.fits import load_fit

        rec = load_fit(con, arg) or {}
        source = (rec.get("selection") or {}).get("source")
    if source:
        ranges = pretrain_ranges(con, source)
    return Link(label, {k: float(params[k]) for k in _LAW_KEYS}, reps, ranges)


def _accuracy_link(con: duckdb.DuckDBPyConnection, source: str, metric: str, R: int, seed: int) -> Link:
    from app.services.pretraining import fit_pretraining, select_points
    from data import queries

    try:
        pts = select_points(con, source, None)
    except ValueError as e:
        raise ValueError(
            f"the loss-to-accuracy map is fitted on pretraining source {source!r} ({metric}), which this store "
            f"does not have: ingest it (data/samples/{DEFAULT_ACCURACY_SOURCE} is the default) or choose another "
            f"--accuracy-source ({e})"
        ) from e
    if pts.height < 6:
        raise ValueError(
            f"source {source!r} has {pts.height} pretraining points; the accuracy map needs >= 6"
        )
    vals = queries.final_metrics(con, source, [metric])
    if vals.height == 0:
        raise ValueError(f"source {source!r} has no summary metric {metric!r} to map loss to accuracy")
    E = float(fit_pretraining(pts, law="chinchilla", n_boot=0).result.params["E"])
    j = pts.join(vals.select("run_id", "value"), on="run_id")
    acc = (1.0 - j["value"]) if metric.startswith("err") else j["value"]
    return fit_accuracy_map(
        (j["loss"] - E).to_numpy(),
        acc.to_numpy(),
        n_boot=R,
        seed=seed + 23,
        label=f"scaled logistic of reducible loss fitted on {source} ({metric}; E = {E:.4g} from its Chinchilla fit)",
    )


def _difficulty_link(con: duckdb.DuckDBPyConnection, spec: str) -> Link:
    if spec.startswith("tail:"):
        try:
            a = float(spec[5:])
        except ValueError as e:
            raise ValueError(f"difficulty tail:VALUE needs a number, got {spec!r}") from e
        if not (a > 0 and math.isfinite(a)):
            raise ValueError(f"the tail exponent must be > 0, got {a}")
        return Link(f"user-set tail exponent a = {a:g} [A]", {"a_tail": a}, {}, {"k": (1.0, 1e4)})
    if spec != "counts":
        raise ValueError(f"difficulty must be 'counts' or 'tail:VALUE', got {spec!r}")
    from data import queries

    e = queries.eval_by_problem(con)
    groups = {}
    if e.height:
        for (rid,), f in e.group_by(["run_id"], maintain_order=True):
            if f.height >= 3 and float(f["n_samples"].median()) >= 10:
                groups[rid] = (f["n_samples"].to_numpy(), f["n_correct"].to_numpy())
    if not groups:
        return Link(
            "default tail exponent a = 0.2 (no per-problem counts with >= 10 samples in the store) [A]",
            {"a_tail": 0.2},
            {},
            {"k": (1.0, 1e4)},
        )
    return fit_difficulty(
        groups,
        label=f"beta-binomial fits to per-problem counts of {len(groups)} models "
        "(median tail exponent a = mu nu; replicates resample the models) [A: a independent of loss]",
    )


def _rl_link(con: duckdb.DuckDBPyConnection, spec: str, R: int, seed: int) -> Link | None:
    kind, _, arg = spec.partition(":")
    if kind == "none" or spec == "":
        return None
    rng = np.random.default_rng(seed + 37)
    ranges = {"gpu_hours": SCALERL_GPUH_RANGE, "N": SCALERL_N_RANGE}
    if kind == "preset":
        if arg not in SCALERL_PRESETS:
            raise ValueError(f"unknown RL preset {arg!r}; choose one of {', '.join(SCALERL_PRESETS)}")
        p = SCALERL_PRESETS[arg]
        base = {"A": p["A"], "B": p["B"], "C_mid": p["C_mid"]}
        return Link(
            f"preset {arg} (ScaleRL Table 1, arXiv 2510.13786)",
            {**base, "N_ref": p["N"]},
            rl_replicates(base, max(R, 2), rng),
            ranges,
        )
    if kind == "user":
        try:
            A, B, C_mid = (float(x) for x in arg.split(","))
        except ValueError as e:
            raise ValueError(f"--rl user:A,B,C_mid needs three numbers, got {arg!r}") from e
        if not (0 <= A <= 1 and B > 0 and C_mid > 0):
            raise ValueError("user RL parameters need 0 <= A <= 1, B > 0, C_mid > 0 (GPU-hours)")
        base = {"A": A, "B": B, "C_mid": C_mid}
        return Link(
            f"user-set A={A:g}, B={B:g}, C_mid={C_mid:g} GPU-h (N_ref 8e9) [A]",
            {**base, "N_ref": 8e9},
            rl_replicates(base, max(R, 2), rng),
            ranges,
        )
    if kind == "stored":
        from data.fits import load_fit
        from data.scenarios import rl_run_info

        rec = load_fit(con, arg)
        if rec is None:
            raise ValueError(f"no stored fit with id {arg!r}")
        if rec["law"] != "rl_sigmoid":
            raise ValueError(f"fit {arg} is a {rec['law']!r} law; the RL link needs an rl_sigmoid fit")
        sel = rec.get("selection") or {}
        if sel.get("x", "gpu_hours") != "gpu_hours":
            raise ValueError(f"fit {arg} is over {sel.get('x')!r}; the RL link needs a fit over GPU-hours")
        params = rec["result"]["params"]
        info = rl_run_info(con, sel.get("run_id", ""))
        n_ref = float(info["n_params"] or 8e9)
        reps = (rec.get("replicates") or {}).get("replicates") or {}
        rr = {}
        if all(k in reps for k in ("A", "B", "C_mid")):
            arr = np.array([reps[k] for k in ("A", "B", "C_mid")], dtype=float)
            ok = np.all(np.isfinite(arr), axis=0)
            rr = {k: arr[i][ok] for i, k in enumerate(("A", "B", "C_mid"))}
        lo, hi = info["gpu_hours_lo"] or 1e-3, info["gpu_hours_hi"] or 1.0
        return Link(
            f"stored fit {arg} ({sel.get('run_id')})",
            {
                "A": float(params["A"]),
                "B": float(params["B"]),
                "C_mid": float(params["C_mid"]),
                "N_ref": n_ref,
            },
            rr,
            {"gpu_hours": (float(lo), float(hi)), "N": (n_ref, n_ref)},
        )
    raise ValueError(f"rl must be 'preset:NAME', 'stored:FIT_ID', 'user:A,B,C_mid' or 'none', got {spec!r}")


def load_links(con: duckdb.DuckDBPyConnection, cfg: SimConfig) -> dict[str, Link | None]:
    """The fitted links for ``cfg`` (fits the accuracy map and difficulty on the store; seconds, cache it).

    Returns
    -------
    dict
        ``law``, ``accuracy_map``, ``difficulty`` (Link) and ``rl`` (Link or None).

    Raises
    ------
    ValueError
        Unknown law/preset/fit, a source without the data a link needs.
    """
    R = int(cfg.n_replicates)
    return {
        "law": _law_link(con, cfg.law, R, cfg.seed),
        "accuracy_map": _accuracy_link(con, cfg.accuracy_source, cfg.accuracy_metric, R, cfg.seed),
        "difficulty": _difficulty_link(con, cfg.difficulty),
        "rl": _rl_link(con, cfg.rl, R, cfg.seed),
    }


def chain_from_links(links: dict[str, Link | None], cfg: SimConfig) -> Chain:
    """Assemble the chain (milliseconds) from :func:`load_links` output; raises ValueError on bad overrides."""
    return build_chain(
        links["law"],
        links["accuracy_map"],
        links["difficulty"],
        links["rl"],
        test_time=cfg.test_time,
        costs=Costs(**dict(cfg.costs)),
        assumptions=default_assumptions(**dict(cfg.assumptions)),
        n_replicates=int(cfg.n_replicates),
        seed=cfg.seed,
        within_data_only=not cfg.extrapolate,
    )


def load_chain(con: duckdb.DuckDBPyConnection, cfg: SimConfig) -> Chain:
    """:func:`load_links` then :func:`chain_from_links`."""
    return chain_from_links(load_links(con, cfg), cfg)


# ------------------------------------------------------------------------------------------------------------
# simulate: the payload shared by the page and the CLI
# ------------------------------------------------------------------------------------------------------------
def _link_rows(chain: Chain) -> dict[str, Any]:
    return {
        name: {
            "label": lk.label,
            "params": lk.params,
            "n_replicates": lk.n_replicates,
            "ranges": {k: list(v) for k, v in lk.ranges.items()},
        }
        for name, lk in chain.links.items()
    }


def assumption_list(chain: Chain) -> list[dict[str, Any]]:
    """Every assumption [A] of the chain: the tunable ones with value and band, plus the structural ones."""
    used = (
        ["rl_ceiling_per_decade", "rl_cmid_exponent", "rl_coverage_k", "rl_tt_kappa"]
        if chain.rl is not None
        else []
    )
    if chain.test_time == "majority":
        used.append("wrong_answer_share")
    out = [chain.assumptions[k].to_dict() for k in used]
    out += [
        {
            "name": "loss_transfer",
            "value": None,
            "band": None,
            "meaning": "the accuracy map is a function of the reducible loss L - E, moved between corpora unchanged",
        },
        {
            "name": "difficulty_tail_independent_of_loss",
            "value": float(chain.tail[0]),
            "band": None,
            "meaning": "the left-tail exponent a = mu nu of the per-question accuracy distribution does not change "
            "with model loss, so nu = a / mu (replicates span the fitted models)",
        },
        {
            "name": "rl_gpu_hours",
            "value": None,
            "band": None,
            "meaning": "RL FLOPs are converted to GPU-hours with the RL GPU's peak and MFU before the ScaleRL curve",
        },
        {
            "name": "extrapolation_widening",
            "value": chain.widen_per_decade,
            "band": None,
            "meaning": "band half-widths grow by this factor per decade a link is outside its fitted range",
        },
        {"name": "replicate_pairing", "value": None, "band": None, "meaning": chain.pairing},
    ]
    return out


def _flags_payload(flags: dict[str, dict]) -> dict[str, Any]:
    return {"any_outside": any(f["outside"] for f in flags.values()), "links": flags}


#: Largest budgets and demand the simulator answers: ~9 decades past today's largest training runs (~1e26 FLOPs);
#: beyond them every link is extrapolated by many decades and the numbers are meaningless (1e300 FLOPs gave 1e190
#: tokens per parameter).
MAX_BUDGET = {"flops": 1e35, "usd": 1e15}
MAX_QUERIES = 1e18


def check_budget(budget: tuple) -> Budget:
    """The Budget for a (total, unit, queries, prompt_tokens, output_tokens) tuple, within the simulator's limits.

    Raises
    ------
    ValueError
        A non-positive or non-finite total, negative queries, bad token counts (analysis.simulator.Budget), a total
        above ``MAX_BUDGET`` or queries above ``MAX_QUERIES``.
    """
    b = Budget(*budget)
    cap = MAX_BUDGET[b.unit]
    if b.total > cap:
        unit = "FLOPs" if b.unit == "flops" else "US dollars"
        raise ValueError(
            f"budget {b.total:.3g} {unit} is above {cap:.0e} {unit}, far past any fitted range; the laws say nothing there"
        )
    if b.queries > MAX_QUERIES:
        raise ValueError(f"lifetime queries {b.queries:.3g} are above {MAX_QUERIES:.0e}")
    return b


def optimum_payload(chain: Chain, cfg: SimConfig, budget: tuple) -> tuple[dict[str, Any], Outcome]:
    """The optimum for a budget (the slow part, ~1 s with 200 replicates): payload dict and the Outcome.

    Payload keys: budget, metric_name, recommendation, optimum, extrapolation {optimum[, optimum_extrapolated]},
    assumptions, links, costs, n_replicates, and ``optimum_extrapolated`` (the unconstrained optimum, when
    ``cfg.extrapolate`` is False and it beats the recommendation by more than 0.001 outside the data).
    """
    b = check_budget(budget)
    opt = optimise(chain, b)
    out = {
        "budget": asdict(b),
        "metric_name": _metric_name(cfg),
        "recommendation": "unconstrained (extrapolated where flagged)"
        if cfg.extrapolate
        else "inside the data (samples per query > 1 only at accuracies the per-problem counts covered; RL "
        "compute within the RL fit's range)",
        "optimum": opt.to_dict(),
        "extrapolation": {"optimum": _flags_payload(opt.flags)},
        "assumptions": assumption_list(chain),
        "links": _link_rows(chain),
        "costs": asdict(chain.costs),
        "n_replicates": chain.n_replicates,
    }
    if not cfg.extrapolate:  # what the fits would say outside the data: shown, flagged, not recommended
        free = optimise(chain, b, replicate_optima=False, within_data=False)
        if free.metric["value"] > opt.metric["value"] + 1e-3:
            out["optimum_extrapolated"] = free.to_dict()
            out["extrapolation"]["optimum_extrapolated"] = _flags_payload(free.flags)
    return out, opt


def split_payload(chain: Chain, budget: tuple, split: tuple | None, optimum: Outcome) -> dict[str, Any]:
    """A split's outcome (fast: what the page's sliders call) and the marginal returns there.

    Returns
    -------
    dict
        ``split`` (when given; with ``p_beats_optimum``), ``marginal_return`` per axis, ``marginal_return_at``
        and ``extrapolation_split`` (flags, when a split is given).
    """
    b = Budget(*budget)
    out: dict[str, Any] = {}
    here = optimum
    if split is not None:
        s = at_split(chain, b, split)
        d = s.to_dict()
        d["p_beats_optimum"] = p_beats(s, optimum)
        out["split"] = d
        out["extrapolation_split"] = _flags_payload(s.flags)
        here = s
    out["marginal_return"] = marginal_returns(chain, b, here)
    out["marginal_return_at"] = "split" if split is not None else "optimum"
    return out


def simulate(
    con: duckdb.DuckDBPyConnection,
    cfg: SimConfig,
    budget: tuple,
    split: tuple | None = None,
    target: float | None = None,
    chain: Chain | None = None,
) -> dict[str, Any]:
    """The simulator's answer for one budget: the optimum, an optional split, an optional target, marginal returns.

    Parameters
    ----------
    con : duckdb connection (read-only)
    cfg : SimConfig
    budget : tuple
        (total, unit, queries, prompt_tokens, output_tokens), see analysis.simulator.Budget.
    split : tuple of 3 floats, optional
        Shares (pretraining, rl, test_time) to simulate (normalised to sum 1).
    target : float, optional
        Target metric: also report the cheapest budget (same demand) whose optimum reaches it.
    chain : Chain, optional
        A chain already built for ``cfg``.

    Returns
    -------
    dict
        ``optimum`` (shares summing to 1, N, D, samples_per_query, metric {value, lo, hi}, costs),
        ``split`` and ``target`` (when asked), ``marginal_return`` per axis (at the split if given, else at the
        optimum), ``assumptions``, ``extrapolation`` (flags of the reported points), ``links``, ``budget``,
        ``costs``, ``metric_name``.

    Raises
    ------
    ValueError
        Bad budget, shares or target; a demand the budget cannot serve.
    """
    ch = chain if chain is not None else load_chain(con, cfg)
    out, opt = optimum_payload(ch, cfg, budget)
    sp = split_payload(ch, budget, split, opt)
    if "extrapolation_split" in sp:
        out["extrapolation"]["split"] = sp.pop("extrapolation_split")
    out.update(sp)
    if target is not None:
        b = Budget(*budget)
        t = cheapest_for_target(ch, b, float(target))
        out["target"] = {
            "target": float(target),
            "budget_total": t.flops["total"] if b.unit == "flops" else t.usd["total"],
            **t.to_dict(),
        }
        out["extrapolation"]["target"] = _flags_payload(t.flags)
    return out


def _metric_name(cfg: SimConfig) -> str:
    tt = {"pass@k": "pass@k (oracle verifier)", "majority": "majority@k (no verifier)", "none": "pass@1"}
    return f"{tt[cfg.test_time]} on {cfg.accuracy_source} {cfg.accuracy_metric} accuracy"


def share_curve(
    chain: Chain, budget: tuple, axis: str, base_shares: dict[str, float], n: int = 21
) -> pl.DataFrame:
    """Predicted metric (with band) versus the share of one axis, the other two keeping their ratio.

    Returns a frame with axis, share, metric, metric_lo, metric_hi (fraction); infeasible shares are dropped.
    """
    b = Budget(*budget)
    j = AXES.index(axis)
    others = [a for a in AXES if a != axis]
    rest = sum(base_shares[a] for a in others)
    rows = []
    for s in np.linspace(0.0, 0.95, n):
        sh = [0.0, 0.0, 0.0]
        sh[j] = s
        for a in others:
            w = base_shares[a] / rest if rest > 0 else (1.0 if a == "pretraining" else 0.0)
            sh[AXES.index(a)] = (1 - s) * w
        try:
            o = at_split(chain, b, tuple(sh))
        except ValueError:
            continue
        rows.append(
            {
                "axis": axis,
                "share": float(s),
                "metric": o.metric["value"],
                "metric_lo": o.metric["lo"],
                "metric_hi": o.metric["hi"],
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "axis": pl.String,
            "share": pl.Float64,
            "metric": pl.Float64,
            "metric_lo": pl.Float64,
            "metric_hi": pl.Float64,
        },
    )


def share_curves(chain: Chain, budget: tuple, base_shares: dict[str, float], n: int = 21) -> pl.DataFrame:
    """:func:`share_curve` for every axis (RL only when the chain has an RL link), stacked."""
    axes = [a for a in AXES if a != "rl" or chain.rl is not None]
    return pl.concat([share_curve(chain, budget, a, base_shares, n) for a in axes])


# ------------------------------------------------------------------------------------------------------------
# reallocation from today
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """A reallocation of the baseline: move ``move_pct`` % of ``move_from``'s share to ``move_to``, and multiply
    the lifetime queries by ``queries_factor``."""

    name: str
    move_from: str = "pretraining"
    move_to: str = "rl"
    move_pct: float = 0.0
    queries_factor: float = 1.0

    def __post_init__(self):
        if not (math.isfinite(self.queries_factor) and self.queries_factor >= 0):
            raise ValueError(f"scenario {self.name!r}: the queries factor must be a number >= 0")

    def shares(self, base: dict[str, float]) -> tuple[float, float, float]:
        if self.move_from not in AXES or self.move_to not in AXES:
            raise ValueError(f"axes must be among {AXES}")
        if not 0 <= self.move_pct <= 100:
            raise ValueError("move_pct must be in [0, 100]")
        sh = dict(base)
        delta = sh[self.move_from] * self.move_pct / 100.0
        sh[self.move_from] -= delta
        sh[self.move_to] += delta
        return tuple(sh[a] for a in AXES)


def baseline_shares(con: duckdb.DuckDBPyConnection, costs: Costs, output_tokens: float) -> dict[str, Any]:
    """Today's split from the compute logged in the store (FLOPs per axis).

    Pretraining: sum of compute_flops. RL: logged FLOPs, else GPU-hours x the RL GPU's peak x MFU. Test time:
    2 N x output tokens where logged, else 2 N x samples x ``output_tokens`` (tokens per sample not logged).
    """
    from data.scenarios import logged_compute

    lc = logged_compute(con)
    rl = lc["rl_flops"] or lc["rl_gpu_hours"] * 3600.0 * costs.rl_peak_flops * costs.mfu_rl
    tt = lc["eval_token_flops"] or 2.0 * lc["eval_param_samples"] * output_tokens
    flops = {"pretraining": lc["pretraining_flops"], "rl": rl, "test_time": tt}
    tot = sum(flops.values())
    if tot <= 0:
        raise ValueError("the store has no logged compute to take a baseline from")
    return {"flops": flops, "total_flops": tot, "shares": {a: flops[a] / tot for a in AXES}, "logged": lc}


def _feasible_split(chain: Chain, b: Budget, shares: tuple) -> tuple[Outcome, str]:
    """at_split; where the test-time share cannot serve the demand, the test-time share (taken from pretraining)
    that serves it best, among 1e-5 ... 0.5 of the budget; returns a note saying so.

    (The smallest share that could serve the demand pinned the model to the largest size that share could serve:
    on the demo store the logged eval compute, 0.003 % of the FLOPs, made the baseline a 175M model trained on
    1e15 tokens at 1e24 FLOPs.)"""
    try:
        return at_split(chain, b, shares), ""
    except ValueError as e:
        if "demand" not in str(e):
            raise
    p, r, t = shares
    best = None
    for need in (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5):
        if need <= t or need - t >= p:
            continue
        try:
            o = at_split(chain, b, (p - (need - t), r, need))
        except ValueError:
            continue
        if best is None or o.metric["value"] > best[0].metric["value"]:
            best = (o, need)
    if best is None:
        raise ValueError(
            "the baseline split cannot serve the lifetime demand even with half the budget on test time"
        )
    return best[0], (
        f"the logged test-time share {t:.3g} cannot serve the demand: raised (from pretraining) to {best[1]:.3g}, "
        "the share among 1e-5-0.5 that serves it best"
    )


def compare_scenarios(
    con: duckdb.DuckDBPyConnection,
    cfg: SimConfig,
    budget: tuple,
    scenarios: tuple[Scenario, ...],
    chain: Chain | None = None,
) -> dict[str, Any]:
    """Baseline (today's logged split) and scenarios side by side, each with its band and P(beats baseline).

    Parameters
    ----------
    con, cfg : as :func:`simulate`
    budget : tuple
        (total, unit, queries, prompt_tokens, output_tokens).
    scenarios : tuple of Scenario
    chain : Chain, optional

    Returns
    -------
    dict
        ``baseline`` (logged flops and shares), ``table`` (list of row dicts: scenario, shares, N, D,
        samples_per_query, metric, metric_lo, metric_hi, p_beats_baseline, extrapolated, note) and ``outcomes``
        (scenario -> full outcome dict). P(beats) is the share of paired replicates with a higher metric.
    """
    ch = chain if chain is not None else load_chain(con, cfg)
    base = baseline_shares(con, ch.costs, float(budget[4]))
    return compare_with_baseline(ch, budget, base, scenarios)


def compare_with_baseline(
    ch: Chain, budget: tuple, base: dict[str, Any], scenarios: tuple[Scenario, ...]
) -> dict[str, Any]:
    """:func:`compare_scenarios` given the baseline (:func:`baseline_shares`) and the chain (no store access)."""
    b = Budget(*budget)
    bsh = dict(base["shares"])
    note = ""
    if ch.rl is None and bsh["rl"] > 0:  # no RL link: the logged RL compute counts as pretraining
        bsh["pretraining"] += bsh["rl"]
        bsh["rl"] = 0.0
        note = "no RL link: the logged RL share is counted as pretraining; "
    base_out, n1 = _feasible_split(ch, b, tuple(bsh[a] for a in AXES))
    note = (note + n1).strip("; ")
    rows, outcomes = [], {}

    def row(name, o, pb, note=""):
        return {
            "scenario": name,
            "share_pretraining": o.shares["pretraining"],
            "share_rl": o.shares["rl"],
            "share_test_time": o.shares["test_time"],
            "N": o.N,
            "D": o.D,
            "samples_per_query": o.k,
            "metric": o.metric["value"],
            "metric_lo": o.metric["lo"],
            "metric_hi": o.metric["hi"],
            "p_beats_baseline": pb,
            "extrapolated": any(f["outside"] for f in o.flags.values()),
            "note": note,
            "queries": o_queries[name],
        }

    o_queries = {"baseline (logged)": b.queries}
    rows.append(row("baseline (logged)", base_out, None, note))
    outcomes["baseline (logged)"] = base_out.to_dict()
    for sc in scenarios:
        bq = Budget(b.total, b.unit, b.queries * sc.queries_factor, b.prompt_tokens, b.output_tokens)
        o_queries[sc.name] = bq.queries
        try:
            o, n2 = _feasible_split(ch, bq, sc.shares({a: base_out.shares[a] for a in AXES}))
        except ValueError as e:  # one impossible scenario (e.g. RL without an RL link) keeps the others
            rows.append(
                {**{k: None for k in rows[0]}, "scenario": sc.name, "queries": bq.queries, "note": str(e)}
            )
            continue
        rows.append(row(sc.name, o, p_beats(o, base_out), n2))
        outcomes[sc.name] = o.to_dict()
    return {"baseline": base, "table": rows, "outcomes": outcomes}


def scenario_rows(payload: dict[str, Any], cfg: SimConfig, name: str = "simulate") -> list[dict[str, Any]]:
    """Rows for the ``scenarios`` table (data.scenarios.save_scenarios) from a :func:`simulate` payload."""
    b = payload["budget"]
    rows = []
    for kind in ("optimum", "split", "target"):
        if kind not in payload:
            continue
        o = payload[kind]
        config = {
            "sim": asdict(cfg),
            "budget": b,
            "kind": kind,
            "split": [payload["split"]["shares"][a] for a in AXES] if kind == "split" else None,
            "target": payload["target"]["target"] if kind == "target" else None,
        }
        rows.append(
            {
                "name": f"{name} {kind}",
                "kind": kind,
                "budget_total": b["total"],
                "budget_unit": b["unit"],
                "queries": b["queries"],
                "prompt_tokens": b["prompt_tokens"],
                "output_tokens": b["output_tokens"],
                "law": cfg.law,
                "rl": cfg.rl,
                "test_time_mode": cfg.test_time,
                "share_pretraining": o["shares"]["pretraining"],
                "share_rl": o["shares"]["rl"],
                "share_test_time": o["shares"]["test_time"],
                "n_params": o["N"],
                "n_tokens": o["D"],
                "samples_per_query": o["samples_per_query"],
                "metric": o["metric"]["value"],
                "metric_lo": o["metric"]["lo"],
                "metric_hi": o["metric"]["hi"],
                "p_beats_baseline": o.get("p_beats_optimum") if kind == "split" else None,
                "flops_total": o["flops"]["total"],
                "usd_total": o["usd"]["total"],
                "extrapolated": payload["extrapolation"][kind]["any_outside"],
                "config_json": config,
                "result_json": {k: v for k, v in payload.items() if k != "links"},
            }
        )
    return rows


def comparison_rows(comp: dict[str, Any], cfg: SimConfig, budget: tuple) -> list[dict[str, Any]]:
    """Rows for the ``scenarios`` table from a :func:`compare_scenarios` result (kind baseline / split)."""
    total, unit, q, ti, to = budget
    rows = []
    for r in comp["table"]:
        if (
            r["scenario"] not in comp["outcomes"]
        ):  # a scenario that could not be simulated (its note says why)
            continue
        kind = "baseline" if r["scenario"].startswith("baseline") else "split"
        o = comp["outcomes"][r["scenario"]]
        rows.append(
            {
                "name": r["scenario"],
                "kind": kind,
                "budget_total": total,
                "budget_unit": unit,
                "queries": r["queries"],
                "prompt_tokens": ti,
                "output_tokens": to,
                "law": cfg.law,
                "rl": cfg.rl,
                "test_time_mode": cfg.test_time,
                "share_pretraining": r["share_pretraining"],
                "share_rl": r["share_rl"],
                "share_test_time": r["share_test_time"],
                "n_params": r["N"],
                "n_tokens": r["D"],
                "samples_per_query": r["samples_per_query"],
                "metric": r["metric"],
                "metric_lo": r["metric_lo"],
                "metric_hi": r["metric_hi"],
                "p_beats_baseline": r["p_beats_baseline"],
                "flops_total": o["flops"]["total"],
                "usd_total": o["usd"]["total"],
                "extrapolated": r["extrapolated"],
                "config_json": {"sim": asdict(cfg), "budget": list(budget), "scenario": r["scenario"]},
                "result_json": o,
            }
        )
    return rows


def save_rows(db: str, rows: list[dict[str, Any]]) -> list[str]:
    """Write scenario rows in one short write through ``data.connect.writable_copy`` (migrating first)."""
    from data.connect import writable_copy
    from data.migrate import migrate
    from data.scenarios import save_scenarios

    with writable_copy(db) as con:
        migrate(con)
        return save_scenarios(con, rows)


def export_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of flat rows (nested values dropped)."""
    flat = [{k: v for k, v in r.items() if not isinstance(v, dict | list)} for r in rows]
    return pl.DataFrame(flat).write_csv() if flat else ""


__all__ = [
    "AXES",
    "CHINCHILLA_PRESETS",
    "Costs",
    "SCALERL_PRESETS",
    "Scenario",
    "SimConfig",
    "assumption_list",
    "baseline_shares",
    "chain_from_links",
    "compare_scenarios",
    "compare_with_baseline",
    "comparison_rows",
    "export_csv",
    "load_chain",
    "load_links",
    "optimum_payload",
    "save_rows",
    "scenario_rows",
    "share_curve",
    "share_curves",
    "simulate",
    "split_payload",
]
