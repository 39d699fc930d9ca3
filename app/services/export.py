"""Export of what the app shows: charts as SVG and PNG (vl-convert, offline), their data and tables as CSV and
Parquet, fit records as JSON; file names say what and when. No Streamlit here (``app.widgets`` adds the buttons).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
from typing import Any

import polars as pl

#: PNG pixels per chart pixel (2 = sharp on high-density screens and in slides).
PNG_SCALE = 2


def file_name(what: str, ext: str, when: dt.datetime | None = None) -> str:
    """``<what>_<UTC time>.<ext>``, e.g. ``pretraining_loss_vs_compute_20261202T0710Z.svg``.

    ``what`` is reduced to letters, digits, ``-`` and ``_`` (runs of anything else become one ``_``).
    """
    when = when or dt.datetime.now(dt.UTC)
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", what).strip("_") or "export"
    return f"{slug}_{when:%Y%m%dT%H%MZ}.{ext}"


def _spec(chart) -> dict:
    return chart if isinstance(chart, dict) else chart.to_dict()


def chart_svg(chart) -> str:
    """SVG text of an Altair chart (or a Vega-Lite spec dict), rendered offline by vl-convert.

    Raises
    ------
    ValueError
        If vl-convert cannot render the spec (the message carries its reason).
    """
    import vl_convert as vlc

    try:
        return vlc.vegalite_to_svg(_spec(chart))
    except Exception as e:  # vl-convert raises plain exceptions with the Vega error text
        raise ValueError(f"cannot render the chart as SVG: {e}") from e


def chart_png(chart, scale: int = PNG_SCALE) -> bytes:
    """PNG bytes of an Altair chart at ``scale`` pixels per chart pixel (the SVG's size times ``scale``).

    Raises
    ------
    ValueError
        If vl-convert cannot render the spec.
    """
    import vl_convert as vlc

    try:
        return vlc.vegalite_to_png(_spec(chart), scale=scale)
    except Exception as e:
        raise ValueError(f"cannot render the chart as PNG: {e}") from e


def chart_data(chart) -> pl.DataFrame:
    """Every data set inlined in the chart's spec as one frame; with several (layers: points, curve, band) a
    ``dataset`` column (0, 1, ...) says which, and columns missing from a set are null."""
    spec = _spec(chart)
    sets = list((spec.get("datasets") or {}).values())
    if not sets and isinstance(spec.get("data"), dict) and "values" in spec["data"]:
        sets = [spec["data"]["values"]]
    frames = [pl.DataFrame(rows, infer_schema_length=None) for rows in sets if rows]
    if not frames:
        return pl.DataFrame()
    if len(frames) == 1:
        return frames[0]
    return pl.concat(
        [f.with_columns(pl.lit(i).alias("dataset")) for i, f in enumerate(frames)], how="diagonal_relaxed"
    )


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns as text CSV can hold: lists as "[a, b]", structs as JSON (vectorised, no Python callbacks)."""
    exprs = []
    for c, t in frame.schema.items():
        if isinstance(t, pl.Struct):
            exprs.append(pl.col(c).struct.json_encode())
        elif isinstance(t, pl.List | pl.Array):
            inner = pl.col(c).cast(pl.List(pl.String), strict=False) if isinstance(t, pl.List) else pl.col(c)
            exprs.append(
                pl.format("[{}]", inner.cast(pl.List(pl.String), strict=False).list.join(", ")).alias(c)
            )
    return frame.with_columns(exprs) if exprs else frame


def table_csv(frame: pl.DataFrame) -> bytes:
    """CSV bytes (UTF-8, header row, full precision); nested cells as text (:func:`_flat`)."""
    return _flat(frame).write_csv().encode()


def table_parquet(frame: pl.DataFrame) -> bytes:
    """Parquet bytes of ``frame`` (types kept: timestamps, lists)."""
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def records_json(records: Any) -> bytes:
    """Strict JSON (NaN and infinities as null, numpy scalars as numbers, the rest via ``str``) of fit records."""

    def clean(x):
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        if isinstance(x, pl.DataFrame):
            return clean(x.to_dicts())
        if hasattr(x, "item") and not isinstance(x, str | bytes):
            try:
                x = x.item()
            except (ValueError, AttributeError):
                pass
        if hasattr(x, "tolist") and not isinstance(x, str | bytes):
            return clean(x.tolist())
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    return json.dumps(clean(records), indent=1, default=str, allow_nan=False).encode()
