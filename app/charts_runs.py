"""Charts of the run explorer: reduced metric curves of one or several runs (last value per bucket as a line, the
bucket's min-max range as a band). Pure: polars DataFrame -> altair Chart."""

from __future__ import annotations

import altair as alt
import polars as pl

from app.charts import _BOTTOM, _H, _W, CATEGORICAL, COUNT_LABEL, log_domain, log_scale, log_ticks, positive

#: x axes whose values are counts (labelled 7B, 1.3T like N and D elsewhere).
_COUNT_AXES = {"tokens"}


def _axis(field: str, title: str, values: list[float], log: bool, fmt: str, *, y: bool = False):
    enc = alt.Y if y else alt.X
    if log:
        dom = log_domain(values, pad=1.05)
        extra = {"labelExpr": COUNT_LABEL} if fmt == "~s" else {}
        axis = alt.Axis(format=fmt, values=log_ticks(*dom), **extra) if dom else alt.Axis(format=fmt)
        return enc(f"{field}:Q", title=title, scale=log_scale(dom), axis=axis)
    extra = {"labelExpr": COUNT_LABEL} if fmt == "~s" else {}
    return enc(f"{field}:Q", title=title, scale=alt.Scale(zero=False), axis=alt.Axis(format=fmt, **extra))


def curve_chart(
    curves: pl.DataFrame,
    *,
    x_key: str,
    x_title: str,
    y_title: str,
    log_x: bool = False,
    log_y: bool = False,
    title: str = "",
) -> alt.LayerChart:
    """Reduced curves: per run a line through the last value of each x bucket and a band from its min to max.

    Parameters
    ----------
    curves : polars.DataFrame
        Columns run_id, x, x_min, x_max, value, value_min, value_max, n_points (``data.run_explorer.reduced_curves``).
    x_key : str
        The x axis key ("step", "tokens", "flops", "gpu_hours", "wall_time"): tokens are labelled 7B, FLOPs 1e+21.
    log_x, log_y : bool
        Log scales; rows with x <= 0 (or values <= 0 on a log y) are left out, never break the axis.

    Returns
    -------
    altair.LayerChart
        640 x 380 px, one Tableau 10 colour per run, legend below the plot.
    """
    df = curves
    if log_x:
        df = positive(df, "x", "x_min")
    if log_y:
        df = positive(df, "value", "value_min")
    fmt_x = "~s" if x_key in _COUNT_AXES else ("~e" if x_key == "flops" else "~g")
    x = _axis("x", x_title, df["x"].to_list() + df["x_min"].to_list(), log_x, fmt_x)
    vals = df["value_min"].to_list() + df["value_max"].to_list()
    y = _axis("value", y_title, vals, log_y, "~g", y=True)
    color = alt.Color(
        "run_id:N", title="run", scale=alt.Scale(scheme=CATEGORICAL), legend=alt.Legend(columns=1, **_BOTTOM)
    )
    tooltip = [
        "run_id:N",
        alt.Tooltip("x:Q", title=x_title, format=".4~g"),
        alt.Tooltip("value:Q", title="last value", format=".4~g"),
        alt.Tooltip("value_min:Q", title="min", format=".4~g"),
        alt.Tooltip("value_max:Q", title="max", format=".4~g"),
        alt.Tooltip("n_points:Q", title="points in bucket"),
    ]
    base = alt.Chart(df)
    y_band = _axis("value_min", y_title, vals, log_y, "~g", y=True)
    band = base.mark_area(opacity=0.18).encode(x=x, y=y_band, y2="value_max:Q", color=color)
    line = base.mark_line(point=alt.OverlayMarkDef(size=12)).encode(x=x, y=y, color=color, tooltip=tooltip)
    return alt.layer(band, line).properties(width=_W, height=_H, title=title)


def loss_curves_chart(curves: pl.DataFrame, *, title: str = "") -> alt.Chart:
    """Training loss vs tokens seen of many pretraining runs, coloured by N (log colour scale), log-log axes.

    ``curves``: run_id, n_params, x (tokens), value (loss) -- ``data.run_explorer.loss_curves_reduced``; rows
    with non-positive values are left out (log axes).
    """
    df = positive(curves, "x", "value")
    x = _axis("x", "tokens seen D (log)", df["x"].to_list(), True, "~s")
    y = _axis("value", "training loss (nats/token, log)", df["value"].to_list(), True, ".3~g", y=True)
    color = alt.Color(
        "n_params:Q",
        title="N (params)",
        scale=alt.Scale(type="log", scheme="viridis"),
        legend=alt.Legend(format="~s", labelExpr=COUNT_LABEL),
    )
    return (
        alt.Chart(df)
        .transform_calculate(
            N_text="replace(format(datum.n_params, '.4~s'), 'G', 'B')",
            D_text="replace(format(datum.x, '.4~s'), 'G', 'B')",
        )
        .mark_line(opacity=0.7, strokeWidth=1.2)
        .encode(
            x=x,
            y=y,
            color=color,
            detail="run_id:N",
            tooltip=[
                "run_id:N",
                alt.Tooltip("N_text:N", title="N (params)"),
                alt.Tooltip("D_text:N", title="tokens seen"),
                alt.Tooltip("value:Q", title="loss", format=".4f"),
            ],
        )
        .properties(width=_W, height=_H, title=title)
    )
