"""Pure chart builders for the RL page: polars frames -> altair charts (log compute axis, zeros dropped)."""

from __future__ import annotations

import math

import altair as alt
import polars as pl

from analysis.rl import RECIPE_VERDICTS
from app.charts import positive

_W, _H = 560, 380
#: Colours of the recipe verdict classes (``analysis.rl.RECIPE_VERDICTS`` order), from tableau10.
VERDICT_COLOURS: dict[str, str] = {
    "baseline": "#4e79a7",
    "better": "#59a14f",
    "trade-off": "#b07aa1",
    "slower": "#f28e2b",
    "worse": "#e15759",
    "no significant difference": "#79706e",
}
_POINT_KIND = ("fitted", "before the cut (not fitted)")


def _x(unit: str, domain: list[float] | None = None) -> alt.X:
    scale = alt.Scale(type="log", domain=domain, nice=False) if domain else alt.Scale(type="log")
    return alt.X("x:Q", title=f"RL compute ({unit}, log scale)", scale=scale, axis=alt.Axis(format="~g"))


def value_domain(*frames_cols: tuple[pl.DataFrame, tuple[str, ...]], pad: float = 0.03) -> list[float]:
    """y domain covering the finite values of the given columns, padded and rounded outwards to 0.05, within [0, 1].

    Parameters
    ----------
    *frames_cols : (polars.DataFrame, tuple of str)
        Frames and the value columns (pass-rate fractions) to cover.
    pad : float
        Margin added below and above (fraction units).

    Returns
    -------
    list of float, length 2
        [lo, hi] with 0 <= lo < hi <= 1; [0, 1] when there is no finite value.
    """
    vals = []
    for df, cols in frames_cols:
        for c in cols:
            if df.height and c in df.columns:
                s = df[c].cast(pl.Float64)
                vals += [v for v in s.to_list() if v is not None and math.isfinite(v)]
    if not vals:
        return [0.0, 1.0]
    lo = max(0.0, math.floor((min(vals) - pad) * 20) / 20)
    hi = min(1.0, math.ceil((max(vals) + pad) * 20) / 20)
    return [lo, hi] if hi > lo else [max(0.0, lo - 0.05), min(1.0, hi + 0.05)]


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
        run_id, step, x, value, used (bool; False = before the transient cut, drawn as a cross).
    curves : polars.DataFrame
        run_id, x, value, model ("sigmoid" / "power law"), segment ("fit" / "extrapolation", faded).
    band : polars.DataFrame
        run_id, x, lo, hi: 95% bootstrap band of the sigmoid beyond the data.
    cuts : polars.DataFrame
        run_id, x: transient cut per run (vertical rules).
    unit : str
        Compute unit for the axis title ("GPU-hours", "FLOPs", "tokens" or "<algorithm> steps").
    metric : str
        Metric name for the y title (a pass rate, fraction).

    Returns
    -------
    altair.LayerChart
        Height 380 px, legends on the right, runs in the tableau10 scheme, y domain = the range of the values
        drawn (see :func:`value_domain`), x domain = the compute drawn widened 1.2x on each side. Rows with x <= 0 (the step-0 evaluation, R0) are dropped: a log axis
        cannot show them.
    """
    p = positive(points, "x")
    c = positive(curves, "x")
    b = positive(band, "x")
    k = positive(cuts, "x")
    runs = sorted(set(p["run_id"].to_list()) | set(c["run_id"].to_list()) if p.height or c.height else [])
    color = alt.Color(
        "run_id:N",
        title="run",
        scale=alt.Scale(scheme="tableau10", domain=runs),
        legend=alt.Legend(orient="right", labelLimit=380, symbolType="circle", symbolOpacity=1),
    )
    xs = [v for df in (p, c, b, k) if df.height for v in df["x"].to_list()]
    xdom = [min(xs) / 1.2, max(xs) * 1.2] if xs else None
    dom = value_domain((p, ("value",)), (c, ("value",)), (b, ("lo", "hi")))
    y = alt.Y(
        "value:Q", title=f"{metric} (pass-rate fraction)", scale=alt.Scale(domain=dom, nice=False, clamp=True)
    )
    layers = []
    if b.height:
        layers.append(
            alt.Chart(b)
            .mark_area(opacity=0.15)
            .encode(x=_x(unit, xdom), y=alt.Y("lo:Q", scale=alt.Scale(domain=dom)), y2="hi:Q", color=color)
        )
    if c.height:
        layers.append(
            alt.Chart(c)
            .mark_line(strokeWidth=2)
            .encode(
                x=_x(unit, xdom),
                y=y,
                color=color,
                strokeDash=alt.StrokeDash(
                    "model:N",
                    title="law",
                    scale=alt.Scale(domain=["sigmoid", "power law"], range=[[1, 0], [3, 3]]),
                ),
                opacity=alt.Opacity(
                    "segment:N",
                    scale=alt.Scale(domain=["fit", "extrapolation"], range=[1.0, 0.45]),
                    legend=None,
                ),
                detail="segment:N",
                tooltip=[
                    alt.Tooltip("run_id:N", title="run"),
                    "model:N",
                    "segment:N",
                    alt.Tooltip("x:Q", title=unit, format=".3g"),
                    alt.Tooltip("value:Q", title="predicted", format=".3f"),
                ],
            )
        )
    pts = p.with_columns(
        pl.when(pl.col("used")).then(pl.lit(_POINT_KIND[0])).otherwise(pl.lit(_POINT_KIND[1])).alias("point")
    )
    layers.append(
        alt.Chart(pts)
        .mark_point(size=45, filled=True, opacity=0.9)
        .encode(
            x=_x(unit, xdom),
            y=y,
            color=color,
            shape=alt.Shape(
                "point:N",
                title="evaluation",
                scale=alt.Scale(domain=list(_POINT_KIND), range=["circle", "cross"]),
            ),
            tooltip=[
                alt.Tooltip("run_id:N", title="run"),
                "step:Q",
                alt.Tooltip("x:Q", title=unit, format=".3g"),
                alt.Tooltip("value:Q", title=metric, format=".4f"),
                "point:N",
            ],
        )
    )
    if k.height:
        layers.append(
            alt.Chart(k)
            .mark_rule(strokeDash=[4, 3], strokeWidth=1)
            .encode(
                x=_x(unit, xdom),
                color=color,
                tooltip=[
                    alt.Tooltip("run_id:N", title="run"),
                    alt.Tooltip("x:Q", title="transient cut", format=".3g"),
                ],
            )
        )
    return alt.layer(*layers).properties(width=_W, height=_H, title=title)


def _ci_bars(table: pl.DataFrame, lo: str, hi: str) -> pl.DataFrame:
    if not table.height:
        return table
    return table.filter(
        pl.col(lo).is_not_null() & pl.col(hi).is_not_null() & pl.col(lo).is_finite() & pl.col(hi).is_finite()
    )


def recipe_chart(table: pl.DataFrame, *, unit: str = "GPU-hours") -> alt.HConcatChart:
    """Two panels per recipe variant, coloured by verdict: asymptote A and midpoint C_mid with 95% intervals.

    Parameters
    ----------
    table : polars.DataFrame
        ``app.services.rl.recipe_comparison`` output: variant, A, A_lo, A_hi, C_mid, C_mid_lo, C_mid_hi,
        label, verdict (one of ``analysis.rl.RECIPE_VERDICTS``), optionally runs.
    unit : str
        Compute unit of C_mid.

    Returns
    -------
    altair.HConcatChart
        Left: A (pass-rate fraction), y domain = the range of the intervals; right: C_mid on a log axis
        (non-positive values dropped). Thin error bars with short caps; a dashed rule marks the baseline.
    """
    color = alt.Color(
        "verdict:N",
        title="verdict",
        scale=alt.Scale(domain=list(RECIPE_VERDICTS), range=[VERDICT_COLOURS[v] for v in RECIPE_VERDICTS]),
        legend=alt.Legend(orient="bottom", columns=3, labelLimit=220),
    )
    xv = alt.X(
        "variant:N",
        title="variant",
        sort=None,
        axis=alt.Axis(labelAngle=-25, labelLimit=200, labelOverlap=False),
    )
    tip = [
        "variant:N",
        alt.Tooltip("label:N", title="verdict"),
        alt.Tooltip("A:Q", format=".3f"),
        alt.Tooltip("A_lo:Q", title="A 2.5%", format=".3f"),
        alt.Tooltip("A_hi:Q", title="A 97.5%", format=".3f"),
        alt.Tooltip("C_mid:Q", title=f"C_mid ({unit})", format=".3g"),
    ]
    base = table.filter(pl.col("verdict") == "baseline") if table.height else table

    def panel(df: pl.DataFrame, field: str, title: str, scale: alt.Scale) -> alt.LayerChart:
        yq = alt.Y(f"{field}:Q", title=title, scale=scale)
        bars = _ci_bars(df, f"{field}_lo", f"{field}_hi")
        if scale.type == "log":
            bars = positive(bars, f"{field}_lo", f"{field}_hi")
        layers = []
        if base.height:
            layers.append(
                alt.Chart(base.select(field))
                .mark_rule(strokeDash=[5, 4], color="#4e79a7", opacity=0.6)
                .encode(y=yq)
            )
        if bars.height:
            layers.append(
                alt.Chart(bars)
                .mark_errorbar(ticks={"size": 10}, thickness=1.5)
                .encode(
                    x=xv, y=alt.Y(f"{field}_lo:Q", title=title, scale=scale), y2=f"{field}_hi:Q", color=color
                )
            )
        layers.append(
            alt.Chart(df)
            .mark_point(size=90, filled=True, opacity=1)
            .encode(x=xv, y=yq, color=color, tooltip=tip)
        )
        return alt.layer(*layers).properties(width=340, height=260)

    a_dom = value_domain((table, ("A", "A_lo", "A_hi")), pad=0.01)
    pos = positive(table, "C_mid") if table.height else table
    left = panel(table, "A", "asymptote A (pass-rate fraction)", alt.Scale(domain=a_dom, nice=False))
    span = positive(pos, "C_mid_lo", "C_mid_hi") if pos.height else pos
    vals = pos["C_mid"].to_list() + span["C_mid_lo"].to_list() + span["C_mid_hi"].to_list()
    m_dom = [min(vals) / 1.5, max(vals) * 1.5] if vals else None
    right = panel(
        pos,
        "C_mid",
        f"midpoint C_mid ({unit}, log scale)",
        alt.Scale(type="log", domain=m_dom, nice=False) if m_dom else alt.Scale(type="log"),
    )
    return alt.hconcat(
        left.properties(title="Ceiling: higher is better"),
        right.properties(title="Efficiency: lower C_mid is faster"),
    ).resolve_scale(color="shared")
