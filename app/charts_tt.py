"""Pure altair chart builders of the test-time page. Log axes drop non-positive values (``charts.positive``)."""

from __future__ import annotations

import re

import altair as alt
import polars as pl

from app.charts import positive

_W, _H = 640, 380
#: Distinct categorical colours: Vega "tableau10" plus two dark ones for a 12-model legend (no light/dark pairs).
PALETTE = (
    "#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b",
    "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac", "#222222", "#7a0177",
)  # fmt: skip
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMBT])\b", re.IGNORECASE)
_UNIT = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def model_size(name: str) -> float | None:
    """Parameter count parsed from a model name ("Pythia 2.8B" -> 2.8e9), or None when it has no size suffix.

    Parameters
    ----------
    name : str
        Model name, e.g. "Pythia 70M" (Biderman et al. 2023, arXiv:2304.01373).

    Returns
    -------
    float or None
        Parameters (count).
    """
    m = _SIZE.search(str(name))
    return float(m.group(1)) * _UNIT[m.group(2).upper()] if m else None


def model_order(models) -> list[str]:
    """Legend order: by parsed parameter count when every model name has one (70M, 160M, ..., 12B), else A-Z.

    Parameters
    ----------
    models : iterable of str
        Model names (duplicates allowed).

    Returns
    -------
    list of str
        Unique names; sized models smallest first, otherwise case-insensitive alphabetical.
    """
    names = sorted({str(m) for m in models if m is not None}, key=str.lower)
    sizes = {m: model_size(m) for m in names}
    if names and all(v is not None for v in sizes.values()):
        return sorted(names, key=lambda m: (sizes[m], m))
    return names


def model_color(models, *, legend: alt.Legend | None = None) -> alt.Color:
    """Colour by model: a sequential (viridis, dark to mid-yellow) ramp for a size-ordered family, else distinct hues.

    Parameters
    ----------
    models : iterable of str
        Model names shown in the chart (sets the legend order, see :func:`model_order`).
    legend : altair.Legend, optional
        Legend placement; default on the right with full labels.

    Returns
    -------
    altair.Color
        Nominal colour encoding of the ``model`` field.
    """
    order = model_order(models)
    sized = bool(order) and all(model_size(m) is not None for m in order)
    if sized:
        scale = alt.Scale(domain=order, scheme={"name": "viridis", "extent": [0.0, 0.88]})
    else:
        scale = alt.Scale(domain=order, range=list(PALETTE[: max(len(order), 1)]))
    return alt.Color(
        "model:N",
        title="model (by size)" if sized else "model",
        sort=order,
        scale=scale,
        legend=legend or alt.Legend(labelLimit=0),
    )


def _bottom_legend(n: int) -> alt.Legend:
    """A legend under the plot, in columns, with full labels (long model names)."""
    return alt.Legend(
        orient="bottom", columns=min(max(n, 1), 4), labelLimit=0, symbolLimit=0, direction="vertical"
    )


def _logx(field: str, title: str, fmt: str = "~s") -> alt.X:
    return alt.X(f"{field}:Q", title=title, scale=alt.Scale(type="log"), axis=alt.Axis(format=fmt))


def coverage_chart(points: pl.DataFrame, curves: pl.DataFrame, *, title: str = "") -> alt.LayerChart:
    """Coverage (fraction of problems solved by >= 1 of k samples) vs k, log x: points and fitted exp(a k^b).

    Parameters
    ----------
    points : polars.DataFrame
        Columns model, k (count), coverage (fraction): empirical unbiased coverage.
    curves : polars.DataFrame
        Columns model, k, coverage: the fitted law on a dense grid.

    Returns
    -------
    altair.LayerChart
        Rows with k <= 0 are dropped (log axis). Source: Brown et al. (2024), arXiv:2407.21787, Fig. 2.
    """
    p, c = positive(points, "k"), positive(curves, "k")
    color = model_color(p["model"].to_list() + c["model"].to_list())
    y = alt.Y("coverage:Q", title="coverage (fraction of problems)", scale=alt.Scale(domain=[0, 1]))
    dots = (
        alt.Chart(p)
        .mark_circle(size=30)
        .encode(
            x=_logx("k", "k (samples per problem, log)"), y=y, color=color, tooltip=["model", "k", "coverage"]
        )
    )
    line = (
        alt.Chart(c)
        .mark_line(strokeDash=[4, 3])
        .encode(
            x=_logx("k", "k (samples per problem, log)"),
            y=y,
            color=color,
            detail=[c2 for c2 in ("benchmark", "setting") if c2 in c.columns] or alt.Undefined,
        )
    )
    return alt.layer(dots, line).properties(width=_W, height=_H, title=title)


def accuracy_tokens_chart(
    curve: pl.DataFrame, fits: pl.DataFrame | None = None, *, title: str = ""
) -> alt.LayerChart:
    """Accuracy vs mean generated tokens per thinking level, log x, Wilson 95% error bars, optional fit lines.

    Parameters
    ----------
    curve : polars.DataFrame
        Columns model, setting, mean_tokens (tokens per answer), accuracy, acc_lo, acc_hi (fractions).
    fits : polars.DataFrame, optional
        Columns model, form, mean_tokens, accuracy (fitted curves).

    Returns
    -------
    altair.LayerChart
        Levels with mean_tokens <= 0 are dropped. Source: Muennighoff et al. (2025), arXiv:2501.19393.
    """
    d = positive(curve, "mean_tokens")
    x = _logx("mean_tokens", "mean output tokens per answer (log)")
    names = model_order(d["model"].to_list())
    color = model_color(names, legend=_bottom_legend(len(names)))
    y = alt.Y("accuracy:Q", title="accuracy (fraction correct)")
    pts = (
        alt.Chart(d)
        .mark_circle(size=50)
        .encode(
            x=x, y=y, color=color, tooltip=["model", "setting", "mean_tokens", "accuracy", "acc_lo", "acc_hi"]
        )
    )
    bars = alt.Chart(d).mark_rule().encode(x=x, y="acc_lo:Q", y2="acc_hi:Q", color=color)
    layers = [bars, pts]
    if fits is not None and fits.height:
        f = positive(fits, "mean_tokens")
        layers.append(
            alt.Chart(f)
            .mark_line()
            .encode(
                x=x,
                y=y,
                color=color,
                strokeDash=alt.StrokeDash("form:N", title="fit", legend=alt.Legend(orient="top-left")),
                detail="model:N",
            )
        )
    # the bottom legend shares the chart height: add room for its rows so the plot is not squashed
    return alt.layer(*layers).properties(width=_W, height=_H + 60 + 24 * -(-len(names) // 4), title=title)


def frontier_chart(
    points: pl.DataFrame, hull: pl.DataFrame, *, unit_title: str, title: str = ""
) -> alt.LayerChart:
    """Cost-accuracy plane: every configuration, the non-dominated ones highlighted, the upper concave hull drawn.

    Parameters
    ----------
    points : polars.DataFrame
        Columns config, model, cost (> 0 drawn), accuracy (fraction), on_frontier (bool).
    hull : polars.DataFrame
        Hull vertices with cost, accuracy, ordered by cost.
    unit_title : str
        Axis title with the cost unit, e.g. "output tokens per question (log)".

    Returns
    -------
    altair.LayerChart
        Log x; zero-cost configurations are dropped. Source: Kapoor et al. (2024), arXiv:2407.01502.
    """
    d = positive(points, "cost").with_columns(
        pl.when(pl.col("on_frontier"))
        .then(pl.lit("non-dominated"))
        .otherwise(pl.lit("dominated"))
        .alias("status")
    )
    names = model_order(d["model"].to_list())
    x = _logx("cost", unit_title, fmt="~g")
    y = alt.Y("accuracy:Q", title="accuracy (fraction correct)")
    pts = (
        alt.Chart(d)
        .mark_point(filled=True)
        .encode(
            x=x,
            y=y,
            color=model_color(names, legend=_bottom_legend(len(names))),
            shape=alt.Shape("status:N", title="Pareto", legend=alt.Legend(orient="bottom-right")),
            size=alt.condition("datum.status == 'non-dominated'", alt.value(120), alt.value(40)),
            tooltip=["config", "cost", "accuracy", "n_questions", "status"],
        )
    )
    line = alt.Chart(positive(hull, "cost")).mark_line(color="black").encode(x=x, y=y)
    return alt.layer(line, pts).properties(width=_W, height=_H + 60 + 24 * -(-len(names) // 4), title=title)


def adaptive_chart(summary: pl.DataFrame, *, title: str = "") -> alt.Chart:
    """Samples per problem needed for the target coverage, uniform vs per-difficulty, per model (log x).

    Parameters
    ----------
    summary : polars.DataFrame
        Columns model, uniform_samples_per_problem, adaptive_samples_per_problem (counts; null when unreachable).

    Returns
    -------
    altair.Chart
        One point per model and allocation; null or non-positive counts are dropped. Source: Snell et al. (2024), arXiv:2408.03314.
    """
    long = summary.select("model", "uniform_samples_per_problem", "adaptive_samples_per_problem").unpivot(
        index="model", variable_name="allocation", value_name="samples_per_problem"
    )
    long = positive(long, "samples_per_problem").with_columns(
        pl.col("allocation").str.replace("_samples_per_problem", "")
    )
    return (
        alt.Chart(long)
        .mark_point(filled=True, size=120)
        .encode(
            x=_logx("samples_per_problem", "samples per problem (log)", fmt="~g"),
            y=alt.Y("model:N", title="model", sort=model_order(long["model"].to_list())),
            color=alt.Color(
                "allocation:N",
                title="allocation",
                scale=alt.Scale(domain=["uniform", "adaptive"], range=list(PALETTE[:2])),
            ),
            shape=alt.Shape("allocation:N", title="allocation"),
            tooltip=["model", "allocation", "samples_per_problem"],
        )
        .properties(width=_W, height=_H, title=title)
    )
