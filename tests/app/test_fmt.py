"""Vectorised number formatting (app.fmt) gives exactly Python's format text, without Python callbacks."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from app import fmt, widgets

EDGE = [0.0, 1.0, -1.0, 0.5, 2.5, 0.125, 7.45, 9.95, 9.9996, 9.99995, 999999.0, 1e15, 1e-5, 1.2e-05, 1e-4,
        123456.0, 1e100, 1e-100, 5e-324, 1.7e308, 7.12e9, 1.295e12, 8.3812e22, float("nan"), float("inf"),
        -float("inf"), 100.0, 1000.0, 0.48339, 68.98]  # fmt: skip


@pytest.fixture(scope="module")
def values() -> list[float]:
    rng = np.random.default_rng(8)
    wide = rng.lognormal(0, 12, 1500) * rng.choice([-1, 1], 1500)
    ties = [
        round(v, 3) for v in rng.uniform(0, 10, 300)
    ]  # decimal "ties" like 7.45 whose binary is not a tie
    return EDGE + [float(v) for v in wide] + ties


@pytest.mark.parametrize("digits", [1, 2, 3, 4, 6])
def test_g_e_f_match_python_format(values, digits):
    s = pl.Series("x", values)
    assert fmt.g(s, digits).to_list() == [f"{v:.{digits}g}" for v in values]
    assert fmt.e(s, digits).to_list() == [f"{v:.{digits}e}" for v in values]
    want_f = []
    for v in values:
        if math.isfinite(v) and abs(v) * 10**digits >= 2**53:
            want_f.append(f"{v:.{digits}e}")  # documented fallback where fixed digits are not exact
        else:
            t = f"{v:.{digits}f}"
            want_f.append(t[1:] if t.startswith("-") and float(t) == 0 else t)
    assert fmt.f(s, digits).to_list() == want_f


@pytest.mark.parametrize("digits", [3, 4])
def test_human_and_sci_series_match_the_scalar_helpers(values, digits):
    s = pl.Series("x", [*values, None])
    assert widgets.human(s, digits).to_list() == [widgets.human(v, digits) for v in s.to_list()]
    assert widgets.sci(s, digits).to_list() == [widgets.sci(v, digits) for v in s.to_list()]


def test_pinned_texts():
    s = pl.Series([7.12e9, 1.295e12, 1234.0, 2e15, None, float("nan")])
    assert fmt.human(s).to_list() == ["7.12B", "1.295T", "1.234k", "2.000e+15", "", ""]
    assert fmt.g(pl.Series([None]), 3).to_list() == [None]
    lo, hi = pl.Series([0.1, None, 1.0]), pl.Series([0.2345, 0.3, float("nan")])
    assert fmt.interval(lo, hi).to_list() == ["[0.1, 0.234]", None, None]


def test_as_text_and_ci_text_are_vectorised():
    frame = pl.DataFrame(
        {"a": [0.27, float("nan")], "a_lo": [0.2, 0.1], "a_hi": [0.31, 0.4], "ok": [True, False]}
    )
    out = widgets.as_text(frame, {"a": widgets.gfmt(2), "missing": widgets.human})
    assert out["a"].to_list() == ["0.27", ""]
    ci = widgets.ci_text(frame, "a", widgets.ffmt(3), pl.col("ok"))
    assert ci.name == "a"
    assert ci.to_list() == ["0.270 [0.200, 0.310]", ""]
