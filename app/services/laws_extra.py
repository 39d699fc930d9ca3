"""More pretraining laws: Gadre's over-training law L(C, M) and the loss-to-error map Err(L), with backtests.

Gadre et al. (2024), "Language models scale reliably with over-training and on downstream tasks",
arXiv:2403.08540: L(C, M) = E + (a M^eta + b M^-eta) C^-eta (Eq. 4) and Err(L) = eps - k exp(-gamma L) (Eq. 5),
both fitted on small runs and used to predict much larger ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analysis.downstream import fit_loss_to_error, predict_error
from analysis.errors import FitError
from analysis.identifiability import loss_to_error_identifiability, overtraining_identifiability
from analysis.overtraining import fit_overtraining, predict_overtraining
from analysis.results import FitResult
from analysis.uncertainty import bootstrap_fit
from app.services.common import fit_record
from data import queries

#: Fitting-set rules :func:`fit_overtraining_and_error` accepts.
FIT_SETS: dict[str, str] = {
    "paper": "Gadre et al. default: the 4 smallest sizes at M = 20 tokens/param plus the smallest at M = 320 "
    "(the error law adds the 5th size at M = 20)",
    "small": "every run with compute at most the cutoff (default: the 60th percentile of C)",
}


@dataclass
class ExtraLawsFit:
    """Outcome of :func:`fit_overtraining_and_error`.

    Attributes
    ----------
    points : polars.DataFrame
        The selection: run_id, n_params, n_tokens, tokens_per_param (M), compute_flops, loss and the error
        metric column ``err`` (fraction; null where the run has none).
    loss_fit, error_fit : FitResult
        Over-training law (params E, a, b, eta) and loss-to-error law (eps, k, gamma), replicates kept.
    loss_fit_runs, error_fit_runs : list[str]
        Run ids each law was fitted to.
    backtest : polars.DataFrame
        Held-out runs (compute above the largest fitted run): run_id, n_params, M, compute_flops,
        extrapolation (C / largest fitted C), loss, loss_pred, loss_rel_error_pct, err, err_pred (chained:
        the error law applied to the predicted loss), err_rel_error_pct.
    records : list[dict]
        Fit records (``app.services.common.fit_record``, axis "pretraining") of both laws.
    """

    points: pl.DataFrame
    loss_fit: FitResult
    error_fit: FitResult | None
    loss_fit_runs: list[str]
    error_fit_runs: list[str]
    backtest: pl.DataFrame
    records: list[dict[str, Any]]


def load_points(
    con: duckdb.DuckDBPyConnection, source: str, where: str | None, err_metric: str
) -> pl.DataFrame:
    """Final-loss points of a source joined with a summary eval metric (e.g. ``err_avg_17``).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Read connection.
    source : str
        ``runs.source``.
    where : str, optional
        SQL filter on ``v_pretrain_points``.
    err_metric : str
        Summary metric name (``metrics.step IS NULL``), a fraction in [0, 1].

    Returns
    -------
    polars.DataFrame
        One row per run: the ``v_pretrain_points`` columns plus ``err`` (null where the run lacks the metric) and
        ``M`` = n_tokens / n_params (tokens per parameter).

    Raises
    ------
    ValueError
        If the selection is empty.
    """
    pts = queries.pretrain_points(con, source, where)
    if pts.height == 0:
        raise ValueError(f"no pretraining points for source={source!r} where={where!r}")
    m = queries.final_metrics(con, source, [err_metric])
    m = m.filter(pl.col("metric") == err_metric).select("run_id", pl.col("value").alias("err"))
    return pts.join(m, on="run_id", how="left").with_columns(
        (pl.col("n_tokens") / pl.col("n_params")).alias("M")
    )


def _paper_sets(pts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    sizes = sorted(set(pts["n_params"].to_list()))
    if len(sizes) < 5:
        raise ValueError(f"the paper fitting set needs at least 5 model sizes, got {len(sizes)}")
    m20 = (pl.col("M") - 20).abs() < 0.5
    loss_set = pts.filter(
        (pl.col("n_params").is_in(sizes[:4]) & m20)
        | ((pl.col("n_params") == sizes[0]) & ((pl.col("M") - 320).abs() < 0.5))
    )
    err_set = pl.concat([loss_set, pts.filter((pl.col("n_params") == sizes[4]) & m20)])
    return loss_set, err_set


def fit_overtraining_and_error(
    con: duckdb.DuckDBPyConnection,
    source: str = "gadre_overtraining",
    where: str | None = "corpus = 'rpj'",
    *,
    err_metric: str = "err_avg_17",
    fit_set: str = "paper",
    cutoff_quantile: float = 0.6,
    n_boot: int = 0,
    seed: int = 0,
) -> ExtraLawsFit:
    """Fit L(C, M) and Err(L) on small runs and predict every larger run of the selection.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Read connection.
    source : str
        ``runs.source`` (runs with a final loss; the error law also needs the summary metric).
    where : str, optional
        SQL filter on ``v_pretrain_points`` (one corpus at a time; Gadre's default is RedPajama, ``rpj``).
    err_metric : str
        Summary metric holding the downstream top-1 error (fraction), e.g. ``err_avg_17``.
    fit_set : {"paper", "small"}
        Fitting-set rule, see :data:`FIT_SETS`.
    cutoff_quantile : float
        ``"small"`` only: quantile of C below which runs are fitted (0 < q < 1).
    n_boot : int
        Bootstrap replicates over runs (0 for none).
    seed : int
        Bootstrap seed.

    Returns
    -------
    ExtraLawsFit
        Shapes: ``points`` one row per run; ``backtest`` one row per held-out run.

    Raises
    ------
    ValueError
        Empty selection, unknown ``fit_set``, too few runs, or a fit that fails (the analysis layer's
        FitError / InsufficientDataError are re-raised as ValueError with the reason).

    Notes
    -----
    Gadre et al. (2024), arXiv:2403.08540: with the default set on RedPajama the 1.4B (M = 640) and 6.9B
    (M = 20) runs are predicted with 0.71% and 0.73% loss error and 3.64% and 0.05% error-metric error.
    """
    if fit_set not in FIT_SETS:
        raise ValueError(f"unknown fit_set {fit_set!r}; choose one of {', '.join(FIT_SETS)}")
    pts = load_points(con, source, where, err_metric)
    if fit_set == "paper":
        loss_set, err_set = _paper_sets(pts)
    else:
        if not 0 < cutoff_quantile < 1:
            raise ValueError(f"cutoff_quantile must be in (0, 1), got {cutoff_quantile}")
        cut = float(np.quantile(pts["compute_flops"].to_numpy(), cutoff_quantile))
        loss_set = pts.filter(pl.col("compute_flops") <= cut)
        err_set = loss_set
    err_set = err_set.filter(pl.col("err").is_not_null())
    try:
        lfit = fit_overtraining(loss_set["n_params"], loss_set["n_tokens"], loss_set["loss"])
        efit = fit_loss_to_error(err_set["loss"], err_set["err"]) if err_set.height >= 3 else None
    except (ValueError, RuntimeError, FitError) as e:  # FitError / InsufficientDataError carry the reason
        raise ValueError(f"fit failed: {e}") from e
    rng = np.random.default_rng(seed)
    if n_boot > 0:
        b = bootstrap_fit(
            lambda N, D, L: fit_overtraining(N, D, L),
            {
                "N": loss_set["n_params"].to_numpy(),
                "D": loss_set["n_tokens"].to_numpy(),
                "L": loss_set["loss"].to_numpy(),
            },
            loss_set["run_id"].to_numpy(),
            n_boot=n_boot,
            rng=rng,
        )
        lfit = dataclasses.replace(lfit, bootstrap=b)
        if efit is not None:
            eb = bootstrap_fit(
                lambda L, y: fit_loss_to_error(L, y),
                {"L": err_set["loss"].to_numpy(), "y": err_set["err"].to_numpy()},
                err_set["run_id"].to_numpy(),
                n_boot=n_boot,
                rng=rng,
            )
            efit = dataclasses.replace(efit, bootstrap=eb)
    lident = overtraining_identifiability(
        loss_set["n_params"].to_numpy(), loss_set["n_tokens"].to_numpy(), loss_set["loss"].to_numpy(), lfit
    )
    lfit = dataclasses.replace(lfit, extra={**lfit.extra, "identifiability": lident})
    if efit is not None:
        eident = loss_to_error_identifiability(err_set["loss"].to_numpy(), err_set["err"].to_numpy(), efit)
        efit = dataclasses.replace(efit, extra={**efit.extra, "identifiability": eident})
    cmax = float(loss_set["compute_flops"].max())
    fitted = set(loss_set["run_id"].to_list()) | set(err_set["run_id"].to_list())
    held = pts.filter((pl.col("compute_flops") > cmax) & ~pl.col("run_id").is_in(list(fitted)))
    bt = _backtest(held, lfit, efit, cmax)
    selection = {"source": source, "where": where, "fit_set": fit_set, "n_runs": pts.height}
    options = {
        "err_metric": err_metric,
        "bootstrap": n_boot,
        "seed": seed,
        "cutoff_quantile": cutoff_quantile,
    }
    summary = _bt_summary(bt)
    records = [
        fit_record(
            "pretraining",
            lfit,
            {**selection, "fit_runs": loss_set["run_id"].to_list()},
            {**options, "law": "overtraining"},
            backtest={**summary, "target": "loss"},
            checklist={
                "law and why": "Gadre L(C, M), arXiv:2403.08540 Eq. 4",
                "fit set": FIT_SETS[fit_set],
                "identifiability": identifiability_summary(lfit.extra["identifiability"]),
            },
        )
    ]
    if efit is not None:
        records.append(
            fit_record(
                "pretraining",
                efit,
                {**selection, "fit_runs": err_set["run_id"].to_list()},
                {**options, "law": "loss_to_error"},
                backtest={**summary, "target": err_metric},
                checklist={
                    "law and why": "Gadre Err(L), arXiv:2403.08540 Eq. 5",
                    "fit set": FIT_SETS[fit_set],
                    "identifiability": identifiability_summary(efit.extra["identifiability"]),
                },
            )
        )
    return ExtraLawsFit(
        pts, lfit, efit, loss_set["run_id"].to_list(), err_set["run_id"].to_list(), bt, records
    )


def fit_overtraining_for_page(
    con: duckdb.DuckDBPyConnection, source: str, where: str | None, err_metric: str = "err_avg_17"
) -> ExtraLawsFit:
    """:func:`fit_overtraining_and_error` with Gadre's ``"paper"`` fitting set when the selection has it, else
    ``"small"`` (runs up to the 60th percentile of C), for the Pretraining page.

    Raises
    ------
    ValueError
        As :func:`fit_overtraining_and_error` when neither set can be fitted.
    """
    try:
        return fit_overtraining_and_error(con, source, where, err_metric=err_metric, fit_set="paper")
    except ValueError:
        return fit_overtraining_and_error(con, source, where, err_metric=err_metric, fit_set="small")


def identifiability_summary(ident: dict[str, Any]) -> dict[str, Any]:
    """Checklist entry of an identifiability record: verdict, spans in decades, per-parameter verdicts, warnings."""
    return {
        "verdict": ident.get("verdict"),
        "spans_decades": ident.get("spans_decades", {}),
        "parameters": {k: v.get("verdict") for k, v in ident.get("parameters", {}).items()},
        "warnings": list(ident.get("warnings", [])),
    }


def identifiability_text(name: str, ident: dict[str, Any]) -> list[str]:
    """Plain-text lines of an identifiability record (verdict, spans, profile ranges per parameter, warnings)."""
    spans = ", ".join(f"{k} {v:.2f}" for k, v in ident.get("spans_decades", {}).items() if v is not None)
    lines = [
        f"  {name} identifiability: {ident['verdict'].upper()} ({ident['n_points']} points, "
        f"{ident['n_free_params']} free parameters, {ident['dof']} residual dof"
        + (f"; spans in decades: {spans})" if spans else ")")
    ]
    for k, pr in ident.get("parameters", {}).items():
        rng = pr.get("range")
        rtxt = f" profile range [{rng[0]:.4g}, {rng[1]:.4g}]" if rng else ""
        lines.append(f"    {k:>6}: {pr['verdict']}{rtxt}")
    lines.extend(f"  WARNING ({name}): {w}" for w in ident.get("warnings", []))
    return lines


def _backtest(held: pl.DataFrame, lfit: FitResult, efit: FitResult | None, cmax: float) -> pl.DataFrame:
    if held.height == 0:
        return pl.DataFrame(schema={"run_id": pl.String, "loss": pl.Float64, "loss_pred": pl.Float64})
    lp = predict_overtraining(lfit.params, held["n_params"].to_numpy(), held["n_tokens"].to_numpy())
    out = held.select("run_id", "n_params", "M", "compute_flops", "loss", "err").with_columns(
        (pl.col("compute_flops") / cmax).alias("extrapolation"),
        pl.Series("loss_pred", lp),
    )
    out = out.with_columns(
        ((pl.col("loss_pred") - pl.col("loss")).abs() / pl.col("loss") * 100).alias("loss_rel_error_pct")
    )
    if efit is not None:
        out = out.with_columns(pl.Series("err_pred", predict_error(efit.params, np.clip(lp, 1e-9, None))))
        out = out.with_columns(
            ((pl.col("err_pred") - pl.col("err")).abs() / pl.col("err") * 100).alias("err_rel_error_pct")
        )
    return out.sort("compute_flops")


def _bt_summary(bt: pl.DataFrame) -> dict[str, Any]:
    if bt.height == 0 or "loss_rel_error_pct" not in bt.columns:
        return {"error": "no held-out run above the fitted compute"}
    s: dict[str, Any] = {
        "n_test": bt.height,
        "mean_abs_rel_error_loss_pct": float(bt["loss_rel_error_pct"].mean()),
        "max_extrapolation_ratio": float(bt["extrapolation"].max()),
    }
    if "err_rel_error_pct" in bt.columns:
        s["mean_abs_rel_error_err_pct"] = float(bt["err_rel_error_pct"].drop_nans().mean() or float("nan"))
    return s
