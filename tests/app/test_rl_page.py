"""AppTest of the RL page on the demo database (three real verl PPO runs read from their raw console logs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.rl import fit_sigmoid
from data import queries
from data.connect import open_ro
from tests.app.conftest import ENTRYPOINT, run_page

PAGE = "app_pages/rl.py"
METRIC = "val/test_score/openai/gsm8k"
GEMMA = "gemma-2-2b-it-ppo-bsz512_4-prompt1024-resp-512-0.640"


def _rl_page():
    """The RL page through the entrypoint when it is registered there, else the page script on its own."""
    if PAGE in Path(ENTRYPOINT).read_text():
        return run_page(PAGE)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(ENTRYPOINT).parent / PAGE), default_timeout=120)
    at.run()
    return at


def _gemma_A_direct(db: Path, fraction: float = 0.1) -> float:
    """A fitted by the analysis layer on the same points: R0 = step-0 value, cut = fraction of max GPU-hours."""
    con = open_ro(db)
    try:
        g = queries.rl_curves(con, METRIC, [GEMMA])
    finally:
        con.close()
    C, R = g["gpu_hours_seen"].to_numpy(), g["value"].to_numpy()
    R0 = float(g.filter(pl.col("step") == 0)["value"][0])
    return fit_sigmoid(C, R, R0=R0, transient_cut=fraction * float(C.max())).params["A"]


@pytest.fixture
def rl_at(app_env):
    at = _rl_page()
    assert not at.exception, at.exception
    return at


GEMMA_RECIPE, QWEN_LONG, QWEN_SHORT = "bsz512_p1024_r512", "bsz256_p1024_r512", "bsz256_p512_r256"
QWEN_RUNS = (
    "Qwen2.5-0.5B-bsz256_2-prompt1024-resp512-0.567",
    "Qwen2.5-0.5B-bsz256_2-prompt512-resp256-0.538",
)


def test_rl_page_defaults_and_gemma_ceiling(rl_at, app_env):
    at = rl_at
    assert at.title[0].value == "RL post-training compute curves"
    assert at.selectbox(key="rl.metric").value == METRIC  # the validation accuracy is the default
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {f"A · {r}" for r in (GEMMA_RECIPE, QWEN_LONG, QWEN_SHORT)}  # short recipe names
    assert GEMMA in [c.value for c in at.caption]  # ... with the full run id under each
    A_page = float(metrics[f"A · {GEMMA_RECIPE}"])
    A_direct = _gemma_A_direct(app_env)
    assert A_page == pytest.approx(A_direct, abs=6e-4)  # page shows 4 decimals
    # Gemma starts from an SFT checkpoint at 0.52 and peaks at 0.64: the ceiling must sit in between-ish.
    assert 0.6 < A_page < 0.7
    assert float(metrics[f"A · {QWEN_SHORT}"]) == pytest.approx(
        0.5324, abs=0.002
    )  # plateau near its 0.538 best
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "run", "R0", "A", "A 95% CI", "A fits as well", "B", "C_mid (GPU-hours)", "C_mid 95% CI",
        "backtest MAE", "power-law p", "flags",
    ]  # fmt: skip
    row = table[table["run"] == GEMMA_RECIPE].iloc[0]
    assert row["R0"] == pytest.approx(683 / 1312, abs=1e-4)  # initial validation 0.520579 = 683/1312
    assert row["A"] == pytest.approx(A_direct, abs=1e-9)
    lo, hi = (float(v) for v in row["A 95% CI"].split(" – "))  # bootstrap interval (20 replicates) brackets A
    assert lo <= round(row["A"], 3) <= hi and hi - lo < 0.1
    assert row["A fits as well"] == "0.625 – 1.000"  # the profile cannot bound Gemma's ceiling from above
    assert row["C_mid (GPU-hours)"] == pytest.approx(1.093, rel=0.02)
    assert np.isfinite(row["power-law p"]) and row["power-law p"] > 0
    assert 0.0 <= row["backtest MAE"] < 0.05
    assert any(f"A is poorly determined for {QWEN_LONG}, {GEMMA_RECIPE}" in w.value for w in at.warning)
    assert at.get("vega_lite_chart")
    captions = " ".join(c.value for c in at.caption)
    assert "phase timings" in captions and "x n_gpus" in captions  # GPU-hours provenance from the ingest note
    assert captions.count("GPU-hours: ") == 1 and "n_gpus per log: 1 or 2" in captions  # one merged note
    info = " ".join(i.value for i in at.info)
    # the Qwen p1024 run's midpoint (0.149 GPU-hours) lies before its first evaluation (0.186): flagged and left
    # out of the size trend, which then runs through Qwen p512 (0.49B) and Gemma (2.61B)
    flagged = table.set_index("run")["flags"]
    assert flagged[QWEN_LONG].startswith("C_mid outside the observed compute range (C_mid = 0.149")
    assert flagged[GEMMA_RECIPE] == "" and flagged[QWEN_SHORT] == ""
    assert any(w.value.startswith(f"{QWEN_LONG}: C_mid outside") for w in at.warning)
    assert "Scale dependence: A changes by +0.136 per decade" in info
    assert ". Only 2 model sizes" in info and "include them with the checkbox above" in info
    at.checkbox(key="rl.include_flagged").check().run()
    info = " ".join(i.value for i in at.info)
    assert "Scale dependence: A changes by +0.106 per decade" in info  # all three runs, as before the flags
    assert "includes flagged runs Qwen2.5-0.5B-bsz256_2-prompt1024-resp512-0.567" in info


def test_rl_page_calculator_unreachable_above_ceiling(rl_at):
    at = rl_at
    at.number_input(key="rl.target").set_value(0.95).run()
    assert not at.exception, at.exception
    lines = [m.value for m in at.markdown if GEMMA in m.value]
    assert len(lines) == 1
    assert "unreachable: target above the ceiling A = 0.6" in lines[0]
    at.number_input(key="rl.target").set_value(0.6).run()
    line = next(m.value for m in at.markdown if GEMMA in m.value)
    gpu_hours = float(line.split(": ", 1)[1].split(" GPU-hours")[0])
    assert 1.0 < gpu_hours < 10.0  # 0.6 was first crossed at about 2 GPU-hours of logged compute
    at.radio(key="rl.x").set_value("step").run()
    assert not at.exception, at.exception
    assert "C_mid (PPO steps)" in at.dataframe[0].value.columns  # algorithm ppo-gae -> "PPO steps"
    at.radio(key="rl.x").set_value("flops").run()
    assert not at.exception, at.exception
    err = " ".join(e.value for e in at.error)
    assert "no run could be fitted against FLOPs" in err
    assert f"{GEMMA}: no FLOPs logged: flops_seen is empty at all 11 steps" in err
    assert not any(c.value.startswith("GPU-hours:") for c in at.caption)


def test_rl_page_recipe_comparison_and_bad_selection(rl_at):
    at = rl_at
    comp = at.dataframe[1].value
    assert list(comp.columns) == [
        "variant", "A", "A 95% CI", "ΔA", "C_mid (GPU-hours)", "C_mid ratio", "verdict",
    ]  # fmt: skip
    verdict = dict(zip(comp["variant"], comp["verdict"], strict=True))
    # default baseline: the first recipe, Qwen 1024/512 (A 0.577)
    assert verdict[QWEN_LONG] == "baseline"
    gem = comp[comp["variant"] == GEMMA_RECIPE].iloc[0]
    # Gemma's A is 0.054 higher (beyond the 0.02 margin) but the intervals overlap, and its C_mid is 7.3x larger:
    # it must not be called "worse"
    assert gem["ΔA"] == pytest.approx(0.054, abs=0.003) and gem["C_mid ratio"] == pytest.approx(
        7.33, rel=0.03
    )
    assert verdict[GEMMA_RECIPE] == "slower (higher C_mid), ceiling not significantly different"
    assert verdict[QWEN_SHORT] == "worse (lower ceiling)"  # A 0.532 [0.528, 0.546] vs 0.577 [0.562, 0.634]
    assert any("also differ in base_model, n_params" in w.value for w in at.warning)  # recipe is confounded
    at.selectbox(key="rl.baseline").select(QWEN_SHORT).run()
    assert not at.exception, at.exception
    verdict = dict(zip(at.dataframe[1].value["variant"], at.dataframe[1].value["verdict"], strict=True))
    assert verdict == {
        QWEN_SHORT: "baseline",
        QWEN_LONG: "ceiling-raiser",
        GEMMA_RECIPE: "ceiling-raiser, slower (higher C_mid)",
    }
    # by base model: the two Qwen runs are pooled into one variant, named in the caption
    at.selectbox(key="rl.compare_by").select("base_model").run()
    assert not at.exception, at.exception
    comp = at.dataframe[1].value
    row = comp[comp["variant"] == "sft_model_path/global_step_58"].iloc[0]  # Gemma's SFT checkpoint
    assert row["ΔA"] == pytest.approx(0.077, abs=0.003)  # vs pooled Qwen A 0.554
    assert row["verdict"] == "ceiling-raiser, slower (higher C_mid)"
    captions = " ".join(c.value for c in at.caption)
    assert f"Pooled: Qwen/Qwen2.5-0.5B-Instruct = {QWEN_RUNS[0]} + {QWEN_RUNS[1]}." in captions
    assert any("also differ in recipe, n_params" in w.value for w in at.warning)
    at.selectbox(key="rl.metric").select("response_length/mean").run()  # tokens, not a pass rate
    assert not at.exception, at.exception
    assert any("not a pass rate" in e.value for e in at.error)
    at.selectbox(key="rl.metric").select(METRIC).run()
    at.multiselect(key="rl.runs").set_value([]).run()
    assert not at.exception
    assert any("at least one run" in e.value for e in at.error)


def _fits(demo_db, runs=(GEMMA,), n_boot=10):
    from app.services.rl import fit_runs

    con = open_ro(demo_db)
    try:
        return fit_runs(con, METRIC, runs, None, "gpu_hours", 0.1, n_boot, 0)
    finally:
        con.close()


def test_rl_chart_spec_log_x_no_zeros_band_beyond_data(demo_db):
    from app import charts_rl
    from app.services.rl import curve_frames, points_frame

    fits = _fits(demo_db)
    pts = points_frame(fits)
    assert pts.filter(pl.col("x") == 0).height == 1  # the step-0 evaluation (R0) is in the data ...
    curves, band, cuts = curve_frames(fits)
    assert band.height and band["x"].min() == pytest.approx(pts["x"].max())  # band starts at the last point
    assert (band["lo"] <= band["hi"]).all()
    assert cuts["x"][0] == pytest.approx(0.1 * pts["x"].max())
    spec = charts_rl.rl_curve_chart(pts, curves, band, cuts, unit="GPU-hours", metric=METRIC).to_dict()
    for layer in spec["layer"]:
        assert layer["encoding"]["x"]["scale"]["type"] == "log"
        assert "GPU-hours" in layer["encoding"]["x"]["title"]
        assert layer["encoding"]["color"]["scale"]["scheme"] == "tableau10"
        assert layer["encoding"]["color"]["legend"]["orient"] == "right"
    assert spec["height"] == 380
    xs = [row["x"] for rows in spec["datasets"].values() for row in rows if "x" in row]
    assert xs and min(xs) > 0  # ... but never reaches the log axis
    # y domain = the range drawn (Gemma: 0.52 .. 0.66 incl. the band), not 0-1
    lo, hi = next(
        ly["encoding"]["y"]["scale"]["domain"] for ly in spec["layer"] if ly["mark"]["type"] == "point"
    )
    assert (lo, hi) == pytest.approx((0.5, 0.7))
    assert charts_rl.value_domain((pl.DataFrame({"v": [0.0, 0.3]}), ("v",))) == [0.0, 0.35]
    assert charts_rl.value_domain((pl.DataFrame({"v": [None, float("nan")]}), ("v",))) == [0.0, 1.0]


def test_recipe_chart_spec_titles_thin_error_bars_verdict_colours(demo_db):
    from app import charts_rl
    from app.services.rl import comparison_display, recipe_comparison

    fits = _fits(demo_db, runs=None, n_boot=20)
    comp = recipe_comparison(fits, "recipe", QWEN_LONG)
    assert dict(zip(comp["variant"], comp["verdict"], strict=True)) == {
        QWEN_LONG: "baseline",
        QWEN_SHORT: "worse",
        GEMMA_RECIPE: "slower",
    }
    shown = comparison_display(comp, "GPU-hours")
    assert "runs" not in shown.columns  # one run per variant: the runs column would repeat the run ids
    spec = charts_rl.recipe_chart(comp, unit="GPU-hours").to_dict()
    left, right = spec["hconcat"]
    titles = {ly["encoding"]["y"].get("title") for p in (left, right) for ly in p["layer"]}
    assert titles == {"asymptote A (pass-rate fraction)", "midpoint C_mid (GPU-hours, log scale)"}
    bars = [ly for p in (left, right) for ly in p["layer"] if ly["mark"]["type"] == "errorbar"]
    assert len(bars) == 2 and all(
        b["mark"]["ticks"] == {"size": 10} and b["mark"]["thickness"] == 1.5 for b in bars
    )
    assert right["layer"][-1]["encoding"]["y"]["scale"]["type"] == "log"
    pts = left["layer"][-1]["encoding"]
    assert pts["color"]["scale"]["domain"][:5] == ["baseline", "better", "trade-off", "slower", "worse"]
    assert pts["color"]["scale"]["range"][4] == "#e15759"  # tableau10 red for "worse" only
    lo, hi = pts["y"]["scale"]["domain"]
    assert 0.5 <= lo < 0.53 and 0.66 < hi <= 0.7  # the A intervals (0.528 .. 0.662), not 0-1


def test_rl_high_transient_cut_warns_about_too_few_points(app_env):
    from tests.app.conftest import run_page

    at = run_page("app_pages/rl.py")
    at.radio(key="rl.x").set_value("step").run()
    at.number_input(key="rl.transient_cut").set_value(0.9).run()
    assert not at.exception, at.exception
    assert any("points after the transient cut" in w.value for w in at.warning)
