"""Export: charts as SVG (parses as XML) and PNG (the SVG's size times the scale), chart data and tables as CSV and
Parquet that round-trip with polars, fit records as strict JSON, file names that say what and when; every page
that draws a chart offers the download menu (AppTest on the bundled samples)."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import struct
import xml.etree.ElementTree as ET

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from app import charts
from app.services import export
from tests.app.conftest import run_page

POINTS = pl.DataFrame(
    {
        "run_id": ["a", "b", "c", "d"],
        "compute_flops": [1e18, 1e19, 1e20, 1e21],
        "loss": [3.1, 2.9, 2.7, 2.55],
        "n_params": [1e8, 3e8, 1e9, 3e9],
    }
)


@pytest.fixture(scope="module")
def chart():
    curve = pl.DataFrame({"compute_flops": [1e18, 1e21], "loss": [3.0, 2.5]})
    return charts.loss_vs_compute(POINTS, color="n_params", frontier=curve, title="loss vs compute")


def _svg_size(svg: str) -> tuple[float, float]:
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    return float(root.get("width")), float(root.get("height"))


def test_svg_parses_and_png_has_twice_its_size(chart):
    svg = export.chart_svg(chart)
    w, h = _svg_size(svg)
    assert w > 640 and h > 380  # plot area 640 x 380 plus axes, title and the legend outside it
    assert "loss vs compute" in svg
    png = export.chart_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pw, ph = struct.unpack(">II", png[16:24])
    assert (pw, ph) == (round(w * export.PNG_SCALE), round(h * export.PNG_SCALE))


def test_chart_data_csv_round_trips(chart):
    data = export.chart_data(chart)
    assert set(data["dataset"].unique()) == {0, 1}  # points and the fitted curve
    pts = data.filter(pl.col("dataset") == data["dataset"][0])
    assert sorted(pts["loss"].drop_nulls().to_list())[:1] in ([2.5], [2.55])
    back = pl.read_csv(io.BytesIO(export.table_csv(data)))
    assert back.columns == data.columns and back.height == data.height
    assert back["compute_flops"].drop_nulls().to_list() == data["compute_flops"].drop_nulls().to_list()


def test_table_csv_and_parquet_round_trip():
    t = POINTS.with_columns(pl.lit(dt.datetime(2026, 1, 2, 3, 4, 5)).alias("at"), pl.lit([1, 2]).alias("ks"))
    assert_frame_equal(pl.read_parquet(io.BytesIO(export.table_parquet(t))), t)
    back = pl.read_csv(io.BytesIO(export.table_csv(t)), try_parse_dates=True)
    assert_frame_equal(back.drop("ks"), t.drop("ks"))
    assert back["ks"][0] == "[1, 2]"


def test_records_json_is_strict_and_file_names_say_what_and_when():
    rec = {"params": {"E": 1.7, "alpha": math.nan}, "frame": pl.DataFrame({"x": [1.0, math.inf]})}
    out = json.loads(export.records_json(rec))
    assert out == {"params": {"E": 1.7, "alpha": None}, "frame": [{"x": 1.0}, {"x": None}]}
    when = dt.datetime(2026, 12, 2, 7, 10, tzinfo=dt.UTC)
    assert export.file_name("pretraining / loss vs compute", "svg", when) == (
        "pretraining_loss_vs_compute_20261202T0710Z.svg"
    )


def _download_labels(at) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


@pytest.mark.parametrize(
    ("page", "labels"),
    [
        ("app_pages/pretraining.py", {"Chart (SVG)", "Chart (PNG)", "Data (CSV)", "Table (Parquet)"}),
        ("app_pages/overview.py", {"Table (CSV)", "Table (Parquet)"}),
    ],
)
def test_pages_offer_the_download_menu(app_env, page, labels):
    at = run_page(page)
    assert not at.exception, at.exception
    assert labels <= set(_download_labels(at))
