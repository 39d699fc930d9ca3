"""Identifiability verdicts and constrained fits on synthetic data with known truth."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from analysis.chinchilla import fit_chinchilla
from analysis.compute_optimal import fit_compute_law
from analysis.identifiability import (
    assess,
    chinchilla_identifiability,
    compute_law_identifiability,
    power_law_identifiability,
    profile_parameter,
    profile_threshold,
    span_decades,
)
from analysis.kaplan import fit_power_law
from analysis.laws import chinchilla_loss

TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def _grid(rng, n_lo, n_hi, d_lo, d_hi, k=6, noise=0.005, truth=TRUTH):
    N, D = np.meshgrid(np.logspace(n_lo, n_hi, k), np.logspace(d_lo, d_hi, k))
    N, D = N.ravel(), D.ravel()
    L = np.asarray(chinchilla_loss(N, D, *(truth[k] for k in ("E", "A", "B", "alpha", "beta"))))
    return N, D, L * np.exp(noise * rng.standard_normal(N.size))


def test_span_and_threshold_rule():
    assert span_decades([1e8, 1e9, 1e10]) == pytest.approx(2.0)
    assert span_decades([5.0, 5.0]) == 0.0
    # F_0.95(1, 10) = 4.9646: the allowed rise is f_min * F / dof
    assert profile_threshold(2.0, 15, 5) == pytest.approx(2.0 * 4.9646 / 10, rel=1e-4)
    assert math.isnan(profile_threshold(1.0, 5, 5))  # zero degrees of freedom: no noise scale


def test_profile_range_of_a_known_parabola():
    """Objective rise (x - 1)^2: within a threshold of 0.25 the range is exactly [0.5, 1.5]."""
    pr = profile_parameter(lambda v: (v - 1.0) ** 2, np.linspace(0, 3, 61), 1.0, 0.0, 0.25)
    assert pr["verdict"] == "identified"
    assert pr["range"] == pytest.approx([0.5, 1.5], abs=1e-9)
    # closed but wider than the estimate itself: weakly identified
    weak = profile_parameter(lambda v: 0.1 * (v - 1.0) ** 2, np.linspace(0, 3, 61), 1.0, 0.0, 0.09)
    assert weak["verdict"] == "weakly identified" and weak["range"] == pytest.approx(
        [0.0513, 1.9487], abs=1e-3
    )
    flat = profile_parameter(lambda v: 1e-9 * v, np.linspace(0, 3, 31), 1.0, 0.0, 0.25)
    assert flat["verdict"] == "not identified" and flat["lower_open"] and flat["upper_open"]


def test_wide_grid_is_identified_and_covers_the_truth(rng):
    N, D, L = _grid(rng, 7, 10, 9, 12)
    r = fit_chinchilla(N, D, L)
    idf = chinchilla_identifiability(N, D, L, r)
    assert idf["verdict"] == "identified" and idf["warnings"] == []
    assert idf["spans_decades"] == {"N": pytest.approx(3.0), "D": pytest.approx(3.0)}
    for k in ("E", "alpha", "beta"):
        lo, hi = idf["parameters"][k]["range"]
        assert lo < TRUTH[k] < hi, (k, lo, hi)
        assert hi - lo < 0.2 * TRUTH[k] + 0.05


def test_narrow_grid_is_warned(rng):
    """Less than a decade of N and D: the verdict carries span warnings (and the profile range is wide)."""
    N, D, L = _grid(rng, 8, 8.8, 9.5, 10.3)
    r = fit_chinchilla(N, D, L)
    idf = chinchilla_identifiability(N, D, L, r)
    assert idf["verdict"] in ("weakly identified", "not identified")
    spans = " ".join(idf["warnings"])
    assert "N spans only 0.8 decades" in spans and "D spans only 0.8 decades" in spans
    lo, hi = idf["parameters"]["alpha"]["range"]
    assert hi - lo > 0.2  # far wider than on the wide grid


def test_single_token_count_leaves_beta_not_identified(rng):
    """Every run at one D: B / D^beta is a constant absorbed by E, so beta's profile is flat."""
    N = np.logspace(7, 10, 12)
    D = np.full(12, 1e10)
    L = np.asarray(chinchilla_loss(N, D, *TRUTH.values())) * np.exp(0.003 * rng.standard_normal(12))
    r = fit_chinchilla(N, D, L)
    idf = chinchilla_identifiability(N, D, L, r)
    assert idf["verdict"] == "not identified"
    assert "beta" in idf["not_identified"]
    assert "beta" in idf["untrustworthy_intervals"] and "N_opt" in idf["untrustworthy_intervals"]
    assert any("beta is not identified" in w and "untrustworthy" in w for w in idf["warnings"])
    assert idf["spans_decades"]["D"] == 0.0


def test_zero_degrees_of_freedom_and_too_few_points():
    rec = assess(n_points=3, n_free=3, f_min=0.0, profiles={}, spans={"C": 2.0})
    assert rec["verdict"] == "not identified" and rec["dof"] == 0
    assert "zero residual degrees of freedom" in rec["warnings"][0]
    rec = assess(n_points=7, n_free=5, f_min=1e-3, profiles={}, spans={"N": 2.0})
    assert rec["verdict"] == "identified" and "too few points: 7 for 5" in rec["warnings"][0]
    # a Kaplan law through two points has no residual
    x, L = np.array([1e8, 1e9]), np.array([3.0, 2.5])
    two_point = SimpleNamespace(
        params={"alpha": float(np.log(3.0 / 2.5) / np.log(10.0))}, success=True, message=""
    )
    idf = power_law_identifiability(x, L, two_point)
    assert idf["dof"] == 0 and idf["parameters"]["alpha"]["verdict"] == "not identified"


def test_kaplan_profile_brackets_the_true_exponent(rng):
    x = np.logspace(7, 10, 15)
    L = (8.8e13 / x) ** 0.076 * np.exp(0.002 * rng.standard_normal(15))
    idf = power_law_identifiability(x, L, fit_power_law(x, L))
    lo, hi = idf["parameters"]["alpha"]["range"]
    assert idf["verdict"] == "identified" and lo < 0.076 < hi and hi - lo < 0.01


def test_compute_law_without_curvature_leaves_E_not_identified(rng):
    """A pure power law in C (true E = 0) over 1.5 decades: E's profile is flat down to 0."""
    C = np.logspace(18, 19.5, 8)
    L = 30.0 * C**-0.05 * np.exp(0.003 * rng.standard_normal(8))
    r = fit_compute_law(C, L)
    idf = compute_law_identifiability(C, L, r)
    assert idf["parameters"]["E"]["verdict"] == "not identified" and idf["parameters"]["E"]["lower_open"]


def test_constrained_fits_recover_the_true_free_parameters(rng):
    N, D, L = _grid(rng, 7, 10, 9, 12, noise=0.001)
    fE = fit_chinchilla(N, D, L, fixed={"E": TRUTH["E"]})
    assert fE.params["E"] == TRUTH["E"] and fE.extra["n_free_params"] == 4
    for k in ("alpha", "beta"):
        assert fE.params[k] == pytest.approx(TRUTH[k], abs=0.005)
    for k in ("A", "B"):
        assert fE.params[k] == pytest.approx(TRUTH[k], rel=0.05)
    fa = fit_chinchilla(N, D, L, fixed={"alpha": TRUTH["alpha"], "beta": TRUTH["beta"]})
    assert fa.params["E"] == pytest.approx(TRUTH["E"], abs=0.01)
    assert fa.params["A"] == pytest.approx(TRUTH["A"], rel=0.03)
    assert fa.extra["constraints"] == {"fixed": {"alpha": 0.34, "beta": 0.28}, "tie": None}
    # data with alpha = beta: the tied fit recovers the shared exponent and 4 free parameters
    tied = {**TRUTH, "beta": 0.34}
    N, D, L = _grid(rng, 7, 10, 9, 12, noise=0.001, truth=tied)
    ft = fit_chinchilla(N, D, L, tie_exponents=True)
    assert ft.params["alpha"] == ft.params["beta"] == pytest.approx(0.34, abs=0.005)
    assert ft.params["E"] == pytest.approx(1.69, abs=0.02)
    assert ft.extra["constraints"]["tie"] == "alpha=beta" and ft.extra["n_free_params"] == 4
    idf = chinchilla_identifiability(N, D, L, ft, tie_exponents=True)
    assert set(idf["parameters"]) == {"E", "alpha=beta", "beta (= alpha)"}
    assert idf["parameters"]["alpha=beta"]["verdict"] == "identified"
    # the reference L-BFGS method honours the constraint too
    fl = fit_chinchilla(N, D, L, method="lbfgs", n_starts=40, fixed={"E": 1.69})
    assert fl.params["E"] == 1.69 and fl.params["alpha"] == pytest.approx(0.34, abs=0.01)


def test_compute_law_fixed_E_recovers_alpha(rng):
    C = np.logspace(17, 21, 12)
    L = (1.8 + 2e3 * C**-0.2) * np.exp(0.001 * rng.standard_normal(12))
    r = fit_compute_law(C, L, fixed={"E": 1.8})
    assert r.params["E"] == 1.8 and r.params["alpha"] == pytest.approx(0.2, abs=0.005)
    assert r.extra["n_free_params"] == 2


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"fixed": {"A": 1.0}}, "may fix only"),
        ({"fixed": {"E": -1.0}}, "fixed E must be > 0"),
        ({"fixed": {"alpha": 3.0}}, r"fixed alpha must be in \[0.0, 2.5\]"),
        ({"fixed": {"alpha": 0.3, "beta": 0.4}, "tie_exponents": True}, "fixed to different values"),
    ],
)
def test_bad_constraints_are_clear_errors(rng, kw, msg):
    N, D, L = _grid(rng, 7, 10, 9, 12)
    with pytest.raises(ValueError, match=msg):
        fit_chinchilla(N, D, L, **kw)


def test_convergence_message_never_says_abnormal(rng):
    N, D, L = _grid(rng, 7, 10, 9, 12)
    for kw in ({}, {"fixed": {"E": 1.69}}, {"tie_exponents": True}):
        r = fit_chinchilla(N, D, L, **kw)
        assert r.success and r.message.startswith("converged") and "ABNORMAL" not in r.message


def test_compute_law_on_five_budgets_warns_too_few_budgets():
    C = np.logspace(18, 20, 5)
    L = 1.8 + 2e3 * C**-0.2
    idf = compute_law_identifiability(C, L, fit_compute_law(C, L))
    assert idf["dof"] == 2 and idf["warnings"][0].startswith(
        "too few budgets (lowest loss per compute budget): 5"
    )
