"""AppTest of the Test-time page on the real bundled samples (Large Language Monkeys counts, tts-knowledge)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import run_page

PAGE = "app_pages/test_time.py"


def open_page():
    """The page run from the entrypoint; directly from its file while the entrypoint does not register it yet."""
    try:
        return run_page(PAGE)
    except ValueError as e:
        if "Could not find a navigation page" not in str(e):
            raise
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app" / PAGE), default_timeout=120)
        at.run()
        return at


def frame_with(at, column: str):
    """The first st.dataframe on the page that has ``column`` (as pandas)."""
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(f"no dataframe with column {column!r}")


def test_samples_tab_shows_coverage_fits_and_no_majority(app_env):
    at = open_page()
    assert not at.exception, at.exception
    assert at.title[0].value == "Test-time scaling"
    assert not at.error, [e.value for e in at.error]
    cov = frame_with(at, "coverage@k_max").set_index("model")
    # every Pythia configuration is MATH / temperature_0.6 with 128 problems x 10,000 samples: in the caption
    assert {"benchmark", "setting", "k_max", "a_lo"}.isdisjoint(cov.columns)
    assert any(
        "All rows: benchmark MATH; setting temperature_0.6; n_problems 128; k_max 10000." in c.value
        for c in at.caption
    )
    assert cov.loc["Pythia 12B", "coverage@k_max"] == pytest.approx(0.875)  # 112 of 128 problems
    assert cov.loc["Pythia 70M", "coverage@k_max"] == pytest.approx(0.266, abs=0.001)
    assert cov.loc["Pythia 12B", "a"] == pytest.approx(-4.32, abs=0.02)
    assert cov.loc["Pythia 12B", "b"] == pytest.approx(-0.38, abs=0.01)
    a_lo, a_hi = (float(v) for v in cov.loc["Pythia 12B", "a 95% CI"].strip("[]").split(","))
    assert a_lo < cov.loc["Pythia 12B", "a"] < a_hi
    c_lo, c_hi = (float(v) for v in cov.loc["Pythia 12B", "coverage 95% CI"].strip("[]").split(","))
    assert c_lo < 0.875 < c_hi
    assert cov.loc["Pythia 12B", "mean_abs_err"] < 0.02
    pk = frame_with(at, "pass@100").set_index(["model", "benchmark", "setting"])
    assert pk.loc[("Pythia 12B", "MATH", "temperature_0.6"), "pass@1"] == pytest.approx(29685 / 1_280_000)
    # pass@100 exists only for the 10,000-sample Pythia runs; one-sample configurations show a dash, not None
    assert float(pk.loc[("Pythia 12B", "MATH", "temperature_0.6"), "pass@100"]) == pytest.approx(
        0.4834, abs=1e-4
    )
    assert pk.loc[("o4-mini", "simpleqa", "low_effort"), "pass@10"] == "–"
    assert (pk["pass@100"] != "–").sum() == 7
    assert list(pk.reset_index()["n_min"][:7]) == [10_000] * 7  # estimable rows first
    assert any("Majority@k needs the sampled answers" in i.value for i in at.info)
    assert len(at.get("vega_lite_chart")) >= 3
    # bad k: an error, not an exception
    at.text_input(key="test_time.k").input("1,x").run()
    assert not at.exception
    assert any("'x' is not a whole number" in e.value for e in at.error)


def test_thinking_and_frontier_tabs(app_env):
    at = open_page()
    at.selectbox(key="test_time.think_bench").select("simpleqa").run()
    assert not at.exception, at.exception
    marg = frame_with(at, "gain_per_1k_tokens")
    gem = marg[marg["model"] == "gemini-2.5-flash"].set_index("setting")
    assert gem.loc["no_think", "accuracy"] == pytest.approx(0.12625)  # PROVENANCE: 0.126 -> 0.286
    assert gem.loc["budget2048", "accuracy"] == pytest.approx(0.28625)
    fits = frame_with(at, "sat_note").set_index("model")
    # gemini's SimpleQA ceiling runs to A = 1: the saturating form is not identified and not shown
    assert fits.loc["gemini-2.5-flash", "sat_note"] == "not identified: ceiling A = 1.000 at its bound"
    assert fits.loc["gemini-2.5-flash", "sat_A"] == "–"
    stops = frame_with(at, "stop_level").set_index("model")
    assert stops.loc["gemini-2.5-flash", "form"] == "linear"  # the stop uses the log-linear fit
    lo, mid, hi = (float(stops.loc["gemini-2.5-flash", c]) for c in ("T_stop_lo", "T_stop", "T_stop_hi"))
    # 1000 q / threshold with q = 0.0354 per ln token and threshold 0.01 per 1k tokens
    assert lo <= mid <= hi and mid == pytest.approx(3543, rel=0.01)
    assert stops.loc["o4-mini", "stop_level"] == "low_effort"  # flat accuracy: more effort does not pay
    assert stops.loc["o4-mini", "stop_status"] == "at the first level"
    # frontier on SimpleQA in output tokens: target 0.25 between claude no_think (0.23) and gemini budget1024 (0.285)
    at.selectbox(key="test_time.front_bench").select("simpleqa").run()
    at.number_input(key="test_time.target").set_value(0.25).run()
    assert not at.exception, at.exception
    m = {x.label: x.value for x in at.metric}
    label = "cheapest cost to reach 0.250 (output tokens per question)"
    assert float(m[label]) == pytest.approx(227.3, abs=0.1)
    assert any("claude-sonnet4 / no_think (p = 0.64)" in md.value for md in at.markdown)
    pts = frame_with(at, "on_frontier")
    assert pts["on_frontier"].sum() >= 4
    at.checkbox(key="test_time.mixing").uncheck().run()
    m = {x.label: x.value for x in at.metric}
    # without mixing: the cheapest single configuration with accuracy >= 0.25 (0.26375, below the hull)
    assert float(m[label]) == pytest.approx(366.79, abs=0.01)
    assert any("gemini-2.5-flash / budget512 (p = 1.00)" in md.value for md in at.markdown)
    at.number_input(key="test_time.target").set_value(0.95).run()
    assert any("reaches accuracy 0.950" in w.value for w in at.warning)
    at.radio(key="test_time.unit").set_value("usd").run()
    assert not at.exception, at.exception
    # no answer logged a cost: every answer is priced, from the placeholder price list (SimpleQA: 36 configs x 800)
    assert any(
        c.value.startswith("28800 answer(s) costed from the placeholder price $1 in / $4 out per 1M tokens")
        for c in at.caption
    ), [c.value for c in at.caption]
    at.number_input(key="test_time.target").set_value(0.25).run()
    m = {x.label: x.value for x in at.metric}
    # input tokens are not logged, so USD = output tokens x $4 / 1e6 at the placeholder price
    assert float(m["cheapest cost to reach 0.250 (USD per question)"]) == pytest.approx(
        366.79 * 4e-6, rel=1e-3
    )


def test_adaptive_tab_and_bad_filter(app_env):
    at = open_page()
    ad = frame_with(at, "adaptive_samples_per_problem").set_index("model")
    assert float(ad.loc["Pythia 12B", "uniform_samples_per_problem"]) == 112
    assert float(ad.loc["Pythia 12B", "adaptive_samples_per_problem"]) < 112
    assert 0.3 < float(ad.loc["Pythia 12B", "saving"]) < 0.5
    assert "unreachable" in ad.loc["Pythia 70M", "note"]
    assert ad.loc["Pythia 70M", "uniform_samples_per_problem"] == "–"  # coverage 0.5 is out of its reach
    assert any("optimistic" in c.value for c in at.caption)
    at.checkbox(key="test_time.split_half").check().run()
    assert not at.exception, at.exception
    ad = frame_with(at, "adaptive_samples_per_problem").set_index("model")
    assert (ad.drop(index="Pythia 70M")["difficulty"] == "split-half").all()
    assert ad.loc["Pythia 70M", "difficulty"] == "–"  # unreachable target: no allocation, a dash not None
    at.text_input(key="test_time.where").input("no_such_column = 1").run()
    assert not at.exception
    assert any("bad filter" in e.value for e in at.error)


def test_filter_to_counts_only_keeps_samples_tab(app_env):
    at = open_page()
    at.text_input(key="test_time.where").input("model LIKE 'Pythia%'").run()
    assert not at.exception, at.exception
    pk = frame_with(at, "pass@100")
    assert sorted(pk["model"]) == sorted(
        f"Pythia {s}" for s in ("70M", "160M", "410M", "1B", "2.8B", "6.9B", "12B")
    )
    assert frame_with(at, "coverage@k_max").shape[0] == 7
    assert any("no per-answer evaluation rows" in e.value for e in at.error)  # thinking tab: nothing to show
    assert any("no cost frontier" in i.value for i in at.info)


def test_chart_builders_drop_what_a_log_axis_cannot_show():
    import polars as pl

    from app import charts_tt

    pts = pl.DataFrame(
        {
            "config": ["a", "b", "c"],
            "model": ["m", "m", "n"],
            "cost": [0.0, 10.0, 100.0],
            "accuracy": [0.1, 0.2, 0.3],
            "n_questions": [5, 5, 5],
            "on_frontier": [True, True, True],
        }
    )
    spec = charts_tt.frontier_chart(pts, pts.tail(2), unit_title="cost (tokens)").to_dict()
    drawn = [v for k, v in spec["datasets"].items() if any("config" in r for r in v)]
    assert drawn and all(min(r["cost"] for r in rows) > 0 for rows in drawn)
    assert spec["layer"][1]["encoding"]["x"]["scale"]["type"] == "log"
    cov = pl.DataFrame({"model": ["m", "m"], "k": [0, 10], "coverage": [0.0, 0.5]})
    spec = charts_tt.coverage_chart(cov, cov).to_dict()
    assert all(r["k"] > 0 for rows in spec["datasets"].values() for r in rows)


def test_model_legend_is_ordered_by_size_with_a_sequential_palette():
    import polars as pl

    from app import charts_tt

    names = [f"Pythia {s}" for s in ("12B", "1B", "160M", "6.9B", "70M", "2.8B", "410M")]
    assert charts_tt.model_order(names) == [
        f"Pythia {s}" for s in ("70M", "160M", "410M", "1B", "2.8B", "6.9B", "12B")
    ]
    assert charts_tt.model_size("Pythia 2.8B") == pytest.approx(2.8e9)
    cov = pl.DataFrame({"model": names, "k": [10] * 7, "coverage": [0.5] * 7})
    color = charts_tt.coverage_chart(cov, cov).to_dict()["layer"][0]["encoding"]["color"]
    assert color["scale"]["domain"][0] == "Pythia 70M" and color["scale"]["scheme"]["name"] == "viridis"
    # unsized names (API models): distinct categorical colours, case-insensitive A-Z
    mixed = ["o3-mini", "claude-sonnet4", "Qwen3-8B"]
    assert charts_tt.model_order(mixed) == ["claude-sonnet4", "o3-mini", "Qwen3-8B"]
    scale = charts_tt.model_color(mixed).to_dict()["scale"]
    assert len(set(scale["range"])) == 3
