"""Tests for analysis.adaptive: per-difficulty sample allocation (Snell et al. 2024)."""

from __future__ import annotations

from itertools import product

import numpy as np
import polars as pl
import pytest

from analysis.adaptive import adaptive_allocation, counts_from_frame, difficulty_bins
from analysis.sampling import pass_at_k

MONKEYS = "llmonkeys_pythia_math/llmonkeys_pythia_math_per_problem.csv"


@pytest.fixture(scope="module")
def pythia_12b(shared_data) -> tuple[np.ndarray, np.ndarray]:
    df = pl.read_csv(shared_data / MONKEYS).filter(pl.col("model") == "Pythia 12B")
    frame = df.select(
        pl.col("problem_idx").alias("problem_id"),
        pl.col("num_samples").alias("n_samples"),
        pl.col("num_correct").alias("n_correct"),
    )
    return counts_from_frame(frame)


def test_hand_example_target():
    # Easy problem: c = n (pass@1 = 1). Hard: n = 10, c = 5: pass@1 0.5, pass@2 7/9, pass@3 11/12.
    # Mean accuracy >= 0.95 needs the hard problem at pass@k >= 0.9 -> k = 3.
    # Uniform: 3 samples each (6). Optimal adaptive: 1 + 3 = 4, i.e. 2 per problem.
    res = adaptive_allocation([10, 10], [10, 5], target=0.95, n_bins=2)
    assert res.bins["k_adaptive"].to_list() == [1, 3]
    assert res.bins["pass1_mean"].to_list() == [1.0, 0.5]  # bin 1 = easiest
    s = res.summary
    assert s["k_uniform"] == 3
    assert s["samples_per_problem_adaptive"] == 2.0
    assert s["samples_per_problem_uniform"] == 3
    assert s["saving_fraction"] == pytest.approx(1 / 3)
    assert s["acc_adaptive"] == pytest.approx((1 + 11 / 12) / 2)
    assert s["difficulty"] == "oracle"
    assert "optimistic" in s["note"]


def test_hand_example_budget():
    # Budget 2 per problem: uniform k = 2 gives (1 + 7/9) / 2; adaptive (1, 3) gives (1 + 11/12) / 2.
    res = adaptive_allocation([10, 10], [10, 5], budget=2, n_bins=2)
    s = res.summary
    assert res.bins["k_adaptive"].to_list() == [1, 3]
    assert s["acc_uniform"] == pytest.approx((1 + 7 / 9) / 2)
    assert s["acc_adaptive"] == pytest.approx((1 + 11 / 12) / 2)
    assert s["samples_per_problem_uniform"] == 3  # uniform needs 3 to match
    assert s["saving_fraction"] == pytest.approx(1 / 3)


def test_greedy_matches_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(5):
        n = np.full(6, 12)
        c = rng.integers(0, 13, 6)
        table = pass_at_k(n[:, None], c[:, None], np.arange(1, 13)[None, :])  # (6, 12)
        target = 0.5 * table[:, -1].mean() + 0.25
        res = adaptive_allocation(n, c, target=target, n_bins=3)
        bins = difficulty_bins(c / n, 3)
        best = np.inf
        for ks in product(range(1, 13), repeat=3):
            k = np.array(ks)[bins - 1]
            if table[np.arange(6), k - 1].mean() >= target - 1e-12:
                best = min(best, k.sum())
        assert res.summary["samples_per_problem_adaptive"] * 6 == best


def test_difficulty_bins_equal_counts_and_order():
    p = np.array([0.9, 0.0, 0.5, 0.1, 0.7, 0.3, 0.0, 0.2, 1.0, 0.05])
    bins = difficulty_bins(p, 5)
    assert np.bincount(bins).tolist() == [0, 2, 2, 2, 2, 2]
    assert bins[8] == 1 and bins[0] == 1  # the two easiest
    assert bins[1] == 5 and bins[6] == 5  # the two zeros
    with pytest.raises(ValueError, match="n_bins must be in"):
        difficulty_bins(p, 11)


def test_monkeys_12b_oracle_saving(pythia_12b):
    n, c = pythia_12b
    assert n.size == 128
    res = adaptive_allocation(n, c, target=0.7)
    s = res.summary
    # Uniform: 746 samples per problem for mean pass@k >= 0.7; adaptive ~373 -> saving ~0.50.
    assert s["k_uniform"] == 746
    assert pass_at_k(n, c, 746).mean() >= 0.7 > pass_at_k(n, c, 745).mean()
    assert s["acc_adaptive"] >= 0.7
    assert s["samples_per_problem_adaptive"] == pytest.approx(373.3, abs=1.0)
    assert s["saving_fraction"] == pytest.approx(0.50, abs=0.01)
    assert res.bins["n_problems"].to_list() == [26, 26, 25, 26, 25]
    # Hardest bin: all 25 problems have pass@1 <= 2e-4; the allocation gives up on it.
    assert res.bins["k_adaptive"][-1] == 1


def test_monkeys_12b_budget(pythia_12b):
    n, c = pythia_12b
    s = adaptive_allocation(n, c, budget=100).summary
    assert s["samples_per_problem_adaptive"] <= 100
    assert s["acc_uniform"] == pytest.approx(pass_at_k(n, c, 100).mean())
    assert s["acc_uniform"] == pytest.approx(0.483, abs=1e-3)
    assert s["acc_adaptive"] == pytest.approx(0.546, abs=1e-3)
    assert s["saving_fraction"] == pytest.approx(0.36, abs=0.01)


def test_monkeys_12b_split_half_is_less_optimistic(pythia_12b):
    n, c = pythia_12b
    oracle = adaptive_allocation(n, c, target=0.8).summary
    split = adaptive_allocation(n, c, target=0.8, split_half=True, rng=np.random.default_rng(0)).summary
    assert split["difficulty"] == "split-half"
    assert split["k_max"] == 5000
    # Choosing bins on one half and scoring on the other: the target is missed and the saving
    # shrinks from ~0.51 (oracle) to ~0.28.
    assert oracle["saving_fraction"] == pytest.approx(0.51, abs=0.01)
    assert split["acc_adaptive"] < 0.8
    assert split["saving_fraction"] < oracle["saving_fraction"] - 0.1
    assert 0.1 < split["saving_fraction"] < 0.45


def test_counts_from_samples_frame():
    samples = pl.DataFrame({"problem_id": [2, 1, 2, 2], "correct": [True, False, False, True]})
    n, c = counts_from_frame(samples)
    assert n.tolist() == [1, 3] and c.tolist() == [0, 2]
    with pytest.raises(ValueError, match="problem_id repeats"):
        counts_from_frame(pl.DataFrame({"problem_id": [1, 1], "n_samples": [2, 2], "n_correct": [0, 1]}))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": 0.9, "budget": 2}, "exactly one"),
        ({}, "exactly one"),
        ({"target": 0.9}, r"unreachable: mean pass@10 is 0\.5000"),
        ({"target": 1.5}, r"target must be in \(0, 1\]"),
        ({"budget": 20}, "budget must be in"),
        ({"target": 0.5, "split_half": True}, "needs rng"),
        ({"target": 0.5, "k_max": 11}, "k_max must be in"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        adaptive_allocation([10, 10], [10, 0], n_bins=2, **kwargs)


def test_bad_counts():
    with pytest.raises(ValueError, match="0 <= c <= n"):
        adaptive_allocation([10], [11], target=0.5, n_bins=1)
    with pytest.raises(ValueError, match="equal length"):
        adaptive_allocation([10, 10], [1], target=0.5)
    with pytest.raises(ValueError, match="empty"):
        adaptive_allocation([], [], target=0.5)
