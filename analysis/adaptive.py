"""Difficulty-adaptive allocation of repeated samples versus a uniform allocation.

Snell, Lee, Xu, Kumar (2024), "Scaling LLM Test-Time Compute Optimally can be More Effective than
Scaling Model Parameters", arXiv 2408.03314: bin problems by estimated difficulty (5 quantile bins of
pass@1) and pick the test-time setting per bin. Here the setting is the number of independent
samples k_b given to every problem of bin b, and a problem counts as solved when any of its k
samples is correct (oracle verifier), so the expected accuracy of problem i with k samples is the
unbiased pass@k_i (Chen et al. 2021, arXiv 2107.03374).

Caveat: with ``split_half=False`` the same samples estimate difficulty and evaluate the allocation
("oracle difficulty"); the saving is then optimistic. ``split_half=True`` estimates difficulty and
chooses the allocation on a random half of each problem's samples and evaluates on the other half.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

__all__ = ["AllocationResult", "counts_from_frame", "difficulty_bins", "adaptive_allocation"]

ORACLE_NOTE = (
    "oracle difficulty: the same samples estimate difficulty and evaluate the allocation, so the "
    "saving is optimistic (an upper bound for a deployable difficulty predictor)"
)
SPLIT_NOTE = (
    "split-half: difficulty and allocation from a random half of each problem's samples, "
    "accuracy from the other half (hypergeometric split of the correct count)"
)


@dataclass(frozen=True)
class AllocationResult:
    """Per-bin allocation and a summary.

    Attributes
    ----------
    bins : polars.DataFrame
        One row per difficulty bin (1 = easiest): ``n_problems``, ``pass1_min``, ``pass1_max``,
        ``pass1_mean`` (estimated pass@1), ``k_adaptive``, ``k_uniform``, ``acc_adaptive`` and
        ``acc_uniform`` (mean expected accuracy of the bin's problems, on the evaluation data).
    summary : dict
        ``mode`` ("target" or "budget"), ``target``, ``budget``, ``difficulty`` ("oracle" or
        "split-half"), ``samples_per_problem_adaptive``, ``k_uniform`` (the uniform k reaching the
        target on the estimation data, or floor(budget)), ``acc_uniform`` (its accuracy), ``acc_adaptive``,
        ``acc_reference`` (the adaptive accuracy, capped at the target in target mode) and
        ``samples_per_problem_uniform`` (the smallest uniform k reaching ``acc_reference`` on the
        evaluation data; None if none does),
        ``saving_fraction`` = 1 - adaptive / uniform samples, ``note``.
    """

    bins: pl.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def counts_from_frame(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per-problem (n, c) from an ``eval_counts`` or ``eval_samples`` frame of ONE configuration.

    Parameters
    ----------
    frame : polars.DataFrame
        Either ``eval_counts`` rows (``problem_id``, ``n_samples``, ``n_correct``) or
        ``eval_samples`` rows (``problem_id``, ``correct``), for a single model/setting.

    Returns
    -------
    (n, c) : tuple of ndarray of int, shape (P,)
        Samples and correct samples per problem, ordered by ``problem_id``.

    Raises
    ------
    ValueError
        If the needed columns are missing, the frame is empty or a problem appears twice in an
        ``eval_counts`` frame.

    Notes
    -----
    Counts are the sufficient statistics of pass@k (Chen et al. 2021, arXiv 2107.03374).
    """
    if frame.height == 0:
        raise ValueError("empty frame")
    if {"problem_id", "n_samples", "n_correct"} <= set(frame.columns):
        if frame["problem_id"].is_duplicated().any():
            raise ValueError("problem_id repeats: pass one configuration (filter model/setting)")
        f = frame.sort("problem_id")
        return f["n_samples"].to_numpy().astype(np.int64), f["n_correct"].to_numpy().astype(np.int64)
    if {"problem_id", "correct"} <= set(frame.columns):
        g = (
            frame.group_by("problem_id")
            .agg(pl.len().alias("n"), pl.col("correct").cast(pl.Int64).sum().alias("c"))
            .sort("problem_id")
        )
        return g["n"].to_numpy().astype(np.int64), g["c"].to_numpy().astype(np.int64)
    raise ValueError("need columns (problem_id, n_samples, n_correct) or (problem_id, correct)")


def difficulty_bins(pass1: Any, n_bins: int = 5) -> np.ndarray:
    """Equal-count quantile bins of estimated pass@1, 1 = easiest.

    Problems are ranked by decreasing pass@1 (ties kept in input order) and rank r of P goes to
    bin floor(r n_bins / P) + 1, so bins differ in size by at most one; tied problems can fall
    in neighbouring bins.

    Parameters
    ----------
    pass1 : array_like, shape (P,)
        Estimated single-sample success probability per problem (fraction).
    n_bins : int
        Number of bins (1 <= n_bins <= P).

    Returns
    -------
    ndarray of int, shape (P,)
        Bin of each problem in 1..n_bins.

    Raises
    ------
    ValueError
        If pass1 is empty, not 1-D, NaN, or n_bins is out of range.

    Notes
    -----
    Snell et al. (2024), arXiv 2408.03314, Sec. 3.2 (five quantile bins of base-model pass@1).
    """
    p = np.asarray(pass1, dtype=float)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"pass1 must be a non-empty 1-D array, got shape {p.shape}")
    if np.isnan(p).any():
        raise ValueError("pass1 contains NaN")
    if not 1 <= n_bins <= p.size:
        raise ValueError(f"n_bins must be in [1, {p.size}], got {n_bins}")
    order = np.argsort(-p, kind="stable")
    bins = np.empty(p.size, dtype=np.int64)
    bins[order] = np.arange(p.size) * n_bins // p.size + 1
    return bins


def _pass_table(n: np.ndarray, c: np.ndarray, k_max: int) -> np.ndarray:
    """pass@k for k = 0..k_max, shape (P, k_max + 1), by the product form cumulatively."""
    j = np.arange(k_max, dtype=float)[None, :]
    nn = n[:, None].astype(float)
    cc = c[:, None].astype(float)
    factors = np.clip(nn - cc - j, 0.0, None) / (nn - j)  # P(no success at draw j+1 | none so far)
    fail = np.concatenate([np.ones((n.size, 1)), np.cumprod(factors, axis=1)], axis=1)
    return 1.0 - fail


def _greedy(
    bin_curves: np.ndarray, sizes: np.ndarray, min_k: int, *, need: float | None, cap: float | None
) -> np.ndarray:
    """Per-bin k from concave bin curves F_b(k) (sum of pass@k), cheapest-first increments.

    need: required sum of expected successes; cap: maximum total samples. Returns k per bin.
    """
    n_b = bin_curves.shape[0]
    gains = np.diff(bin_curves[:, min_k:], axis=1)  # (B, K - min_k)
    ratio = gains / sizes[:, None]
    flat_bin = np.repeat(np.arange(n_b), gains.shape[1])
    order = np.argsort(-ratio.ravel(), kind="stable")
    # Within a bin the ratios are non-increasing (pass@k is concave in k), so any prefix of this
    # order takes the first increments of each bin.
    g = gains.ravel()[order]
    cost = sizes[flat_bin[order]].astype(float)
    k = np.full(n_b, min_k, dtype=np.int64)
    base_acc = bin_curves[:, min_k].sum()
    base_cost = float(sizes.sum() * min_k)
    if need is not None:
        cum = base_acc + np.cumsum(g)
        if base_acc >= need - 1e-12:
            return k
        m = int(np.searchsorted(cum, need - 1e-12, side="left")) + 1
        taken = order[:m]
    else:
        cum_cost = base_cost + np.cumsum(cost)
        m = int(np.searchsorted(cum_cost, cap + 1e-9, side="right"))
        taken = order[:m]
    return k + np.bincount(flat_bin[taken], minlength=n_b)


def adaptive_allocation(
    n: Any,
    c: Any,
    *,
    target: float | None = None,
    budget: float | None = None,
    n_bins: int = 5,
    min_k: int = 1,
    k_max: int | None = None,
    split_half: bool = False,
    rng: np.random.Generator | None = None,
) -> AllocationResult:
    """Samples per problem needed by a per-difficulty allocation versus a uniform one.

    Expected accuracy of allocation k = (k_1..k_B) is (1 / P) sum_i pass@k_{b(i)}(n_i, c_i).
    With ``target``: minimise the total samples sum_b |b| k_b subject to expected accuracy >=
    target; the uniform allocation is the smallest single k reaching it. With ``budget`` (mean
    samples per problem): maximise expected accuracy subject to sum_b |b| k_b <= budget P; the
    uniform allocation uses k = floor(budget). In both modes the summary compares the adaptive
    samples with the uniform k needed to reach the adaptive allocation's (evaluated) accuracy.

    The optimisation takes extra samples one bin-increment at a time in order of accuracy gain
    per sample; because pass@k is concave in k this is optimal when bins have equal sizes, as
    they do here up to one problem.

    Parameters
    ----------
    n, c : array_like of int, shape (P,)
        Samples drawn and correct samples per problem (see :func:`counts_from_frame`).
    target : float, optional
        Expected accuracy to reach (fraction in (0, 1]). Exactly one of target / budget.
    budget : float, optional
        Mean samples per problem (>= min_k).
    n_bins : int
        Difficulty bins (quantiles of estimated pass@1; Snell used 5).
    min_k : int
        Fewest samples any problem receives (>= 0; 1 means every problem is attempted).
    k_max : int, optional
        Largest k per problem; default the smallest n (or smallest half for split-half).
    split_half : bool
        Estimate difficulty and choose the allocation on a random half of each problem's samples
        and evaluate on the other half (needs ``rng``).
    rng : numpy.random.Generator, optional
        Randomness for the split-half draw.

    Returns
    -------
    AllocationResult
        ``bins`` frame and ``summary`` dict (see :class:`AllocationResult`).

    Raises
    ------
    ValueError
        On bad shapes or counts (c > n, negative, NaN, empty), both or neither of target and
        budget, an unreachable target (above mean pass@k_max), budget < min_k or > k_max,
        split_half without rng or with n < 2, or n_bins out of range.

    Notes
    -----
    Snell et al. (2024), arXiv 2408.03314 (per-difficulty compute-optimal scaling); Chen et al.
    (2021), arXiv 2107.03374 (pass@k). Oracle difficulty (the default) is optimistic.
    """
    n_a = np.asarray(n, dtype=float)
    c_a = np.asarray(c, dtype=float)
    if n_a.ndim != 1 or n_a.shape != c_a.shape:
        raise ValueError(f"n and c must be 1-D of equal length, got {n_a.shape}, {c_a.shape}")
    if n_a.size == 0:
        raise ValueError("empty input")
    if np.isnan(n_a).any() or np.isnan(c_a).any():
        raise ValueError("n or c contains NaN")
    if (n_a < 1).any() or (c_a < 0).any() or (c_a > n_a).any():
        raise ValueError("need n >= 1 and 0 <= c <= n for every problem")
    if (target is None) == (budget is None):
        raise ValueError("give exactly one of target (accuracy) or budget (samples per problem)")
    if min_k < 0:
        raise ValueError(f"min_k must be >= 0, got {min_k}")
    n_i = n_a.astype(np.int64)
    c_i = c_a.astype(np.int64)
    if split_half:
        if rng is None:
            raise ValueError("split_half=True needs rng (numpy.random.Generator)")
        if (n_i < 2).any():
            raise ValueError("split_half needs n >= 2 samples per problem")
        n_est = n_i // 2
        c_est = rng.hypergeometric(c_i, n_i - c_i, n_est)
        n_ev, c_ev = n_i - n_est, c_i - c_est
    else:
        n_est, c_est, n_ev, c_ev = n_i, c_i, n_i, c_i
    limit = int(n_est.min())
    k_max = limit if k_max is None else int(k_max)
    if not max(min_k, 1) <= k_max <= limit:
        raise ValueError(f"k_max must be in [max(min_k, 1), {limit}], got {k_max}")
    pass1 = c_est / n_est
    bins = difficulty_bins(pass1, n_bins)
    table_est = _pass_table(n_est, c_est, k_max)
    table_ev = table_est if not split_half else _pass_table(n_ev, c_ev, k_max)
    p_count = n_i.size
    labels = np.arange(1, n_bins + 1)
    sizes = np.array([(bins == b).sum() for b in labels])
    curves = np.stack([table_est[bins == b].sum(axis=0) for b in labels])
    mean_est = table_est.mean(axis=0)
    mean_ev = table_ev.mean(axis=0)
    if target is not None:
        if not 0.0 < target <= 1.0:
            raise ValueError(f"target must be in (0, 1], got {target}")
        if mean_est[k_max] < target - 1e-12:
            raise ValueError(f"target {target} is unreachable: mean pass@{k_max} is {mean_est[k_max]:.4f}")
        k_bins = _greedy(curves, sizes, min_k, need=target * p_count, cap=None)
        mode = "target"
    else:
        if not min_k <= budget <= k_max:
            raise ValueError(f"budget must be in [min_k={min_k}, k_max={k_max}], got {budget}")
        k_bins = _greedy(curves, sizes, min_k, need=None, cap=budget * p_count)
        mode = "budget"
    k_prob = k_bins[bins - 1]
    acc_prob_ev = table_ev[np.arange(p_count), k_prob]
    acc_adaptive = float(acc_prob_ev.mean())
    spp_adaptive = float(k_prob.mean())
    # Uniform k reaching the same accuracy on the evaluation data: the adaptive allocation's
    # accuracy, capped at the target in target mode (the greedy step may overshoot it slightly).
    acc_ref = acc_adaptive if target is None else min(acc_adaptive, target)
    reach = np.flatnonzero(mean_ev[min_k:] >= acc_ref - 1e-12)
    k_match = int(reach[0]) + min_k if reach.size else None
    if mode == "target":
        k_uniform = int(np.flatnonzero(mean_est[min_k:] >= target - 1e-12)[0]) + min_k
    else:
        k_uniform = int(np.floor(budget))
    acc_uniform = float(mean_ev[k_uniform])
    saving = None if k_match in (None, 0) else 1.0 - spp_adaptive / k_match
    frame = pl.DataFrame(
        {
            "difficulty": labels,
            "n_problems": sizes,
            "pass1_min": [float(pass1[bins == b].min()) for b in labels],
            "pass1_max": [float(pass1[bins == b].max()) for b in labels],
            "pass1_mean": [float(pass1[bins == b].mean()) for b in labels],
            "k_adaptive": k_bins,
            "k_uniform": np.full(n_bins, k_uniform),
            "acc_adaptive": [float(acc_prob_ev[bins == b].mean()) for b in labels],
            "acc_uniform": [float(table_ev[bins == b, k_uniform].mean()) for b in labels],
        }
    )
    summary = {
        "mode": mode,
        "target": target,
        "budget": budget,
        "n_problems": int(p_count),
        "n_bins": int(n_bins),
        "min_k": int(min_k),
        "k_max": int(k_max),
        "difficulty": "split-half" if split_half else "oracle",
        "samples_per_problem_adaptive": spp_adaptive,
        "k_uniform": k_uniform,
        "acc_uniform": acc_uniform,
        "acc_adaptive": acc_adaptive,
        "acc_reference": acc_ref,
        "samples_per_problem_uniform": k_match,
        "saving_fraction": saving,
        "note": SPLIT_NOTE if split_half else ORACLE_NOTE,
    }
    return AllocationResult(bins=frame, summary=summary)
