"""Pure altair builders for the compute-optimal, data-mix and inference-sizing pages.

Every log axis goes through ``charts.positive`` so that zeros, negatives and NaN never reach it.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from app.charts import _H, _W, _log, positive


def nopt_vs_compute(
    curves: pl.DataFrame, vertices: pl.DataFrame | None = None, title: str = ""
) -> alt.LayerChart:
    """N_opt vs compute per approach (log-log lines) with 95% bands and optional isoFLOP vertices.

    Parameters
    ----------
    curves : polars.DataFrame
        approach, compute_flops (FLOPs), N_opt (params), lo, hi (band; NaN where none).
    vertices : polars.DataFrame, optional
        C (FLOPs), N_opt (params) of Approach 2 parabola vertices, drawn as points.
    title : str
        Chart title.

    Returns
    -------
    altair.LayerChart
    """
    x = _log("compute_flops", "compute C (FLOPs)")
    y = alt.Y(
        "N_opt:Q", title="compute-optimal N (params)", scale=alt.Scale(type="log"), axis=alt.Axis(format="~s")
    )
    color = alt.Color("approach:N", title="approach")
    layers = []
    band = positive(curves, "compute_flops", "lo", "hi")
    if band.height:
        layers.append(
            alt.Chart(band)
            .mark_area(opacity=0.15)
            .encode(x=x, y=alt.Y("lo:Q", scale=alt.Scale(type="log")), y2="hi:Q", color=color)
        )
    line = positive(curves, "compute_flops", "N_opt")
    layers.append(
        alt.Chart(line)
        .mark_line(strokeWidth=2)
        .encode(x=x, y=y, color=color, tooltip=["approach", "compute_flops", "N_opt"])
    )
    if vertices is not None and vertices.height:
        v = positive(vertices.rename({"C": "compute_flops"}), "compute_flops", "N_opt").with_columns(
            pl.lit("isoFLOP vertex").alias("what")
        )
        layers.append(
            alt.Chart(v)
            .mark_point(shape="diamond", size=70, filled=True, color="black")
            .encode(x=x, y=y, tooltip=["compute_flops", "N_opt", "L_opt"])
        )
    return alt.layer(*layers).properties(width=_W, height=_H, title=title)


def isoflop_profiles(points: pl.DataFrame, minima: pl.DataFrame, title: str = "") -> alt.LayerChart:
    """Final loss vs N for each isoFLOP budget (log x), parabola vertices marked.

    Parameters
    ----------
    points : polars.DataFrame
        budget_flops (FLOPs), n_params, loss (nats/token), run_id.
    minima : polars.DataFrame
        ``isoflop_minima`` output (C, N_opt, L_opt, status).
    title : str
        Chart title.

    Returns
    -------
    altair.LayerChart
    """
    p = positive(points, "n_params", "loss", "budget_flops").with_columns(
        pl.col("budget_flops").map_elements(lambda c: f"{c:.1e}", return_dtype=pl.String).alias("budget")
    )
    x = _log("n_params", "parameters N", fmt="~s")
    y = alt.Y("loss:Q", title="final loss (nats/token)", scale=alt.Scale(zero=False))
    color = alt.Color("budget:N", title="budget C (FLOPs)", sort=alt.SortField("budget_flops"))
    layers = [
        alt.Chart(p)
        .mark_line(point=True, opacity=0.7)
        .encode(x=x, y=y, color=color, tooltip=["run_id", "budget", "n_params", "loss"])
    ]
    if minima is not None and minima.height:
        m = positive(minima.filter(pl.col("status") == "ok"), "N_opt", "L_opt").rename(
            {"N_opt": "n_params", "L_opt": "loss"}
        )
        layers.append(
            alt.Chart(m)
            .mark_point(shape="triangle-down", size=120, filled=True, color="black")
            .encode(x=x, y=y, tooltip=["C", "n_params", "loss"])
        )
    return alt.layer(*layers).properties(width=_W, height=_H, title=title)


def mixes_vs_compute(
    points: pl.DataFrame,
    frontier: pl.DataFrame,
    curves: pl.DataFrame,
    budget: float | None = None,
    title: str = "",
) -> alt.LayerChart:
    """Loss vs compute per corpus: all runs (faint), fitted frontier points and the fitted L(C) lines.

    Parameters
    ----------
    points : polars.DataFrame
        corpus, compute_flops (FLOPs), loss (nats/token).
    frontier : polars.DataFrame
        corpus, compute_flops, loss of the fitted points.
    curves : polars.DataFrame
        corpus, compute_flops, loss of the fitted laws.
    budget : float, optional
        A vertical rule at this budget (FLOPs).
    title : str
        Chart title.

    Returns
    -------
    altair.LayerChart
    """
    x = _log("compute_flops", "compute C (FLOPs)")
    y = alt.Y(
        "loss:Q",
        title="final loss (nats/token)",
        scale=alt.Scale(type="log", zero=False),
        axis=alt.Axis(format=".2f"),
    )
    color = alt.Color("corpus:N", title="corpus")
    layers = [
        alt.Chart(positive(points, "compute_flops", "loss"))
        .mark_circle(size=18, opacity=0.25)
        .encode(x=x, y=y, color=color),
        alt.Chart(positive(frontier, "compute_flops", "loss"))
        .mark_circle(size=60, opacity=0.95)
        .encode(x=x, y=y, color=color, tooltip=["corpus", "compute_flops", "loss"]),
        alt.Chart(positive(curves, "compute_flops", "loss"))
        .mark_line(strokeWidth=2)
        .encode(x=x, y=y, color=color),
    ]
    if budget and budget > 0:
        layers.append(
            alt.Chart(pl.DataFrame({"compute_flops": [float(budget)]}))
            .mark_rule(strokeDash=[4, 4], color="gray")
            .encode(x=x)
        )
    return alt.layer(*layers).properties(width=_W, height=_H, title=title)


def sizing_curve(curve: pl.DataFrame, optimum: dict[str, float], title: str = "") -> alt.LayerChart:
    """Total (and training) FLOPs vs N along the iso-loss curve, inference-aware and Chinchilla optima marked.

    Parameters
    ----------
    curve : polars.DataFrame
        N (params), train_flops, total_flops (FLOPs).
    optimum : dict
        ``inference_aware_optimum`` output (N, total_flops, N0, total_flops0).
    title : str
        Chart title.

    Returns
    -------
    altair.LayerChart
    """
    long = positive(curve, "N", "total_flops", "train_flops").unpivot(
        index="N", on=["total_flops", "train_flops"], variable_name="cost", value_name="flops"
    )
    long = long.with_columns(
        pl.col("cost").replace({"total_flops": "training + inference", "train_flops": "training only"})
    )
    x = _log("N", "parameters N", fmt="~s")
    y = alt.Y("flops:Q", title="FLOPs", scale=alt.Scale(type="log"), axis=alt.Axis(format="~e"))
    marks = positive(
        pl.DataFrame(
            {
                "N": [optimum["N"], optimum["N0"]],
                "flops": [optimum["total_flops"], optimum["total_flops0"]],
                "optimum": ["inference-aware N*", "Chinchilla-optimal N0"],
            }
        ),
        "N",
        "flops",
    )
    return alt.layer(
        alt.Chart(long)
        .mark_line(strokeWidth=2)
        .encode(x=x, y=y, strokeDash=alt.StrokeDash("cost:N", title="cost")),
        alt.Chart(marks)
        .mark_point(size=140, filled=True)
        .encode(x=x, y=y, color=alt.Color("optimum:N", title="optimum"), tooltip=["optimum", "N", "flops"]),
    ).properties(width=_W, height=_H, title=title)
