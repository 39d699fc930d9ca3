"""Reusable widgets and small display helpers (namespaced keys; no SQL, no fitting)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import polars as pl
import streamlit as st

from analysis.results import FitResult
from app import charts, fmt, numfmt
from app.services.records import js_safe

__all__ = ["js_safe", "human", "sci", "gfmt", "ffmt", "as_text", "ci_text", "metric_grid"]

#: A column formatter: numbers in, text out, same length (vectorised; see ``app.fmt``).
Formatter = Callable[[pl.Series], pl.Series]



def human(v, digits: int = 4):
    """A count with a B/T-style suffix and ``digits`` significant digits: 7.12e9 -> "7.12B", 1.295e12 -> "1.295T".

    Parameters
    ----------
    v : float, None or polars.Series
        Any number (parameters, tokens); values >= 1e15 fall back to scientific notation. A Series is formatted
        as a whole with vectorised polars operations (``app.fmt.human``, same text per value).
    digits : int
        Significant digits.

    Returns
    -------
    str or polars.Series
        "" for None or NaN; "inf" / "-inf" as such.
    """
    if isinstance(v, pl.Series):
        return fmt.human(v, digits)
    return numfmt.human(v, digits)


def sci(v, digits: int = 3):
    """Scientific notation with ``digits`` decimals (FLOPs): 8.3812e22 -> "8.381e+22"; "" for None or NaN.

    A polars Series is formatted as a whole (``app.fmt.sci``) and a String Series returned.
    """
    if isinstance(v, pl.Series):
        return fmt.sci(v, digits)
    return numfmt.sci(v, digits)


def gfmt(digits: int) -> Formatter:
    """Column formatter with ``digits`` significant digits (Python's ``.{digits}g``), vectorised."""
    return lambda s: fmt.g(s, digits)


def ffmt(decimals: int) -> Formatter:
    """Column formatter with ``decimals`` fixed decimals (Python's ``.{decimals}f``), vectorised."""
    return lambda s: fmt.f(s, decimals)


def as_text(frame: pl.DataFrame, formats: dict[str, Formatter]) -> pl.DataFrame:
    """Columns of ``frame`` rewritten as text with the given column formatter (``human``, ``sci``, ``gfmt(4)``).

    Big numbers (> 2^53) shown as text are neither greyed by Streamlit nor shown with spurious decimals.
    Columns absent from ``frame`` are ignored; nulls and NaN become "". Formatters take and return a whole
    ``polars.Series`` (no per-element Python callback: those deadlock a served app, see ``app.fmt``).
    """
    out = []
    for c, fn in formats.items():
        if c not in frame.columns:
            continue
        col = frame.get_column(c)
        text = fn(col).cast(pl.String).fill_null("")
        missing = col.is_null() | (
            col.is_nan() if col.dtype.is_float() else pl.repeat(False, len(col), eager=True)
        )
        out.append(text.zip_with(~missing, pl.Series([""] * len(col))).alias(c))
    return frame.with_columns(out) if out else frame


def ci_text(frame: pl.DataFrame, col: str, fmt_: Formatter, when: pl.Expr | None = None) -> pl.Series:
    """Text "value [lo, hi]" of columns ``col``, ``col_lo``, ``col_hi`` of ``frame`` (formatted with ``fmt_``).

    Returns a String Series named ``col``, one value per row of ``frame``. Rows where ``when`` is false get ""
    (e.g. approaches that do not apply, whose values are NaN).
    """
    parts = [fmt_(frame.get_column(c)) for c in (col, f"{col}_lo", f"{col}_hi")]
    text = pl.select(pl.format("{} [{}, {}]", *parts)).to_series()
    if when is not None:
        keep = frame.select(when.fill_null(False)).to_series()
        text = text.zip_with(keep, pl.Series([""] * len(text)))
    return text.alias(col)


def metric_grid(items: Sequence[tuple[str, str, str | None]], per_row: int = 4) -> None:
    """``st.metric`` tiles in rows of at most ``per_row``: items are (label, value, help or None)."""
    for start in range(0, len(items), per_row):
        row = items[start : start + per_row]
        cols = st.columns(per_row)
        for col, (label, value, help_) in zip(cols, row, strict=False):
            col.metric(label, value, help=help_)


def _quote(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def selection_filter(points: pl.DataFrame, *, key: str) -> str | None:
    """Corpus and recipe pickers when a source has several; returns a SQL filter for ``v_pretrain_points`` or None.

    When recipes use different loss metrics (e.g. train vs val loss), "all" is not offered for the recipe.
    """
    parts = []
    corpora = sorted({c for c in points["corpus"].to_list() if c is not None})
    if len(corpora) > 1:
        choice = st.selectbox(
            "Corpus / data mix",
            ["all", *corpora],
            key=key,
            help="Fit one data mix at a time; 'all' pools them.",
        )
        if choice != "all":
            parts.append(f"corpus = {_quote(choice)}")
            points = points.filter(pl.col("corpus") == choice)
    recipes = sorted({c for c in points["recipe"].to_list() if c is not None})
    if len(recipes) > 1:
        mixed = points["loss_metric"].n_unique() > 1
        options = recipes if mixed else ["all", *recipes]
        choice = st.selectbox(
            "Recipe / configuration",
            options,
            key=f"{key}.recipe",
            help="Runs of different configurations (e.g. how N and C are counted, train vs val "
            "loss) must not be pooled"
            if mixed
            else "Fit one configuration or pool them.",
        )
        if choice != "all":
            parts.append(f"recipe = {_quote(choice)}")
    return " AND ".join(parts) or None


def flops_input(label: str, default: str, *, key: str) -> float | None:
    """A text box for a positive number in scientific notation (e.g. 1e23); shows an error and returns None if bad."""
    raw = st.text_input(label, default, key=key)
    try:
        v = float(raw)
    except ValueError:
        st.error(f"'{raw}' is not a number; write e.g. 1e23")
        return None
    if not math.isfinite(v) or v <= 0:
        st.error(f"{label} must be a positive number, got {raw}")
        return None
    return v


def param_table(r: FitResult) -> pl.DataFrame:
    """Parameters and derived quantities with 95% bootstrap intervals.

    Returns
    -------
    polars.DataFrame
        name, kind ("parameter" / "derived"), value, ci95_lo, ci95_hi (NaN without replicates); one row each.
    """
    rows = []
    for kind, d in (("parameter", r.params), ("derived", r.derived)):
        for k, v in d.items():
            lo, hi = r.interval(k)
            rows.append({"name": k, "kind": kind, "value": float(v), "ci95_lo": lo, "ci95_hi": hi})
    return pl.DataFrame(
        rows,
        schema={
            "name": pl.String,
            "kind": pl.String,
            "value": pl.Float64,
            "ci95_lo": pl.Float64,
            "ci95_hi": pl.Float64,
        },
    )


def backtest_panel(bt: dict | None) -> None:
    """Held-out extrapolation result: summary metrics, per-run errors, and the rolling-origin curve."""
    st.subheader("Backtest: fit small, predict large")
    if not bt:
        st.caption("No backtest run.")
        return
    if "error" in bt:
        st.warning(f"Backtest not possible: {bt['error']}")
        return
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("mean |error| on held-out runs", f"{bt['mean_abs_rel_error']:.2%}")
    c2.metric("max |error|", f"{bt['max_abs_rel_error']:.2%}")
    c3.metric("extrapolated up to", f"{bt['max_extrapolation_ratio']:.1f}x")
    cov = bt.get("coverage")
    c4.metric("held-out runs inside 95% interval", "n/a" if cov is None else f"{cov:.0%}")
    st.caption(
        f"Fitted on {bt['n_train']} runs with C <= {bt['cutoff_flops']:.3g} FLOPs; predicted the "
        f"{bt['n_test']} larger runs. {bt.get('interval', '')}."
    )
    chart(charts.backtest_chart(pl.DataFrame(bt["rows"])), width="stretch", name="backtest")
    if bt.get("rolling"):
        st.caption(
            "Rolling origin: the fit repeated at successive compute cutoffs; error of every later run vs how "
            "far it extrapolates (Porian et al. 2024, anytime analysis)."
        )
        chart(
            charts.rolling_backtest_chart(pl.DataFrame(bt["rolling"])),
            width="stretch",
            name="backtest_rolling",
        )


def _download_menu(
    name: str, items: list[tuple[str, str, Callable[[], bytes | str], str]], kind: str
) -> None:
    """A compact "Download" popover with one deferred download button per (label, extension, make, mime);
    ``kind`` ("chart" / "table") keeps the keys of a chart and a table of the same name apart."""
    from app.services.export import file_name

    with st.popover("Download", icon=":material/download:"):
        for label, ext, make, mime in items:
            st.download_button(
                label,
                make,  # called only when clicked
                file_name=file_name(name, ext),
                mime=mime,
                key=f"_dl.{kind}.{name}.{ext}",
                on_click="ignore",
                width="stretch",
            )


def chart(chart_obj, name: str, data: pl.DataFrame | None = None, **kwargs) -> None:
    """``st.altair_chart`` plus a Download menu: the chart as SVG and PNG (vl-convert, offline) and its data as CSV.

    Parameters
    ----------
    chart_obj : altair chart
        The chart (as passed to ``st.altair_chart``).
    name : str
        What it shows, unique on the page (e.g. ``"pretraining_loss_vs_compute"``); file names are
        ``<name>_<UTC time>.<ext>``.
    data : polars.DataFrame, optional
        The data to export as CSV; default every data set inlined in the chart (``export.chart_data``).
    **kwargs
        Passed to ``st.altair_chart`` (default ``width="stretch"``).
    """
    from app.services import export

    kwargs.setdefault("width", "stretch")
    st.altair_chart(chart_obj, **kwargs)
    _download_menu(
        name,
        [
            ("Chart (SVG)", "svg", lambda: export.chart_svg(chart_obj), "image/svg+xml"),
            ("Chart (PNG)", "png", lambda: export.chart_png(chart_obj), "image/png"),
            (
                "Data (CSV)",
                "csv",
                lambda: export.table_csv(data if data is not None else export.chart_data(chart_obj)),
                "text/csv",
            ),
        ],
        "chart",
    )


def table(frame: pl.DataFrame, name: str, data: pl.DataFrame | None = None, **kwargs) -> None:
    """``st.dataframe`` plus a Download menu with the table as CSV and Parquet.

    ``name`` says what the table holds (file names ``<name>_<UTC time>.csv``); ``data`` is what is exported when
    the displayed ``frame`` holds display text (default ``frame``); ``kwargs`` go to ``st.dataframe`` (default
    ``hide_index=True``).
    """
    from app.services import export

    kwargs.setdefault("hide_index", True)
    st.dataframe(frame, **kwargs)
    frame = frame if data is None else data
    _download_menu(
        name,
        [
            ("Table (CSV)", "csv", lambda: export.table_csv(frame), "text/csv"),
            (
                "Table (Parquet)",
                "parquet",
                lambda: export.table_parquet(frame),
                "application/vnd.apache.parquet",
            ),
        ],
        "table",
    )


def records_download(records, name: str, label: str = "Download fit records (JSON)") -> None:
    """A download button for fit records (``data.fits`` rows or result dicts) as strict JSON."""
    from app.services import export

    st.download_button(
        label,
        lambda: export.records_json(records),
        file_name=export.file_name(name, "json"),
        mime="application/json",
        key=f"_dl.{name}.json",
        on_click="ignore",
        icon=":material/download:",
    )


def store_changed() -> None:
    """Call after this server wrote the store: drops the cached read connection, because DuckDB hands a new
    connection to a path the process still has open the old file's instance (the next read opens the new file)."""
    import gc

    from app import cache

    cached = getattr(cache, "_connection", None)  # the cached read connections (app/cache.py)
    if cached is not None and hasattr(cached, "clear"):
        cached.clear()
    gc.collect()
