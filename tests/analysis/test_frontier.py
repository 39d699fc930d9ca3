"""Tests for analysis.frontier: Pareto mask, upper concave hull, cheapest target, cost units."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.frontier import cheapest_reaching, cost_of, pareto_frontier, upper_concave_hull

# Hand-built configurations (cost, accuracy):
#   0 (1, 0.20)  frontier, hull
#   1 (2, 0.50)  frontier, hull
#   2 (3, 0.40)  dominated by 1
#   3 (4, 0.60)  frontier, but under the chord 1 -> 5 (0.5 + 0.3 * 2/6 = 0.6): collinear, not a corner
#   4 (5, 0.62)  frontier, below the chord 1 -> 5 (0.65)
#   5 (8, 0.80)  frontier, hull
#   6 (9, 0.80)  dominated by 5 (same accuracy, higher cost)
#   7 (8, 0.70)  dominated by 5 (same cost, lower accuracy)
COST = np.array([1, 2, 3, 4, 5, 8, 9, 8], dtype=float)
ACC = np.array([0.20, 0.50, 0.40, 0.60, 0.62, 0.80, 0.80, 0.70])


def test_pareto_mask_hand_built():
    mask = pareto_frontier(COST, ACC)
    assert mask.tolist() == [True, True, False, True, True, True, False, False]


def test_pareto_ties_and_duplicates():
    # Exact duplicates: neither strictly better, both kept.
    assert pareto_frontier([1, 1], [0.5, 0.5]).tolist() == [True, True]
    # Same cost: the lower accuracy is dominated; same accuracy: the higher cost is dominated.
    assert pareto_frontier([1, 1, 2], [0.5, 0.4, 0.5]).tolist() == [True, False, False]
    # A single point is its own frontier.
    assert pareto_frontier([3.0], [0.1]).tolist() == [True]


def test_pareto_matches_brute_force(rng):
    cost = rng.integers(0, 6, 60).astype(float)
    acc = rng.integers(0, 6, 60) / 5
    dominated = np.array(
        [
            any(
                cost[p] <= cost[q] and acc[p] >= acc[q] and (cost[p] < cost[q] or acc[p] > acc[q])
                for p in range(60)
            )
            for q in range(60)
        ]
    )
    np.testing.assert_array_equal(pareto_frontier(cost, acc), ~dominated)


def test_upper_concave_hull_hand_built():
    assert upper_concave_hull(COST, ACC).tolist() == [0, 1, 5]


def test_hull_keeps_strict_corners_and_drops_duplicates():
    cost = [0, 1, 1, 3, 4]
    acc = [0.0, 0.6, 0.6, 0.9, 0.95]
    # Chord 1 -> 4 at cost 3: 0.6 + 0.35 * 2/3 = 0.833 < 0.9, so 3 is a corner.
    assert upper_concave_hull(cost, acc).tolist() == [0, 1, 3, 4]


def test_cheapest_reaching_mixture_between_hull_points():
    # Target 0.65 lies between hull vertices 1 (2, 0.5) and 5 (8, 0.8): w = 0.15 / 0.3 = 0.5.
    res = cheapest_reaching(COST, ACC, 0.65)
    assert res["reachable"]
    assert res["mixture"] == [(1, pytest.approx(0.5)), (5, pytest.approx(0.5))]
    assert res["cost"] == pytest.approx(5.0)
    assert res["accuracy"] == pytest.approx(0.65)
    # Without mixing the cheapest single configuration with acc >= 0.65 is 5 at cost 8.
    single = cheapest_reaching(COST, ACC, 0.65, allow_mixing=False)
    assert single["mixture"] == [(5, 1.0)] and single["cost"] == 8.0
    # Mixing beats configuration 4 for target 0.62: cost 2 + 6 * 0.12 / 0.3 = 4.4 < 5.
    assert cheapest_reaching(COST, ACC, 0.62)["cost"] == pytest.approx(4.4)


def test_cheapest_reaching_edges():
    assert cheapest_reaching(COST, ACC, 0.1)["mixture"] == [(0, 1.0)]
    assert cheapest_reaching(COST, ACC, 0.5)["mixture"] == [(1, 1.0)]  # exactly a vertex
    res = cheapest_reaching(COST, ACC, 0.9)
    assert res == {"reachable": False, "cost": float("inf"), "accuracy": None, "mixture": None}
    with pytest.raises(ValueError, match="NaN"):
        cheapest_reaching(COST, ACC, float("nan"))


@pytest.mark.parametrize(
    ("cost", "acc", "match"),
    [
        ([1, 2], [0.1], "equal length"),
        ([], [], "empty"),
        ([1, np.nan], [0.1, 0.2], "NaN"),
        ([-1, 2], [0.1, 0.2], "cost must be >= 0"),
    ],
)
def test_frontier_errors(cost, acc, match):
    with pytest.raises(ValueError, match=match):
        pareto_frontier(cost, acc)


def _samples() -> pl.DataFrame:
    # Two configurations; "big" has 2 samples per question.
    return pl.DataFrame(
        {
            "model": ["small", "small", "big", "big", "big", "big"],
            "benchmark": ["b"] * 6,
            "setting": ["s"] * 6,
            "problem_id": [1, 2, 1, 1, 2, 2],
            "correct": [True, False, True, True, True, False],
            "input_tokens": [100, 300, 100, 100, 300, 300],
            "output_tokens": [1000, 3000, 2000, 4000, 6000, 8000],
            "latency_s": [1.0, 3.0, 2.0, 2.0, 4.0, 4.0],
        }
    )


def test_cost_of_tokens_usd_latency():
    tok = cost_of(_samples(), "tokens").sort("model")
    assert tok["model"].to_list() == ["big", "small"]
    assert tok["cost"].to_list() == [10_000.0, 2_000.0]  # (6000 + 14000) / 2; (1000 + 3000) / 2
    assert tok["n_answers"].to_list() == [4, 2]
    assert tok["accuracy"].to_list() == [0.75, 0.5]
    prices = {"small": (1.0, 4.0), "big": {"input": 2.0, "output": 10.0}}
    usd = cost_of(_samples(), "usd", prices).sort("model")
    # small: q1 100*1e-6 + 1000*4e-6 = 0.0041, q2 0.0003 + 0.012 = 0.0123 -> mean 0.0082
    # big: q1 2*(200e-6) ... = 400e-6 + 0.06 = 0.0604, q2 1200e-6 + 0.14 = 0.1412 -> mean 0.1008
    assert usd["cost"].to_list() == pytest.approx([0.1008, 0.0082])
    lat = cost_of(_samples(), "latency_s").sort("model")
    assert lat["cost"].to_list() == [6.0, 2.0]
    assert usd["unit"][0] == "usd"


def test_cost_of_feeds_the_frontier():
    tok = cost_of(_samples(), "tokens")
    mask = pareto_frontier(tok["cost"], tok["accuracy"])
    assert mask.tolist() == [True, True]  # cheaper-and-worse vs dearer-and-better


def test_cost_of_errors():
    with pytest.raises(ValueError, match="unit must be"):
        cost_of(_samples(), "flops")
    with pytest.raises(ValueError, match=r"no price for models \['big'\]"):
        cost_of(_samples(), "usd", {"small": (1.0, 1.0)})
    with pytest.raises(ValueError, match=r"missing columns \['cost_usd'\]"):
        cost_of(_samples(), "usd")
    with pytest.raises(ValueError, match="must be >= 0"):
        cost_of(_samples(), "usd", {"small": (1.0, 1.0), "big": (-1.0, 1.0)})
    nulls = _samples().with_columns(pl.lit(None, dtype=pl.Int64).alias("input_tokens"))
    with pytest.raises(ValueError, match="'input_tokens' has null"):
        cost_of(nulls, "usd", {"small": (1.0, 1.0), "big": (1.0, 1.0)})
