"""Tests for analysis.thinking on the tts-knowledge per-answer data and on synthetic curves."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.errors import InsufficientDataError
from analysis.thinking import (
    accuracy_vs_tokens,
    fit_accuracy_vs_log_tokens,
    marginal_gains,
    saturating_log_tokens,
    stopping_point,
    wilson_interval,
)

TTS = "tts_knowledge/tts_knowledge_per_sample.csv.gz"


@pytest.fixture(scope="module")
def answers(shared_data) -> pl.DataFrame:
    """The tts-knowledge answers renamed to the eval_samples schema.

    ``total_output_tokens`` is the comparable generated-token total (PROVENANCE.md), so it becomes
    ``output_tokens``; ``completion_tokens`` would drop grok-3-mini's reasoning.
    """
    raw = pl.read_csv(shared_data / TTS, infer_schema_length=None)
    return raw.select(
        "model",
        "benchmark",
        pl.col("question_id").alias("problem_id"),
        pl.col("level_label").alias("setting"),
        pl.col("thinking_knob").alias("setting_knob"),
        pl.col("thinking_level").alias("setting_value"),
        pl.col("is_correct").cast(pl.Boolean).alias("correct"),
        "reasoning_tokens",
        "completion_tokens",
        pl.col("total_output_tokens").alias("output_tokens"),
    )


@pytest.fixture(scope="module")
def curves(answers) -> pl.DataFrame:
    return accuracy_vs_tokens(answers)


def _point(curves: pl.DataFrame, model: str, bench: str, knob_value: str) -> dict:
    rows = curves.filter(
        (pl.col("model") == model) & (pl.col("benchmark") == bench) & (pl.col("setting_value") == knob_value)
    )
    assert rows.height == 1
    return rows.row(0, named=True)


def test_one_point_per_level_per_curve(answers, curves):
    n_levels = answers.select("model", "benchmark", "setting").unique().height
    assert curves.height == n_levels == 64
    assert curves.select("model", "benchmark", "setting").is_duplicated().sum() == 0
    assert curves["n_answers"].sum() == answers.height == 51_870
    assert curves["n_tokens_missing"].sum() == 0


def test_gemini_simpleqa_no_thinking_to_2048(curves):
    no_think = _point(curves, "gemini-2.5-flash", "simpleqa", "0")
    b2048 = _point(curves, "gemini-2.5-flash", "simpleqa", "2048")
    assert no_think["setting_knob"] == "no_thinking"
    assert no_think["n_answers"] == 800
    assert no_think["accuracy"] == pytest.approx(0.126, abs=5e-4)  # 101 / 800
    assert b2048["accuracy"] == pytest.approx(0.286, abs=5e-4)  # 229 / 800
    assert no_think["acc_lo"] < 0.126 < no_think["acc_hi"]
    assert b2048["acc_lo"] > no_think["acc_hi"]  # the gain is well outside the noise


def test_o4mini_simpleqa_flat_across_effort(curves):
    o4 = curves.filter((pl.col("model") == "o4-mini") & (pl.col("benchmark") == "simpleqa"))
    assert o4["setting"].to_list() == ["low_effort", "medium_effort", "high_effort"]  # by tokens
    acc = o4["accuracy"].to_numpy()
    assert acc.min() == pytest.approx(0.180, abs=5e-4)
    assert acc.max() == pytest.approx(0.189, abs=5e-4)
    med = o4["median_tokens"].to_numpy()
    assert med[0] == pytest.approx(460.0)
    assert med[-1] == pytest.approx(3470.5)
    # Flat accuracy: the log-linear slope is under half a point per doubling of tokens.
    fit = fit_accuracy_vs_log_tokens(o4["mean_tokens"], acc)
    assert abs(fit.derived["gain_per_doubling"]) < 0.005


def test_token_field_caveat_grok(answers, curves):
    # completion_tokens excludes grok-3-mini's reasoning: ~6 tokens instead of ~567 per answer.
    by_completion = accuracy_vs_tokens(answers, token_col="completion_tokens")
    sel = (
        (pl.col("model") == "grok-3-mini")
        & (pl.col("benchmark") == "simpleqa")
        & (pl.col("setting") == "low_effort")
    )
    assert by_completion.filter(sel)["mean_tokens"][0] == pytest.approx(6.145, abs=1e-3)
    assert curves.filter(sel)["mean_tokens"][0] == pytest.approx(567.206, abs=1e-3)
    # For o4-mini the API count already includes reasoning: both fields agree.
    o4 = (pl.col("model") == "o4-mini") & (pl.col("benchmark") == "simpleqa")
    np.testing.assert_allclose(
        by_completion.filter(o4).sort("setting")["mean_tokens"].to_numpy(),
        curves.filter(o4).sort("setting")["mean_tokens"].to_numpy(),
    )


def test_gemini_log_linear_fit_and_marginal_gains(curves):
    gem = curves.filter((pl.col("model") == "gemini-2.5-flash") & (pl.col("benchmark") == "simpleqa"))
    fit = fit_accuracy_vs_log_tokens(gem["mean_tokens"], gem["accuracy"])
    assert fit.law == "acc_log_linear"
    assert fit.n_points == 5
    assert fit.params["q"] > 0
    assert fit.grad_norm < 1e-10
    # Refit check against numpy.polyfit.
    q, p = np.polyfit(np.log(gem["mean_tokens"].to_numpy()), gem["accuracy"].to_numpy(), 1)
    assert fit.params["q"] == pytest.approx(q, rel=1e-10)
    assert fit.params["p"] == pytest.approx(p, rel=1e-10)

    mg = marginal_gains(gem, price_per_mtok=2.5)
    assert mg["setting"].to_list() == ["no_think", "budget256", "budget512", "budget1024", "budget2048"]
    first = mg.row(1, named=True)  # no thinking -> 256-token budget
    d_acc = 0.22375 - 0.12625
    d_tok = first["mean_tokens"] - mg["mean_tokens"][0]
    assert first["prev_level"] == "no_think"
    assert first["gain_per_1k_tokens"] == pytest.approx(d_acc / (d_tok / 1000))
    assert first["gain_per_usd"] == pytest.approx(d_acc / (d_tok * 2.5 / 1e6))
    assert mg["gain_per_1k_tokens"][0] is None

    stop = stopping_point(mg, threshold=0.1)
    # Gains per 1k tokens: ~0.50, ~0.24, ~0.27, ~0.06 -> the first below 0.1 is 1024 -> 2048.
    assert stop["stop_level"].to_list() == ["budget1024"]
    assert stop["next_gain"][0] == pytest.approx(0.06, abs=0.01)
    loose = stopping_point(mg, threshold=0.0)
    assert loose["stop_level"].to_list() == ["budget2048"] and loose["next_gain"][0] is None
    strict = stopping_point(mg, threshold=0.3)
    assert strict["stop_level"].to_list() == ["budget256"]


def test_stopping_point_per_curve(curves):
    mg = marginal_gains(curves)
    stops = stopping_point(mg, threshold=0.01)
    assert stops.height == curves.select("model", "benchmark").unique().height
    o4 = stops.filter((pl.col("model") == "o4-mini") & (pl.col("benchmark") == "simpleqa"))
    # low -> medium gains 0.0076 per 1k tokens (< 0.01): stop at low effort.
    assert o4["stop_level"].to_list() == ["low_effort"]
    assert o4["next_gain"][0] == pytest.approx(0.00875 / ((1662.865 - 508.2275) / 1000), rel=1e-6)
    gem = stops.filter((pl.col("model") == "gemini-2.5-flash") & (pl.col("benchmark") == "frames"))
    assert gem["stop_level"].to_list() == ["budget2048"]  # every gain >= 0.02 per 1k tokens


def test_saturating_fit_recovers_synthetic_params():
    T = np.geomspace(10, 1e5, 9)
    truth = {"A": 0.8, "R0": 0.1, "T_mid": 500.0, "B": 1.2}
    acc = saturating_log_tokens(T, **truth)
    fit = fit_accuracy_vs_log_tokens(T, acc, form="saturating")
    assert fit.law == "acc_saturating"
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-4)
    assert fit.derived["asymptote"] == pytest.approx(0.8, rel=1e-4)
    fixed = fit_accuracy_vs_log_tokens(T[:5], acc[:5], form="saturating", R0=0.1)
    assert fixed.params["R0"] == 0.1
    assert fixed.params["T_mid"] == pytest.approx(500.0, rel=1e-3)


def test_linear_fit_recovers_noisy_synthetic(rng):
    T = np.geomspace(100, 10_000, 30)
    acc = 0.05 + 0.04 * np.log(T) + rng.normal(0, 0.005, T.size)
    fit = fit_accuracy_vs_log_tokens(T, acc)
    assert fit.params["q"] == pytest.approx(0.04, abs=0.003)
    assert fit.params["p"] == pytest.approx(0.05, abs=0.015)


def test_wilson_interval_known_value():
    lo, hi = wilson_interval(np.array([8]), np.array([10]))
    assert lo[0] == pytest.approx(0.4902, abs=1e-4)
    assert hi[0] == pytest.approx(0.9433, abs=1e-4)
    lo0, hi0 = wilson_interval([0], [20])
    assert lo0[0] == 0.0 and hi0[0] == pytest.approx(0.1611, abs=1e-4)
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        wilson_interval([3], [2])


def test_errors():
    with pytest.raises(ValueError, match="T must be"):
        saturating_log_tokens([0.0, 10.0], 0.5, 0.1, 100.0, 1.0)
    with pytest.raises(ValueError, match="tokens must be > 0"):
        fit_accuracy_vs_log_tokens([0, 10], [0.1, 0.2])
    with pytest.raises(ValueError, match="equal length"):
        fit_accuracy_vs_log_tokens([1, 10], [0.1])
    with pytest.raises(ValueError, match="NaN"):
        fit_accuracy_vs_log_tokens([1, 10], [0.1, np.nan])
    with pytest.raises(ValueError, match="form must be"):
        fit_accuracy_vs_log_tokens([1, 10, 100], [0.1, 0.2, 0.3], form="cubic")
    with pytest.raises(InsufficientDataError, match="at least 2"):
        fit_accuracy_vs_log_tokens([10], [0.1])
    with pytest.raises(InsufficientDataError, match="at least 4"):
        fit_accuracy_vs_log_tokens([1, 10, 100], [0.1, 0.2, 0.3], form="saturating")
    with pytest.raises(ValueError, match="missing columns"):
        accuracy_vs_tokens(pl.DataFrame({"model": ["m"], "correct": [True]}))
    with pytest.raises(ValueError, match="empty frame"):
        accuracy_vs_tokens(
            pl.DataFrame(
                schema={
                    "model": pl.Utf8,
                    "benchmark": pl.Utf8,
                    "setting": pl.Utf8,
                    "correct": pl.Boolean,
                    "output_tokens": pl.Int64,
                }
            )
        )
    curve = pl.DataFrame(
        {
            "model": ["m", "m"],
            "benchmark": ["b", "b"],
            "setting": ["lo", "hi"],
            "mean_tokens": [100.0, 200.0],
            "accuracy": [0.1, 0.2],
        }
    )
    with pytest.raises(ValueError, match=r"no price for models \['m'\]"):
        marginal_gains(curve, price_per_mtok={"other": 1.0})
    per_model = marginal_gains(curve, price_per_mtok={"m": 4.0})
    assert per_model["gain_per_usd"][1] == pytest.approx(0.1 / (100 * 4.0 / 1e6))
