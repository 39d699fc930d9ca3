"""Tests for analysis.sampling: pass@k, coverage, the coverage law and majority@k."""

from __future__ import annotations

from math import comb

import numpy as np
import polars as pl
import pytest

from analysis.errors import InsufficientDataError
from analysis.sampling import (
    coverage_bootstrap,
    coverage_curve,
    coverage_law,
    fit_coverage,
    fit_coverage_counts,
    log_spaced_ks,
    majority_at_k,
    pass_at_k,
)

MONKEYS = "llmonkeys_pythia_math/llmonkeys_pythia_math_per_problem.csv"


@pytest.fixture(scope="module")
def monkeys(shared_data) -> pl.DataFrame:
    return pl.read_csv(shared_data / MONKEYS)


def _counts(df: pl.DataFrame, model: str) -> tuple[np.ndarray, np.ndarray]:
    d = df.filter(pl.col("model") == model)
    assert d.height == 128
    return d["num_samples"].to_numpy(), d["num_correct"].to_numpy()


# --- pass@k -------------------------------------------------------------------------------------


def test_pass_at_k_chen_test_vector():
    assert pass_at_k(10, 3, 5) == pytest.approx(0.9166667, abs=1e-6)
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - comb(7, 5) / comb(10, 5), rel=1e-12)


def test_pass_at_k_n100_c5_k10():
    assert pass_at_k(100, 5, 10) == pytest.approx(0.41625, abs=5e-6)


def test_pass_at_k_edges():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 6, 5) == 1.0  # n - c = 4 < k = 5
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(7, 3, 1) == pytest.approx(3 / 7, rel=1e-14)  # pass@1 = c / n


def test_pass_at_k_matches_exact_binomial_for_small_n():
    for n in range(1, 16):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - comb(n - c, k) / comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12), (n, c, k)


def test_pass_at_k_is_not_the_biased_formula():
    biased = 1 - (1 - 3 / 10) ** 5
    assert abs(pass_at_k(10, 3, 5) - biased) > 0.07


def test_pass_at_k_vectorised_and_broadcast():
    n = np.array([10, 100, 10])
    c = np.array([3, 5, 0])
    out = pass_at_k(n, c, 5)
    assert out.shape == (3,)
    assert out[0] == pytest.approx(0.9166667, abs=1e-6)
    assert out[2] == 0.0
    table = pass_at_k(n[:, None], c[:, None], np.array([1, 2, 10])[None, :])
    assert table.shape == (3, 3)
    assert table[1, 2] == pytest.approx(0.41625, abs=5e-6)
    assert table[0, 0] == pytest.approx(0.3)
    assert np.all(np.diff(table, axis=1) >= 0)


def test_pass_at_k_large_n_is_stable():
    # pass@1 with one success in 10,000 must be exactly 1e-4, pass@10000 exactly 1.
    assert pass_at_k(10_000, 1, 1) == pytest.approx(1e-4, rel=1e-10)
    assert pass_at_k(10_000, 1, 10_000) == 1.0
    assert pass_at_k(10_000, 2, 5_000) == pytest.approx(1 - (5000 * 4999) / (10000 * 9999))


@pytest.mark.parametrize(
    ("n", "c", "k", "match"),
    [
        (5, 2, 6, r"k > n"),
        (5, 6, 1, r"c > n"),
        (5, -1, 1, r"non-negative"),
        (5, 2, 0, r"k must be >= 1"),
        (5, np.nan, 1, r"NaN"),
        (5.5, 2, 1, r"whole numbers"),
        ([], [], 1, r"empty"),
        ([5, 6], [1, 2, 3], 1, r"broadcast"),
    ],
)
def test_pass_at_k_errors(n, c, k, match):
    with pytest.raises(ValueError, match=match):
        pass_at_k(n, c, k)


# --- coverage on the Monkeys data -----------------------------------------------------------------


def test_coverage_at_10000_matches_provenance(monkeys):
    for model, expected in [("Pythia 70M", 0.266), ("Pythia 12B", 0.875)]:
        n, c = _counts(monkeys, model)
        cov = coverage_curve(n, c, [1, 10_000])
        assert cov[1] == pytest.approx(expected, abs=5e-4)
        assert cov[1] == pytest.approx(np.mean(c > 0))  # at k = n coverage = share ever solved
        assert cov[0] == pytest.approx(np.mean(c / n))


def test_log_spaced_ks():
    ks = log_spaced_ks(10_000)
    assert ks[0] == 1 and ks[-1] == 10_000
    assert ks.size == 37  # 40 log-spaced values, 3 duplicates after rounding
    assert np.all(np.diff(ks) > 0)
    with pytest.raises(ValueError, match="k_min"):
        log_spaced_ks(0)


@pytest.mark.parametrize(
    ("model", "a_ref", "b_ref", "a_paper", "b_paper"),
    [("Pythia 70M", -8.29, -0.20, -7.59, -0.18), ("Pythia 12B", -4.32, -0.38, -3.92, -0.35)],
)
def test_fit_coverage_reproduces_refit(monkeys, model, a_ref, b_ref, a_paper, b_paper):
    n, c = _counts(monkeys, model)
    ks = log_spaced_ks(10_000)
    fit = fit_coverage(ks, coverage_curve(n, c, ks))
    assert fit.law == "coverage_exp_power"
    assert fit.success
    assert fit.n_points == 37
    assert fit.params["a"] == pytest.approx(a_ref, abs=0.02)
    assert fit.params["b"] == pytest.approx(b_ref, abs=0.005)
    # Brown et al. Fig. 5 values are within ~10% (their k grid differs).
    assert fit.params["a"] == pytest.approx(a_paper, rel=0.12)
    assert fit.params["b"] == pytest.approx(b_paper, rel=0.12)
    assert fit.derived["mean_abs_err"] < 0.03
    assert fit.grad_norm < 1e-6


def test_fit_coverage_recovers_synthetic_params():
    ks = log_spaced_ks(1000)
    fit = fit_coverage(ks, coverage_law(ks, -3.0, -0.4))
    assert fit.params["a"] == pytest.approx(-3.0, rel=1e-6)
    assert fit.params["b"] == pytest.approx(-0.4, rel=1e-6)
    assert fit.objective < 1e-20


def test_fit_coverage_errors():
    with pytest.raises(ValueError, match="k must be"):
        coverage_law([0, 1], -1.0, -0.5)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        fit_coverage([1, 2, 3], [0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match="equal length"):
        fit_coverage([1, 2, 3], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        fit_coverage([1, 2, 3], [0.1, np.nan, 0.3])
    with pytest.raises(InsufficientDataError, match="at least 3"):
        fit_coverage([1, 2], [0.1, 0.2])


def test_coverage_bootstrap_monkeys_12b(monkeys):
    n, c = _counts(monkeys, "Pythia 12B")
    ks = log_spaced_ks(10_000, num=20)
    boot = coverage_bootstrap(n, c, ks, n_boot=60, rng=np.random.default_rng(0), k_eval=[10_000])
    assert boot.unit == "problem"
    assert boot.n == 60 and boot.n_failed() == 0
    lo, hi = boot.interval("coverage@10000")
    assert lo < 0.875 < hi
    assert 0.8 < lo and hi < 0.95  # binomial SE with 128 problems is ~0.03
    a_lo, a_hi = boot.interval("a")
    assert a_lo < -4.3 < a_hi
    # Reproducible from the recorded seed.
    again = coverage_bootstrap(n, c, ks, n_boot=60, rng=np.random.default_rng(0), k_eval=[10_000])
    assert again.seed == boot.seed
    np.testing.assert_array_equal(again.replicates["a"], boot.replicates["a"])


def test_fit_coverage_counts_with_bootstrap(monkeys):
    n, c = _counts(monkeys, "Pythia 70M")
    fit = fit_coverage_counts(n, c, n_boot=30, rng=np.random.default_rng(5), k_eval=[100, 10_000])
    assert fit.params["a"] == pytest.approx(-8.29, abs=0.02)
    assert fit.derived["coverage@10000"] == pytest.approx(0.266, abs=5e-4)
    assert fit.bootstrap is not None and fit.bootstrap.n == 30
    lo, hi = fit.interval("b")
    assert lo < -0.199 < hi
    assert fit.to_record()["intervals_95"]["a"][0] < -8.29
    with pytest.raises(ValueError, match="needs rng"):
        fit_coverage_counts(n, c, n_boot=5)
    with pytest.raises(ValueError, match="no problem was solved"):
        fit_coverage_counts([100, 100], [0, 0])


def test_coverage_bootstrap_rejects_zero_replicates():
    with pytest.raises(ValueError, match="n_boot"):
        coverage_bootstrap([10], [2], [1, 2], n_boot=0, rng=np.random.default_rng(0))


# --- majority@k ------------------------------------------------------------------------------------


def _votes_frame() -> pl.DataFrame:
    # Problem p1: answers 4,4,4,5 with 4 correct. Problem p2: 7,8,8 with 7 correct.
    return pl.DataFrame(
        {
            "problem_id": ["p1"] * 4 + ["p2"] * 3,
            "answer": ["4", "4", "4", "5", "7", "8", "8"],
            "correct": [True, True, True, False, True, False, False],
        }
    )


def test_majority_at_k_hand_example_exact():
    rng = np.random.default_rng(1)
    out = majority_at_k(_votes_frame(), 3, rng=rng, ties="expected").sort("problem_id")
    # p1: subsets of 3 from {4,4,4,5}: one is {4,4,4}, three are {4,4,5} -> always 4 -> 1.0.
    # p2: only subset {7,8,8} -> 8 wins -> 0.0.
    assert out["majority_at_k"].to_list() == [1.0, 0.0]
    assert out["exact"].to_list() == [True, True]
    two = majority_at_k(_votes_frame(), 2, rng=rng, ties="expected").sort("problem_id")
    # p1 pairs: C(4,2)=6; {4,4}x3 -> 1; {4,5}x3 -> tie -> 1/2. Mean 0.75.
    # p2 pairs: {7,8}x2 -> tie 1/2; {8,8} -> 0. Mean 1/3.
    assert two["majority_at_k"].to_list() == pytest.approx([0.75, 1 / 3])
    one = majority_at_k(_votes_frame(), 1, rng=rng, ties="expected").sort("problem_id")
    assert one["majority_at_k"].to_list() == pytest.approx([0.75, 1 / 3])  # = pass@1


def test_majority_at_k_monte_carlo_close_to_exact():
    # 20 samples: 8 correct "a", 6 "b", 6 "c"; C(20, 5) = 15504 > n_subsets -> Monte Carlo.
    answers = ["a"] * 8 + ["b"] * 6 + ["c"] * 6
    frame = pl.DataFrame({"problem_id": [0] * 20, "answer": answers, "correct": [x == "a" for x in answers]})
    from itertools import combinations

    exact = []
    for sub in combinations(range(20), 5):
        counts = {x: sum(answers[i] == x for i in sub) for x in "abc"}
        top = max(counts.values())
        tied = [x for x in "abc" if counts[x] == top]
        exact.append(("a" in tied) / len(tied))
    mc = majority_at_k(frame, 5, n_subsets=4000, rng=np.random.default_rng(3), ties="expected")
    assert not mc["exact"][0]
    assert mc["majority_at_k"][0] == pytest.approx(np.mean(exact), abs=0.02)


def test_majority_at_k_groups_and_abstentions():
    frame = pl.DataFrame(
        {
            "model": ["m1", "m1", "m2", "m2"],
            "problem_id": [0, 0, 0, 0],
            "answer": ["x", None, None, None],
            "correct": [1, 0, 0, 0],
        }
    )
    out = majority_at_k(frame, 2, rng=np.random.default_rng(0), by=("model",)).sort("model")
    assert out["majority_at_k"].to_list() == [1.0, 0.0]


def test_majority_at_k_errors():
    rng = np.random.default_rng(0)
    only_correctness = pl.DataFrame({"problem_id": [0, 0], "correct": [True, False]})
    with pytest.raises(ValueError, match="answers were not logged"):
        majority_at_k(only_correctness, 1, rng=rng)
    nulls = only_correctness.with_columns(pl.lit(None, dtype=pl.Utf8).alias("answer"))
    with pytest.raises(ValueError, match="answers were not logged"):
        majority_at_k(nulls, 1, rng=rng)
    with pytest.raises(ValueError, match=r"k = 5 > n = 4"):
        majority_at_k(_votes_frame(), 5, rng=rng)
    with pytest.raises(ValueError, match="k and n_subsets"):
        majority_at_k(_votes_frame(), 0, rng=rng)
    tuple_input = (["q", "q"], ["1", "2"], [True, False])
    assert majority_at_k(tuple_input, 2, rng=rng, ties="expected")["majority_at_k"][0] == 0.5
