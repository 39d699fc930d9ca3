"""The three Chinchilla approaches on one data selection, side by side.

Approach 1: lower envelope of per-step training curves (``v_loss_curves``); Approach 2: isoFLOP profiles
(runs with ``budget_flops``), a local parabola per budget; Approach 3: the parametric loss surface
L(N, D) = E + A/N^alpha + B/D^beta. Each yields allocation exponents a (N_opt ~ C^a), b (D_opt ~ C^b) with
intervals and N_opt at a user budget. Hoffmann et al. (2022), arXiv:2203.15556.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analysis.chinchilla import fit_chinchilla
from analysis.compute_optimal import compute_optimal_allocation
from analysis.envelope import (
    MAX_EDGE_FRACTION,
    MIN_ENVELOPE_RUNS,
    envelope_runs_excluded,
    fit_envelope_allocation,
    training_curve_envelope,
)
from analysis.identifiability import chinchilla_identifiability
from analysis.isoflop import (
    CELL_RULES,
    MIN_BUDGETS,
    budget_report,
    isoflop_minima,
    isoflop_noise_bootstrap,
    screen_cells,
)
from analysis.results import FitResult
from analysis.uncertainty import bootstrap_fit, budget_key, chinchilla_bootstrap
from app.services.pretraining import allocation_table
from data import queries

#: Column order of the comparison table.
TABLE_COLUMNS = (
    "approach",
    "method",
    "status",
    "a",
    "a_lo",
    "a_hi",
    "b",
    "b_lo",
    "b_hi",
    "N_opt",
    "N_opt_lo",
    "N_opt_hi",
    "D_opt",
    "n_points",
    "n_budgets",
    "uncertainty",
    "reason",
)


@dataclass
class ApproachComparison:
    """Outcome of :func:`compare_approaches`.

    Attributes
    ----------
    table : polars.DataFrame
        One row per approach (columns :data:`TABLE_COLUMNS`); ``status`` is "ok", "warning" (fitted, but below a
        reliability minimum: the ``reason`` says which) or "not applicable" with the ``reason``; ``n_budgets`` is
        the number of usable isoFLOP budgets (Approach 2). a, b dimensionless; N_opt in parameters and D_opt in tokens at ``budget`` FLOPs.
    curves : polars.DataFrame
        N_opt vs C per fitted approach: ``approach``, ``compute_flops``, ``N_opt``, ``lo``, ``hi`` (95% band
        from replicates, NaN without them).
    minima : polars.DataFrame
        Approach 2 per-budget reliability (``analysis.isoflop.budget_report``: vertex, cells used and excluded
        with reasons, convexity, bracketing, status); empty when there are no isoFLOP runs.
    profiles : polars.DataFrame
        isoFLOP points (``v_isoflop_points`` rows) used by Approach 2; empty when not applicable.
    fits : dict[str, FitResult]
        Fitted results by approach name.
    budget : float
        The budget (FLOPs) of the N_opt column.
    notes : dict[str, str]
        Method notes per approach (parabola neighbours, noise sigma, ...); ``approach2_rules`` states the cell and
        budget rules.
    excluded_cells : polars.DataFrame
        isoFLOP cells Approach 2 excluded: run_id, C (budget, FLOPs), N (parameters), L (nats/token), reason.
    """

    table: pl.DataFrame
    curves: pl.DataFrame
    minima: pl.DataFrame
    profiles: pl.DataFrame
    fits: dict[str, FitResult] = field(default_factory=dict)
    budget: float = 1e23
    notes: dict[str, str] = field(default_factory=dict)
    excluded_cells: pl.DataFrame = field(default_factory=pl.DataFrame)


def _q(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return (math.nan, math.nan)
    lo, hi = np.quantile(x, [0.025, 0.975])
    return float(lo), float(hi)


def _row(approach: str, method: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {c: math.nan for c in TABLE_COLUMNS}
    row.update(
        approach=approach, method=method, status="ok", n_points=0, n_budgets=0, uncertainty="", reason=""
    )
    row.update(kw)
    return row


def _fit_row(
    name: str,
    method: str,
    fit: FitResult,
    *,
    a: float,
    b: float,
    n_opt: tuple[float, float, float],
    D_opt: float,
    n_points: int,
    uncertainty: str,
) -> dict[str, Any]:
    """A comparison row: allocation exponents a, b with their replicate intervals, N_opt (value, lo, hi), D_opt."""
    a_lo, a_hi = fit.interval("a")
    b_lo, b_hi = fit.interval("b")
    return _row(
        name,
        method,
        a=a,
        a_lo=a_lo,
        a_hi=a_hi,
        b=b,
        b_lo=b_lo,
        b_hi=b_hi,
        N_opt=n_opt[0],
        N_opt_lo=n_opt[1],
        N_opt_hi=n_opt[2],
        D_opt=D_opt,
        n_points=n_points,
        uncertainty=uncertainty,
    )


def _na(approach: str, method: str, reason: str) -> dict[str, Any]:
    return _row(approach, method, status="not applicable", reason=reason)


def _power_curve(name: str, fit: FitResult, grid: np.ndarray) -> pl.DataFrame:
    """N_opt = k_N C^a on ``grid`` with a 95% band from replicates of (a, k_N)."""
    p = fit.params
    n = p["k_N"] * grid ** p["a"]
    lo = hi = np.full(grid.size, np.nan)
    if fit.bootstrap is not None:
        r = fit.bootstrap.replicates
        ok = np.isfinite(r["a"]) & np.isfinite(r["k_N"])
        if ok.sum() >= 2:
            vals = r["k_N"][ok][:, None] * grid[None, :] ** r["a"][ok][:, None]
            lo, hi = np.quantile(vals, [0.025, 0.975], axis=0)
    return pl.DataFrame(
        {"approach": [name] * grid.size, "compute_flops": grid, "N_opt": n, "lo": lo, "hi": hi}
    )


def _power_at(fit: FitResult, C: float) -> tuple[float, float, float, float]:
    """(N_opt, lo, hi, D_opt) at budget C from an allocation power law and its replicates."""
    p = fit.params
    n, d = p["k_N"] * C ** p["a"], p["k_D"] * C ** p["b"]
    lo = hi = math.nan
    if fit.bootstrap is not None:
        r = fit.bootstrap.replicates
        lo, hi = _q(r["k_N"] * C ** r["a"])
    return n, lo, hi, d


def approach1(
    curves: pl.DataFrame, *, budget: float, n_boot: int, seed: int, n_grid: int = 400
) -> tuple[dict[str, Any], FitResult | None]:
    """Approach 1 from per-step curves: envelope of training curves, OLS of ln N_opt and ln D_opt on ln C.

    Parameters
    ----------
    curves : polars.DataFrame
        Rows of ``v_loss_curves`` (run_id, n_params, flops_seen in FLOPs, tokens_seen, loss in nats/token).
    budget : float
        FLOPs at which N_opt is reported.
    n_boot : int
        Bootstrap replicates over runs (0 for none).
    seed : int
        Seed of the bootstrap generator.
    n_grid : int
        Log-spaced FLOP values of the envelope (the paper uses 1500).

    Returns
    -------
    (dict, FitResult or None)
        The table row and the fit (None when not applicable).

    Notes
    -----
    Hoffmann et al. (2022), arXiv:2203.15556, Approach 1.
    """
    name, method = "1: training-curve envelope", f"envelope on {n_grid} log-spaced C, OLS log-log"
    c = (
        curves.filter((pl.col("flops_seen") > 0) & (pl.col("loss") > 0) & (pl.col("n_params") > 0))
        if curves.height
        else curves
    )
    if c.height == 0:
        return _na(name, method, "no per-step loss curves for this selection (v_loss_curves is empty)"), None
    arrays = {
        "run_id": c["run_id"].to_numpy(),
        "N": c["n_params"].to_numpy(),
        "C": c["flops_seen"].to_numpy(),
        "L": c["loss"].to_numpy(),
    }

    def fit_fn(run_id, N, C, L):
        return fit_envelope_allocation(training_curve_envelope(run_id, N, C, L, n_grid=n_grid))

    try:
        fit = fit_fn(**arrays)
    except (ValueError, RuntimeError) as e:
        return _na(name, method, f"envelope fit failed: {e}"), None
    if n_boot > 0:
        boot = bootstrap_fit(fit_fn, arrays, arrays["run_id"], n_boot=n_boot, rng=np.random.default_rng(seed))
        fit = replace(fit, bootstrap=boot)
    n, lo, hi, d = _power_at(fit, budget)
    row = _fit_row(
        name,
        method,
        fit,
        a=fit.params["a"],
        b=fit.params["b"],
        n_opt=(n, lo, hi),
        D_opt=d,
        n_points=int(c["run_id"].n_unique()),
        uncertainty=f"bootstrap over runs, {n_boot} replicates" if n_boot else "none",
    )
    row.update(_envelope_verdict(fit, envelope_runs_excluded(arrays["run_id"], arrays["C"])))
    return row, fit


def _envelope_verdict(fit: FitResult, excluded: list[str]) -> dict[str, Any]:
    """Approach 1's status and reason: edge share of the envelope, runs on it, runs excluded."""
    problems = []
    edge = fit.derived.get("edge_fraction", math.nan)
    if edge == edge and edge > MAX_EDGE_FRACTION:
        problems.append(
            f"{edge:.0%} of the envelope is won by the smallest or largest model covering that compute (minimum "
            f"over N not bracketed; limit {MAX_EDGE_FRACTION:.0%})"
        )
    if fit.derived.get("n_runs", 0) < MIN_ENVELOPE_RUNS:
        problems.append(
            f"only {int(fit.derived['n_runs'])} runs on the envelope (minimum {MIN_ENVELOPE_RUNS})"
        )
    notes = [f"{len(excluded)} runs excluded (fewer than two checkpoints)"] if excluded else []
    return {"status": "warning" if problems else "ok", "reason": "; ".join(problems + notes)}


def _parabola_sigma(iso: pl.DataFrame, neighbors: int) -> float:
    """Pooled residual SD (nats/token) of the local parabolas: the seed-noise proxy of the bootstrap."""
    ss, dof = 0.0, 0
    for _, g in iso.group_by("budget_flops"):
        g = g.sort("n_params")
        if g.height < 4:
            continue
        if neighbors:
            i = int(np.argmin(g["loss"].to_numpy()))
            g = g.slice(max(0, i - neighbors), 2 * neighbors + 1)
        if g.height < 4:
            continue
        x, y = np.log(g["n_params"].to_numpy()), g["loss"].to_numpy()
        r = y - np.polyval(np.polyfit(x, y, 2), x)
        ss += float(r @ r)
        dof += g.height - 3
    return max(math.sqrt(ss / dof), 1e-3) if dof else 2e-3


def _screen(iso: pl.DataFrame, cells: pl.DataFrame | None) -> pl.DataFrame:
    """Cell screen (``analysis.isoflop.screen_cells``) with run ids, from ``v_isoflop_cells`` when available."""
    src = cells if cells is not None and cells.height else iso
    loss = src["loss"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    finished = None
    if "last_tokens_seen" in src.columns:
        seen = src["last_tokens_seen"].cast(pl.Float64).to_numpy()
        planned = src["n_tokens"].cast(pl.Float64).to_numpy()
        finished = ~(np.isfinite(seen) & np.isfinite(planned) & (seen < 0.99 * planned))
    screened = screen_cells(
        src["budget_flops"].to_numpy(), src["n_params"].to_numpy(), loss, finished=finished
    )
    return screened.with_columns(pl.Series("run_id", src["run_id"].to_list()))


def approach2(
    iso: pl.DataFrame,
    *,
    budget: float,
    n_boot: int,
    seed: int,
    neighbors: int = 2,
    sigma: float | None = None,
    cells: pl.DataFrame | None = None,
) -> tuple[dict[str, Any], FitResult | None, pl.DataFrame]:
    """Approach 2 from isoFLOP points: local parabola in ln N per budget, log-log lines through the vertices.

    Parameters
    ----------
    iso : polars.DataFrame
        Rows of ``v_isoflop_points`` (budget_flops in FLOPs, n_params, loss in nats/token).
    budget : float
        FLOPs at which N_opt is reported.
    n_boot : int
        Noise-injection replicates (0 for none).
    seed : int
        Seed of the bootstrap generator.
    neighbors : int
        The parabola uses the sampled minimum and this many neighbouring sizes on each side (0: every run of
        the budget, as Llama 3 does).
    sigma : float, optional
        Seed-noise SD of a loss (nats/token); default: the pooled residual SD of the local parabolas (>= 1e-3).
    cells : polars.DataFrame, optional
        Rows of ``v_isoflop_cells`` (every isoFLOP run, with NULL loss for failed runs and the last logged tokens);
        cells are screened (failed, not finished, diverged, outliers: ``analysis.isoflop.CELL_RULES``) and only
        the used ones are fitted. Default: screen ``iso`` itself.

    Returns
    -------
    (dict, FitResult or None, polars.DataFrame)
        Table row (``status`` "ok" with >= ``MIN_BUDGETS`` usable budgets, "warning" with 2, "not applicable"
        below; ``n_budgets`` usable budgets), fit, and the per-budget report (``analysis.isoflop.budget_report``).

    Notes
    -----
    Hoffmann et al. (2022), arXiv:2203.15556, Approach 2; Porian et al. (2024), arXiv:2406.19146 (local
    interpolation around the minimum, noise-injection bootstrap).
    """
    name = "2: isoFLOP profiles"
    method = (
        f"local parabola in ln N ({neighbors} neighbours each side of the sampled minimum), OLS log-log"
        if neighbors
        else "parabola in ln N through every run of the budget, OLS log-log"
    )
    nb = neighbors or None
    empty = pl.DataFrame()
    if iso.height == 0 and (cells is None or cells.height == 0):
        return _na(name, method, "no runs with a nominal budget_flops (no isoFLOP profiles)"), None, empty
    screened = _screen(iso, cells)
    used = screened.filter(pl.col("used"))
    if used.height == 0:
        return _na(name, method, "every isoFLOP cell was excluded (" + CELL_RULES + ")"), None, empty
    C, N, L = (used[c].to_numpy() for c in ("C", "N", "L"))
    minima = budget_report(isoflop_minima(C, N, L, neighbors=nb), screened)
    n_ok = minima.filter(pl.col("status") == "ok").height
    if n_ok < 2:
        row = _na(
            name,
            method,
            f"{n_ok} usable budget(s); at least 2 are needed and {MIN_BUDGETS} for a reliable exponent ("
            + _budget_problems(minima)
            + ")",
        )
        row["n_budgets"] = n_ok
        return row, None, minima
    iso_used = iso.join(used.select("run_id"), on="run_id", how="semi") if "run_id" in iso.columns else iso
    sig = sigma if sigma is not None else _parabola_sigma(iso_used, neighbors)
    try:
        fit = isoflop_noise_bootstrap(
            C, N, L, sigma=sig, rng=np.random.default_rng(seed), n_boot=max(n_boot, 1), neighbors=nb
        )
    except (ValueError, RuntimeError) as e:
        return _na(name, method, f"isoFLOP fit failed: {e}"), None, minima
    if n_boot == 0:
        fit = replace(fit, bootstrap=None)
    n, lo, hi, d = _power_at(fit, budget)
    row = _fit_row(
        name,
        method,
        fit,
        a=fit.params["a"],
        b=fit.params["b"],
        n_opt=(n, lo, hi),
        D_opt=d,
        n_points=int(fit.n_points),
        uncertainty=(
            f"noise-injection bootstrap, sigma {sig:.2g} nats, {n_boot} replicates" if n_boot else "none"
        ),
    )
    row["n_budgets"] = n_ok
    problems = _budget_problems(minima)
    if n_ok < MIN_BUDGETS:
        row.update(
            status="warning",
            reason=f"only {n_ok} usable budgets (minimum {MIN_BUDGETS}): the exponent is a line through "
            f"{n_ok} points with no residual; " + problems,
        )
    elif problems:
        row["reason"] = problems
    return row, fit, minima


def _budget_problems(minima: pl.DataFrame) -> str:
    """One line: budgets not used and why, cells excluded and why."""
    bad = minima.filter(pl.col("status") != "ok")
    parts = [f"budget {r['C']:.3g}: {r['status'].replace('_', ' ')}" for r in bad.iter_rows(named=True)]
    n_ex = int(minima["n_excluded"].sum()) if "n_excluded" in minima.columns else 0
    if n_ex:
        parts.append(f"{n_ex} cells excluded")
    return "; ".join(parts)


def approach3(
    points: pl.DataFrame, *, budget: float, n_boot: int, seed: int, method: str = "vpnls", n_starts: int = 64
) -> tuple[dict[str, Any], FitResult | None]:
    """Approach 3: the parametric surface L(N, D) fitted to final losses, closed-form allocation.

    Parameters
    ----------
    points : polars.DataFrame
        Rows of ``v_pretrain_points`` (run_id, n_params, n_tokens, loss in nats/token).
    budget : float
        FLOPs at which N_opt is reported.
    n_boot : int
        Bootstrap replicates over runs (0 for none; warm-started refits).
    seed : int
        Seed of the bootstrap generator.
    method : {"vpnls", "lbfgs"}
        Fitter; "lbfgs" (reference Chinchilla grid) uses ``n_starts`` evenly spaced starts.
    n_starts : int
        Starts of the "lbfgs" method.

    Returns
    -------
    (dict, FitResult or None)
        The row is "warning" when the identifiability check (``analysis.identifiability``, stored under
        ``fit.extra["identifiability"]``) finds a parameter the runs do not pin down.

    Notes
    -----
    Hoffmann et al. (2022), arXiv:2203.15556, Approach 3; Besiroglu et al. (2024), arXiv:2404.10102.
    """
    name = f"3: parametric L(N, D) ({method})"
    desc = "log-space Huber (delta 1e-3), " + (
        "variable projection + L-BFGS-B" if method == "vpnls" else f"L-BFGS-B from {n_starts} grid starts"
    )
    if points.height < 6:
        return _na(name, desc, f"needs at least 6 runs with N, D and a final loss, got {points.height}"), None
    N, D, L = (points[c].to_numpy() for c in ("n_params", "n_tokens", "loss"))
    try:
        fit = fit_chinchilla(N, D, L, method=method, n_starts=n_starts if method == "lbfgs" else None)
        alloc = compute_optimal_allocation(fit.params, [budget])
    except (ValueError, RuntimeError) as e:
        return _na(name, desc, f"fit failed or degenerate (an exponent or coefficient at 0): {e}"), None
    ident = chinchilla_identifiability(N, D, L, fit)
    fit = replace(fit, extra={**fit.extra, "identifiability": ident})
    if n_boot > 0:
        boot = chinchilla_bootstrap(
            N,
            D,
            L,
            points["run_id"].to_numpy(),
            n_boot=n_boot,
            rng=np.random.default_rng(seed),
            budgets=(budget,),
            full_fit=fit,
            check_every=0,
        )
        fit = replace(fit, bootstrap=boot)
    lo, hi = fit.interval(budget_key("N_opt", budget))
    row = _fit_row(
        name,
        desc,
        fit,
        a=fit.derived["a"],
        b=fit.derived["b"],
        n_opt=(float(alloc.N_opt[0]), lo, hi),
        D_opt=float(alloc.D_opt[0]),
        n_points=points.height,
        uncertainty=f"bootstrap over runs, {n_boot} replicates" if n_boot else "none",
    )
    if ident["verdict"] != "identified":
        parts = []
        if ident["not_identified"] or ident["dof"] <= 0:
            parts.append(
                "not identified by these runs: "
                + (", ".join(ident["not_identified"]) or "zero residual degrees of freedom")
                + " (objective profile flat within the noise; intervals untrustworthy)"
            )
        if ident.get("weakly_identified"):
            parts.append("weakly identified: " + ", ".join(ident["weakly_identified"]))
        row.update(status="warning", reason="; ".join(parts))
    return row, fit


def _chinchilla_curve(name: str, fit: FitResult, grid: np.ndarray) -> pl.DataFrame:
    t = allocation_table(fit, grid)
    lo = t["N_opt_lo"] if "N_opt_lo" in t.columns else np.full(grid.size, np.nan)
    hi = t["N_opt_hi"] if "N_opt_hi" in t.columns else np.full(grid.size, np.nan)
    return pl.DataFrame(
        {"approach": [name] * grid.size, "compute_flops": grid, "N_opt": t["N_opt"], "lo": lo, "hi": hi}
    )


def compare_approaches(
    con: duckdb.DuckDBPyConnection,
    source: str,
    where: str | None = None,
    *,
    budget: float = 1e23,
    n_boot: int = 20,
    seed: int = 0,
    neighbors: int = 2,
    sigma: float | None = None,
    lbfgs: bool = False,
    lbfgs_starts: int = 64,
) -> ApproachComparison:
    """Run Approaches 1, 2 and 3 on one source (and optional SQL filter) and tabulate them.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Read connection to the store.
    source : str
        ``runs.source``.
    where : str, optional
        Extra SQL filter on the views (e.g. ``"recipe = 'tuned-short-const-standard-val'"``); never pool
        configurations of a source whose runs differ in recipe or corpus.
    budget : float
        Compute budget, FLOPs (> 0), for the N_opt column.
    n_boot : int
        Replicates per approach (run bootstrap for 1 and 3, noise injection for 2).
    seed : int
        Seed of every bootstrap generator.
    neighbors : int
        Approach 2 local parabola half-width (sizes each side of the sampled minimum; 0 = all runs).
    sigma : float, optional
        Approach 2 loss noise SD (nats/token); default estimated from the parabola residuals.
    lbfgs : bool
        Also run the reference L-BFGS-B Approach 3 (with ``lbfgs_starts`` grid starts, no bootstrap).
    lbfgs_starts : int
        Grid starts of the reference fit.

    Returns
    -------
    ApproachComparison

    Raises
    ------
    ValueError
        If ``budget`` is not a positive finite number, or the filter is not one SQL expression.

    Notes
    -----
    Hoffmann et al. (2022), arXiv:2203.15556 (a = 0.50, 0.49, 0.46 for Approaches 1-3).
    """
    if not (math.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be a positive number of FLOPs, got {budget}")
    points = queries.pretrain_points(con, source, where)
    iso = queries.isoflop_points(con, source, where)
    try:
        cells = queries.isoflop_cells(con, source, where)
    except duckdb.CatalogException:  # a store created before migration 0050: screen the fit points only
        cells = None
    curves = queries.loss_curves(con, source, where)
    rows, fits, parts = [], {}, []
    Cs = [points["compute_flops"].to_numpy()] if points.height else []
    if curves.height:
        Cs.append(curves.filter(pl.col("flops_seen") > 0)["flops_seen"].to_numpy())
    allc = np.concatenate(Cs) if Cs else np.array([1e18, 1e21])
    allc = allc[np.isfinite(allc) & (allc > 0)]
    grid = np.logspace(np.log10(allc.min()), np.log10(max(allc.max() * 100, budget)), 60)

    r1, f1 = approach1(curves, budget=budget, n_boot=n_boot, seed=seed)
    rows.append(r1)
    if f1 is not None:
        fits["approach1"] = f1
        parts.append(_power_curve("1: envelope", f1, grid))
    r2, f2, minima = approach2(
        iso, budget=budget, n_boot=n_boot, seed=seed, neighbors=neighbors, sigma=sigma, cells=cells
    )
    rows.append(r2)
    if f2 is not None:
        fits["approach2"] = f2
        parts.append(_power_curve("2: isoFLOP", f2, grid))
    r3, f3 = approach3(points, budget=budget, n_boot=n_boot, seed=seed)
    rows.append(r3)
    if f3 is not None:
        fits["approach3"] = f3
        parts.append(_chinchilla_curve("3: L(N, D) vpnls", f3, grid))
    if lbfgs:
        r3b, f3b = approach3(
            points, budget=budget, n_boot=0, seed=seed, method="lbfgs", n_starts=lbfgs_starts
        )
        rows.append(r3b)
        if f3b is not None:
            fits["approach3_lbfgs"] = f3b
            parts.append(_chinchilla_curve("3: L(N, D) lbfgs", f3b, grid))
    table = pl.DataFrame(rows, schema_overrides={"n_points": pl.Int64}, infer_schema_length=None).select(
        TABLE_COLUMNS
    )
    curves_df = (
        pl.concat(parts)
        if parts
        else pl.DataFrame(
            schema={
                "approach": pl.String,
                "compute_flops": pl.Float64,
                "N_opt": pl.Float64,
                "lo": pl.Float64,
                "hi": pl.Float64,
            }
        )
    )
    notes = {
        "approach2": (
            f"parabola through the sampled minimum and {neighbors} neighbours each side"
            if neighbors
            else "parabola through every run of each budget"
        )
        + "; only budgets that pass every check are used",
        "approach2_rules": CELL_RULES,
        "approach1": "intermediate checkpoints of a cosine schedule are not finished shorter runs, so the envelope "
        "is biased towards larger models (Li et al. 2025, arXiv 2502.18969)",
    }
    excluded = (
        _screen(iso, cells).filter(~pl.col("used")).select("run_id", "C", "N", "L", "reason")
        if iso.height or (cells is not None and cells.height)
        else pl.DataFrame()
    )
    return ApproachComparison(
        table, curves_df, minima, iso if f2 is not None else pl.DataFrame(), fits, budget, notes, excluded
    )


def selection_filter(corpus: str | None = None, recipe: str | None = None) -> str | None:
    """SQL filter on the pretraining views for one corpus and/or one recipe (None = no filter).

    Parameters
    ----------
    corpus, recipe : str, optional
        Values of ``runs.corpus`` / ``runs.recipe``; quotes are escaped.

    Returns
    -------
    str or None
        E.g. ``"corpus = 'rw' AND recipe = 'tuned-short-const-standard-val'"``.
    """
    parts = [
        f"{col} = '" + str(v).replace("'", "''") + "'"
        for col, v in (("corpus", corpus), ("recipe", recipe))
        if v
    ]
    return " AND ".join(parts) or None
