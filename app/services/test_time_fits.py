"""Test-time fits beyond pass@k: thinking-token stopping points from the fitted curve, eval summary tables, costs.

Composition of ``data.queries`` and ``analysis.thinking`` / ``analysis.sampling`` shared by the Test-time page and
``scaling fit test-time --what ...``. Every public function takes the read-only connection first and hashable
arguments after it (``app.cache.service``). No Streamlit here.

Sources: Muennighoff et al. (2025) arXiv:2501.19393 (accuracy vs thinking tokens); Khatri et al. (2025)
arXiv:2510.13786 (the saturating form); Brown et al. (2024) arXiv:2407.21787 (coverage law on pass@k points);
Kapoor et al. (2024) arXiv:2407.01502 (state the cost unit and prices).
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analysis.errors import FitError, InsufficientDataError
from analysis.sampling import coverage_law, fit_coverage
from analysis.thinking import fit_thinking_curve, saturating_unidentified
from app.services.common import fit_record
from app.services.test_time import (
    AXIS,
    MIN_LEVELS_SATURATING,
    PLACEHOLDER_PRICE,
    _samples,
    thinking_curves,
    usd_costs,
)
from data import queries

#: Marginal-gain metrics a stopping threshold can be given in, and their units.
STOP_METRICS = {
    "gain_per_1k_tokens": "accuracy per 1k output tokens",
    "gain_per_usd": "accuracy per $ per question",
}
STOP_NOTE = (
    "Stopping point from the FITTED curve: the largest tokens per answer whose fitted marginal gain is still at or "
    "above the threshold (saturating fit with >= {n_sat} levels, else acc = p + q ln T); 95% interval: percentile "
    "bootstrap ({unit}). 'beyond the data': the fit says keep thinking past the largest level measured "
    "(extrapolation); stop_level: the largest measured level at or below the stop."
)


#: Columns of ``v_eval_summary`` (an empty frame of this shape stands in when the view cannot be read).
SUMMARY_SCHEMA: dict[str, Any] = {
    "run_id": pl.String, "source": pl.String, "model": pl.String, "benchmark": pl.String, "setting": pl.String,
    "setting_knob": pl.String, "setting_value": pl.Float64, "measure": pl.String, "k": pl.Int64,
    "value": pl.Float64, "n_problems": pl.Int64, "n_samples": pl.Int64, "mean_input_tokens": pl.Float64,
    "mean_output_tokens": pl.Float64, "cost_usd": pl.Float64, "source_file": pl.String,
}  # fmt: skip


def summary_rows(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Rows of ``v_eval_summary`` (one per configuration and k or budget); a filter that names columns the view
    lacks selects nothing.

    Returns
    -------
    polars.DataFrame
        ``v_eval_summary`` columns (value: fraction; tokens per answer; cost_usd: $ per question).

    Notes
    -----
    docs/FORMATS.md 3b.
    """
    try:
        return queries.eval_summary(con, where).with_columns(pl.col("setting").fill_null(""))
    except duckdb.Error:  # the filter names columns the view lacks, or a store from before migration 0055
        return pl.DataFrame(schema=SUMMARY_SCHEMA)


def output_prices(
    con: duckdb.DuckDBPyConnection, models: list[str], prices: tuple | None = None, where: str | None = None
) -> tuple[dict[str, float], dict[str, str]]:
    """$ per 1e6 output tokens per model: from the logged ``cost_usd`` where every answer of the model has one,
    else from the price list (user-set or the placeholder).

    Returns
    -------
    (prices, basis)
        model -> $ per 1e6 output tokens; model -> "logged cost_usd" | "price list" | "placeholder price".

    Notes
    -----
    Logged cost per output token = sum(cost_usd) / sum(output_tokens) (input tokens folded in). Kapoor et al.
    (2024), arXiv:2407.01502.
    """
    given = {m: float(po) for m, _, po in (prices or ())}
    out, basis = {}, {}
    try:
        s = _samples(con, where)
    except ValueError:
        s = pl.DataFrame(schema={"model": pl.String, "cost_usd": pl.Float64, "output_tokens": pl.Float64})
    logged = (
        s.group_by("model")
        .agg(
            pl.col("cost_usd").null_count().alias("n_missing"),
            pl.col("cost_usd").sum().alias("usd"),
            pl.col("output_tokens").sum().alias("tok"),
        )
        .filter((pl.col("n_missing") == 0) & (pl.col("tok") > 0))
    )
    per_model = {r["model"]: r["usd"] / r["tok"] * 1e6 for r in logged.iter_rows(named=True)}
    for m in models:
        if m in per_model:
            out[m], basis[m] = per_model[m], "logged cost_usd"
        elif m in given:
            out[m], basis[m] = given[m], "price list"
        else:
            out[m], basis[m] = PLACEHOLDER_PRICE[1], "placeholder price"
    return out, basis


def _problem_replicates(
    s: pl.DataFrame, levels: list[str], n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Problem bootstrap of (mean tokens, accuracy) per level, the same resampled problems at every level."""
    agg = s.group_by("setting", "problem_id").agg(
        pl.len().alias("n"),
        pl.col("correct").cast(pl.Float64).sum().alias("c"),
        pl.col("output_tokens").sum().alias("tok"),
        pl.col("output_tokens").is_not_null().sum().alias("nt"),
    )
    probs = sorted(agg["problem_id"].unique().to_list())
    pidx = {p: i for i, p in enumerate(probs)}
    lidx = {lv: i for i, lv in enumerate(levels)}
    mats = {k: np.zeros((len(levels), len(probs))) for k in ("n", "c", "tok", "nt")}
    for r in agg.filter(pl.col("setting").is_in(levels)).iter_rows(named=True):
        for k in mats:
            mats[k][lidx[r["setting"]], pidx[r["problem_id"]]] = r[k] or 0.0
    draws = rng.integers(0, len(probs), size=(n_boot, len(probs)))
    w = np.zeros((n_boot, len(probs)))
    np.add.at(w, (np.repeat(np.arange(n_boot), len(probs)), draws.ravel()), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = (w @ mats["c"].T) / (w @ mats["n"].T)
        tok = (w @ mats["tok"].T) / (w @ mats["nt"].T)
    return tok, acc


def thinking_points(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Accuracy vs mean generated tokens per (model, benchmark, level), from per-answer rows and summary tables.

    Returns
    -------
    polars.DataFrame
        model, benchmark, setting, n (answers per level, or problems for summary rows), accuracy (fraction),
        mean_tokens (tokens per answer), data ("per-answer" | "summary").

    Raises
    ------
    ValueError
        Bad filter over ``eval_samples`` columns, or no point at all.

    Notes
    -----
    Muennighoff et al. (2025), arXiv:2501.19393.
    """
    cols = {"model": pl.String, "benchmark": pl.String, "setting": pl.String, "n": pl.Int64}
    cols |= {"accuracy": pl.Float64, "mean_tokens": pl.Float64, "data": pl.String}
    frames = []
    try:
        cur = thinking_curves(con, where)
        frames.append(
            cur.select(
                "model",
                "benchmark",
                "setting",
                pl.col("n_answers").cast(pl.Int64).alias("n"),
                "accuracy",
                "mean_tokens",
                pl.lit("per-answer").alias("data"),
            )  # fmt: skip
        )
    except ValueError as e:
        if "bad filter" in str(e):
            raise
    summ = summary_rows(con, where).filter(
        (pl.col("measure") == "accuracy")
        & pl.col("mean_output_tokens").is_not_null()
        & (pl.col("mean_output_tokens") > 0)
    )
    if summ.height:
        frames.append(
            summ.select(
                "model",
                "benchmark",
                "setting",
                pl.col("n_problems").cast(pl.Int64).alias("n"),
                pl.col("value").alias("accuracy"),
                pl.col("mean_output_tokens").alias("mean_tokens"),
                pl.lit("summary").alias("data"),
            )  # fmt: skip
        )
    if not frames:
        raise ValueError(
            f"no accuracy-vs-tokens points (per-answer rows or summary rows) for filter {where!r}"
        )
    return pl.concat([f.cast(cols) for f in frames]).sort("data", "model", "benchmark", "mean_tokens")


def thinking_stops(
    con: duckdb.DuckDBPyConnection,
    where: str | None = None,
    threshold: float = 0.01,
    metric: str = "gain_per_1k_tokens",
    prices: tuple | None = None,
    n_boot: int = 0,
    seed: int = 0,
) -> tuple[pl.DataFrame, list[dict], list[str]]:
    """Fit each thinking curve and place its stopping point on the FITTED marginal gain, with a bootstrap interval.

    Per (model, benchmark, data): the saturating form when it has >= ``MIN_LEVELS_SATURATING`` levels and is
    identified (ceiling A not at its bound, T_mid inside the measured tokens; otherwise a note says why), else
    acc = p + q ln T; the stop is the largest T whose fitted gain per extra 1k tokens is >= the
    threshold (``analysis.thinking.fit_thinking_curve``). Per-answer curves are bootstrapped over problems
    (the same problems at every level); summary curves by a binomial resample of each level.

    Parameters
    ----------
    threshold : float
        Smallest worthwhile gain in the unit of ``metric`` (> 0).
    metric : {"gain_per_1k_tokens", "gain_per_usd"}
        Per 1k output tokens, or per $ per question (converted with the model's $ per output token: logged
        ``cost_usd`` when every answer has one, else the price list).
    prices : tuple of (model, P_in, P_out), optional
        $ per 1e6 tokens for models without a logged cost.
    n_boot, seed : int
        Bootstrap replicates (0 = no interval) and seed.

    Returns
    -------
    (table, records, notes)
        table: model, benchmark, data, n_levels, form, T_stop, T_stop_lo, T_stop_hi (tokens per answer),
        acc_stop (fraction), stop_status, stop_level, threshold_per_1k, price_basis, and the fitted parameters
        with 95% intervals (p, q for linear; A, R0, T_mid, B with ``_lo``/``_hi`` for saturating);
        records: one fit record per curve; notes: what was not fitted and why.

    Raises
    ------
    ValueError
        Unknown metric, threshold <= 0, bad filter, no points.

    Notes
    -----
    Muennighoff et al. (2025), arXiv:2501.19393; Khatri et al. (2025), arXiv:2510.13786.
    """
    if metric not in STOP_METRICS:
        raise ValueError(f"metric must be one of {', '.join(STOP_METRICS)}, got {metric!r}")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    pts = thinking_points(con, where)
    models = sorted(pts["model"].unique().to_list())
    price, basis = output_prices(con, models, prices, where) if metric == "gain_per_usd" else ({}, {})
    rng = np.random.default_rng(seed)
    samples = _samples(con, where) if n_boot and (pts["data"] == "per-answer").any() else None
    rows, recs, notes, single = [], [], [], []
    for (model, bench, data), g in pts.group_by(["model", "benchmark", "data"], maintain_order=True):
        g = g.sort("mean_tokens")
        label = f"{model} / {bench}" + (" (summary)" if data == "summary" else "")
        if g.height < 2:
            single.append(label)
            continue
        thr = threshold if metric == "gain_per_1k_tokens" else threshold * price[model] / 1000.0
        t, y, n = g["mean_tokens"].to_numpy(), g["accuracy"].to_numpy(), g["n"].to_numpy().astype(float)
        reps = None
        if n_boot and data == "per-answer" and samples is not None:
            sg = samples.filter((pl.col("model") == model) & (pl.col("benchmark") == bench))
            reps = _problem_replicates(sg, g["setting"].to_list(), n_boot, rng)
        res = None
        for form in (["saturating"] if g.height >= MIN_LEVELS_SATURATING else []) + ["linear"]:
            try:
                res = fit_thinking_curve(
                    t, y, n, form=form, threshold=thr, n_boot=n_boot, rng=rng, replicates=reps
                )
                why = saturating_unidentified(res.params, t) if form == "saturating" else ""
                if why:  # a ceiling at its bound or a midpoint outside the data: not identified
                    notes.append(f"{label}: saturating fit not identified ({why}); acc = p + q ln T used")
                    res = None
                    continue
                break
            except (ValueError, FitError, InsufficientDataError) as e:
                notes.append(f"{label}: {form} fit failed ({e})")
        if res is None:
            continue
        t_stop = res.derived["T_stop"]
        below = g.filter(pl.col("mean_tokens") <= t_stop * (1 + 1e-9))
        lo, hi = res.interval("T_stop")
        row: dict[str, Any] = {
            "model": model, "benchmark": bench, "data": data, "n_levels": g.height,
            "form": "saturating" if res.law == "acc_saturating" else "linear",
            "T_stop": t_stop, "T_stop_lo": lo, "T_stop_hi": hi, "acc_stop": res.derived["acc_stop"],
            "stop_status": res.extra["stop_status"],
            "stop_level": below["setting"][-1] if below.height else g["setting"][0],
            "threshold_per_1k": thr, "price_basis": basis.get(model, ""),
        }  # fmt: skip
        for k_, v in res.params.items():
            p_lo, p_hi = res.interval(k_)
            row |= {k_: v, f"{k_}_lo": p_lo, f"{k_}_hi": p_hi}
        rows.append(row)
        recs.append(
            fit_record(
                AXIS,
                res,
                {
                    "model": model,
                    "benchmark": bench,
                    "data": data,
                    "where": where,
                    "levels": g["setting"].to_list(),
                },
                {
                    "threshold": threshold,
                    "metric": metric,
                    "n_boot": n_boot,
                    "seed": seed,
                    "usd_per_mtok_output": price.get(model),
                    "price_basis": basis.get(model),
                },
                checklist={
                    "stopping point": "largest T with fitted d acc/dT * 1000 >= threshold (not raw level differences)",
                    "uncertainty": f"bootstrap ({res.extra.get('bootstrap_unit', 'none')}), {n_boot} replicates",
                },
            )  # fmt: skip
        )
    if single:
        notes.insert(0, f"No curve (one thinking level): {', '.join(single)}")
    params = ("p", "q", "A", "R0", "T_mid", "B")
    schema: dict[str, Any] = {
        "model": pl.String,
        "benchmark": pl.String,
        "data": pl.String,
        "n_levels": pl.Int64,
    }
    schema |= {"form": pl.String, "T_stop": pl.Float64, "T_stop_lo": pl.Float64, "T_stop_hi": pl.Float64}
    schema |= {"acc_stop": pl.Float64, "stop_status": pl.String, "stop_level": pl.String}
    schema |= {"threshold_per_1k": pl.Float64, "price_basis": pl.String}
    schema |= {f"{p}{s}": pl.Float64 for p in params for s in ("", "_lo", "_hi")}
    if basis:
        used = sorted(set(basis.values()))
        notes.append("$ per output token from: " + "; ".join(
            f"{b} ({', '.join(m for m in models if basis[m] == b)})" for b in used
        ))  # fmt: skip
    return pl.DataFrame(rows, schema=schema), recs, notes


def summary_coverage_fits(
    con: duckdb.DuckDBPyConnection, where: str | None = None
) -> tuple[pl.DataFrame, list[dict]]:
    """Coverage law c(k) = exp(a k^b) fitted to pass@k-vs-k points of eval summary tables (>= 3 k per config).

    The same least-squares fit as the per-problem path (``analysis.sampling.fit_coverage``), on the points the
    table gives; no interval (the per-problem counts that a bootstrap resamples are not in a summary).

    Returns
    -------
    (table, records)
        table: model, benchmark, setting, n_problems, n_k, k_max, a, b, ``coverage@k_max`` (the table's value),
        ``fit@k_max``, mean_abs_err, success; one fit record per configuration.

    Notes
    -----
    Brown et al. (2024), arXiv:2407.21787, Eq. 3 and App. C.1.
    """
    s = summary_rows(con, where).filter((pl.col("measure") == "pass@k") & (pl.col("value") > 0))
    rows, recs = [], []
    for key, g in s.group_by(["model", "benchmark", "setting"], maintain_order=True):
        g = g.sort("k")
        if g.height < 3:
            continue
        ks, cov = g["k"].to_numpy().astype(float), g["value"].to_numpy()
        try:
            r = fit_coverage(ks, cov)
        except (ValueError, FitError, InsufficientDataError):
            continue
        k_max = int(ks.max())
        base = dict(zip(("model", "benchmark", "setting"), key, strict=True))
        rows.append(
            {**base, "n_problems": int(g["n_problems"].max()), "n_k": g.height, "k_max": k_max,
             "a": r.params["a"], "b": r.params["b"], "coverage@k_max": float(cov[-1]),
             "fit@k_max": float(coverage_law([k_max], r.params["a"], r.params["b"])[0]),
             "mean_abs_err": r.derived["mean_abs_err"], "success": r.success}
        )  # fmt: skip
        recs.append(
            fit_record(
                AXIS,
                r,
                {**base, "where": where, "data": "summary"},
                {"k": [int(k) for k in ks]},
                checklist={
                    "law and why": "coverage c(k) = exp(a k^b), Brown et al. 2024 arXiv:2407.21787 Eq. 3",
                    "data": "pass@k points of an eval summary table",
                    "uncertainty": "none (no per-problem counts)",
                },
            )  # fmt: skip
        )
    schema = {"model": pl.String, "benchmark": pl.String, "setting": pl.String, "n_problems": pl.Int64}
    schema |= {
        "n_k": pl.Int64,
        "k_max": pl.Int64,
        "a": pl.Float64,
        "b": pl.Float64,
        "coverage@k_max": pl.Float64,
    }
    schema |= {"fit@k_max": pl.Float64, "mean_abs_err": pl.Float64, "success": pl.Boolean}
    return pl.DataFrame(rows, schema=schema), recs


def benchmark_units(con: duckdb.DuckDBPyConnection, where: str | None = None) -> dict[str, list[str]]:
    """Cost units each benchmark supports, decided per benchmark (not across all data).

    tokens: every answer has an output token count (nulls are left out with a note, so: any has one); usd: any
    answer has a logged cost or a token count (the price list fills the rest); latency_s: every answer has a
    latency.

    Returns
    -------
    dict
        benchmark -> list of units (possibly empty).

    Raises
    ------
    ValueError
        Bad filter.

    Notes
    -----
    Kapoor et al. (2024), arXiv:2407.01502 (cost units).
    """
    s = _samples(con, where)
    out = {}
    agg = s.group_by("benchmark").agg(
        pl.len().alias("n"),
        pl.col("output_tokens").is_not_null().sum().alias("tok"),
        pl.col("cost_usd").is_not_null().sum().alias("usd"),
        pl.col("latency_s").is_not_null().sum().alias("lat"),
    )
    for r in agg.sort("benchmark").iter_rows(named=True):
        units = []
        if r["tok"]:
            units.append("tokens")
        if r["tok"] or r["usd"]:
            units.append("usd")
        if r["lat"] == r["n"]:
            units.append("latency_s")
        out[r["benchmark"]] = units
    return out


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def json_rows(frame: pl.DataFrame) -> list[dict]:
    """Rows as dicts with NaN / inf turned into None (JSON has no NaN)."""
    return [{k: _finite(v) for k, v in r.items()} for r in frame.to_dicts()]


__all__ = [
    "STOP_METRICS",
    "STOP_NOTE",
    "benchmark_units",
    "json_rows",
    "output_prices",
    "summary_coverage_fits",
    "summary_rows",
    "thinking_points",
    "thinking_stops",
    "usd_costs",
]
