"""Charts of the Budget page (Altair; no data access)."""

from __future__ import annotations

import altair as alt
import polars as pl

AXIS_LABELS = {"pretraining": "pretraining", "rl": "RL", "test_time": "test time"}


def metric_vs_share(curves: pl.DataFrame, current: dict[str, float], metric_name: str) -> alt.LayerChart:
    """Predicted metric (line) and its 95% band (area) versus the share of each axis, one colour per axis.

    Parameters
    ----------
    curves : polars.DataFrame
        axis, share (fraction), metric, metric_lo, metric_hi (fractions), from
        ``app.services.simulator.share_curve``.
    current : dict
        axis -> the share at the reported point (vertical rules).
    metric_name : str
        y-axis title.
    """
    df = curves.with_columns(pl.col("axis").replace_strict(AXIS_LABELS, default=pl.col("axis")).alias("axis"))
    color = alt.Color("axis:N", title="axis varied", scale=alt.Scale(domain=list(AXIS_LABELS.values())))
    x = alt.X(
        "share:Q",
        title="share of the budget (others keep their ratio)",
        axis=alt.Axis(format="%"),
        scale=alt.Scale(domain=[0, 1]),
    )
    base = alt.Chart(df)
    band = base.mark_area(opacity=0.15).encode(
        x=x,
        y=alt.Y("metric_lo:Q", title="metric (fraction)", scale=alt.Scale(domain=[0, 1])),
        y2="metric_hi:Q",
        color=color,
    )
    line = base.mark_line(point=True).encode(
        x=x,
        y="metric:Q",
        color=color,
        tooltip=[
            alt.Tooltip("axis:N"),
            alt.Tooltip("share:Q", format=".0%"),
            alt.Tooltip("metric:Q", format=".4f"),
            alt.Tooltip("metric_lo:Q", format=".4f"),
            alt.Tooltip("metric_hi:Q", format=".4f"),
        ],
    )
    rules = (
        alt.Chart(
            pl.DataFrame(
                {"axis": [AXIS_LABELS[a] for a in current], "share": [float(v) for v in current.values()]}
            )
        )
        .mark_rule(strokeDash=[4, 3])
        .encode(x="share:Q", color=color)
    )
    return alt.layer(band, line, rules).properties(
        width=640, height=320, title=f"{metric_name} vs the share of each axis"
    )


def scenario_bars(rows: pl.DataFrame, metric_name: str) -> alt.LayerChart:
    """Scenario metric (point) with its 95% band (rule), one row per scenario."""
    base = alt.Chart(rows)
    y = alt.Y("scenario:N", title=None, sort=None)
    rule = base.mark_rule(strokeWidth=3, opacity=0.5).encode(
        y=y,
        x=alt.X(
            "metric_lo:Q", title=metric_name, scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(titleLimit=600)
        ),
        x2="metric_hi:Q",
    )
    pt = base.mark_point(filled=True, size=80).encode(
        y=y, x="metric:Q", tooltip=["scenario", alt.Tooltip("metric:Q", format=".4f")]
    )
    return alt.layer(rule, pt).properties(
        width=640, height=alt.Step(36), title="scenarios: metric and 95% band"
    )
