"""Pure chart builders for the RL page: polars frames -> altair charts (log compute axis, zeros dropped)."""

from __future__ import annotations

import altair as alt
import polars as pl

from app.charts import positive

_W, _H = 640, 380


def _x(unit: str) -> alt.X:
    return alt.X(
        "x:Q", title=f"RL compute ({unit}, log)", scale=alt.Scale(type="log"), axis=alt.Axis(format="~g")
    )


def rl_curve_chart(
    points: pl.DataFrame,
    curves: pl.DataFrame,
    band: pl.DataFrame,
    cuts: pl.DataFrame,
    *,
    unit: str,
    metric: str,
    title: str = "",
) -> alt.LayerChart:
    """Metric vs RL compute on a log x axis: points, fitted sigmoid (and power law), bootstrap band, cut rules.

    Parameters
    ----------
    points : polars.DataFrame
        run_id, step, x, value, used (bool; False = before the transient cut, drawn hollow).
    curves : polars.DataFrame
        run_id, x, value, model ("sigmoid" / "power law"), segment ("fit" / "extrapolation", dashed).
    band : polars.DataFrame
        run_id, x, lo, hi: 95% bootstrap band of the sigmoid beyond the data.
    cuts : polars.DataFrame
        run_id, x: transient cut per run (vertical rules).
    unit : str
        Compute unit for the axis title ("GPU-hours" or "PPO steps").
    metric : str
        Metric name for the y title (a pass rate, fraction).

    Returns
    -------
    altair.LayerChart
        Rows with x <= 0 (the step-0 evaluation, R0) are dropped: a log axis cannot show them.
    """
    color = alt.Color("run_id:N", title="run", legend=alt.Legend(orient="bottom", columns=1, labelLimit=400))
    y = alt.Y("value:Q", title=f"{metric} (fraction)", scale=alt.Scale(zero=False))
    layers = []
    b = positive(band, "x")
    if b.height:
        layers.append(
            alt.Chart(b).mark_area(opacity=0.18).encode(x=_x(unit), y=alt.Y("lo:Q"), y2="hi:Q", color=color)
        )
    p = positive(points, "x")
    layers.append(
        alt.Chart(p)
        .mark_point(size=40, filled=True)
        .encode(
            x=_x(unit),
            y=y,
            color=color,
            shape=alt.Shape(
                "used:N", title="in fit", scale=alt.Scale(domain=[True, False], range=["circle", "cross"])
            ),
            tooltip=["run_id", "step", alt.Tooltip("x:Q", title=unit, format=".4g"), "value", "used"],
        )
    )
    c = positive(curves, "x")
    if c.height:
        layers.append(
            alt.Chart(c)
            .mark_line()
            .encode(
                x=_x(unit),
                y=y,
                color=color,
                strokeDash=alt.StrokeDash(
                    "model:N",
                    title="law",
                    scale=alt.Scale(domain=["sigmoid", "power law"], range=[[1, 0], [2, 2]]),
                ),
                opacity=alt.Opacity(
                    "segment:N", title="", scale=alt.Scale(domain=["fit", "extrapolation"], range=[1.0, 0.55])
                ),
                detail="segment:N",
                tooltip=[
                    "run_id",
                    "model",
                    "segment",
                    alt.Tooltip("x:Q", format=".4g"),
                    alt.Tooltip("value:Q", format=".4f"),
                ],
            )
        )
    k = positive(cuts, "x")
    if k.height:
        layers.append(
            alt.Chart(k)
            .mark_rule(strokeDash=[4, 3])
            .encode(
                x=_x(unit),
                color=color,
                tooltip=["run_id", alt.Tooltip("x:Q", title="transient cut", format=".4g")],
            )
        )
    return alt.layer(*layers).properties(width=_W, height=_H, title=title)


def recipe_chart(table: pl.DataFrame) -> alt.LayerChart:
    """Asymptote A per recipe variant with its 95% bootstrap interval as error bars, coloured by verdict.

    Parameters
    ----------
    table : polars.DataFrame
        ``app.services.rl.recipe_comparison`` output: variant, A, A_lo, A_hi, label.

    Returns
    -------
    altair.LayerChart
        Points at A (fraction) and error bars where the interval is finite.
    """
    color = alt.Color(
        "label:N",
        title="verdict",
        scale=alt.Scale(
            domain=[
                "baseline",
                "ceiling-raiser",
                "efficiency-raiser",
                "both",
                "worse",
                "no significant difference",
            ],
            range=["#4c78a8", "#54a24b", "#f58518", "#b279a2", "#e45756", "#9d9d9d"],
        ),
    )
    xv = alt.X("variant:N", title="variant", axis=alt.Axis(labelAngle=-20, labelLimit=260))
    pts = (
        alt.Chart(table)
        .mark_point(size=90, filled=True)
        .encode(
            x=xv,
            y=alt.Y("A:Q", title="asymptote A (fraction)", scale=alt.Scale(zero=False)),
            color=color,
            tooltip=["variant", "label", alt.Tooltip("A:Q", format=".3f"), "A_lo", "A_hi", "runs"]
            if "runs" in table.columns
            else ["variant", "label", "A"],
        )
    )
    bars = table.filter(pl.col("A_lo").is_not_nan() & pl.col("A_hi").is_not_nan()) if table.height else table
    layers = [pts]
    if bars.height:
        layers.insert(
            0,
            alt.Chart(bars)
            .mark_errorbar(ticks=True)
            .encode(x=xv, y=alt.Y("A_lo:Q"), y2="A_hi:Q", color=color),
        )
    return alt.layer(*layers).properties(width=_W, height=280)
