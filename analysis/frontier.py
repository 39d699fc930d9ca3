"""Cost-accuracy frontier of test-time configurations: Pareto set, upper concave hull, cost units.

A configuration is a (model, setting) pair with a mean cost per question and an accuracy. Point p
dominates q when cost_p <= cost_q and acc_p >= acc_q with at least one strict. If a system may
randomise per query between two configurations, every point on the segment between them (expected
cost, expected accuracy) is achievable, so the achievable frontier is the upper concave hull of the
non-dominated points (METHODS.md s.8.7; Kapoor et al. 2024, "AI Agents That Matter", arXiv
2407.01502).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

__all__ = ["pareto_frontier", "upper_concave_hull", "cheapest_reaching", "cost_of"]


def _check_points(cost: Any, acc: Any) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(cost, dtype=float)
    a = np.asarray(acc, dtype=float)
    if c.ndim != 1 or c.shape != a.shape:
        raise ValueError(f"cost and acc must be 1-D of equal length, got {c.shape}, {a.shape}")
    if c.size == 0:
        raise ValueError("empty input")
    if not (np.isfinite(c).all() and np.isfinite(a).all()):
        raise ValueError("cost or acc contains NaN or inf")
    if (c < 0).any():
        raise ValueError("cost must be >= 0")
    return c, a


def pareto_frontier(cost: Any, acc: Any) -> np.ndarray:
    """Mask of non-dominated configurations (lower cost and higher accuracy are better).

    q is dominated when some p has cost_p <= cost_q and acc_p >= acc_q with one inequality
    strict. Exact duplicates do not dominate each other, so both are kept.

    Parameters
    ----------
    cost : array_like, shape (m,)
        Mean cost per question (any unit: tokens, $, seconds, FLOPs; >= 0).
    acc : array_like, shape (m,)
        Accuracy (fraction) or any score where higher is better.

    Returns
    -------
    ndarray of bool, shape (m,)
        True for configurations on the Pareto frontier.

    Raises
    ------
    ValueError
        On shape mismatch, empty input, NaN/inf or negative cost.

    Notes
    -----
    Kapoor et al. (2024), arXiv 2407.01502. O(m log m).
    """
    c, a = _check_points(cost, acc)
    order = np.lexsort((-a, c))  # cost ascending, then accuracy descending
    keep = np.zeros(c.size, dtype=bool)
    best_cheaper = -np.inf  # best accuracy among strictly cheaper points
    i = 0
    while i < order.size:
        j = i
        while j < order.size and c[order[j]] == c[order[i]]:
            j += 1
        group = order[i:j]
        top = a[group[0]]
        if top > best_cheaper:
            keep[group[a[group] == top]] = True
        best_cheaper = max(best_cheaper, top)
        i = j
    return keep


def upper_concave_hull(cost: Any, acc: Any) -> np.ndarray:
    """Vertices of the achievable frontier when mixing configurations at random.

    The upper concave hull of the Pareto points, from the cheapest (best at that cost) to the
    most accurate (cheapest at that accuracy). Points on a hull edge but not at a corner
    (collinear) and duplicates are not returned.

    Parameters
    ----------
    cost : array_like, shape (m,)
        Mean cost per question (>= 0).
    acc : array_like, shape (m,)
        Accuracy (fraction).

    Returns
    -------
    ndarray of int, shape (h,)
        Indices into the inputs of the hull vertices, by increasing cost (and accuracy).

    Raises
    ------
    ValueError
        As in :func:`pareto_frontier`.

    Notes
    -----
    A mixture choosing configuration j with probability w_j has expected cost sum w_j cost_j
    and accuracy sum w_j acc_j (METHODS.md s.8.7). Andrew's monotone chain on the Pareto set.
    """
    c, a = _check_points(cost, acc)
    mask = pareto_frontier(c, a)
    idx = np.flatnonzero(mask)
    idx = idx[np.lexsort((a[idx], c[idx]))]
    # drop exact duplicates (keep the first index)
    uniq: list[int] = []
    for i in idx:
        if uniq and c[uniq[-1]] == c[i] and a[uniq[-1]] == a[i]:
            continue
        uniq.append(int(i))
    hull: list[int] = []
    for i in uniq:
        while len(hull) >= 2:
            o, p = hull[-2], hull[-1]
            cross = (c[p] - c[o]) * (a[i] - a[o]) - (a[p] - a[o]) * (c[i] - c[o])
            scale = (c[i] - c[o]) * (abs(a[i]) + abs(a[o]) + 1.0)
            if cross >= -1e-12 * scale:  # p on or below the chord o -> i: not an upper-hull corner
                hull.pop()
            else:
                break
        hull.append(i)
    return np.asarray(hull, dtype=np.int64)


def cheapest_reaching(cost: Any, acc: Any, target: float, *, allow_mixing: bool = True) -> dict[str, Any]:
    """Cheapest configuration, or mixture of two hull configurations, reaching a target accuracy.

    Without mixing: argmin cost_j subject to acc_j >= target. With mixing: on the upper concave
    hull find consecutive vertices i, j with acc_i < target <= acc_j and use j with probability
    w = (target - acc_i) / (acc_j - acc_i), expected cost (1 - w) cost_i + w cost_j.

    Parameters
    ----------
    cost : array_like, shape (m,)
        Mean cost per question (>= 0).
    acc : array_like, shape (m,)
        Accuracy (fraction).
    target : float
        Accuracy to reach (fraction).
    allow_mixing : bool
        Whether randomising between two configurations per query is allowed.

    Returns
    -------
    dict
        ``reachable`` (bool), ``cost`` (expected cost per question; ``inf`` when unreachable),
        ``accuracy`` (expected accuracy reached; None when unreachable) and ``mixture``: a list of
        (index, probability) pairs (one pair for a single configuration; None when unreachable).

    Raises
    ------
    ValueError
        As in :func:`pareto_frontier`, or if target is NaN.

    Notes
    -----
    Kapoor et al. (2024), arXiv 2407.01502; METHODS.md s.8.7.
    """
    c, a = _check_points(cost, acc)
    if np.isnan(target):
        raise ValueError("target is NaN")
    if a.max() < target:
        return {"reachable": False, "cost": float("inf"), "accuracy": None, "mixture": None}
    if not allow_mixing:
        ok = np.flatnonzero(a >= target)
        best = ok[np.lexsort((-a[ok], c[ok]))[0]]
        return {
            "reachable": True,
            "cost": float(c[best]),
            "accuracy": float(a[best]),
            "mixture": [(int(best), 1.0)],
        }
    hull = upper_concave_hull(c, a)
    first = hull[0]
    if a[first] >= target:
        return {
            "reachable": True,
            "cost": float(c[first]),
            "accuracy": float(a[first]),
            "mixture": [(int(first), 1.0)],
        }
    pos = int(np.searchsorted(a[hull], target, side="left"))
    hi, lo = hull[pos], hull[pos - 1]
    if a[hi] == target:
        return {
            "reachable": True,
            "cost": float(c[hi]),
            "accuracy": float(a[hi]),
            "mixture": [(int(hi), 1.0)],
        }
    w = (target - a[lo]) / (a[hi] - a[lo])
    return {
        "reachable": True,
        "cost": float((1 - w) * c[lo] + w * c[hi]),
        "accuracy": float(target),
        "mixture": [(int(lo), float(1 - w)), (int(hi), float(w))],
    }


def _price_pair(p: Any, model: str) -> tuple[float, float]:
    if isinstance(p, Mapping):
        if "input" not in p or "output" not in p:
            raise ValueError(f"price of {model!r} needs keys 'input' and 'output'")
        pin, pout = float(p["input"]), float(p["output"])
    else:
        try:
            pin, pout = (float(v) for v in p)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"price of {model!r} must be (input, output) $ per 1e6 tokens") from exc
    if pin < 0 or pout < 0 or np.isnan(pin) or np.isnan(pout):
        raise ValueError(f"price of {model!r} must be >= 0")
    return pin, pout


def cost_of(
    frame: pl.DataFrame,
    unit: str = "tokens",
    prices: Mapping[str, Any] | None = None,
    *,
    by: Sequence[str] = ("model", "benchmark", "setting"),
) -> pl.DataFrame:
    """Mean cost per question of each configuration, from per-answer token counts.

    Per question, cost = sum over its answers (several samples count several times); the
    configuration's cost is the mean over questions:

    - ``"tokens"``: generated (output) tokens; output tokens *include* reasoning/thinking tokens
      (use the comparable total, e.g. tts-knowledge ``total_output_tokens``);
    - ``"usd"``: input_tokens * P_in / 1e6 + output_tokens * P_out / 1e6 with user-set prices in $
      per million tokens per model (reasoning is billed as output); without ``prices`` the logged
      ``cost_usd`` column is used;
    - ``"latency_s"``: seconds (sum of ``latency_s`` over a question's answers).

    Parameters
    ----------
    frame : polars.DataFrame
        ``eval_samples`` rows: the ``by`` columns, ``problem_id``, ``output_tokens`` and, per unit,
        ``input_tokens``, ``cost_usd`` or ``latency_s``; ``correct`` (optional) adds accuracy.
    unit : {"tokens", "usd", "latency_s"}
        Cost unit.
    prices : mapping model -> (P_in, P_out) or {"input": P_in, "output": P_out}, optional
        $ per 1e6 input and output tokens, required for ``"usd"`` unless ``cost_usd`` is logged.
    by : sequence of str
        Columns identifying a configuration.

    Returns
    -------
    polars.DataFrame
        One row per configuration: the ``by`` columns, ``n_questions``, ``n_answers``, ``cost``
        (mean per question), ``cost_total``, ``unit``, and ``accuracy`` (mean over questions of
        the share of correct answers, i.e. pass@1) when ``correct`` exists.

    Raises
    ------
    ValueError
        For an unknown unit, missing columns, an empty frame, nulls/negatives in the cost inputs,
        or a model without a price.

    Notes
    -----
    Always state the cost unit (METHODS.md s.8.7, s.9); Kapoor et al. (2024), arXiv 2407.01502.
    Tokenizers differ between models, so token costs compare only roughly across models.
    """
    by = list(by)
    if unit not in ("tokens", "usd", "latency_s"):
        raise ValueError(f"unit must be 'tokens', 'usd' or 'latency_s', got {unit!r}")
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(f"expected a polars DataFrame, got {type(frame).__name__}")
    if unit == "tokens":
        need = ["output_tokens"]
    elif unit == "latency_s":
        need = ["latency_s"]
    elif prices is None:
        need = ["cost_usd"]
    else:
        need = ["output_tokens", "input_tokens", "model"]
    missing = [col for col in [*by, "problem_id", *need] if col not in frame.columns]
    if missing:
        raise ValueError(f"missing columns {missing} for unit {unit!r}")
    if frame.height == 0:
        raise ValueError("empty frame")
    for col in need:
        if col == "model":
            continue
        vals = frame[col].cast(pl.Float64)
        if vals.null_count() or vals.is_nan().any():
            raise ValueError(f"column {col!r} has null or NaN values")
        if (vals < 0).any():
            raise ValueError(f"column {col!r} has negative values")
    if unit == "tokens":
        per_answer = pl.col("output_tokens").cast(pl.Float64)
    elif unit == "latency_s":
        per_answer = pl.col("latency_s").cast(pl.Float64)
    elif prices is None:
        per_answer = pl.col("cost_usd").cast(pl.Float64)
    else:
        models = frame["model"].unique().to_list()
        absent = sorted(set(models) - set(prices))
        if absent:
            raise ValueError(f"no price for models {absent}")
        pairs = {m: _price_pair(prices[m], m) for m in models}
        p_in = pl.col("model").replace_strict({m: v[0] for m, v in pairs.items()})
        p_out = pl.col("model").replace_strict({m: v[1] for m, v in pairs.items()})
        per_answer = (
            pl.col("input_tokens").cast(pl.Float64) * p_in + pl.col("output_tokens").cast(pl.Float64) * p_out
        ) / 1e6
    df = frame.with_columns(per_answer.alias("_cost"))
    has_correct = "correct" in frame.columns
    per_q = df.group_by([*by, "problem_id"]).agg(
        pl.col("_cost").sum().alias("_q_cost"),
        pl.len().alias("_n"),
        *([pl.col("correct").cast(pl.Float64).mean().alias("_acc")] if has_correct else []),
    )
    out = per_q.group_by(by, maintain_order=True).agg(
        pl.len().alias("n_questions"),
        pl.col("_n").sum().alias("n_answers"),
        pl.col("_q_cost").mean().alias("cost"),
        pl.col("_q_cost").sum().alias("cost_total"),
        *([pl.col("_acc").mean().alias("accuracy")] if has_correct else []),
    )
    return out.with_columns(pl.lit(unit).alias("unit")).sort(by)
