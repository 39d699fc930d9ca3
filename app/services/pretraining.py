"""Pretraining fits: select points from the store, fit a law, bootstrap, backtest, build the stored record."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analysis.chinchilla import fit_chinchilla
from analysis.compute_optimal import compute_optimal_allocation, fit_compute_law
from analysis.identifiability import (
    chinchilla_identifiability,
    compute_law_identifiability,
    power_law_identifiability,
)
from analysis.kaplan import fit_power_law
from analysis.laws import chinchilla_loss, compute_law_loss, power_law_loss
from analysis.loss_frontier import lowest_loss_per_budget
from analysis.results import FitResult
from analysis.uncertainty import bootstrap_fit, chinchilla_bootstrap
from data import queries

#: Laws ``scaling fit pretraining --law`` accepts, with a one-line description (README lists them).
LAWS: dict[str, str] = {
    "chinchilla": "L(N, D) = E + A/N^alpha + B/D^beta, log-space Huber (delta 1e-3) summed (Hoffmann 2203.15556)",
    "compute": "L(C) = E + A*C^-alpha fitted to the lowest loss per compute budget (Porian 2406.19146)",
    "kaplan_N": "L(N) = (N_c/N)^alpha_N on the lowest loss per model size (Kaplan 2001.08361)",
    "kaplan_D": "L(D) = (D_c/D)^alpha_D on the lowest loss per token count (Kaplan 2001.08361)",
}
#: Compute budgets (FLOPs) at which N_opt, D_opt and tokens per parameter are reported per replicate.
REPORT_BUDGETS: tuple[float, ...] = (1e21, 1e23, 5.76e23, 1e25)
#: The budget (FLOPs) a fit reports at when none is asked for (the page's and CLI's default).
DEFAULT_BUDGET = 1e23
#: Compute-optimal tokens per parameter outside this range is flagged as implausible (published values: ~20,
#: Hoffmann et al. 2022 Approach 1; 18-26, Besiroglu et al. 2024; 59-93 for Chinchilla's own Approach 3 fit).
PLAUSIBLE_TOKENS_PER_PARAM = (2.0, 500.0)
#: Parameters each law may hold fixed (``--fix NAME=VALUE``), and whether it may tie alpha = beta (``--tie``).
FIXABLE: dict[str, tuple[str, ...]] = {"chinchilla": ("E", "alpha", "beta"), "compute": ("E", "alpha")}
TIEABLE = ("chinchilla",)


def parse_constraints(law: str, fix: list[str] | None, tie: list[str] | None) -> dict[str, Any]:
    """``--fix E=1.69 --fix alpha=0.34 --tie alpha=beta`` -> ``{"fixed": {"E": 1.69, "alpha": 0.34}, "tie": True}``.

    Raises
    ------
    ValueError
        Naming the bad item: not NAME=VALUE, a parameter the law cannot fix, a non-numeric value, a tie other
        than alpha=beta, or a law without constrained fits.
    """
    fixed: dict[str, float] = {}
    for item in fix or []:
        name, sep, val = str(item).partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"--fix {item!r}: write NAME=VALUE, e.g. --fix E=1.69")
        allowed = FIXABLE.get(law, ())
        if name not in allowed:
            raise ValueError(
                f"--fix {item!r}: law {law} can fix only {', '.join(allowed)}"
                if allowed
                else f"--fix: law {law} has no constrained fit (chinchilla and compute do)"
            )
        try:
            fixed[name] = float(val)
        except ValueError:
            raise ValueError(f"--fix {item!r}: {val!r} is not a number") from None
    tied = False
    for item in tie or []:
        if str(item).replace(" ", "") not in ("alpha=beta", "beta=alpha"):
            raise ValueError(f"--tie {item!r}: only alpha=beta is supported")
        if law not in TIEABLE:
            raise ValueError(f"--tie: law {law} has one exponent; only chinchilla can tie alpha = beta")
        tied = True
    return {"fixed": fixed, "tie": tied}


def describe_constraints(fixed: dict[str, float] | None, tie: bool) -> str:
    """``"E = 1.69 fixed; alpha = beta"`` or ``"none"``."""
    parts = [f"{k} = {v:g} fixed" for k, v in sorted((fixed or {}).items())]
    if tie:
        parts.append("alpha = beta (tied)")
    return "; ".join(parts) or "none"


@dataclass
class PretrainingFit:
    """A fitted law with the points it used, the selection that produced them and the backtest."""

    law: str
    selection: dict[str, Any]
    points: pl.DataFrame
    fit_points: pl.DataFrame
    result: FitResult
    backtest: dict[str, Any] | None = None
    checklist: dict[str, Any] = field(default_factory=dict)
    identifiability: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, Any] = field(default_factory=lambda: {"fixed": {}, "tie": False})


def select_points(
    con: duckdb.DuckDBPyConnection, source: str | None, where: str | None = None
) -> pl.DataFrame:
    """Pretraining fit points (``v_pretrain_points``) for a source and optional SQL filter.

    Raises
    ------
    ValueError
        If the selection is empty (the message names the source and filter).
    """
    pts = queries.pretrain_points(con, source, where)
    if pts.height == 0:
        raise ValueError(
            f"no pretraining points for source={source!r} where={where!r}; see `scaling sql` or v_pretrain_points"
        )
    check_poolable(pts)
    return pts


def check_poolable(pts: pl.DataFrame) -> None:
    """Refuse selections that pool incomparable losses: several sources, or several loss metrics.

    Raises
    ------
    ValueError
        Naming the sources or loss metrics found and how to narrow the selection.
    """
    srcs = sorted({str(s) for s in pts["source"].unique().to_list()})
    if len(srcs) > 1:
        raise ValueError(
            f"the selection pools {len(srcs)} sources ({', '.join(srcs)}); losses are not comparable across "
            "sources (tokenizers, eval sets): pick one with --source"
        )
    metrics = sorted({str(s) for s in pts["loss_metric"].unique().to_list()})
    if len(metrics) > 1:
        raise ValueError(
            f"the selection mixes loss metrics {', '.join(metrics)}; narrow it, e.g. "
            f"--where \"loss_metric = '{metrics[0]}'\" or by recipe"
        )


def _law_points(points: pl.DataFrame, law: str) -> pl.DataFrame:
    """The rows a law is fitted to: all runs (chinchilla) or the lowest-loss frontier (compute, kaplan)."""
    if law == "chinchilla":
        return points
    if law == "compute":
        budget = points["budget_flops"].fill_null(float("nan")).to_numpy()
        return lowest_loss_per_budget(points["compute_flops"].to_numpy(), points["loss"].to_numpy(), budget)
    col = "n_params" if law == "kaplan_N" else "n_tokens"
    return points.group_by(col).agg(pl.col("loss").min()).sort(col)


def predict(law: str, params: dict[str, float], x: dict[str, np.ndarray]) -> np.ndarray:
    """Loss predicted by ``law`` with ``params`` at x (keys N, D for chinchilla; C; N or D for kaplan)."""
    if law == "chinchilla":
        return np.asarray(
            chinchilla_loss(x["N"], x["D"], *(params[k] for k in ("E", "A", "B", "alpha", "beta")))
        )
    if law == "compute":
        return np.asarray(compute_law_loss(x["C"], params["E"], params["A"], params["alpha"]))
    v = x["N"] if law == "kaplan_N" else x["D"]
    return np.asarray(power_law_loss(v, params["x_c"], params["alpha"]))


def _fit_once(
    law: str, fp: pl.DataFrame, method: str, delta: float, cons: dict[str, Any] | None = None
) -> FitResult:
    cons = cons or {}
    if law == "chinchilla":
        return fit_chinchilla(
            fp["n_params"].to_numpy(),
            fp["n_tokens"].to_numpy(),
            fp["loss"].to_numpy(),
            method=method,
            delta=delta,
            fixed=cons.get("fixed") or None,
            tie_exponents=bool(cons.get("tie")),
        )
    if law == "compute":
        return fit_compute_law(
            fp["compute_flops"].to_numpy(),
            fp["loss"].to_numpy(),
            delta=delta,
            fixed=cons.get("fixed") or None,
        )
    col = "n_params" if law == "kaplan_N" else "n_tokens"
    return fit_power_law(
        fp[col].to_numpy(), fp["loss"].to_numpy(), variable="N" if law == "kaplan_N" else "D"
    )


def fit_pretraining(
    points: pl.DataFrame,
    *,
    law: str = "chinchilla",
    selection: dict[str, Any] | None = None,
    n_boot: int = 0,
    seed: int = 0,
    backtest: bool = False,
    method: str = "vpnls",
    delta: float = 1e-3,
    fixed: dict[str, float] | None = None,
    tie: bool = False,
    budgets: tuple[float, ...] = REPORT_BUDGETS,
) -> PretrainingFit:
    """Fit ``law`` to ``points`` (rows of ``v_pretrain_points``), optionally with a run-level bootstrap.

    Every fit carries its identifiability record (``PretrainingFit.identifiability``, also stored under
    ``result.extra["identifiability"]`` and in the checklist): spans of N, D, C in decades, a profile of the
    objective over each exponent and E with the within-noise range, per-parameter verdicts and warnings
    (``analysis.identifiability``).

    Parameters
    ----------
    fixed : dict, optional
        Constrained fit: parameters held fixed (chinchilla: E, alpha, beta; compute: E, alpha).
    tie : bool
        Chinchilla only: fit with beta = alpha.
    budgets : tuple of float
        Budgets (FLOPs) whose allocation is recorded per bootstrap replicate (chinchilla).

    Raises
    ------
    ValueError
        Unknown law, a constraint the law does not have, or the analysis layer's errors (too few points,
        non-positive values).
    """
    if law not in LAWS:
        raise ValueError(f"unknown law {law!r}; choose one of {', '.join(LAWS)}")
    fixed = dict(fixed or {})
    bad = sorted(set(fixed) - set(FIXABLE.get(law, ())))
    if bad:
        raise ValueError(
            f"law {law} cannot fix {bad} (it can fix: {', '.join(FIXABLE.get(law, ())) or 'nothing'})"
        )
    if tie and law not in TIEABLE:
        raise ValueError(f"law {law} cannot tie alpha = beta")
    cons = {"fixed": fixed, "tie": bool(tie)}
    fp = _law_points(points, law)
    result = _fit_once(law, fp, method, delta, cons)
    ident = identifiability(law, fp, result, delta, cons)
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        if law == "chinchilla":
            boot = chinchilla_bootstrap(
                fp["n_params"].to_numpy(),
                fp["n_tokens"].to_numpy(),
                fp["loss"].to_numpy(),
                fp["run_id"].to_numpy(),
                n_boot=n_boot,
                rng=rng,
                budgets=tuple(budgets),
                delta=delta,
                full_fit=result,
                fixed=fixed or None,
                tie_exponents=bool(tie),
            )
        else:
            arrays = _arrays_for(law, fp)
            boot = bootstrap_fit(
                lambda **a: _fit_arrays(law, a, delta, cons), arrays, None, n_boot=n_boot, rng=rng
            )
        result = dataclasses.replace(result, bootstrap=boot)
        ident = _compare_bootstrap_with_profiles(ident, result)
    result = dataclasses.replace(result, extra={**result.extra, "identifiability": ident})
    bt = holdout_backtest(law, points, method=method, delta=delta, seed=seed, cons=cons) if backtest else None
    sel = dict(selection or {})
    sel.setdefault("n_runs", points.height)
    cl = checklist(law, points, fp, result, sel, method, delta, bt, seed)
    cl["constraints"] = describe_constraints(fixed, tie)
    cl["identifiability"] = {
        "verdict": ident["verdict"],
        "spans_decades": ident["spans_decades"],
        "not_identified": ident["not_identified"],
        "profile_ranges": {k: v.get("range") for k, v in ident["parameters"].items()},
        "rule": ident["rule"],
        "warnings": ident["warnings"],
    }
    return PretrainingFit(law, sel, points, fp, result, bt, cl, ident, cons)


def identifiability(
    law: str, fp: pl.DataFrame, result: FitResult, delta: float, cons: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The identifiability record of one pretraining fit (``analysis.identifiability``), for any ``law``.

    Adds the span of C (decades) for every law, and the number of distinct budgets for the compute law.
    """
    cons = cons or {}
    if law == "chinchilla":
        out = chinchilla_identifiability(
            fp["n_params"].to_numpy(),
            fp["n_tokens"].to_numpy(),
            fp["loss"].to_numpy(),
            result,
            delta=delta,
            fixed=cons.get("fixed") or None,
            tie_exponents=bool(cons.get("tie")),
        )
    elif law == "compute":
        out = compute_law_identifiability(
            fp["compute_flops"].to_numpy(),
            fp["loss"].to_numpy(),
            result,
            delta=delta,
            fixed=cons.get("fixed"),
        )
    else:
        col, var = ("n_params", "N") if law == "kaplan_N" else ("n_tokens", "D")
        out = power_law_identifiability(fp[col].to_numpy(), fp["loss"].to_numpy(), result, variable=var)
    if "compute_flops" in fp.columns and "C" not in out["spans_decades"]:
        from analysis.identifiability import span_decades

        out["spans_decades"]["C"] = span_decades(fp["compute_flops"].to_numpy())
    return out


def _compare_bootstrap_with_profiles(ident: dict[str, Any], result: FitResult) -> dict[str, Any]:
    """Flag bootstrap intervals much narrower than the profile range (warm-started refits stuck on a ridge)."""
    ident = {
        **ident,
        "warnings": list(ident["warnings"]),
        "untrustworthy_intervals": list(ident["untrustworthy_intervals"]),
    }
    for name, pr in ident["parameters"].items():
        key = "alpha" if name == "alpha=beta" else name
        rng = pr.get("range")
        if pr.get("verdict") == "not identified" or not rng or key not in result.params:
            continue
        lo, hi = result.interval(key)
        if lo == lo and (hi - lo) < 0.25 * (rng[1] - rng[0]):
            pr["bootstrap_trustworthy"] = False
            ident["untrustworthy_intervals"].append(key)
            ident["warnings"].append(
                f"the bootstrap interval of {key} [{lo:.3g}, {hi:.3g}] is under a quarter of its profile range "
                f"[{rng[0]:.3g}, {rng[1]:.3g}]: the refits stay near one point of a flat valley, so read the "
                "profile range, not the bootstrap interval."
            )
    return ident


def _arrays_for(law: str, fp: pl.DataFrame) -> dict[str, np.ndarray]:
    if law == "compute":
        return {"C": fp["compute_flops"].to_numpy(), "L": fp["loss"].to_numpy()}
    col = "n_params" if law == "kaplan_N" else "n_tokens"
    return {"x": fp[col].to_numpy(), "L": fp["loss"].to_numpy()}


def _fit_arrays(
    law: str, a: dict[str, np.ndarray], delta: float, cons: dict[str, Any] | None = None
) -> FitResult:
    if law == "compute":
        return fit_compute_law(a["C"], a["L"], delta=delta, fixed=(cons or {}).get("fixed") or None)
    return fit_power_law(a["x"], a["L"], variable="N" if law == "kaplan_N" else "D")


def _backtest_fns(law: str, method: str, delta: float, cons: dict[str, Any] | None = None):
    """(fit_fn, predict_fn, state) over arrays N, D, C, L for ``analysis.backtest``.

    Refits after the first warm-start from its optimum; ``state["init"]`` holds the first fit's parameters.
    """
    state: dict[str, Any] = {}

    def fit_fn(a: dict[str, np.ndarray]) -> dict[str, float]:
        fp = pl.DataFrame(
            {
                "n_params": a["N"],
                "n_tokens": a["D"],
                "compute_flops": a["C"],
                "loss": a["L"],
                "run_id": a["run"],
                "budget_flops": a["budget"],
            }
        )
        if law == "chinchilla" and "init" in state:
            res = fit_chinchilla(
                a["N"],
                a["D"],
                a["L"],
                delta=delta,
                init=state["init"],
                fixed=(cons or {}).get("fixed") or None,
                tie_exponents=bool((cons or {}).get("tie")),
            )
        else:
            res = _fit_once(law, _law_points(fp, law) if law != "chinchilla" else fp, method, delta, cons)
            state.setdefault("init", res.params)
        return res.params

    def predict_fn(params: dict[str, float], a: dict[str, np.ndarray]) -> np.ndarray:
        return predict(law, params, {"N": a["N"], "D": a["D"], "C": a["C"]})

    return fit_fn, predict_fn, state


def _backtest_arrays(points: pl.DataFrame) -> dict[str, np.ndarray]:
    return {
        "N": points["n_params"].to_numpy(),
        "D": points["n_tokens"].to_numpy(),
        "C": points["compute_flops"].to_numpy(),
        "L": points["loss"].to_numpy(),
        "run": points["run_id"].to_numpy(),
        "budget": points["budget_flops"].cast(pl.Float64).fill_null(float("nan")).to_numpy(),
    }


def holdout_backtest(
    law: str,
    points: pl.DataFrame,
    *,
    holdout_fraction: float = 0.2,
    method: str = "vpnls",
    delta: float = 1e-3,
    n_boot: int = 30,
    seed: int = 0,
    rolling: bool = True,
    cons: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit on the smaller-compute runs, predict the largest ``holdout_fraction`` of runs by compute.

    The law is refitted on the runs below the cutoff exactly as for the full fit (for the compute and Kaplan laws:
    to the lowest-loss frontier of those runs), then predicts each held-out run's loss (for the compute law: the
    run's loss as if it were on the frontier, so errors are one-sided). Each held-out prediction gets a 95% interval
    from ``n_boot`` bootstrap refits over the fitted runs, widened by the fit's log-residual spread (run-to-run noise)
    so it is a prediction interval; ``coverage`` is the share of held-out runs inside it. With ``rolling`` the
    fit is repeated at successive cutoffs (rolling origin) to give error vs extrapolation ratio.

    Returns a dict: cutoff_flops, n_train, n_test, mean/max absolute relative error, max extrapolation ratio,
    coverage, rows (per held-out run) and rolling (per cutoff and run). Gadre et al. (2024), arXiv:2403.08540;
    Porian et al. (2024), arXiv:2406.19146 (anytime analysis); METHODS.md s.10.
    """
    from analysis.backtest import holdout_backtest as _holdout
    from analysis.backtest import rolling_origin_backtest

    if "compute_flops" not in points.columns or points.height < 8:
        return {"error": "needs at least 8 runs with compute"}
    arrays = _backtest_arrays(points)
    C = arrays["C"]
    cutoff = float(np.quantile(C, 1 - holdout_fraction))
    fit_fn, predict_fn, state = _backtest_fns(law, method, delta, cons)
    try:
        frame, summary = _holdout(
            fit_fn,
            predict_fn,
            C,
            arrays,
            cutoff=cutoff,
            target="L",
            bootstrap=n_boot or None,
            rng=np.random.default_rng(seed),
        )
    except ValueError as e:
        return {"error": str(e)}
    train = points.filter(pl.col("compute_flops") <= cutoff)
    params = state["init"]  # the fit below the cutoff that the held-out predictions came from
    r = np.log(train["loss"].to_numpy()) - np.log(predict_fn(params, _backtest_arrays(train)))
    sd = float(np.std(r, ddof=1)) if r.size > 1 else 0.0
    if "lower" in frame.columns:
        frame = frame.with_columns(
            (pl.col("lower") * np.exp(-1.96 * sd)).alias("lower"),
            (pl.col("upper") * np.exp(1.96 * sd)).alias("upper"),
        ).with_columns(
            ((pl.col("lower") <= pl.col("target")) & (pl.col("target") <= pl.col("upper"))).alias("covered")
        )
    rows = frame.with_columns(
        pl.Series("run_id", arrays["run"][frame["index"].to_numpy()]),
        pl.col("x").alias("compute_flops"),
        pl.col("target").alias("observed"),
    ).drop("index", "x", "target")
    out = {
        "cutoff_flops": cutoff,
        "n_train": summary["n_fit"],
        "n_test": summary["n_test"],
        "mean_abs_rel_error": summary["mean_abs_rel_error"],
        "max_abs_rel_error": summary["max_abs_rel_error"],
        "max_extrapolation_ratio": summary["max_extrapolation_ratio"],
        "coverage": float(rows["covered"].mean()) if "covered" in rows.columns else None,
        "interval": f"95% prediction interval: {n_boot} bootstrap refits over runs, widened by log-residual sd {sd:.3g}",
        "train_params": params,
        "rows": rows.to_dicts(),
    }
    if rolling:
        uniq = np.unique(C)
        cuts = sorted({float(np.quantile(uniq, q)) for q in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)})
        try:
            detail, _summ = rolling_origin_backtest(
                lambda a: _backtest_fns(law, method, delta, cons)[0](a),
                predict_fn,
                C,
                arrays,
                cutoffs=cuts,
                target="L",
                min_fit=8,
            )
            out["rolling"] = detail.select(
                "cutoff", pl.col("x").alias("compute_flops"), "relative_error", "extrapolation_ratio"
            ).to_dicts()
        except ValueError as e:
            out["rolling_error"] = str(e)
    return out


def allocation_table(result: FitResult, budgets: list[float] | tuple[float, ...]) -> pl.DataFrame:
    """N_opt, D_opt, tokens per parameter at ``budgets`` (FLOPs) with 95% intervals from replicates if present."""
    alloc = compute_optimal_allocation(result.params, np.asarray(budgets, dtype=float))
    df = pl.DataFrame(
        {
            "compute_flops": np.asarray(budgets, dtype=float),
            "N_opt": alloc.N_opt,
            "D_opt": alloc.D_opt,
            "tokens_per_param": alloc.tokens_per_param,
        }
    )
    if result.bootstrap is not None:
        C = np.asarray(budgets, dtype=float)
        reps = result.bootstrap.replicates
        keys = ("E", "A", "B", "alpha", "beta")
        vals: dict[str, list[np.ndarray]] = {k: [] for k in ("N_opt", "D_opt", "tokens_per_param")}
        for b in np.flatnonzero(np.all([np.isfinite(reps[k]) for k in keys], axis=0)):
            try:
                a = compute_optimal_allocation({k: float(reps[k][b]) for k in keys}, C)
            except ValueError:  # a degenerate replicate (an exponent at 0) has no allocation
                continue
            for k in vals:
                vals[k].append(getattr(a, k))
        cols = []
        for k, v in vals.items():
            q = np.quantile(np.array(v), [0.025, 0.975], axis=0) if v else np.full((2, C.size), np.nan)
            cols += [pl.Series(f"{k}_lo", q[0]), pl.Series(f"{k}_hi", q[1])]
        df = df.with_columns(*cols)
    return df


def checklist(law, points, fp, result, selection, method, delta, bt, seed: int = 0) -> dict[str, Any]:
    """Reporting checklist of Li et al. (2025), arXiv:2502.18969 (METHODS.md s.4), filled for one fit."""
    n_min = points["n_params"].min() if "n_params" in points.columns else None
    n_max = points["n_params"].max() if "n_params" in points.columns else None
    return {
        "law and why": LAWS[law],
        "variables": "N = n_params (as ingested: see runs.n_params; total incl. embeddings unless the source says "
        "otherwise), D = n_tokens, C = compute_flops (compute_source: "
        + ", ".join(sorted({str(s) for s in points["compute_source"].unique().to_list()}))
        + ")",
        "runs": f"{points.height} runs, N from {n_min:.3g} to {n_max:.3g}"
        if n_min
        else f"{points.height} runs",
        "points fitted": f"{fp.height} ({'all runs' if law == 'chinchilla' else 'lowest loss per group'})",
        "checkpoints / eval": "final loss per run (loss_metric: "
        + ", ".join(sorted({str(s) for s in points["loss_metric"].unique().to_list()}))
        + ")",
        "selection": selection,
        "outlier rule": "none (all selected runs are used)",
        "objective": f"{result.loss} on {result.space} residuals"
        + (f", delta {delta:g}" if result.delta else "")
        + ", summed",
        "optimizer": f"{result.optimizer or method}; {result.n_starts} starts; grad norm "
        + (f"{result.grad_norm:.2e}" if result.grad_norm is not None else "n/a"),
        "uncertainty": (
            f"bootstrap over runs, {result.bootstrap.n} replicates, seed {seed} (child seed "
            f"{result.bootstrap.seed} regenerates the resamples)"
            if result.bootstrap
            else "none requested"
        ),
        "held-out extrapolation": (
            f"mean |rel. error| {bt['mean_abs_rel_error']:.2%} on {bt['n_test']} runs up to "
            f"{bt['max_extrapolation_ratio']:.1f}x the cutoff"
            if bt and "n_test" in bt
            else (bt or {}).get("error", "not run")
        ),
    }


def _frontier_loss(law: str, params: dict[str, float], C: np.ndarray) -> np.ndarray:
    if law == "chinchilla":
        alloc = compute_optimal_allocation(params, C)
        return predict("chinchilla", params, {"N": alloc.N_opt, "D": alloc.D_opt})
    if law == "compute":
        return predict("compute", params, {"C": C})
    raise ValueError(f"law {law!r} has no loss-vs-compute curve")


def residual_sd(fit: PretrainingFit) -> float:
    """Standard deviation of log residuals log L - log L_hat over the fitted points (run-to-run noise proxy)."""
    fp, law = fit.fit_points, fit.law
    x = {
        "N": fp["n_params"].to_numpy() if "n_params" in fp.columns else None,
        "D": fp["n_tokens"].to_numpy() if "n_tokens" in fp.columns else None,
        "C": fp["compute_flops"].to_numpy() if "compute_flops" in fp.columns else None,
    }
    r = np.log(fp["loss"].to_numpy()) - np.log(predict(law, fit.result.params, x))
    return float(np.std(r, ddof=1)) if r.size > 1 else 0.0


def loss_curves(
    fit: PretrainingFit, *, extend: float = 10.0, n: int = 80, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fitted loss vs compute (compute-optimal frontier for chinchilla) over the data range extended ``extend``x.

    Returns (curve frame: compute_flops, loss, curve; band frame: compute_flops, lo, hi, band) where the bands are
    the 95% confidence band (mean curve) and prediction band (a new run) from the bootstrap replicates; the band
    frame is empty without replicates. Bands: METHODS.md s.10.
    """
    from analysis.uncertainty import confidence_band, prediction_band

    C = fit.points["compute_flops"].to_numpy()
    grid = np.logspace(np.log10(C.min()), np.log10(C.max() * extend), n)
    label = "compute-optimal frontier" if fit.law == "chinchilla" else "L(C) fit"
    curve = pl.DataFrame(
        {
            "compute_flops": grid,
            "loss": _frontier_loss(fit.law, fit.result.params, grid),
            "curve": [label] * n,
        }
    )
    boot = fit.result.bootstrap
    if boot is None or boot.n - boot.n_failed() < 10:
        return curve, pl.DataFrame(
            schema={"compute_flops": pl.Float64, "lo": pl.Float64, "hi": pl.Float64, "band": pl.String}
        )
    fn = lambda p, x: _frontier_loss(fit.law, p, np.asarray(x, dtype=float))  # noqa: E731
    lo, hi = confidence_band(fn, boot, grid)
    plo, phi = prediction_band(fn, boot, grid, residual_sd=residual_sd(fit), rng=np.random.default_rng(seed))
    band = pl.concat(
        [
            pl.DataFrame(
                {"compute_flops": grid, "lo": plo, "hi": phi, "band": ["95% prediction (new run)"] * n}
            ),
            pl.DataFrame(
                {"compute_flops": grid, "lo": lo, "hi": hi, "band": ["95% confidence (mean curve)"] * n}
            ),
        ]
    )
    return curve, band


def fit_warnings(fit: PretrainingFit) -> list[str]:
    """Plain-language warnings about a fit a user should not take at face value (one place for CLI, JSON, page).

    The identifiability record's warnings (``analysis.identifiability``): parameters at a bound (E at 0, an
    exponent at 0 or 2.5), spans under a decade, too few points for the free parameters, zero degrees of freedom,
    parameters whose profile is flat ("not identified", bootstrap interval untrustworthy), bootstrap intervals far
    narrower than the profile range, and a fit that did not converge.
    """
    return list(fit.identifiability.get("warnings", []))


def budget_warnings(fit: PretrainingFit, budget: float, alloc: pl.DataFrame | None = None) -> list[str]:
    """Warnings about the compute-optimal point at ``budget`` (FLOPs): extrapolation and plausibility.

    Flags a budget more than 100x outside the compute range of the runs, and (chinchilla, given the allocation
    row ``alloc`` from :func:`allocation_table`) tokens per parameter or N_opt outside the range the runs
    cover, tokens per parameter outside :data:`PLAUSIBLE_TOKENS_PER_PARAM`, and an allocation built on a fit
    that is not identified.
    """
    out = []
    C = fit.points["compute_flops"]
    lo, hi = float(C.min()), float(C.max())
    if budget > 100 * hi:
        out.append(
            f"C = {budget:.3g} FLOPs is {budget / hi:.3g}x the largest run ({hi:.3g}): a far extrapolation."
        )
    elif budget < lo / 100:
        out.append(
            f"C = {budget:.3g} FLOPs is far below the smallest run ({lo:.3g}): outside the fitted range."
        )
    if alloc is not None and alloc.height:
        row = alloc.row(0, named=True)
        tpp = fit.points["n_tokens"] / fit.points["n_params"]
        t_lo, t_hi = float(tpp.min()), float(tpp.max())
        if not t_lo <= row["tokens_per_param"] <= t_hi:
            out.append(
                f"{row['tokens_per_param']:.3g} tokens per parameter at C = {budget:.3g} is outside what the runs "
                f"cover ({t_lo:.3g} to {t_hi:.3g}): the optimum is an extrapolation of the law, not seen in the data."
            )
        if not PLAUSIBLE_TOKENS_PER_PARAM[0] <= row["tokens_per_param"] <= PLAUSIBLE_TOKENS_PER_PARAM[1]:
            out.append(
                f"{row['tokens_per_param']:.3g} tokens per parameter at C = {budget:.3g} is implausible as a "
                f"compute-optimal ratio (outside {PLAUSIBLE_TOKENS_PER_PARAM[0]:g} to "
                f"{PLAUSIBLE_TOKENS_PER_PARAM[1]:g}; published values are about 20: Hoffmann et al. 2022 Approach 1, "
                "Besiroglu et al. 2024 ~18-26). Check the selection: pooled configurations, repeated (multi-epoch) "
                "data or a loss that is not comparable across runs distort the law."
            )
        n_lo, n_hi = float(fit.points["n_params"].min()), float(fit.points["n_params"].max())
        if not n_lo <= row["N_opt"] <= n_hi:
            out.append(
                f"N_opt = {row['N_opt']:.3g} parameters is outside the model sizes of the runs ({n_lo:.3g} to "
                f"{n_hi:.3g}): an extrapolation of the law."
            )
    if fit.identifiability.get("verdict") == "not identified":
        out.append(
            "the law is not identified by these runs (see the identifiability warnings): this compute-optimal "
            "point is not supported by the data."
        )
    return out


def budget_warning(fit: PretrainingFit, budget: float) -> str | None:
    """The first of :func:`budget_warnings` without an allocation (compute range only), or None."""
    w = budget_warnings(fit, budget)
    return w[0] if w else None


def fit_selection(
    con: duckdb.DuckDBPyConnection,
    source: str,
    where: str | None,
    law: str,
    n_boot: int,
    seed: int,
    backtest: bool,
    fixed: tuple[tuple[str, float], ...] = (),
    tie: bool = False,
) -> PretrainingFit:
    """:func:`fit_pretraining` on one source and filter, with constraints as hashable pairs (for the page's cache).

    Raises
    ------
    ValueError
        As :func:`select_points` and :func:`fit_pretraining`.
    """
    points = select_points(con, source, where)
    return fit_pretraining(
        points,
        law=law,
        selection={"source": source, "where": where},
        n_boot=n_boot,
        seed=seed,
        backtest=backtest,
        fixed=dict(fixed),
        tie=tie,
    )


_WHERE_PART = re.compile(r"^\s*(corpus|recipe)\s*=\s*'((?:[^']|'')*)'\s*$")


def _where_choices(where: str | None) -> dict[str, str] | None:
    """``"corpus = 'rw' AND recipe = 'x'"`` -> ``{"corpus": "rw", "recipe": "x"}``; None if not of that shape."""
    if not where:
        return {}
    out = {}
    for part in re.split(r"\s+AND\s+", where, flags=re.IGNORECASE):
        m = _WHERE_PART.match(part)
        if not m:
            return None
        out[m.group(1)] = m.group(2).replace("''", "'")
    return out


def default_selection(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The selection the Pretraining page opens on: the most identifiable, plausible stored Chinchilla fit.

    Ranks the latest stored ``chinchilla`` fits (``scaling demo`` stores one per source) by: identifiability
    verdict "identified", compute-optimal tokens per parameter at 1e23 FLOPs inside
    :data:`PLAUSIBLE_TOKENS_PER_PARAM`, then points fitted. Without stored fits: a source with isoFLOP budgets and
    a single corpus, the one with the most points. Returns ``{"source", "corpus", "recipe", "reason"}`` (corpus / recipe None for all) or None
    when there are no pretraining points.
    """
    from data.fits import list_fits, load_fit

    sources = queries.pretrain_sources(con)
    if sources.height == 0:
        return None
    known = set(sources["source"].to_list())
    best: tuple | None = None
    try:
        fits = list_fits(con, axis="pretraining")
    except duckdb.Error:
        fits = pl.DataFrame()
    for row in fits.iter_rows(named=True) if fits.height else []:
        if row["law"] != "chinchilla":
            continue
        rec = load_fit(con, row["fit_id"]) or {}
        sel = rec.get("selection") or {}
        choice = _where_choices(sel.get("where"))
        if sel.get("source") not in known or choice is None:
            continue
        result = rec.get("result") or {}
        verdict = ((result.get("extra") or {}).get("identifiability") or {}).get("verdict")
        try:
            tpp = float(
                compute_optimal_allocation(result.get("params") or {}, [DEFAULT_BUDGET]).tokens_per_param[0]
            )
        except (ValueError, TypeError):
            tpp = float("nan")
        plausible = PLAUSIBLE_TOKENS_PER_PARAM[0] <= tpp <= PLAUSIBLE_TOKENS_PER_PARAM[1]
        key = (verdict == "identified", plausible, int(result.get("n_points") or 0))
        if best is None or key > best[0]:
            reason = (
                f"stored fit {row['fit_id']}: {verdict or 'identifiability not recorded'}, "
                f"{tpp:.3g} tokens per parameter at {DEFAULT_BUDGET:.0e} FLOPs"
            )
            best = (key, sel["source"], choice, reason)
    if best is not None:
        _, src, choice, reason = best
        return {
            "source": src,
            "corpus": choice.get("corpus"),
            "recipe": choice.get("recipe"),
            "reason": reason,
        }
    ranked = sources.with_columns(
        (pl.col("n_isoflop_points") > 0).alias("has_budgets"), (pl.col("n_corpora") <= 1).alias("one_corpus")
    ).sort(["has_budgets", "one_corpus", "n_points"], descending=True)
    return {
        "source": ranked["source"][0],
        "corpus": None,
        "recipe": None,
        "reason": "no stored fit: the single-corpus source with isoFLOP budgets and the most runs",
    }


def identifiability_table(ident: dict[str, Any]) -> pl.DataFrame:
    """One row per parameter of an identifiability record: parameter, verdict, range_lo, range_hi, bootstrap."""
    rows = []
    for k, pr in ident.get("parameters", {}).items():
        rng = pr.get("range") or [None, None]
        rows.append(
            {
                "parameter": k,
                "verdict": pr["verdict"],
                "range_lo": rng[0],
                "range_hi": rng[1],
                "bootstrap interval": "trustworthy" if pr.get("bootstrap_trustworthy") else "untrustworthy",
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "parameter": pl.String,
            "verdict": pl.String,
            "range_lo": pl.Float64,
            "range_hi": pl.Float64,
            "bootstrap interval": pl.String,
        },
    )
