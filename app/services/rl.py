"""RL post-training fits: ScaleRL sigmoid and power law per run, bootstrap, backtest, recipe comparison.

Composition of ``data.queries`` (RL curves from ``v_rl_curves``) and ``analysis.rl`` shared by the
``scaling fit rl`` command and the RL page. No Streamlit here.

Source of the law: Khatri et al. 2025, "The Art of Scaling Reinforcement Learning Compute for LLMs"
(ScaleRL), arXiv:2510.13786, Eq. 1: R(C) = R0 + (A - R0) / (1 + (C_mid / C)**B).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analysis.errors import FitError, InsufficientDataError
from analysis.results import FitResult
from analysis.rl import (
    bootstrap_sigmoid,
    compare_recipes,
    compute_to_target,
    compute_to_target_interval,
    fit_rl_power_law,
    fit_scale_dependence,
    fit_sigmoid,
    rl_backtest,
    sigmoid_curve,
)
from app.services.common import fit_record
from data import queries

#: Compute axes: CLI name -> (``v_rl_curves`` column, unit shown in titles and column names). The step unit is
#: replaced by the runs' algorithm (:func:`axis_unit`): "GRPO steps", "PPO steps", ...
X_AXES: dict[str, tuple[str, str]] = {
    "gpu_hours": ("gpu_hours_seen", "GPU-hours"),
    "flops": ("flops_seen", "FLOPs"),
    "tokens": ("tokens_seen", "tokens"),
    "step": ("step", "RL steps"),
}
#: What each axis needs logged, for the per-run reason when it is missing.
AXIS_HINTS: dict[str, str] = {
    "gpu_hours": "gpu_hours_seen (GPU-hours; verl logs get it from their phase timings)",
    "flops": "flops_seen (FLOPs so far)",
    "tokens": "tokens_seen (tokens so far)",
    "step": "step",
}
#: Flags that keep a run out of the size trend unless asked (``include_flagged``).
FLAG_A_BOUND = "ceiling A at its bound"
FLAG_C_MID = "C_mid outside the observed compute range"
#: Default early-transient cut as a fraction of each run's largest compute (as the CLI's help states).
DEFAULT_TRANSIENT_FRACTION = 0.1
#: Run labels a recipe comparison can group by (columns of ``queries.rl_runs``).
LABEL_COLUMNS: tuple[str, ...] = ("recipe", "base_model", "algorithm", "reward_shaping", "n_params")
#: Share of the compute axis the backtest fits on (ScaleRL fits 50k of 100k GPU-hours).
BACKTEST_FIT_FRACTION = 0.5


@dataclass
class RunFit:
    """Sigmoid and power-law fits of one RL run (or a pool of runs sharing a label)."""

    run_id: str
    labels: dict[str, Any]
    x: str
    unit: str
    R0: float
    R0_note: str
    cut: float
    points: pl.DataFrame  # columns x, value, used (bool)
    sigmoid: FitResult
    power: FitResult | None = None
    power_error: str | None = None
    backtest: dict[str, Any] | None = None
    run_ids: tuple[str, ...] = ()
    #: Reliability flags (:data:`FLAG_A_BOUND`, :data:`FLAG_C_MID` with details); flagged runs stay out of the
    #: size trend unless asked.
    flags: list[str] = field(default_factory=list)


@dataclass
class RLFits:
    """Per-run fits of one metric against one compute axis, plus the runs that could not be fitted."""

    metric: str
    x: str
    unit: str
    transient_fraction: float
    n_boot: int
    seed: int
    runs: list[RunFit] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    labels: pl.DataFrame = field(default_factory=pl.DataFrame)


def list_runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """RL runs with their label columns (``queries.rl_runs``).

    Returns
    -------
    polars.DataFrame, shape (n_runs, 10)
        run_id, source, base_model, n_params (parameters), algorithm, recipe, reward_shaping, seed, n_gpus,
        source_file.
    """
    return queries.rl_runs(con)


def list_metrics(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Metrics logged by RL runs (``queries.rl_metric_names``).

    Returns
    -------
    polars.DataFrame, shape (n_metrics, 3)
        metric, n_runs, n_points; most widely logged first.
    """
    return queries.rl_metric_names(con)


def default_metric(names: list[str]) -> str | None:
    """The validation accuracy metric if present: ``val/*`` with acc/score/pass in its name, else any ``val/*``.

    Parameters
    ----------
    names : list of str
        Metric names, e.g. ``["critic/kl", "val/test_score/openai/gsm8k"]``.

    Returns
    -------
    str or None
        The preferred name; the first name when nothing looks like validation; None for an empty list.
    """
    if not names:
        return None
    val = [n for n in names if n.startswith("val/")]
    for n in val:
        if any(w in n.lower() for w in ("acc", "score", "pass")):
            return n
    return val[0] if val else names[0]


def load_curves(
    con: duckdb.DuckDBPyConnection,
    metric: str,
    run_ids: tuple[str, ...] | list[str] | None = None,
    where: str | None = None,
    x: str = "gpu_hours",
) -> pl.DataFrame:
    """One metric per step for the selected RL runs with the compute axis as column ``x``.

    Returns
    -------
    polars.DataFrame
        ``v_rl_curves`` columns plus ``x`` (GPU-hours, FLOPs, tokens or steps; null where the run did not log that
        axis at that step: :func:`fit_runs` gives each such run its reason).

    Raises
    ------
    ValueError
        Unknown ``x``, or an empty selection (the message names metric and filter).
    """
    if x not in X_AXES:
        raise ValueError(f"unknown x axis {x!r}; choose one of {', '.join(X_AXES)}")
    df = queries.rl_curves(con, metric, list(run_ids) if run_ids else None, where)
    if df.height == 0:
        raise ValueError(f"no RL points for metric={metric!r} runs={run_ids or 'all'} where={where!r}")
    col = X_AXES[x][0]
    if col not in df.columns:  # a store migrated before tokens_seen joined v_rl_curves
        df = df.with_columns(pl.lit(None, pl.Float64).alias(col))
    return df.with_columns(pl.col(col).cast(pl.Float64).alias("x"))


def _initial_value(g: pl.DataFrame) -> tuple[float, str]:
    """R0 from the initial evaluation (step 0); falls back to the earliest point, saying so."""
    s0 = g.filter(pl.col("step") == 0)
    if s0.height:
        return float(s0["value"].mean()), "initial evaluation (step 0)"
    first = g.sort("step").row(0, named=True)
    return float(first["value"]), f"no step-0 evaluation: earliest point (step {first['step']}) used as R0"


def _summarise_backtest(bt: dict[str, Any]) -> dict[str, Any]:
    """JSON-able backtest summary (arrays to lists, fit to its parameters)."""
    out = {k: v for k, v in bt.items() if k not in ("fit", "C_test", "R_test", "R_pred")}
    out["fit_params"] = dict(bt["fit"].params)
    out["rows"] = [
        {"x": float(c), "observed": float(o), "predicted": float(p)}
        for c, o, p in zip(bt["C_test"], bt["R_test"], bt["R_pred"], strict=True)
    ]
    return out


def _fit_points(
    x: np.ndarray,
    r: np.ndarray,
    *,
    R0: float,
    cut: float,
    n_boot: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> tuple[FitResult, FitResult | None, str | None, dict[str, Any]]:
    sig = fit_sigmoid(x, r, R0=R0, transient_cut=cut)
    if n_boot > 0:
        boot = bootstrap_sigmoid(
            x,
            r,
            R0=R0,
            n_boot=n_boot,
            rng=np.random.default_rng(seed),
            groups=groups,
            transient_cut=cut,
            seed=seed,
        )
        sig = dataclasses.replace(sig, bootstrap=boot)
    try:
        power, perr = fit_rl_power_law(x, r, R0=R0, transient_cut=cut), None
    except (InsufficientDataError, FitError, ValueError) as e:
        power, perr = None, str(e)
    try:
        bt = _summarise_backtest(
            rl_backtest(x, r, R0=R0, fit_fraction=BACKTEST_FIT_FRACTION, transient_cut=cut)
        )
    except (InsufficientDataError, FitError, ValueError) as e:
        bt = {"error": str(e)}
    return sig, power, perr, bt


def fit_run(
    curve: pl.DataFrame,
    *,
    x: str = "gpu_hours",
    transient_fraction: float = DEFAULT_TRANSIENT_FRACTION,
    n_boot: int = 0,
    seed: int = 0,
    labels: dict[str, Any] | None = None,
) -> RunFit:
    """Fit the ScaleRL sigmoid and the power law to one run's curve (R0 fixed at the step-0 value).

    Parameters
    ----------
    curve : polars.DataFrame, shape (n, ...)
        One run's rows of :func:`load_curves` (columns run_id, step, x, value).
    x : {"gpu_hours", "step"}
        Compute axis; C_mid is in its unit.
    transient_fraction : float
        Points with x < transient_fraction * max(x) are dropped (0 <= f < 1).
    n_boot : int
        Bootstrap replicates over evaluation points (0 = none).
    seed : int
        Seed of the bootstrap generator.
    labels : dict, optional
        Run labels (recipe, base_model, ...) kept on the result.

    Returns
    -------
    RunFit
        Sigmoid (with bootstrap), power law (or the reason it failed), backtest summary (or its error).

    Raises
    ------
    ValueError
        Bad fraction, values outside [0, 1] (not a pass rate), or the analysis layer's errors (e.g. fewer than 3 points after the cut).

    Notes
    -----
    ScaleRL, arXiv:2510.13786, Eq. 1 and App. A.5; the power law is the ceiling-free comparison (App. A.4).
    """
    if not (0.0 <= transient_fraction < 1.0) or math.isnan(transient_fraction):
        raise ValueError(f"transient cut must be a fraction in [0, 1), got {transient_fraction}")
    g = curve.sort("step")
    run_id = str(g["run_id"][0])
    R0, note = _initial_value(g)
    if x == "step":  # the initial evaluation sits at step 0 = compute 0, as for GPU-hours
        g = g.with_columns(pl.col("step").cast(pl.Float64).alias("x"))
    g = g.filter(pl.col("x").is_not_null())
    xs, rs = g["x"].to_numpy().astype(float), g["value"].to_numpy().astype(float)
    if rs.min() < 0 or rs.max() > 1:
        raise ValueError(
            f"values from {rs.min():.4g} to {rs.max():.4g} are not a pass rate in [0, 1]; "
            "the ScaleRL sigmoid fits a pass rate (pick a validation accuracy or score metric)"
        )
    cut = transient_fraction * float(xs.max())
    try:
        sig, power, perr, bt = _fit_points(xs, rs, R0=R0, cut=cut, n_boot=n_boot, seed=seed)
    except InsufficientDataError as e:
        raise ValueError(str(e)) from e
    pts = pl.DataFrame({"x": xs, "value": rs, "used": (xs >= cut) & (xs > 0), "step": g["step"].to_numpy()})
    rf = RunFit(
        run_id, dict(labels or {}), x, axis_unit(x, [labels or {}]), R0, note, cut, pts, sig, power, perr, bt,
        (run_id,),
    )  # fmt: skip
    rf.flags = run_flags(rf)
    return rf


def fit_runs(
    con: duckdb.DuckDBPyConnection,
    metric: str,
    run_ids: tuple[str, ...] | None = None,
    where: str | None = None,
    x: str = "gpu_hours",
    transient_fraction: float | None = None,
    n_boot: int = 0,
    seed: int = 0,
) -> RLFits:
    """Fit every selected run's ``metric`` against ``x`` (one sigmoid + power law + backtest per run).

    Parameters
    ----------
    con : duckdb connection
    metric : str
        Metric name in ``v_rl_curves`` (a pass rate in [0, 1], e.g. ``val/test_score/openai/gsm8k``).
    run_ids : tuple of str, optional
        Runs to fit (default: all RL runs with the metric).
    where : str, optional
        Extra SQL filter over ``v_rl_curves`` columns.
    x : {"gpu_hours", "step"}
        Compute axis.
    transient_fraction : float, optional
        Early-transient cut as a fraction of each run's max compute (default 0.1).
    n_boot, seed : int
        Bootstrap replicates per run and generator seed.

    Returns
    -------
    RLFits
        ``runs`` fitted, ``errors`` {run_id: reason} for runs that could not be fitted, ``labels`` frame.

    Raises
    ------
    ValueError
        Empty selection, unknown axis, bad fraction, or no run could be fitted.
    """
    frac = DEFAULT_TRANSIENT_FRACTION if transient_fraction is None else float(transient_fraction)
    curves = load_curves(con, metric, run_ids, where, x)
    labels = list_runs(con)
    lab = {r["run_id"]: {k: r.get(k) for k in LABEL_COLUMNS} for r in labels.iter_rows(named=True)}
    present = curves["run_id"].unique().to_list()
    out = RLFits(metric, x, axis_unit(x, [lab.get(r, {}) for r in present]), frac, int(n_boot), int(seed))
    col, hint = X_AXES[x][0], AXIS_HINTS[x]
    for (rid,), g in curves.group_by("run_id", maintain_order=True):
        n_x = int(g["x"].is_not_null().sum())
        if x != "step" and n_x == 0:
            out.errors[str(rid)] = (
                f"no {X_AXES[x][1]} logged: {col} is empty at all {g.height} steps of {metric!r}; "
                f"log {hint} or choose another --x (e.g. step)"
            )
            continue
        if x != "step" and int(g.filter(pl.col("x") > 0).height) < 3:
            out.errors[str(rid)] = (
                f"only {n_x} of {g.height} steps have {col} (need >= 3 with positive compute); log {hint}"
            )
            continue
        try:
            out.runs.append(
                fit_run(g, x=x, transient_fraction=frac, n_boot=n_boot, seed=seed, labels=lab.get(rid, {}))
            )
        except (ValueError, FitError) as e:
            out.errors[str(rid)] = str(e)
    if not out.runs:
        reasons = "; ".join(f"{rid}: {err}" for rid, err in out.errors.items())
        raise ValueError(f"no run could be fitted against {X_AXES[x][1]}: {reasons}")
    out.labels = labels.filter(pl.col("run_id").is_in([r.run_id for r in out.runs]))
    return out


def axis_unit(x: str, labels: list[dict[str, Any]]) -> str:
    """Unit of the compute axis for titles: GPU-hours, FLOPs, tokens, or "<algorithm> steps" from the runs' labels.

    Parameters
    ----------
    x : {"gpu_hours", "flops", "tokens", "step"}
    labels : list of dict
        Run labels (``algorithm`` used for steps: "grpo" -> "GRPO steps", "ppo-gae" -> "PPO steps"; several
        algorithms -> "steps (GRPO, PPO)"; none recorded -> "RL steps").

    Returns
    -------
    str
    """
    if x != "step":
        return X_AXES[x][1]
    names = sorted({_algo_name(str(lb.get("algorithm"))) for lb in labels if lb.get("algorithm")})
    if len(names) == 1:
        return f"{names[0]} steps"
    return f"steps ({', '.join(names)})" if names else "RL steps"


def _algo_name(a: str) -> str:
    low = a.lower()
    for key in ("grpo", "dapo", "gspo", "cispo", "rloo", "reinforce", "ppo"):
        if low.startswith(key):
            return "REINFORCE" if key == "reinforce" else key.upper()
    return a


def run_flags(f: RunFit) -> list[str]:
    """Reliability flags of one run's sigmoid: ceiling at its bound, midpoint outside the observed compute.

    Returns
    -------
    list of str
        :data:`FLAG_A_BOUND` (A at the bound of its search range: the ceiling is not identified) and/or
        :data:`FLAG_C_MID` with the range (C_mid below the first or above the last evaluation with compute > 0:
        the half-way point was not observed, so A and C_mid trade off), each with the numbers.

    Notes
    -----
    ScaleRL (arXiv:2510.13786) App. A.5-A.7: A is only trusted once the curve has saturated.
    """
    s, out = f.sigmoid, []
    if s.extra.get("at_A_bound"):
        out.append(f"{FLAG_A_BOUND} ({s.params['A']:.3f})")
    used = f.points.filter(pl.col("x") > 0)["x"]  # every evaluation with compute, the transient included
    if used.len():
        lo, hi, cm = float(used.min()), float(used.max()), float(s.params["C_mid"])
        if not lo <= cm <= hi:
            out.append(f"{FLAG_C_MID} (C_mid = {cm:.3g}, data {lo:.3g}-{hi:.3g} {f.unit})")
    return out


def _iv(f: FitResult, k: str) -> tuple[float, float]:
    return f.interval(k, 0.95)


def param_table(fits: RLFits) -> pl.DataFrame:
    """One row per run: R0, A, B, C_mid with 95% bootstrap intervals, the power law beside, backtest error.

    Parameters
    ----------
    fits : RLFits
        Output of :func:`fit_runs`.

    Returns
    -------
    polars.DataFrame, shape (n_runs, 19)
        run_id, R0, A, A_lo, A_hi, B, B_lo, B_hi, C_mid, C_mid_lo, C_mid_hi, n_points, sigmoid_rmse, power_k,
        power_p, power_rmse, backtest_mae, warning, flags (:func:`run_flags`, "; "-joined, "" when none). A, R0 are pass-rate fractions; C_mid is in ``fits.unit``;
        the power law is R = R0 + k * C**p; ``backtest_mae`` is the mean |predicted - observed| pass rate on
        the held-out second half of the compute axis. Intervals are NaN without a bootstrap.

    Notes
    -----
    ScaleRL (arXiv:2510.13786) Eq. 1 and App. A.4 (power law as the ceiling-free comparison).
    """
    rows = []
    for f in fits.runs:
        s, p, bt = f.sigmoid, f.power, f.backtest or {}
        (alo, ahi), (blo, bhi), (mlo, mhi) = _iv(s, "A"), _iv(s, "B"), _iv(s, "C_mid")
        rows.append(
            {
                "run_id": f.run_id,
                "R0": f.R0,
                "A": s.params["A"], "A_lo": alo, "A_hi": ahi,
                "B": s.params["B"], "B_lo": blo, "B_hi": bhi,
                "C_mid": s.params["C_mid"], "C_mid_lo": mlo, "C_mid_hi": mhi,
                "n_points": s.n_points,
                "sigmoid_rmse": float(s.extra.get("rmse", math.nan)),
                "power_k": p.params["k"] if p else math.nan,
                "power_p": p.params["p"] if p else math.nan,
                "power_rmse": float(p.extra.get("rmse", math.nan)) if p else math.nan,
                "backtest_mae": float(bt.get("mean_abs_error", math.nan)),
                "warning": s.message if s.message.startswith("A ") else "",
                "flags": "; ".join(f.flags),
            }
        )  # fmt: skip
    return pl.DataFrame(rows)


def _ci(lo: float, hi: float, fmt: str) -> str:
    """'lo – hi' or '—' when the bound is missing (no bootstrap); an infinite bound is 'unbounded'."""
    if lo is None or hi is None or lo != lo or hi != hi:
        return "—"
    return f"{lo:{fmt}} – " + ("unbounded" if math.isinf(hi) else f"{hi:{fmt}}")


def param_display(fits: RLFits) -> pl.DataFrame:
    """The page's compact parameter table: one row per run, intervals as text, the noisy columns left out.

    Parameters
    ----------
    fits : RLFits
        Output of :func:`fit_runs`.

    Returns
    -------
    polars.DataFrame, shape (n_runs, 11)
        run (the short name of :func:`run_titles`), R0, A, "A 95% CI", "A fits as well" (the profile range of A
        whose fit is about as good, ``extra["A_profile_range"]``), B, "C_mid (<unit>)", "C_mid 95% CI",
        "backtest MAE", "power-law p", flags (:func:`run_flags`). Numbers as in :func:`param_table` (A, R0 and the MAE are pass-rate
        fractions; C_mid in ``fits.unit``); a missing interval or range is "—".
    """
    t = param_table(fits)
    names = run_titles(fits)
    prof = [tuple(f.sigmoid.extra.get("A_profile_range", ())) for f in fits.runs]
    return pl.DataFrame(
        {
            "run": [names[r] for r in t["run_id"]],
            "R0": t["R0"],
            "A": t["A"],
            "A 95% CI": [_ci(lo, hi, ".3f") for lo, hi in zip(t["A_lo"], t["A_hi"], strict=True)],
            "A fits as well": [_ci(*r, ".3f") if len(r) == 2 else "—" for r in prof],
            "B": t["B"],
            f"C_mid ({fits.unit})": t["C_mid"],
            "C_mid 95% CI": [_ci(lo, hi, ".3g") for lo, hi in zip(t["C_mid_lo"], t["C_mid_hi"], strict=True)],
            "backtest MAE": t["backtest_mae"],
            "power-law p": t["power_p"],
            "flags": t["flags"],
        }
    )


def poorly_determined(fits: RLFits) -> list[str]:
    """Runs whose ceiling A is poorly determined (``analysis.rl.fit_sigmoid`` says other A fit about as well).

    Returns
    -------
    list of str
        run_ids, in fit order.
    """
    return [f.run_id for f in fits.runs if f.sigmoid.message.startswith("A poorly determined")]


def comparison_display(comp: pl.DataFrame, unit: str) -> pl.DataFrame:
    """The page's recipe-comparison table from :func:`recipe_comparison`: readable columns, intervals as text.

    Parameters
    ----------
    comp : polars.DataFrame
        :func:`recipe_comparison` output.
    unit : str
        Compute unit of C_mid.

    Returns
    -------
    polars.DataFrame, shape (n_variants, 7)
        variant, A, "A 95% CI", "ΔA" (A - baseline A), "C_mid (<unit>)", "C_mid ratio" (C_mid / baseline C_mid),
        verdict (the label of
        ``analysis.rl.compare_recipes``). The member runs are left out (see :func:`pooled_note`).
    """
    out = pl.DataFrame(
        {
            "variant": comp["variant"],
            "A": comp["A"],
            "A 95% CI": [_ci(lo, hi, ".3f") for lo, hi in zip(comp["A_lo"], comp["A_hi"], strict=True)],
            "ΔA": comp["dA"],
            f"C_mid ({unit})": comp["C_mid"],
            "C_mid ratio": comp["C_mid_ratio"],
            "verdict": comp["label"],
        }
    )
    return out


def pooled_note(comp: pl.DataFrame) -> str:
    """Which variants of a :func:`recipe_comparison` pool several runs, e.g. "X = run a + run b"; "" when none.

    Parameters
    ----------
    comp : polars.DataFrame
        :func:`recipe_comparison` output (columns variant, runs).

    Returns
    -------
    str
        "; "-joined "variant = run + run" items for the pooled variants.
    """
    return "; ".join(
        f"{v} = {' + '.join(r.split(', '))}"
        for v, r in zip(comp["variant"], comp["runs"], strict=True)
        if ", " in r
    )


def run_titles(fits: RLFits) -> dict[str, str]:
    """Short display names of the fitted runs: their recipe labels when those are present and distinct.

    Parameters
    ----------
    fits : RLFits

    Returns
    -------
    dict
        run_id -> recipe label (e.g. ``"bsz512_p1024_r512"``), or run_id -> run_id for every run when some
        recipe is missing or shared.
    """
    recipes = [f.labels.get("recipe") for f in fits.runs]
    if all(recipes) and len(set(recipes)) == len(recipes):
        return {f.run_id: str(r) for f, r in zip(fits.runs, recipes, strict=True)}
    return {f.run_id: f.run_id for f in fits.runs}


def comparison_confounds(fits: RLFits, by: str) -> list[str]:
    """Label columns other than ``by`` that differ between the compared runs (base model, size, ...).

    Parameters
    ----------
    fits : RLFits
    by : str
        The grouping label column (one of :data:`LABEL_COLUMNS`).

    Returns
    -------
    list of str
        Those of :data:`LABEL_COLUMNS` (except ``by``) with more than one distinct value among the runs:
        a comparison "by recipe" of runs that also differ in base model does not isolate the recipe.
    """
    return [k for k in LABEL_COLUMNS if k != by and len({str(f.labels.get(k)) for f in fits.runs}) > 1]


def curve_frames(
    fits: RLFits, *, extend: float = 4.0, n: int = 60
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Fitted curves, the bootstrap extrapolation band beyond the data, and the transient cuts, for charting.

    Returns
    -------
    (curves, band, cuts) : polars.DataFrame
        curves: run_id, x, value, model ("sigmoid" / "power law"), segment ("fit" within the data,
        "extrapolation" beyond it); band: run_id, x, lo, hi (95% percentile band of the bootstrap sigmoids for
        x from the last point to ``extend`` x it, empty without replicates); cuts: run_id, x.
    """
    curves, bands = [], []
    for f in fits.runs:
        xs = f.points["x"].to_numpy()
        pos = xs[xs > 0]
        if pos.size == 0:
            continue
        x_max = float(pos.max())
        # the fitted range and the extrapolation share the point x_max, so the two segments join
        fit_grid = np.logspace(np.log10(pos.min()), np.log10(x_max), n)
        ext_grid = np.logspace(np.log10(x_max), np.log10(x_max * extend), max(n // 3, 10))
        grid = np.concatenate([fit_grid, ext_grid])
        seg = ["fit"] * fit_grid.size + ["extrapolation"] * ext_grid.size
        p = f.sigmoid.params
        curves.append(
            pl.DataFrame(
                {
                    "run_id": f.run_id,
                    "x": grid,
                    "value": np.asarray(sigmoid_curve(grid, p["R0"], p["A"], p["B"], p["C_mid"])),
                    "model": "sigmoid",
                    "segment": seg,
                }
            )
        )
        if f.power is not None:
            k, e = f.power.params["k"], f.power.params["p"]
            curves.append(
                pl.DataFrame(
                    {
                        "run_id": f.run_id,
                        "x": grid,
                        "value": f.R0 + k * grid**e,
                        "model": "power law",
                        "segment": seg,
                    }
                )
            )
        b = f.sigmoid.bootstrap
        if b is not None:
            ext = ext_grid
            reps = b.replicates
            ok = np.isfinite(reps["A"]) & np.isfinite(reps["B"]) & np.isfinite(reps["C_mid"])
            ys = np.array(
                [
                    sigmoid_curve(ext, f.R0, reps["A"][i], reps["B"][i], reps["C_mid"][i])
                    for i in np.flatnonzero(ok)
                ]
            )
            if ys.size:
                lo, hi = np.quantile(ys, [0.025, 0.975], axis=0)
                bands.append(pl.DataFrame({"run_id": f.run_id, "x": ext, "lo": lo, "hi": hi}))
    empty_c = {
        "run_id": pl.String,
        "x": pl.Float64,
        "value": pl.Float64,
        "model": pl.String,
        "segment": pl.String,
    }
    empty_b = {"run_id": pl.String, "x": pl.Float64, "lo": pl.Float64, "hi": pl.Float64}
    cuts = pl.DataFrame(
        {"run_id": [f.run_id for f in fits.runs], "x": [f.cut for f in fits.runs]},
        schema={"run_id": pl.String, "x": pl.Float64},
    )
    return (
        pl.concat(curves) if curves else pl.DataFrame(schema=empty_c),
        pl.concat(bands) if bands else pl.DataFrame(schema=empty_b),
        cuts,
    )


def points_frame(fits: RLFits) -> pl.DataFrame:
    """Observed points of every fitted run.

    Returns
    -------
    polars.DataFrame, shape (n_points, 5)
        run_id, step, x (``fits.unit``), value (fraction), used (False = before the transient cut or x = 0).
    """
    frames = [f.points.with_columns(pl.lit(f.run_id).alias("run_id")) for f in fits.runs]
    return pl.concat(frames).select("run_id", "step", "x", "value", "used")


def _pooled(members: list[RunFit], fits: RLFits) -> RunFit:
    """One sigmoid fitted to several runs sharing a label: each run's own cut, mean R0, bootstrap over runs."""
    xs, rs, gs = [], [], []
    for f in members:
        used = f.points.filter(pl.col("used"))
        xs.append(used["x"].to_numpy())
        rs.append(used["value"].to_numpy())
        gs += [f.run_id] * used.height
    x, r, R0 = np.concatenate(xs), np.concatenate(rs), float(np.mean([f.R0 for f in members]))
    sig, power, perr, bt = _fit_points(
        x, r, R0=R0, cut=0.0, n_boot=fits.n_boot, seed=fits.seed, groups=np.array(gs)
    )
    pts = pl.DataFrame(
        {"x": x, "value": r, "used": np.ones(x.size, bool), "step": np.zeros(x.size, np.int64)}
    )
    ids = tuple(f.run_id for f in members)
    return RunFit(
        "+".join(ids), members[0].labels, fits.x, fits.unit, R0, "mean of the runs' R0", 0.0, pts, sig, power, perr,
        bt, ids,
    )  # fmt: skip


def _variant_key(labels: dict[str, Any], by: str) -> str:
    v = labels.get(by)
    if v is None:
        return "(none)"
    return f"{float(v):.3g}" if by == "n_params" else str(v)


def variant_names(fits: RLFits, by: str = "recipe") -> list[str]:
    """Sorted distinct values of the label column ``by`` among the fitted runs (missing -> ``"(none)"``).

    These are the variant names :func:`recipe_comparison` uses (n_params formatted with 3 significant digits).
    """
    return sorted({_variant_key(f.labels, by) for f in fits.runs})


def recipe_comparison(fits: RLFits, by: str = "recipe", baseline: str | None = None) -> pl.DataFrame:
    """Compare recipe variants with ``analysis.rl.compare_recipes`` (ceiling vs efficiency, ScaleRL Sec. 4).

    Runs are grouped by the label column ``by``; a variant with several runs (seeds) is fitted once on their
    pooled points with a bootstrap over runs. Missing labels become ``"(none)"``.

    Parameters
    ----------
    fits : RLFits
        Output of :func:`fit_runs`.
    by : str
        One of :data:`LABEL_COLUMNS`.
    baseline : str, optional
        Variant to compare against (default: the first variant).

    Returns
    -------
    polars.DataFrame
        compare_recipes columns (variant, A, A_lo, A_hi, B, ..., label) plus ``runs`` (member run ids).

    Raises
    ------
    ValueError
        Unknown ``by`` or ``baseline``.
    """
    if by not in LABEL_COLUMNS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(LABEL_COLUMNS)}")
    groups: dict[str, list[RunFit]] = {}
    for f in fits.runs:
        groups.setdefault(_variant_key(f.labels, by), []).append(f)
    variant_fits = {}
    members = {}
    for key, ms in groups.items():
        rf = ms[0] if len(ms) == 1 else _pooled(ms, fits)
        variant_fits[key] = rf.sigmoid
        members[key] = ", ".join(m.run_id for m in ms)
    base = baseline if baseline is not None else next(iter(variant_fits))
    table = compare_recipes(variant_fits, baseline=base)
    return table.with_columns(pl.col("variant").replace_strict(members, default="").alias("runs"))


def target_table(fits: RLFits, target: float) -> pl.DataFrame:
    """Compute needed to reach pass rate ``target`` per run, with a 95% bootstrap interval or a reason.

    Parameters
    ----------
    fits : RLFits
    target : float
        Target pass rate (fraction in (0, 1)).

    Returns
    -------
    polars.DataFrame
        run_id, A, R0, target, status ("reachable" / "unreachable" / "already reached"), compute, compute_lo,
        compute_hi (in ``fits.unit``; inf in the upper end when some replicates never reach it) and ``text``.

    Notes
    -----
    Closed-form inversion of ScaleRL Eq. 1 (arXiv:2510.13786): C = C_mid ((A - R0)/(target - R0) - 1)^(-1/B).
    """
    rows = []
    for f in fits.runs:
        s = f.sigmoid
        A = s.params["A"]
        lo = hi = math.nan
        if target <= f.R0:
            status, c = "already reached", 0.0
            text = f"already reached: target {target:.3f} <= R0 = {f.R0:.3f} (the starting policy)"
        elif target >= A:
            status, c = "unreachable", math.inf
            text = f"unreachable: target above the ceiling A = {A:.3f}"
        else:
            status, c = "reachable", compute_to_target(s, target)
            if s.bootstrap is not None:
                lo, hi = compute_to_target_interval(s.bootstrap, target, R0=f.R0)
            if lo != lo:
                iv = ""
            elif math.isinf(hi):
                iv = f" (95% interval {lo:.3g} to unbounded: some bootstrap ceilings lie below the target)"
            else:
                iv = f" (95% interval {lo:.3g} to {hi:.3g})"
            text = f"{c:.3g} {fits.unit}{iv}"
        rows.append(
            {"run_id": f.run_id, "A": A, "R0": f.R0, "target": target, "status": status, "compute": c,
             "compute_lo": lo, "compute_hi": hi, "text": text}
        )  # fmt: skip
    return pl.DataFrame(rows)


def scale_dependence(fits: RLFits, include_flagged: bool = False) -> dict[str, Any]:
    """A and C_mid against base-model size N when the runs span several sizes (``fit_scale_dependence``).

    Runs with a reliability flag (:func:`run_flags`: ceiling at its bound, C_mid outside the observed compute)
    are left out of the trend unless ``include_flagged``; the result names them.

    Returns
    -------
    dict
        ``available`` (bool), ``message`` (why not, or caveats), ``excluded`` (run_id -> flags of the runs left
        out), ``included_flagged`` (bool), and when available the fit's keys (A_per_decade, C_mid_exponent, ...).
        Runs without n_params are ignored.

    Notes
    -----
    ScaleRL (arXiv:2510.13786): unidentified ceilings and midpoints carry no information about size.
    """
    excluded = {f.run_id: list(f.flags) for f in fits.runs if f.flags and not include_flagged}
    rows = [
        (f.labels.get("n_params"), f)
        for f in fits.runs
        if f.labels.get("n_params") and f.run_id not in excluded
    ]
    sizes = sorted({float(n) for n, _ in rows})
    listed = ", ".join(f"{r}: {' and '.join(fl)}" for r, fl in excluded.items())
    why_out = f"; left out as flagged ({listed}; include them with --include-flagged)" if excluded else ""
    base = {"excluded": excluded, "included_flagged": bool(include_flagged)}
    if len(sizes) < 2:
        return {
            **base,
            "available": False,
            "message": f"scale dependence needs runs from at least 2 base-model sizes; the usable runs have "
            f"{len(sizes)} ({', '.join(f'{s:.3g}' for s in sizes) or 'none recorded'}){why_out}",
        }
    res = fit_scale_dependence(
        [float(n) for n, _ in rows],
        [f.sigmoid.params["A"] for _, f in rows],
        [f.sigmoid.params["C_mid"] for _, f in rows],
    )
    confounds = [
        k
        for k in ("recipe", "algorithm", "reward_shaping")
        if len({str(f.labels.get(k)) for _, f in rows}) > 1
    ]
    msg = res["message"]
    if confounds:
        msg += f"; the runs also differ in {', '.join(confounds)}, so size is confounded with them"
    flagged_in = [f.run_id for _, f in rows if f.flags]
    if flagged_in:
        msg += f"; includes flagged runs {', '.join(flagged_in)}"
    return {**base, "available": True, **res, "message": msg + why_out}


def gpu_hours_notes(con: duckdb.DuckDBPyConnection, run_ids: tuple[str, ...] | None = None) -> list[str]:
    """Ingest notes saying how GPU-hours were derived (verl adapter: phase timings x GPU count), per source file.

    Parameters
    ----------
    con : duckdb connection
    run_ids : tuple of str, optional
        Runs whose source files are looked up (default all RL runs).

    Returns
    -------
    list of str
        Distinct ledger notes (``queries.ingest_files`` message parts) that say how ``gpu_hours_seen`` was derived,
        with the per-file GPU count "n_gpus (k)" collapsed to "n_gpus" so that logs differing only in their GPU
        count give one note, the counts seen appended to the last note ("(n_gpus per log: 1 or 2)"); empty when
        the runs' logs carried GPU-hours themselves.
    """
    runs = list_runs(con)
    if run_ids:
        runs = runs.filter(pl.col("run_id").is_in(list(run_ids)))
    files = set(runs["source_file"].to_list())
    led = queries.ingest_files(con).filter(pl.col("path").is_in(list(files)))
    notes, n_gpus = [], []
    for m in led["message"].to_list():
        for part in (m or "").split("; "):
            if "gpu_hours_seen derived" not in part:
                continue
            n_gpus += re.findall(r"n_gpus \((\d+)\)", part)
            part = re.sub(r"n_gpus \(\d+\)", "n_gpus", part)
            if part not in notes:
                notes.append(part)
    counts = sorted({int(n) for n in n_gpus})
    if notes and counts:
        notes[-1] += f" (n_gpus per log: {' or '.join(str(n) for n in counts)})"
    return notes


def fit_records(fits: RLFits, selection: dict[str, Any], options: dict[str, Any]) -> list[dict[str, Any]]:
    """Fit records (``app.services.common.fit_record``, axis "rl") for every run: sigmoid with replicates, power law.

    Parameters
    ----------
    fits : RLFits
        Output of :func:`fit_runs`.
    selection : dict
        What was asked for (where filter, requested runs); extended per run with ``run_id``, ``metric``, ``x``.
    options : dict
        Fit options (transient fraction, bootstrap replicates, seed); part of the stable fit id.

    Returns
    -------
    list of dict
        ``data.fits.save_fit`` records: per run the ``rl_sigmoid`` fit (bootstrap replicates kept, backtest and a
        short reporting checklist) and, when it converged, the ``rl_power`` fit.
    """
    recs = []
    for f in fits.runs:
        sel = {**selection, "run_id": f.run_id, "metric": fits.metric, "x": fits.x}
        check = {
            "law and why": "ScaleRL sigmoid R = R0 + (A - R0)/(1 + (C_mid/C)^B) (Khatri et al. 2025, arXiv:2510.13786)",
            "variables": f"C = {X_AXES[fits.x][0]} ({fits.unit}); R = {fits.metric} (fraction)",
            "R0": f"{f.R0:.6g} from {f.R0_note}",
            "transient cut": f"x < {f.cut:.4g} {fits.unit} dropped ({fits.transient_fraction:g} of max)",
            "uncertainty": (
                f"bootstrap over evaluation points, {f.sigmoid.bootstrap.n} replicates, seed {fits.seed}"
                if f.sigmoid.bootstrap
                else "none requested"
            ),
            "flags": "; ".join(f.flags) or "none",
        }
        recs.append(fit_record("rl", f.sigmoid, sel, options, backtest=f.backtest, checklist=check))
        if f.power is not None:
            recs.append(fit_record("rl", f.power, sel, options, checklist=check))
    return recs
