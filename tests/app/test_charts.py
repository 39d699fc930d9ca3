"""Chart specs: log scales, and zeros/negatives never reach a log axis."""

from __future__ import annotations

import polars as pl

from app import charts


def _data_values(spec: dict) -> list[list[dict]]:
    return [d["values"] if isinstance(d, dict) and "values" in d else d for d in spec.get("datasets", {}).values()]


def test_loss_vs_compute_uses_log_axes_and_drops_zeros():
    pts = pl.DataFrame({"run_id": ["a", "b", "c"], "n_params": [1e6, 2e6, 0.0], "compute_flops": [1e18, 0.0, 1e19],
                        "loss": [3.0, 2.5, 2.0]})
    spec = charts.loss_vs_compute(pts).to_dict()
    layer = spec["layer"][0]
    assert layer["encoding"]["x"]["scale"]["type"] == "log"
    assert layer["encoding"]["y"]["scale"]["type"] == "log"
    rows = [r for values in _data_values(spec) for r in values]
    assert {r["run_id"] for r in rows} == {"a", "c"}
    assert all(r["compute_flops"] > 0 for r in rows)


def test_positive_filters_nan_inf_and_nonpositive():
    df = pl.DataFrame({"x": [1.0, 0.0, -1.0, float("nan"), float("inf"), None, 2.0]})
    assert charts.positive(df, "x")["x"].to_list() == [1.0, 2.0]


def test_backtest_chart_in_percent_on_log_ratio():
    rows = pl.DataFrame({"run_id": ["a"], "compute_flops": [1e20], "observed": [2.0], "predicted": [2.02],
                         "relative_error": [0.01], "extrapolation_ratio": [4.0]})
    spec = charts.backtest_chart(rows).to_dict()
    enc = spec["layer"][0]["encoding"]
    assert enc["x"]["scale"]["type"] == "log" and enc["y"]["field"] == "error_pct"
    rows_out = [r for values in _data_values(spec) for r in values if "error_pct" in r]
    assert rows_out[0]["error_pct"] == 1.0
