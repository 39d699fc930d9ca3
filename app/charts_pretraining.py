"""Pure altair builders for the compute-optimal, data-mix and inference-sizing pages.

Every log axis goes through ``charts.positive`` so that zeros, negatives and NaN never reach it.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from app import fmt as textfmt
from app.charts import _BOTTOM, _H, _RIGHT, _W, CATEGORICAL, _log, _values, log_domain, log_scale, positive


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
    line = positive(curves, "compute_flops", "N_opt")
    band = positive(curves, "compute_flops", "lo", "hi")
    v = None
    if vertices is not None and vertices.height:
        v = positive(vertices.rename({"C": "compute_flops"}), "compute_flops", "N_opt").with_columns(
            pl.lit("isoFLOP parabola vertex").alias("what")
        )
    xdom = log_domain(_values((line, "compute_flops"), (v, "compute_flops")), pad=1.2)
    ydom = log_domain(_values((line, "N_opt"), (band, "lo"), (band, "hi"), (v, "N_opt")), pad=1.2)
    x = _log("compute_flops", "compute C (FLOPs)", domain=xdom)
    y = _log("N_opt", "compute-optimal N (params)", fmt="~s", domain=ydom, axis="y")
    color = alt.Color(
        "approach:N", title="approach", scale=alt.Scale(scheme=CATEGORICAL), legend=alt.Legend(**_BOTTOM)
    )
    layers = []
    if band.height:
        layers.append(
            alt.Chart(band)
            .mark_area(opacity=0.25)
            .encode(x=x, y=alt.Y("lo:Q", scale=log_scale(ydom)), y2="hi:Q", color=color)
        )
    layers.append(
        alt.Chart(line)
        .mark_line(strokeWidth=2.5)
        .encode(x=x, y=y, color=color, tooltip=["approach", "compute_flops", "N_opt"])
    )
    if v is not None and v.height:
        layers.append(
            alt.Chart(v)
            .mark_point(shape="diamond", size=80, filled=True)
            .encode(
                x=x,
                y=y,
                shape=alt.Shape(
                    "what:N", title="", scale=alt.Scale(range=["diamond"]), legend=alt.Legend(**_BOTTOM)
                ),
                color=alt.value("black"),
                tooltip=["compute_flops", "N_opt", "L_opt"],
            )
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
    p = positive(points, "n_params", "loss", "budget_flops")
    p = p.with_columns(textfmt.e(p["budget_flops"], 1).alias("budget"))
    x = _log("n_params", "parameters N", fmt="~s", domain=log_domain(p["n_params"].to_list(), pad=1.15))
    y = alt.Y("loss:Q", title="final loss (nats/token)", scale=alt.Scale(zero=False, nice=False, padding=8))
    order = p.sort("budget_flops")["budget"].unique(maintain_order=True).to_list()
    color = alt.Color(
        "budget:N",
        title="budget C (FLOPs)",
        sort=order,
        scale=alt.Scale(scheme=CATEGORICAL if len(order) <= 10 else "category20", domain=order),
        legend=alt.Legend(columns=2) if len(order) > 12 else alt.Legend(),
    )
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
    pts = positive(points, "compute_flops", "loss")
    fr = positive(frontier, "compute_flops", "loss")
    cu = positive(curves, "compute_flops", "loss")
    b = [float(budget)] if budget and budget > 0 else []
    xdom = log_domain(_values((pts, "compute_flops"), (cu, "compute_flops")) + b, pad=1.3)
    ydom = log_domain(_values((pts, "loss"), (cu, "loss")), pad=1.06)
    x = _log("compute_flops", "compute C (FLOPs)", domain=xdom)
    y = _log("loss", "final loss (nats/token)", fmt=".3~g", domain=ydom, axis="y")
    color = alt.Color(
        "corpus:N", title="corpus", scale=alt.Scale(scheme=CATEGORICAL), legend=alt.Legend(**_RIGHT)
    )
    layers = [
        alt.Chart(pts).mark_circle(size=18, opacity=0.3, clip=True).encode(x=x, y=y, color=color),
        alt.Chart(fr)
        .mark_circle(size=60, opacity=0.95, clip=True)
        .encode(x=x, y=y, color=color, tooltip=["corpus", "compute_flops", "loss"]),
        alt.Chart(cu).mark_line(strokeWidth=2.5, clip=True).encode(x=x, y=y, color=color),
    ]
    if budget and budget > 0:
        layers.append(
            alt.Chart(pl.DataFrame({"compute_flops": [float(budget)]}))
            .mark_rule(strokeDash=[4, 4], color="gray")
            .encode(x=x)
        )
    return alt.layer(*layers).properties(width=_W, height=_H, title=title)


def sizing_curve(
    curve: pl.DataFrame, optimum: dict[str, float], title: str = "", window: float = 5.0
) -> alt.LayerChart:
    """Total (and training) FLOPs vs N along the iso-loss curve, inference-aware and Chinchilla optima marked.

    Parameters
    ----------
    curve : polars.DataFrame
        N (params), train_flops, total_flops (FLOPs); shape (n_grid, 3).
    optimum : dict
        ``inference_aware_optimum`` output (N, total_flops, N0, total_flops0).
    title : str
        Chart title.
    window : float
        The x axis spans the two optima widened ``window`` times on each side (clipped to the curve), the y
        axis the FLOPs of the curves inside that window, capped at 6x the optima (lines are clipped there)
        (Sardana et al. 2024, arXiv 2401.00448).

    Returns
    -------
    altair.LayerChart
        Grey lines (solid: training + inference, dashed: training only); the inference-aware optimum as an
        orange circle and the Chinchilla-optimal model as a blue square, each labelled.
    """
    long = positive(curve, "N", "total_flops", "train_flops").unpivot(
        index="N", on=["total_flops", "train_flops"], variable_name="cost", value_name="flops"
    )
    long = long.with_columns(
        pl.col("cost").replace({"total_flops": "training + inference", "train_flops": "training only"})
    )
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
    xdom = None
    if marks.height and long.height:
        lo = max(float(marks["N"].min()) / window, float(long["N"].min()))
        hi = min(float(marks["N"].max()) * window, float(long["N"].max()))
        if hi > lo:
            xdom = [lo, hi]
            long = long.filter((pl.col("N") >= lo) & (pl.col("N") <= hi))
    ydom = log_domain(_values((long, "flops"), (marks, "flops")), pad=1.15)
    if ydom and marks.height:  # near the smallest N the curve shoots up: cap the axis to show the minimum
        ydom[1] = min(ydom[1], 6.0 * float(marks["flops"].max()))
    x = _log("N", "parameters N", fmt="~s", domain=xdom)
    y = _log("flops", "FLOPs", fmt="~e", domain=ydom, axis="y")
    names = ["inference-aware N*", "Chinchilla-optimal N0"]
    legend = alt.Legend(**_BOTTOM)
    point = (
        alt.Chart(marks)
        .mark_point(size=180, filled=True, opacity=1, stroke="white", strokeWidth=1)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "optimum:N",
                title="optimum",
                scale=alt.Scale(domain=names, range=["#ff7f0e", "#1f77b4"]),
                legend=legend,
            ),
            shape=alt.Shape(
                "optimum:N",
                title="optimum",
                scale=alt.Scale(domain=names, range=["circle", "square"]),
                legend=legend,
            ),
            tooltip=["optimum", alt.Tooltip("N:Q", format=".4s"), alt.Tooltip("flops:Q", format=".3e")],
        )
    )
    label = (
        alt.Chart(marks.with_columns(pl.col("optimum").str.split(" ").list.last().alias("tag")))
        .mark_text(dy=-16, fontSize=13, fontWeight="bold")
        .encode(
            x=x,
            y=y,
            text="tag:N",
            color=alt.Color(
                "optimum:N", scale=alt.Scale(domain=names, range=["#ff7f0e", "#1f77b4"]), legend=None
            ),
        )
    )
    lines = (
        alt.Chart(long)
        .mark_line(strokeWidth=2.5, color="#555555", clip=True)
        .encode(x=x, y=y, strokeDash=alt.StrokeDash("cost:N", title="cost", legend=legend))
    )
    return alt.layer(lines, point, label).properties(width=_W, height=_H, title=title)
