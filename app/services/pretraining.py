"""Pretraining fits: select points from the store, fit a law, bootstrap, backtest, build the stored record."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analysis.chinchilla import fit_chinchilla
from analysis.compute_optimal import compute_optimal_allocation, fit_compute_law
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
    return pts


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


def _fit_once(law: str, fp: pl.DataFrame, method: str, delta: float) -> FitResult:
    if law == "chinchilla":
        return fit_chinchilla(
            fp["n_params"].to_numpy(),
            fp["n_tokens"].to_numpy(),
            fp["loss"].to_numpy(),
            method=method,
            delta=delta,
        )
    if law == "compute":
        return fit_compute_law(fp["compute_flops"].to_numpy(), fp["loss"].to_numpy(), delta=delta)
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
) -> PretrainingFit:
    """Fit ``law`` to ``points`` (rows of ``v_pretrain_points``), optionally with a run-level bootstrap.

    Raises
    ------
    ValueError
        Unknown law, or the analysis layer's errors (too few points, non-positive values).
    """
    if law not in LAWS:
        raise ValueError(f"unknown law {law!r}; choose one of {', '.join(LAWS)}")
    fp = _law_points(points, law)
    result = _fit_once(law, fp, method, delta)
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
                budgets=REPORT_BUDGETS,
                delta=delta,
                full_fit=result,
            )
        else:
            arrays = _arrays_for(law, fp)
            boot = bootstrap_fit(lambda **a: _fit_arrays(law, a, delta), arrays, None, n_boot=n_boot, rng=rng)
        result = dataclasses.replace(result, bootstrap=boot)
    bt = holdout_backtest(law, fp, method=method, delta=delta) if backtest else None
    sel = dict(selection or {})
    sel.setdefault("n_runs", points.height)
    return PretrainingFit(
        law, sel, points, fp, result, bt, checklist(law, points, fp, result, sel, method, delta, bt)
    )


def _arrays_for(law: str, fp: pl.DataFrame) -> dict[str, np.ndarray]:
    if law == "compute":
        return {"C": fp["compute_flops"].to_numpy(), "L": fp["loss"].to_numpy()}
    col = "n_params" if law == "kaplan_N" else "n_tokens"
    return {"x": fp[col].to_numpy(), "L": fp["loss"].to_numpy()}


def _fit_arrays(law: str, a: dict[str, np.ndarray], delta: float) -> FitResult:
    if law == "compute":
        return fit_compute_law(a["C"], a["L"], delta=delta)
    return fit_power_law(a["x"], a["L"], variable="N" if law == "kaplan_N" else "D")


def holdout_backtest(
    law: str, fp: pl.DataFrame, *, holdout_fraction: float = 0.2, method: str = "vpnls", delta: float = 1e-3
) -> dict[str, Any]:
    """Fit on the smaller-compute runs, predict the largest ``holdout_fraction`` of runs by compute.

    Returns a dict with the cutoff (FLOPs), per-held-out-run rows (run, C, observed, predicted, relative error,
    extrapolation ratio = C / cutoff) and the mean and max absolute relative error. Gadre et al. (2024),
    arXiv:2403.08540, report this kind of error (0.7% at 300x); METHODS.md s.10.
    """
    C = fp["compute_flops"].to_numpy() if "compute_flops" in fp.columns else None
    if C is None:
        return {"error": "no compute axis"}
    cutoff = float(np.quantile(C, 1 - holdout_fraction))
    train, test = fp.filter(pl.col("compute_flops") <= cutoff), fp.filter(pl.col("compute_flops") > cutoff)
    if test.height == 0:
        return {"error": "nothing above the cutoff to predict"}
    try:
        res = _fit_once(law, train, method, delta)
    except ValueError as e:
        return {"error": f"fit below the cutoff failed: {e}"}
    x = {
        "N": test["n_params"].to_numpy() if "n_params" in test.columns else None,
        "D": test["n_tokens"].to_numpy() if "n_tokens" in test.columns else None,
        "C": test["compute_flops"].to_numpy(),
    }
    pred = predict(law, res.params, x)
    obs = test["loss"].to_numpy()
    rel = (pred - obs) / obs
    rows = pl.DataFrame(
        {
            "run_id": test["run_id"]
            if "run_id" in test.columns
            else pl.Series([None] * test.height, dtype=pl.String),
            "compute_flops": x["C"],
            "observed": obs,
            "predicted": pred,
            "relative_error": rel,
            "extrapolation_ratio": x["C"] / cutoff,
        }
    )
    return {
        "cutoff_flops": cutoff,
        "n_train": train.height,
        "n_test": test.height,
        "mean_abs_rel_error": float(np.mean(np.abs(rel))),
        "max_abs_rel_error": float(np.max(np.abs(rel))),
        "max_extrapolation_ratio": float(np.max(x["C"]) / cutoff),
        "train_params": res.params,
        "rows": rows.to_dicts(),
    }


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
        reps = result.bootstrap.replicates
        keys = ("E", "A", "B", "alpha", "beta")
        ok = np.all([np.isfinite(reps[k]) for k in keys], axis=0)
        lo = {k: [] for k in ("N_opt", "D_opt", "tokens_per_param")}
        hi = {k: [] for k in lo}
        for C in budgets:
            vals = {k: [] for k in lo}
            for b in np.flatnonzero(ok):
                a = compute_optimal_allocation({k: float(reps[k][b]) for k in keys}, np.array([C]))
                vals["N_opt"].append(a.N_opt[0])
                vals["D_opt"].append(a.D_opt[0])
                vals["tokens_per_param"].append(a.tokens_per_param[0])
            for k in lo:
                q = np.quantile(vals[k], [0.025, 0.975]) if vals[k] else (np.nan, np.nan)
                lo[k].append(float(q[0]))
                hi[k].append(float(q[1]))
        df = df.with_columns(
            *(pl.Series(f"{k}_lo", lo[k]) for k in lo), *(pl.Series(f"{k}_hi", hi[k]) for k in hi)
        )
    return df


def checklist(law, points, fp, result, selection, method, delta, bt) -> dict[str, Any]:
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
            f"bootstrap over runs, {result.bootstrap.n} replicates, seed {result.bootstrap.seed}"
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
