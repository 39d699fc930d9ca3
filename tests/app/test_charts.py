"""Chart specs: log scales, and zeros/negatives never reach a log axis."""

from __future__ import annotations

import polars as pl

from app import charts


def _data_values(spec: dict) -> list[list[dict]]:
    return [
        d["values"] if isinstance(d, dict) and "values" in d else d for d in spec.get("datasets", {}).values()
    ]


def test_loss_vs_compute_uses_log_axes_and_drops_zeros():
    pts = pl.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "n_params": [1e6, 2e6, 0.0],
            "compute_flops": [1e18, 0.0, 1e19],
            "loss": [3.0, 2.5, 2.0],
        }
    )
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
    rows = pl.DataFrame(
        {
            "run_id": ["a"],
            "compute_flops": [1e20],
            "observed": [2.0],
            "predicted": [2.02],
            "relative_error": [0.01],
            "extrapolation_ratio": [4.0],
        }
    )
    spec = charts.backtest_chart(rows).to_dict()
    enc = spec["layer"][0]["encoding"]
    assert enc["x"]["scale"]["type"] == "log" and enc["y"]["field"] == "error_pct"
    rows_out = [r for values in _data_values(spec) for r in values if "error_pct" in r]
    assert rows_out[0]["error_pct"] == 1.0


def _layer_scales(spec: dict, channel: str) -> list[dict]:
    return [ly["encoding"][channel]["scale"] for ly in spec["layer"] if channel in ly.get("encoding", {})]


def test_log_ticks_are_sparse_and_round():
    # loss 2-10: no 0.1-30 decades
    assert charts.log_ticks(1.8, 11.0) == [2.0, 3.0, 5.0, 7.0, 10.0]
    assert charts.log_ticks(1e15, 1e24) == [1e16, 1e18, 1e20, 1e22, 1e24]  # 9 decades: every second one
    assert charts.log_ticks(1.85, 6.5) == [2.0, 2.5, 3.0, 4.0, 5.0, 6.0]  # narrower: finer steps
    assert charts.log_ticks(2.6, 4.1) == [2.6, 2.8, 3.0, 3.2, 3.4, 3.6, 3.8, 4.0]  # under a factor 2
    assert charts.log_domain([0.0, 2.0, -1.0, 10.0, float("nan")], pad=1.25) == [1.6, 12.5]
    assert charts.log_domain([0.0]) is None


def test_loss_chart_domain_fits_the_data_and_bands_are_distinct():
    pts = pl.DataFrame(
        {"run_id": ["a", "b"], "n_params": [1e6, 1e8], "compute_flops": [1e18, 1e20], "loss": [4.0, 2.5]}
    )
    curve = pl.DataFrame({"compute_flops": [1e18, 1e21], "loss": [4.1, 2.2], "curve": ["fit"] * 2})
    band = pl.DataFrame(
        {
            "compute_flops": [1e18, 1e21] * 2,
            "lo": [0.1, 0.1, 3.0, 2.0],
            "hi": [30.0, 30.0, 4.2, 2.4],
            "band": ["95% prediction (new run)"] * 2 + ["95% confidence (mean curve)"] * 2,
        }
    )
    spec = charts.loss_vs_compute(pts, frontier=curve, band=band).to_dict()
    y = [s for s in _layer_scales(spec, "y") if "domain" in s]
    lo, hi = y[0]["domain"]
    assert abs(lo - 2.2 / 1.08) < 1e-9 and abs(hi - 4.1 * 1.08) < 1e-9  # not stretched to the 0.1-30 band
    areas = [ly for ly in spec["layer"] if ly["mark"]["type"] == "area"]
    assert len(areas) == 2 and areas[0]["mark"]["opacity"] < areas[1]["mark"]["opacity"]
    assert areas[0]["encoding"]["color"]["scale"]["range"] == ["#ff7f0e", "#1f77b4"]
    assert (
        areas[0]["encoding"]["color"]["legend"]["labelLimit"] == 320
    )  # "95% confidence (mean curve)" not cut
    assert areas[1]["encoding"]["color"]["legend"] is None  # one band legend, not two


def test_rolling_backtest_x_domain_stops_at_the_data():
    rows = pl.DataFrame(
        {
            "cutoff": [1e18, 1e18, 1e19],
            "compute_flops": [2e18, 3e20, 3e20],
            "relative_error": [0.01, -0.2, 0.05],
            "extrapolation_ratio": [2.0, 300.0, 30.0],
        }
    )
    spec = charts.rolling_backtest_chart(rows).to_dict()
    lo, hi = spec["encoding"]["x"]["scale"]["domain"]
    assert abs(lo - 2.0 / 1.08) < 1e-9 and abs(hi - 300.0 * 1.08) < 1e-9


def test_sizing_chart_window_around_the_optima():
    from app import charts_pretraining as cp

    n = [10.0 ** (9 + 0.05 * i) for i in range(61)]  # 1e9 .. 1e12
    curve = pl.DataFrame(
        {
            "N": n,
            "train_flops": [1e23 * (x / 1e10 + 1e10 / x) for x in n],
            "total_flops": [1.2e23 * (x / 1e10 + 1e10 / x) for x in n],
        }
    )
    opt = {"N": 7e9, "total_flops": 2.5e23, "N0": 1.3e10, "total_flops0": 2.6e23}
    spec = cp.sizing_curve(curve, opt).to_dict()
    xs = [s["domain"] for s in _layer_scales(spec, "x") if "domain" in s]
    assert abs(xs[0][0] - 7e9 / 5) < 1 and abs(xs[0][1] - 1.3e10 * 5) < 1
    ys = [s["domain"] for s in _layer_scales(spec, "y") if "domain" in s]
    assert (
        abs(ys[0][0] - 2e23 / 1.15) < 1e19 and ys[0][1] <= 6 * 2.6e23
    )  # capped near the optima, not 1e22-1e28
    point = spec["layer"][1]["encoding"]
    assert point["shape"]["scale"]["range"] == ["circle", "square"]
    assert point["color"]["scale"]["range"] == ["#ff7f0e", "#1f77b4"]


def test_mixes_chart_uses_a_categorical_scheme():
    from app import charts_pretraining as cp

    pts = pl.DataFrame({"corpus": ["c4", "rpj"], "compute_flops": [1e18, 1e19], "loss": [3.0, 2.8]})
    spec = cp.mixes_vs_compute(pts, pts, pts, budget=1e21).to_dict()
    assert spec["layer"][0]["encoding"]["color"]["scale"]["scheme"] == "tableau10"
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"][1] > 1e21  # the budget rule stays inside


def test_human_and_sci_formats():
    from app import widgets

    assert widgets.human(7120312373.3413, 3) == "7.12B"
    assert widgets.human(1295144560788.78) == "1.295T"
    assert widgets.human(float("nan")) == "" and widgets.human(None) == ""
    assert widgets.sci(8.381225254206513e22) == "8.381e+22"
    out = widgets.as_text(pl.DataFrame({"C": [1e21, None], "x": [1, 2]}), {"C": widgets.sci})
    assert out["C"].to_list() == ["1.000e+21", ""] and out["x"].to_list() == [1, 2]
