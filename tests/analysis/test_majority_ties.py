"""majority@k tie policies (seeded, counted) and unparsed answers kept in the denominator, on hand-built votes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.sampling import majority_at_k


def _tie_frame() -> pl.DataFrame:
    # one problem, answers a, a, b, b; "a" is correct. Pairs: C(4, 2) = 6 -> {a,a}, {b,b} and 4 ties {a,b}.
    return pl.DataFrame(
        {"problem_id": ["p"] * 4, "answer": ["a", "a", "b", "b"], "correct": [True, True, False, False]}
    )


def test_tie_counts_and_policies_exact():
    rng = np.random.default_rng(0)
    wrong = majority_at_k(_tie_frame(), 2, rng=rng, ties="wrong").row(0, named=True)
    assert wrong["exact"] and wrong["n_subsets"] == 6
    assert wrong["n_ties"] == 4 and wrong["n_ties_with_correct"] == 4
    assert wrong["majority_at_k"] == pytest.approx(1 / 6)  # only {a, a} scores
    assert wrong["tie_policy"] == "wrong"
    expected = majority_at_k(_tie_frame(), 2, rng=rng, ties="expected").row(0, named=True)
    assert expected["majority_at_k"] == pytest.approx((1 + 0 + 4 * 0.5) / 6)
    # k = 4: the single subset is the 2-2 tie
    assert majority_at_k(_tie_frame(), 4, rng=rng, ties="wrong")["majority_at_k"][0] == 0.0
    assert majority_at_k(_tie_frame(), 4, rng=rng, ties="wrong")["n_ties"][0] == 1


def test_random_ties_are_seeded_and_unbiased():
    a = majority_at_k(_tie_frame(), 2, rng=np.random.default_rng(7), ties="random")["majority_at_k"][0]
    b = majority_at_k(_tie_frame(), 2, rng=np.random.default_rng(7), ties="random")["majority_at_k"][0]
    assert a == b  # same seed, same draws
    # each value is (1 + number of ties won by "a") / 6
    assert a * 6 == pytest.approx(round(a * 6)) and 1 / 6 <= a <= 5 / 6
    # over many seeds the random policy averages to the expected policy (0.5)
    vals = [
        majority_at_k(_tie_frame(), 2, rng=np.random.default_rng(s), ties="random")["majority_at_k"][0]
        for s in range(400)
    ]
    assert np.mean(vals) == pytest.approx(0.5, abs=0.02)


def test_unparsed_answers_stay_in_the_denominator():
    # p1: one parsed correct answer and two unparsed; p2: all three unparsed (but the problem counts)
    frame = pl.DataFrame(
        {
            "problem_id": ["p1"] * 3 + ["p2"] * 3,
            "answer": ["42", None, None, None, None, None],
            "correct": [True, False, False, False, False, False],
        }
    )
    rng = np.random.default_rng(0)
    abst = majority_at_k(frame, 3, rng=rng, unparsed="abstain").sort("problem_id")
    assert abst.height == 2  # p2 is not dropped
    assert abst["n_unparsed"].to_list() == [2, 3]
    assert abst["majority_at_k"].to_list() == [1.0, 0.0]  # p1: "42" is the only vote
    assert abst["majority_at_k"].mean() == pytest.approx(0.5)
    vote = majority_at_k(frame, 3, rng=rng, unparsed="wrong_vote").sort("problem_id")
    assert vote["majority_at_k"].to_list() == [0.0, 0.0]  # p1: two "no answer" votes beat one "42"
    one = majority_at_k(frame, 1, rng=rng).sort("problem_id")
    assert one["majority_at_k"].to_list() == pytest.approx([1 / 3, 0.0])  # = pass@1 with unparsed as wrong
    assert one["pass_at_1"].to_list() == pytest.approx([1 / 3, 0.0])


def test_bad_policies_raise():
    with pytest.raises(ValueError, match="ties must be one of"):
        majority_at_k(_tie_frame(), 2, rng=np.random.default_rng(0), ties="first")
    with pytest.raises(ValueError, match="unparsed must be one of"):
        majority_at_k(_tie_frame(), 2, rng=np.random.default_rng(0), unparsed="drop")
