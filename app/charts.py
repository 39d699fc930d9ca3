"""Pure chart builders: polars DataFrame -> altair Chart. Log axes drop non-positive values before plotting.

Log axes get an explicit domain fitted to the data (a little padding, no rounding out to whole decades) and a
short list of tick values, so that the data fill the plot area and the grid stays sparse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import altair as alt
import numpy as np
import polars as pl

from app import fmt as textfmt

_W, _H = 640, 380
#: Categorical colours (Tableau 10): saturated, none near white.
CATEGORICAL = "tableau10"
_BOTTOM = {
    "orient": "bottom",
    "direction": "horizontal",
    "labelLimit": 320,
    "titleLimit": 320,
    "symbolOpacity": 1,
}
#: Legend on the right with room for long labels (several legends stack instead of running off the chart).
_RIGHT = {"labelLimit": 320, "titleLimit": 320, "symbolOpacity": 1}


def positive(df: pl.DataFrame, *cols: str) -> pl.DataFrame:
    """Rows where every column in ``cols`` is finite and > 0 (a log axis cannot show the others)."""
    if df.height == 0:
        return df
    cond = pl.lit(True)
    for c in cols:
        cond = cond & pl.col(c).is_not_null() & pl.col(c).is_finite() & (pl.col(c) > 0)
    return df.filter(cond)


def log_domain(values: Iterable[float], pad: float = 1.15) -> list[float] | None:
    """[min / pad, max * pad] of the finite positive ``values``, or None when there are none.

    Parameters
    ----------
    values : iterable of float
        Any values (shape (n,)); non-positive, NaN and inf are ignored.
    pad : float
        Multiplicative padding (> 1) on each side of the data range.

    Returns
    -------
    list of two floats or None
        A log-scale domain just wider than the data.
    """
    v = np.asarray([float(x) for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return None
    return [float(v.min()) / pad, float(v.max()) * pad]


def log_ticks(lo: float, hi: float) -> list[float]:
    """A few round tick values inside [lo, hi] on a log axis: decades on wide ranges, 1-2-5 or finer on narrow ones.

    Parameters
    ----------
    lo, hi : float
        Positive axis domain (lo < hi).

    Returns
    -------
    list of float
        Between 2 and ~12 values (every decade, or every second/third decade on very wide ranges).
    """
    if not (lo > 0 and hi > lo):
        return []
    span = math.log10(hi / lo)
    if span > 12:
        mult, step = [1.0], 3
    elif span > 8:
        mult, step = [1.0], 2
    elif span > 2.5:
        mult, step = [1.0], 1
    elif span > 1.2:
        mult, step = [1.0, 3.0], 1
    elif span > 0.7:
        mult, step = [1.0, 2.0, 3.0, 5.0, 7.0], 1
    elif span > 0.3:
        mult, step = [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 1
    else:  # less than a factor 2: a tick every 0.1 / 0.2 / 0.5 of the leading digit
        mult = (
            [1 + 0.1 * i for i in range(10)]
            + [2 + 0.2 * i for i in range(10)]
            + [4 + 0.5 * i for i in range(12)]
        )
        step = 1
    out = []
    for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        if e % step:
            continue
        for m in mult:
            t = float(f"{m * 10.0**e:.6g}")
            if lo <= t <= hi:
                out.append(t)
    return out


def log_scale(domain: list[float] | None) -> alt.Scale:
    """Log scale with the given domain (no rounding out to decades); automatic when ``domain`` is None."""
    if domain is None:
        return alt.Scale(type="log")
    return alt.Scale(type="log", domain=domain, nice=False)


#: Vega label expression writing counts (N, D) as the tiles and the CLI do (``app.numfmt.human``): 7B, 1.3T -- d3's
#: SI format would write 7G for a billion.
COUNT_LABEL = "replace(format(datum.value, '~s'), 'G', 'B')"


def _log(
    field: str, title: str, fmt: str = "~e", domain: list[float] | None = None, *, axis: str = "x"
) -> alt.X | alt.Y:
    """A log-scale x (or y) encoding; with ``domain``, ticks and grid lines only at :func:`log_ticks` values.

    ``fmt="~s"`` (counts) labels billions with B, as the rest of the app does (:data:`COUNT_LABEL`)."""
    extra = {"labelExpr": COUNT_LABEL} if fmt == "~s" else {}
    ax = (
        alt.Axis(format=fmt, values=log_ticks(*domain), **extra)
        if domain
        else alt.Axis(format=fmt, tickCount=6, **extra)
    )
    enc = alt.X if axis == "x" else alt.Y
    return enc(field, type="quantitative", title=title, scale=log_scale(domain), axis=ax)


def _values(*frames_cols: tuple[pl.DataFrame | None, str]) -> list[float]:
    out: list[float] = []
    for f, c in frames_cols:
        if f is not None and f.height and c in f.columns:
            out.extend(f[c].drop_nulls().to_list())
    return out


BAND_COLORS = {"95% confidence (mean curve)": "#1f77b4", "95% prediction (new run)": "#ff7f0e"}


def loss_vs_compute(
    points: pl.DataFrame,
    *,
    color: str = "n_params",
    frontier: pl.DataFrame | None = None,
    band: pl.DataFrame | None = None,
    title: str = "",
) -> alt.LayerChart:
    """Log-log scatter of final loss vs compute with an optional fitted curve and bands.

    Parameters
    ----------
    points : polars.DataFrame
        compute_flops (FLOPs), loss (nats/token), run_id and the ``color`` column; shape (n_runs, *).
    color : str
        "n_params" (continuous viridis, log) or any categorical column (Tableau 10).
    frontier : polars.DataFrame, optional
        compute_flops, loss, curve (label): drawn as lines.
    band : polars.DataFrame, optional
        compute_flops, lo, hi and an optional ``band`` label (e.g. the 95% confidence and prediction bands of
        ``app.services.pretraining.loss_curves``): drawn as areas, prediction under confidence.
    title : str
        Chart title.

    Returns
    -------
    altair.LayerChart
        Axes fitted to the points and the curve (bands are clipped to that range); legends below the plot.
    """
    pts = positive(points, "compute_flops", "loss")
    f = positive(frontier, "compute_flops", "loss") if frontier is not None else None
    xdom = log_domain(_values((pts, "compute_flops"), (f, "compute_flops")), pad=1.3)
    ydom = log_domain(_values((pts, "loss"), (f, "loss")), pad=1.08)
    x = _log("compute_flops", "compute C (FLOPs)", domain=xdom)
    if color == "n_params":
        col = alt.Color(
            "n_params:Q",
            title="N (params)",
            scale=alt.Scale(type="log", scheme="viridis"),
            legend=alt.Legend(format="~s", labelExpr=COUNT_LABEL, **_RIGHT),
        )
    else:
        col = alt.Color(
            f"{color}:N", title=color, scale=alt.Scale(scheme=CATEGORICAL), legend=alt.Legend(**_RIGHT)
        )
    y = _log("loss", "final loss (nats/token)", fmt=".3~g", domain=ydom, axis="y")
    tooltip = [
        c for c in ("run_id", "n_params", "n_tokens", "compute_flops", "loss", "corpus") if c in pts.columns
    ]
    layers = []
    if band is not None and band.height:
        b = positive(band, "compute_flops", "lo", "hi")
        if "band" not in b.columns:
            b = b.with_columns(pl.lit("95% band").alias("band"))
        names = sorted(b["band"].unique().to_list(), key=lambda s: "prediction" not in s)
        scale = alt.Scale(domain=names, range=[BAND_COLORS.get(n, "#4c78a8") for n in names])
        for i, n in enumerate(names):  # the wide prediction band first, the confidence band drawn over it
            legend = alt.Legend(**{**_RIGHT, "symbolOpacity": 0.5}) if i == 0 else None
            layers.append(
                alt.Chart(b.filter(pl.col("band") == n))
                .mark_area(opacity=0.22 if "prediction" in n else 0.5, clip=True)
                .encode(
                    x=x,
                    y=alt.Y("lo:Q", scale=log_scale(ydom)),
                    y2="hi:Q",
                    color=alt.Color("band:N", title="band", scale=scale, legend=legend),
                )
            )
    layers.append(
        alt.Chart(pts)
        .mark_circle(size=42, opacity=0.85, clip=True)
        .encode(x=x, y=y, color=col, tooltip=tooltip)
    )
    if f is not None and f.height:
        layers.append(
            alt.Chart(f)
            .mark_line(strokeWidth=2.5, clip=True)
            .encode(
                x=x,
                y=y,
                strokeDash=alt.StrokeDash("curve:N", title="fit", legend=alt.Legend(**_RIGHT)),
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
    """Generic log-x scatter (or line) with optional log-y and colour; drops rows a log axis cannot show.

    Parameters
    ----------
    df : polars.DataFrame
        Columns ``x``, ``y`` (and ``color``); shape (n, *).
    x, y : str
        Column names; x always on a log axis, y on a log axis when ``log_y``.
    color : str, optional
        Categorical column (Tableau 10).
    x_title, y_title, title : str
        Axis titles (with units) and chart title.
    log_y, line : bool
        Log y axis; lines with points instead of circles.

    Returns
    -------
    altair.Chart
    """
    d = positive(df, x, y) if log_y else positive(df, x)
    xdom = log_domain(d[x].to_list(), pad=1.1) if d.height else None
    ydom = log_domain(d[y].to_list(), pad=1.1) if d.height and log_y else None
    enc = {
        "x": _log(x, x_title or x, domain=xdom),
        "y": _log(y, y_title or y, fmt="~g", domain=ydom, axis="y")
        if log_y
        else alt.Y(f"{y}:Q", title=y_title or y, scale=alt.Scale(zero=False)),
        "tooltip": list(d.columns)[:8],
    }
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=color, scale=alt.Scale(scheme=CATEGORICAL))
    mark = alt.Chart(d).mark_line(point=True) if line else alt.Chart(d).mark_circle(size=40)
    return mark.encode(**enc).properties(width=_W, height=_H, title=title)


def backtest_chart(rows: pl.DataFrame) -> alt.LayerChart:
    """Relative error (%) of held-out predictions vs extrapolation ratio (C / cutoff) on a log x axis.

    Parameters
    ----------
    rows : polars.DataFrame
        relative_error (fraction), extrapolation_ratio (> 0), optional run_id, compute_flops, observed, predicted.

    Returns
    -------
    altair.LayerChart
        Points and a zero rule; x domain fitted to the ratios.
    """
    d = positive(rows, "extrapolation_ratio").with_columns(
        (pl.col("relative_error") * 100).alias("error_pct")
    )
    xdom = log_domain(d["extrapolation_ratio"].to_list(), pad=1.08) if d.height else None
    base = alt.Chart(d).encode(
        x=_log("extrapolation_ratio", "extrapolation ratio (C / fit cutoff)", fmt="~g", domain=xdom),
        y=alt.Y("error_pct:Q", title="prediction error (%)"),
        tooltip=[
            c for c in ("run_id", "compute_flops", "observed", "predicted", "error_pct") if c in d.columns
        ],
    )
    zero = alt.Chart(pl.DataFrame({"y": [0.0]})).mark_rule(color="gray").encode(y="y:Q")
    return (base.mark_circle(size=50, color="#1f77b4") + zero).properties(width=_W, height=260)


def rolling_backtest_chart(rows: pl.DataFrame) -> alt.Chart:
    """|relative error| (%) vs extrapolation ratio for every cutoff of a rolling-origin backtest (log x).

    Parameters
    ----------
    rows : polars.DataFrame
        cutoff (FLOPs), compute_flops, relative_error (fraction), extrapolation_ratio (> 0).

    Returns
    -------
    altair.Chart
        One Tableau 10 colour per cutoff, legend ordered from small to large cutoffs; x domain fitted to the ratios.
    """
    d = positive(rows, "extrapolation_ratio")
    d = d.with_columns(
        (pl.col("relative_error").abs() * 100).alias("abs_error_pct"),
        textfmt.g(d["cutoff"].cast(pl.Float64), 2).alias("cutoff_flops"),
    )
    xdom = log_domain(d["extrapolation_ratio"].to_list(), pad=1.08) if d.height else None
    order = d.sort("cutoff")["cutoff_flops"].unique(maintain_order=True).to_list() if d.height else []
    return (
        alt.Chart(d)
        .mark_circle(size=30, opacity=0.7)
        .encode(
            x=_log("extrapolation_ratio", "extrapolation ratio (C / fit cutoff)", fmt="~g", domain=xdom),
            y=alt.Y("abs_error_pct:Q", title="|prediction error| (%)"),
            color=alt.Color(
                "cutoff_flops:N",
                title="fit cutoff (FLOPs)",
                sort=order,
                scale=alt.Scale(scheme=CATEGORICAL, domain=order),
            ),
            tooltip=["cutoff_flops", "compute_flops", "abs_error_pct", "extrapolation_ratio"],
        )
        .properties(width=_W, height=260)
    )
