"""Pure chart builders: polars DataFrame -> altair Chart. Log axes drop non-positive values before plotting."""

from __future__ import annotations

import altair as alt
import polars as pl

_W, _H = 640, 380


def positive(df: pl.DataFrame, *cols: str) -> pl.DataFrame:
    """Rows where every column in ``cols`` is finite and > 0 (a log axis cannot show the others)."""
    if df.height == 0:
        return df
    cond = pl.lit(True)
    for c in cols:
        cond = cond & pl.col(c).is_not_null() & pl.col(c).is_finite() & (pl.col(c) > 0)
    return df.filter(cond)


def _log(field: str, title: str, fmt: str = "~e") -> alt.X:
    return alt.X(
        field, type="quantitative", title=title, scale=alt.Scale(type="log"), axis=alt.Axis(format=fmt)
    )


def loss_vs_compute(
    points: pl.DataFrame,
    *,
    color: str = "n_params",
    frontier: pl.DataFrame | None = None,
    band: pl.DataFrame | None = None,
    title: str = "",
) -> alt.LayerChart:
    """Log-log scatter of final loss vs compute with an optional fitted curve and band.

    ``points``: compute_flops, loss, run_id and the ``color`` column. ``frontier``: compute_flops, loss, curve
    (label) -- drawn as lines. ``band``: compute_flops, lo, hi (and optional ``band`` label) -- drawn as areas.
    """
    pts = positive(points, "compute_flops", "loss")
    if color == "n_params":
        col = alt.Color(
            "n_params:Q",
            title="N (params)",
            scale=alt.Scale(type="log", scheme="viridis"),
            legend=alt.Legend(format="~s"),
        )
    else:
        col = alt.Color(f"{color}:N", title=color)
    y = alt.Y(
        "loss:Q",
        title="final loss (nats/token)",
        scale=alt.Scale(type="log", zero=False),
        axis=alt.Axis(format=".2f"),
    )
    tooltip = [
        c for c in ("run_id", "n_params", "n_tokens", "compute_flops", "loss", "corpus") if c in pts.columns
    ]
    layers = []
    if band is not None and band.height:
        b = positive(band, "compute_flops", "lo", "hi")
        layers.append(
            alt.Chart(b)
            .mark_area(opacity=0.18)
            .encode(
                x=_log("compute_flops", "compute C (FLOPs)"),
                y=alt.Y("lo:Q", scale=alt.Scale(type="log", zero=False)),
                y2="hi:Q",
                color=alt.Color("band:N", title="band") if "band" in b.columns else alt.value("#4c78a8"),
            )
        )
    layers.append(
        alt.Chart(pts)
        .mark_circle(size=42, opacity=0.8)
        .encode(x=_log("compute_flops", "compute C (FLOPs)"), y=y, color=col, tooltip=tooltip)
    )
    if frontier is not None and frontier.height:
        f = positive(frontier, "compute_flops", "loss")
        layers.append(
            alt.Chart(f)
            .mark_line(strokeWidth=2.5)
            .encode(
                x=_log("compute_flops", "compute C (FLOPs)"),
                y=y,
                strokeDash=alt.StrokeDash("curve:N", title="fit"),
                color=alt.value("#d62728"),
            )
        )
    return alt.layer(*layers).resolve_scale(color="independent").properties(width=_W, height=_H, title=title)


def xy_log(
    df: pl.DataFrame,
    x: str,
    y: str,
    *,
    color: str | None = None,
    x_title: str = "",
    y_title: str = "",
    log_y: bool = True,
    line: bool = False,
    title: str = "",
) -> alt.Chart:
    """Generic log-x scatter (or line) with optional log-y and colour; drops rows a log axis cannot show."""
    d = positive(df, x, y) if log_y else positive(df, x)
    enc = {
        "x": _log(x, x_title or x),
        "y": alt.Y(
            f"{y}:Q", title=y_title or y, scale=alt.Scale(type="log" if log_y else "linear", zero=False)
        ),
        "tooltip": list(d.columns)[:8],
    }
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=color)
    mark = alt.Chart(d).mark_line(point=True) if line else alt.Chart(d).mark_circle(size=40)
    return mark.encode(**enc).properties(width=_W, height=_H, title=title)


def backtest_chart(rows: pl.DataFrame) -> alt.Chart:
    """Relative error of held-out predictions vs extrapolation ratio (C / cutoff), log x."""
    d = positive(rows, "extrapolation_ratio").with_columns(
        (pl.col("relative_error") * 100).alias("error_pct")
    )
    base = alt.Chart(d).encode(
        x=_log("extrapolation_ratio", "extrapolation ratio (C / fit cutoff)", fmt="~g"),
        y=alt.Y("error_pct:Q", title="prediction error (%)"),
        tooltip=[
            c for c in ("run_id", "compute_flops", "observed", "predicted", "error_pct") if c in d.columns
        ],
    )
    zero = alt.Chart(pl.DataFrame({"y": [0.0]})).mark_rule(color="gray").encode(y="y:Q")
    return (base.mark_circle(size=50) + zero).properties(width=_W, height=260)


def rolling_backtest_chart(rows: pl.DataFrame) -> alt.Chart:
    """|relative error| (%) vs extrapolation ratio for every cutoff of a rolling-origin backtest (log x)."""
    d = positive(rows, "extrapolation_ratio").with_columns(
        (pl.col("relative_error").abs() * 100).alias("abs_error_pct"),
        pl.col("cutoff").map_elements(lambda c: f"{c:.2g}", return_dtype=pl.String).alias("cutoff_flops"),
    )
    return (
        alt.Chart(d)
        .mark_circle(size=28, opacity=0.6)
        .encode(
            x=_log("extrapolation_ratio", "extrapolation ratio (C / fit cutoff)", fmt="~g"),
            y=alt.Y("abs_error_pct:Q", title="|prediction error| (%)"),
            color=alt.Color("cutoff_flops:N", title="fit cutoff (FLOPs)", sort=None),
            tooltip=["cutoff_flops", "compute_flops", "abs_error_pct", "extrapolation_ratio"],
        )
        .properties(width=_W, height=260)
    )
