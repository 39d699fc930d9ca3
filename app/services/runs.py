"""Run explorer composition (no ``st.*``): run filters, one run's metadata, reduced curves with what they show,
data-quality flags and the fits that used a run."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from app.numfmt import human, sci
from data import run_explorer as rx

X_AXES = rx.X_AXES
#: Buckets per run in a reduced curve.
N_BUCKETS = 200
#: Metadata fields shown first (the rest follow in v_runs order).
FIRST_FIELDS = ("run_id", "kind", "source", "n_params", "n_tokens", "compute_flops", "corpus", "recipe")


@dataclass(frozen=True)
class Curves:
    """Reduced curves of one metric: ``curves`` (see ``data.run_explorer.reduced_curves``), ``totals`` per run,
    and ``note``, a sentence saying how many points are shown of how many and what was left out."""

    curves: pl.DataFrame
    totals: pl.DataFrame
    note: str


def metadata(run: dict) -> pl.DataFrame:
    """(field, value) rows of one ``v_runs`` row as text: N and D with suffixes, FLOPs in scientific notation,
    empty fields left out."""
    order = [k for k in FIRST_FIELDS if k in run] + [k for k in run if k not in FIRST_FIELDS]
    rows = []
    for k in order:
        v = run[k]
        if v is None or v == "":
            continue
        if k in ("n_params", "n_params_nonembed", "n_tokens") and isinstance(v, float):
            text = f"{human(v)} ({v:.6g})"
        elif k in ("compute_flops", "budget_flops") and isinstance(v, float):
            text = sci(v, 3)
        else:
            text = str(v)
        rows.append({"field": k, "value": text})
    return pl.DataFrame(rows, schema={"field": pl.String, "value": pl.String})


def curves(
    con: duckdb.DuckDBPyConnection,
    run_ids: tuple[str, ...],
    metric: str,
    x: str,
    log_x: bool,
    log_y: bool,
    n_buckets: int = N_BUCKETS,
) -> Curves:
    """Reduced curves of ``metric`` for ``run_ids`` against ``x`` (a key of ``X_AXES``) with a note on coverage.

    Raises
    ------
    ValueError
        Unknown ``x`` or no run given.
    """
    if not run_ids:
        raise ValueError("pick at least one run")
    c, t = rx.reduced_curves(con, list(run_ids), metric, x, log_x, n_buckets)
    n_total = int(t["n_total"].sum()) if t.height else 0
    n_dropped = int(t["n_dropped"].sum()) if t.height else 0
    n_nonpos_y = int(c.filter(pl.col("value_min") <= 0).height) if log_y and c.height else 0
    shown = c.height - n_nonpos_y
    parts = [
        f"Showing {shown:,} reduced points (last value per bucket; band: the bucket's min to max) from "
        f"{n_total:,} logged points of {t.height} run(s), at most {n_buckets} buckets per run"
        + (" equally spaced in log x" if log_x else "")
        + "."
    ]
    if n_dropped:
        parts.append(
            f"{n_dropped:,} point(s) with {X_AXES[x][1]} <= 0 cannot sit on the log axis and are left out."
        )
    if n_nonpos_y:
        parts.append(f"{n_nonpos_y:,} bucket(s) with a value <= 0 are left out of the log y axis.")
    missing = sorted(set(run_ids) - set(t["run_id"].to_list())) if t.height else sorted(run_ids)
    if missing:
        parts.append(f"No '{metric}' against {X_AXES[x][1]} for: {', '.join(missing)}.")
    return Curves(c, t, " ".join(parts))


def default_metric(run: dict, metrics: list[str]) -> str | None:
    """The run's loss metric when it logged one per step, else a validation score, else the first metric."""
    if not metrics:
        return None
    if run.get("loss_metric") in metrics:
        return run["loss_metric"]
    for m in metrics:
        if m.startswith("val") and ("score" in m or "acc" in m):
            return m
    return metrics[0]


def x_options(metric_row: dict) -> list[str]:
    """x axis keys that have values for a metric (from a ``run_metrics`` row)."""
    return [k for k in X_AXES if metric_row.get(f"n_{k}", 0)]


#: ``v_data_quality`` counts that flag a problem (the others describe the series).
QUALITY_FLAGS = (
    "n_resets",
    "n_overlaps",
    "n_duplicates_collapsed",
    "n_nonfinite",
    "n_spikes",
    "n_level_shifts",
)


def flagged_quality(dq: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``v_data_quality`` with at least one flag count above zero (all rows if no flag column is known)."""
    cols = [c for c in QUALITY_FLAGS if c in dq.columns]
    if not cols or dq.height == 0:
        return dq
    return dq.filter(pl.sum_horizontal(pl.col(c).fill_null(0) for c in cols) > 0)
