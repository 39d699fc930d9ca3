"""Repeated sampling at test time: unbiased pass@k, coverage curves and their law, majority@k.

pass@k is the probability that at least one of k samples drawn *without replacement* from the n
logged samples of a problem is correct (Chen et al. 2021, arXiv 2107.03374). Coverage is its mean
over problems; Brown et al. 2024 (arXiv 2407.21787) model it as an exponentiated power law
c(k) = exp(a k^b). Majority@k replaces the oracle verifier by a plurality vote over the k answers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import curve_fit

from analysis.errors import FitError, InsufficientDataError
from analysis.results import Bootstrap, FitResult

__all__ = [
    "pass_at_k",
    "coverage_curve",
    "log_spaced_ks",
    "coverage_law",
    "fit_coverage",
    "coverage_bootstrap",
    "fit_coverage_counts",
    "majority_at_k",
    "TIE_POLICIES",
    "UNPARSED_POLICIES",
]


def _as_count_array(x: Any, name: str) -> np.ndarray:
    """Float array of non-negative integer counts; ValueError otherwise."""
    a = np.asarray(x, dtype=float)
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains inf")
    if (a < 0).any():
        raise ValueError(f"{name} must be non-negative, got min {a.min():g}")
    if (a != np.round(a)).any():
        raise ValueError(f"{name} must hold whole numbers (counts)")
    return a


def pass_at_k(n: Any, c: Any, k: Any) -> float | np.ndarray:
    """Unbiased pass@k of one or many problems.

    pass@k = 1 - C(n - c, k) / C(n, k), computed with the stable product form
    1 - prod_{i = n - c + 1}^{n} (1 - k / i) (evaluated as a sum of ``log1p`` terms and
    ``-expm1``); it is exactly 1 when n - c < k. pass@1 = c / n.

    Parameters
    ----------
    n : int or array_like of int
        Samples drawn per problem (count, >= 1).
    c : int or array_like of int
        Correct samples per problem (count, 0 <= c <= n). Broadcast against ``n``.
    k : int or array_like of int
        Attempts allowed (count, 1 <= k <= n). Broadcast against ``n`` and ``c``, so
        ``n[:, None], c[:, None], ks[None, :]`` gives a (problems, ks) table.

    Returns
    -------
    float or ndarray
        Probability in [0, 1]; a float when every input is a scalar, else an array of the
        broadcast shape.

    Raises
    ------
    ValueError
        If an input is empty, NaN, negative or fractional, if shapes do not broadcast, if k < 1,
        c > n or k > n.

    Notes
    -----
    Chen et al. (2021), "Evaluating Large Language Models Trained on Code", arXiv 2107.03374,
    Sec. 2.1. Never use 1 - (1 - c/n)^k: it samples with replacement and is biased.
    """
    scalar = all(np.ndim(v) == 0 for v in (n, c, k))
    n_a = _as_count_array(n, "n")
    c_a = _as_count_array(c, "c")
    k_a = _as_count_array(k, "k")
    try:
        n_b, c_b, k_b = np.broadcast_arrays(n_a, c_a, k_a)
    except ValueError as exc:
        raise ValueError(
            f"n, c and k do not broadcast: shapes {n_a.shape}, {c_a.shape}, {k_a.shape}"
        ) from exc
    if (k_b < 1).any():
        raise ValueError(f"k must be >= 1, got min k = {k_b.min():g}")
    if (c_b > n_b).any():
        raise ValueError("c > n: more correct samples than samples drawn")
    if (k_b > n_b).any():
        i = int(np.argmax(k_b > n_b))
        raise ValueError(f"k > n: cannot estimate pass@{k_b.flat[i]:g} from n = {n_b.flat[i]:g} samples")
    out = np.ones(n_b.shape, dtype=float)
    live = (n_b - c_b) >= k_b
    if live.any():
        nn = n_b[live].astype(np.int64)
        cc = c_b[live].astype(np.int64)
        kk = k_b[live].astype(np.int64)
        log_fail = np.empty(nn.shape, dtype=float)
        for kv in np.unique(kk):
            sel = kk == kv
            n_max = int(nn[sel].max())
            # S[j] = sum_{i = kv + 1}^{j} log(1 - kv / i) for j >= kv; only j >= kv is read.
            i = np.arange(kv + 1, n_max + 1, dtype=float)
            s = np.concatenate([[0.0], np.cumsum(np.log1p(-kv / i))])
            log_fail[sel] = s[nn[sel] - kv] - s[nn[sel] - cc[sel] - kv]
        out[live] = -np.expm1(log_fail)
    return float(out) if scalar else out


def coverage_curve(n: Any, c: Any, ks: Any) -> np.ndarray:
    """Coverage: mean over problems of the unbiased pass@k, at each k.

    coverage(k) = (1 / P) sum_i pass@k(n_i, c_i).

    Parameters
    ----------
    n : array_like of int, shape (P,)
        Samples per problem.
    c : array_like of int, shape (P,)
        Correct samples per problem.
    ks : array_like of int, shape (K,)
        Numbers of attempts, each 1 <= k <= min(n).

    Returns
    -------
    ndarray, shape (K,)
        Fraction of problems solved by at least one of k attempts (oracle verifier).

    Raises
    ------
    ValueError
        If n and c are not 1-D of equal length, or as in :func:`pass_at_k`.

    Notes
    -----
    Brown et al. (2024), "Large Language Monkeys", arXiv 2407.21787, Sec. 2.
    """
    n_a = np.asarray(n, dtype=float)
    c_a = np.asarray(c, dtype=float)
    ks_a = np.atleast_1d(np.asarray(ks, dtype=float))
    if n_a.ndim != 1 or c_a.ndim != 1 or n_a.shape != c_a.shape:
        raise ValueError(f"n and c must be 1-D of equal length, got {n_a.shape} and {c_a.shape}")
    if ks_a.ndim != 1:
        raise ValueError(f"ks must be 1-D, got shape {ks_a.shape}")
    table = pass_at_k(n_a[:, None], c_a[:, None], ks_a[None, :])
    return np.asarray(table).mean(axis=0)


def log_spaced_ks(k_max: int, num: int = 40, k_min: int = 1) -> np.ndarray:
    """Integer k values log-spaced in [k_min, k_max] (duplicates after rounding removed).

    k_j = round(10 ** linspace(log10 k_min, log10 k_max, num)), made unique. With k_max = 10^4 and
    num = 40 this gives 37 distinct k (Brown et al. 2024, App. C.1, fit 40 log-spaced k).

    Parameters
    ----------
    k_max : int
        Largest k (count, >= k_min).
    num : int
        Number of log-spaced values before rounding (>= 2).
    k_min : int
        Smallest k (count, >= 1).

    Returns
    -------
    ndarray of int, shape (m,), m <= num, sorted ascending.

    Raises
    ------
    ValueError
        If k_min < 1, k_max < k_min or num < 2.
    """
    if k_min < 1 or k_max < k_min or num < 2:
        raise ValueError(f"need 1 <= k_min <= k_max and num >= 2, got {k_min}, {k_max}, {num}")
    ks = np.round(np.logspace(math.log10(k_min), math.log10(k_max), num)).astype(np.int64)
    return np.unique(ks)


def _law(k: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.exp(a * np.power(k, b))


def coverage_law(k: Any, a: float, b: float) -> np.ndarray:
    """Exponentiated power law of coverage, c(k) = exp(a k^b).

    Parameters
    ----------
    k : array_like, shape (K,)
        Number of attempts (> 0).
    a : float
        Log-coverage at k = 1 (dimensionless, a < 0 for a sensible law).
    b : float
        Exponent (dimensionless, b < 0 so that c -> 1 as k -> inf).

    Returns
    -------
    ndarray, shape (K,)
        Predicted coverage in (0, 1] when a, b < 0.

    Raises
    ------
    ValueError
        If k is empty, NaN or <= 0, or a, b are NaN.

    Notes
    -----
    Brown et al. (2024), arXiv 2407.21787, Eq. 3.
    """
    k_a = np.asarray(k, dtype=float)
    if k_a.size == 0 or np.isnan(k_a).any() or (k_a <= 0).any():
        raise ValueError("k must be non-empty, finite and > 0")
    if np.isnan(a) or np.isnan(b):
        raise ValueError("a or b is NaN")
    return np.exp(a * np.power(k_a, b))


def fit_coverage(ks: Any, coverage: Any, *, p0: tuple[float, float] = (-1.0, -0.3)) -> FitResult:
    """Fit the coverage law c(k) = exp(a k^b) by least squares on coverage (linear space).

    Follows Brown et al.: ``scipy.optimize.curve_fit`` (Levenberg-Marquardt) of the coverage
    values themselves; pass the pass@k curve at 40 log-spaced k (see :func:`log_spaced_ks` and
    :func:`coverage_curve`) to reproduce their procedure.

    Parameters
    ----------
    ks : array_like, shape (K,)
        Numbers of attempts (> 0).
    coverage : array_like, shape (K,)
        Coverage at each k, in (0, 1].
    p0 : (float, float)
        Starting (a, b).

    Returns
    -------
    FitResult
        law ``"coverage_exp_power"``, params ``{"a", "b"}``, objective = sum of squared
        residuals, derived ``{"mean_abs_err", "std_abs_err", "max_abs_err"}`` (the fit error
        Brown et al. report under each panel), ``success`` False with a message when a >= 0 or
        b >= 0.

    Raises
    ------
    ValueError
        On shape mismatch, NaN, k <= 0, or coverage outside (0, 1].
    InsufficientDataError
        With fewer than 3 points.
    FitError
        If ``curve_fit`` fails.

    Notes
    -----
    Brown et al. (2024), "Large Language Monkeys", arXiv 2407.21787, Eq. 3 and App. C.1.
    """
    k = np.asarray(ks, dtype=float)
    y = np.asarray(coverage, dtype=float)
    if k.ndim != 1 or y.shape != k.shape:
        raise ValueError(f"ks and coverage must be 1-D of equal length, got {k.shape}, {y.shape}")
    if np.isnan(k).any() or np.isnan(y).any():
        raise ValueError("ks or coverage contains NaN")
    if (k <= 0).any():
        raise ValueError("ks must be > 0")
    if ((y <= 0) | (y > 1)).any():
        raise ValueError("coverage must lie in (0, 1] (log-coverage is undefined at 0)")
    if k.size < 3:
        raise InsufficientDataError(f"need at least 3 points to fit a and b, got {k.size}")
    try:
        (a, b), _ = curve_fit(_law, k, y, p0=p0, maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        raise FitError(f"curve_fit failed: {exc}") from exc
    pred = _law(k, a, b)
    r = pred - y
    # Gradient of sum r^2 with respect to (a, b).
    kb = np.power(k, b)
    grad = np.array([2 * np.sum(r * pred * kb), 2 * np.sum(r * pred * a * kb * np.log(k))])
    ok = bool(a < 0 and b < 0)
    abs_err = np.abs(r)
    return FitResult(
        law="coverage_exp_power",
        params={"a": float(a), "b": float(b)},
        n_points=int(k.size),
        objective=float(np.sum(r**2)),
        loss="linear",
        delta=None,
        space="linear",
        optimizer="scipy.optimize.curve_fit (Levenberg-Marquardt)",
        n_starts=1,
        grad_norm=float(np.linalg.norm(grad)),
        success=ok,
        message="" if ok else f"fitted a = {a:.3g}, b = {b:.3g}: expected a < 0 and b < 0",
        derived={
            "mean_abs_err": float(abs_err.mean()),
            "std_abs_err": float(abs_err.std()),
            "max_abs_err": float(abs_err.max()),
        },
        extra={"k_min": float(k.min()), "k_max": float(k.max()), "p0": list(p0)},
    )


def coverage_bootstrap(
    n: Any,
    c: Any,
    ks: Any,
    *,
    n_boot: int = 200,
    rng: np.random.Generator,
    k_eval: Sequence[int] = (),
) -> Bootstrap:
    """Bootstrap the coverage law by resampling problems with replacement.

    Each replicate draws P problems with replacement, recomputes coverage(k) on ``ks`` and refits
    c(k) = exp(a k^b) (:func:`fit_coverage`). Failed refits give NaN.

    Parameters
    ----------
    n, c : array_like of int, shape (P,)
        Samples and correct samples per problem.
    ks : array_like of int, shape (K,)
        k grid of the fit (e.g. ``log_spaced_ks(min(n))``).
    n_boot : int
        Number of replicates (>= 1).
    rng : numpy.random.Generator
        Source of randomness; a child seed is drawn from it and recorded in ``Bootstrap.seed``.
    k_eval : sequence of int
        Values of k at which to also record the empirical coverage of each replicate, stored as
        ``"coverage@k"``.

    Returns
    -------
    Bootstrap
        replicates ``"a"``, ``"b"`` and ``"coverage@<k>"`` per k in ``k_eval``; unit
        ``"problem"``.

    Raises
    ------
    ValueError
        If n_boot < 1, or as in :func:`coverage_curve`.

    Notes
    -----
    Brown et al. (2024), arXiv 2407.21787 (law); the problem bootstrap is ours.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    ks_a = np.asarray(ks, dtype=float)
    k_ev = np.asarray(list(k_eval), dtype=float)
    n_a = np.asarray(n, dtype=float)
    c_a = np.asarray(c, dtype=float)
    coverage_curve(n_a, c_a, ks_a[:1])  # validate shapes and counts
    grid = np.unique(np.concatenate([ks_a, k_ev]))
    table = np.asarray(pass_at_k(n_a[:, None], c_a[:, None], grid[None, :]))
    col_fit = np.searchsorted(grid, ks_a)
    col_ev = np.searchsorted(grid, k_ev)
    seed = int(rng.integers(0, 2**63 - 1))
    child = np.random.default_rng(seed)
    p = n_a.size
    reps: dict[str, np.ndarray] = {"a": np.full(n_boot, np.nan), "b": np.full(n_boot, np.nan)}
    for kv in k_ev:
        reps[f"coverage@{int(kv)}"] = np.full(n_boot, np.nan)
    for bi in range(n_boot):
        idx = child.integers(0, p, size=p)
        cov = table[idx].mean(axis=0)
        for kv, col in zip(k_ev, col_ev, strict=True):
            reps[f"coverage@{int(kv)}"][bi] = cov[col]
        try:
            fit = fit_coverage(ks_a, cov[col_fit])
        except (FitError, ValueError):
            continue
        reps["a"][bi] = fit.params["a"]
        reps["b"][bi] = fit.params["b"]
    return Bootstrap(replicates=reps, seed=seed, unit="problem", method="nonparametric")


def fit_coverage_counts(
    n: Any,
    c: Any,
    *,
    k_max: int | None = None,
    num: int = 40,
    n_boot: int = 0,
    rng: np.random.Generator | None = None,
    k_eval: Sequence[int] = (),
) -> FitResult:
    """Fit c(k) = exp(a k^b) straight from per-problem counts, optionally with a bootstrap.

    Computes coverage on ``log_spaced_ks(k_max, num)`` with :func:`coverage_curve`, fits it with
    :func:`fit_coverage` and, when ``n_boot > 0``, attaches :func:`coverage_bootstrap` replicates
    (so ``result.interval("a")`` works).

    Parameters
    ----------
    n, c : array_like of int, shape (P,)
        Samples and correct samples per problem (``eval_counts.n_samples`` / ``n_correct``).
    k_max : int, optional
        Largest k of the fit grid; default min(n).
    num : int
        Log-spaced grid size before rounding (Brown et al.: 40).
    n_boot : int
        Bootstrap replicates over problems (0 = none).
    rng : numpy.random.Generator, optional
        Required when n_boot > 0.
    k_eval : sequence of int
        k values whose coverage is also bootstrapped.

    Returns
    -------
    FitResult
        As :func:`fit_coverage`, with ``derived["coverage@k"]`` for each k in ``k_eval`` and
        ``bootstrap`` set when n_boot > 0.

    Raises
    ------
    ValueError
        As :func:`coverage_curve`, if k_max > min(n), if n_boot > 0 without rng, or if coverage is
        0 at k = 1 for every grid point (no problem ever solved).

    Notes
    -----
    Brown et al. (2024), arXiv 2407.21787, App. C.1.
    """
    n_a = np.asarray(n, dtype=float)
    if n_a.size == 0:
        raise ValueError("n is empty")
    k_top = int(np.min(n_a)) if k_max is None else int(k_max)
    if k_top > np.min(n_a):
        raise ValueError(f"k_max = {k_top} > min(n) = {np.min(n_a):g}")
    ks = log_spaced_ks(k_top, num)
    cov = coverage_curve(n_a, c, ks)
    keep = cov > 0
    if keep.sum() < 3:
        raise ValueError("coverage is 0 at (almost) every k: no problem was solved")
    fit = fit_coverage(ks[keep], cov[keep])
    derived = dict(fit.derived)
    if len(k_eval):
        for kv, value in zip(k_eval, coverage_curve(n_a, c, list(k_eval)), strict=True):
            derived[f"coverage@{int(kv)}"] = float(value)
    boot = None
    if n_boot > 0:
        if rng is None:
            raise ValueError("n_boot > 0 needs rng (numpy.random.Generator)")
        boot = coverage_bootstrap(n_a, c, ks[keep], n_boot=n_boot, rng=rng, k_eval=k_eval)
    return dataclasses.replace(fit, derived=derived, bootstrap=boot)


def _frame_from(frame_or_arrays: Any) -> pl.DataFrame:
    if isinstance(frame_or_arrays, pl.DataFrame):
        return frame_or_arrays
    if isinstance(frame_or_arrays, Mapping):
        return pl.DataFrame(dict(frame_or_arrays), strict=False)
    if isinstance(frame_or_arrays, tuple | list) and len(frame_or_arrays) == 3:
        pid, ans, cor = frame_or_arrays
        return pl.DataFrame(
            {"problem_id": list(pid), "answer": list(ans), "correct": list(cor)}, strict=False
        )
    raise ValueError(
        "majority_at_k takes a polars DataFrame, a mapping of columns, or a tuple "
        "(problem_id, answer, correct)"
    )


#: Tie policies of :func:`majority_at_k` (what a size-k subset scores when several answers share the top count).
TIE_POLICIES: tuple[str, ...] = ("random", "wrong", "expected")
#: What a sample whose answer failed to parse (null ``answer``) does in the vote.
UNPARSED_POLICIES: tuple[str, ...] = ("abstain", "wrong_vote")


def _majority_one(
    codes: np.ndarray,
    ans_correct: np.ndarray,
    k: int,
    n_subsets: int,
    rng: np.random.Generator,
    ties: str = "random",
) -> tuple[float, int, bool, int, int]:
    """Mean credit of plurality votes over size-k subsets of one problem's samples.

    Returns (mean credit, subsets scored, exact enumeration, subsets with a tie for the top count, tied subsets
    in which a correct answer is among the tied ones).
    """
    n = codes.size
    n_ans = ans_correct.size
    if n_ans == 0:  # every sample failed to parse: every subset scores 0
        return 0.0, 0, True, 0, 0
    if math.comb(n, k) <= n_subsets:
        subsets = np.array(list(combinations(range(n), k)), dtype=np.int64)
        exact = True
    else:
        subsets = np.argsort(rng.random((n_subsets, n)), axis=1)[:, :k]
        exact = False
    votes = codes[subsets]  # (S, k), -1 = abstain
    counts = np.zeros((votes.shape[0], n_ans + 1), dtype=np.int64)
    rows = np.repeat(np.arange(votes.shape[0]), k)
    np.add.at(counts, (rows, votes.ravel() + 1), 1)
    counts = counts[:, 1:]  # drop abstentions
    top = counts.max(axis=1, keepdims=True)
    tied = (counts == top) & (top > 0)
    n_tied = tied.sum(axis=1)
    is_tie = n_tied > 1
    tie_with_correct = is_tie & (tied & (ans_correct[None, :] > 0)).any(axis=1)
    if ties == "expected":
        credit = np.where(n_tied > 0, (tied * ans_correct[None, :]).sum(axis=1) / np.maximum(n_tied, 1), 0.0)
    else:
        # one winner per subset: the only top answer, or (random) a uniform draw among the tied ones
        draw = rng.random(counts.shape) if ties == "random" else np.zeros(counts.shape)
        winner = np.argmax(np.where(tied, draw + 1.0, 0.0), axis=1)
        credit = np.where(n_tied > 0, ans_correct[winner], 0.0)
        if ties == "wrong":
            credit = np.where(is_tie, 0.0, credit)
    return float(credit.mean()), int(votes.shape[0]), exact, int(is_tie.sum()), int(tie_with_correct.sum())


def majority_at_k(
    frame_or_arrays: Any,
    k: int,
    *,
    n_subsets: int = 100,
    rng: np.random.Generator,
    by: Sequence[str] = (),
    ties: str = "random",
    unparsed: str = "abstain",
) -> pl.DataFrame:
    """Majority-vote accuracy with k samples, per problem (Monte-Carlo over size-k subsets).

    For each problem, draw ``n_subsets`` random size-k subsets (without replacement) of its n
    logged samples; in each subset the answer with the most votes wins and the subset scores
    whether that answer is correct. majority@k of the problem is the mean score over subsets.
    When C(n, k) <= ``n_subsets`` every subset is enumerated instead (exact value up to the tie
    draws). This is the estimator of Brown et al. (2024, Sec. 4: 100 random subsets per problem);
    Wu et al. (2024) study its limit (the modal answer's correctness) as k grows.

    Tie policy (``ties``), when m > 1 answers share the top count:

    - ``"random"``: one of the tied answers wins, drawn uniformly with ``rng`` (seeded: the same
      seed gives the same result);
    - ``"wrong"``: the subset scores 0 (a tie is not a decision);
    - ``"expected"``: the subset scores the fraction of the tied answers that are correct (the
      expectation of ``"random"``; deterministic).

    Unparsed answers (``answer`` null: the final answer could not be extracted) are never dropped:
    the sample stays among the n drawn, and its problem stays in the denominator. With
    ``unparsed="abstain"`` it casts no vote (a subset in which every sample abstains scores 0);
    with ``"wrong_vote"`` all unparsed samples of a problem vote for one shared wrong answer
    ("no answer"), which can win the plurality. A problem whose every sample is unparsed scores 0.
    An answer string's correctness is the mean of its samples' ``correct`` flags (normally all
    equal).

    Parameters
    ----------
    frame_or_arrays : polars.DataFrame, mapping, or tuple (problem_id, answer, correct)
        One row per sample with columns ``problem_id``, ``answer`` (the extracted final
        answer, compared as a string; null = failed to parse) and ``correct`` (bool or 0/1), plus
        the ``by`` columns.
    k : int
        Votes per majority (count, 1 <= k <= n of every problem).
    n_subsets : int
        Random subsets per problem (Brown et al. used 100).
    rng : numpy.random.Generator
        Source of randomness for the subsets and the random tie draws.
    by : sequence of str
        Extra grouping columns (e.g. ``("model", "benchmark", "setting")``).
    ties : {"random", "wrong", "expected"}
        Tie policy (above).
    unparsed : {"abstain", "wrong_vote"}
        What an unparsed sample does in the vote (above).

    Returns
    -------
    polars.DataFrame
        One row per (by..., problem_id) with ``n_samples``, ``n_unparsed`` (null answers), ``k``,
        ``majority_at_k`` in [0, 1], ``pass_at_1`` (c / n, unparsed samples counted as wrong
        unless marked correct), ``exact`` (whether all subsets were enumerated), ``n_subsets``
        (subsets scored), ``n_ties`` (subsets whose top count was shared), ``n_ties_with_correct``
        (ties in which the correct answer was among the tied: the ones the policy decides) and
        ``tie_policy``. The mean of ``majority_at_k`` over problems is the benchmark's majority@k.

    Raises
    ------
    ValueError
        If required columns are missing, the frame is empty, k < 1, n_subsets < 1, k exceeds a
        problem's sample count, ``correct`` has nulls, an unknown policy, or every ``answer`` is
        null (answers were not logged: only correctness is known, so use :func:`pass_at_k`, which
        needs an oracle).

    Notes
    -----
    Brown et al. (2024), arXiv 2407.21787, Sec. 4 (majority voting over 100 subsets); Wu et al.
    (2024), arXiv 2408.00724, on its saturation below coverage.
    """
    if ties not in TIE_POLICIES:
        raise ValueError(f"ties must be one of {', '.join(TIE_POLICIES)}, got {ties!r}")
    if unparsed not in UNPARSED_POLICIES:
        raise ValueError(f"unparsed must be one of {', '.join(UNPARSED_POLICIES)}, got {unparsed!r}")
    df = _frame_from(frame_or_arrays)
    need = ["problem_id", "correct", *by]
    missing = [col for col in need if col not in df.columns]
    if missing:
        raise ValueError(f"missing columns {missing}; need problem_id, answer, correct")
    if "answer" not in df.columns or df["answer"].null_count() == df.height:
        raise ValueError(
            "answers were not logged (column 'answer' absent or all null): majority@k needs "
            "the answers; only correctness is known, use pass_at_k instead"
        )
    if df.height == 0:
        raise ValueError("empty frame")
    if k < 1 or n_subsets < 1:
        raise ValueError(f"k and n_subsets must be >= 1, got k = {k}, n_subsets = {n_subsets}")
    if df["correct"].null_count():
        raise ValueError("column 'correct' has nulls")
    df = df.with_columns(pl.col("answer").cast(pl.Utf8), pl.col("correct").cast(pl.Float64).alias("_correct"))
    keys = [*by, "problem_id"]
    out: list[dict[str, Any]] = []
    for key, g in df.group_by(keys, maintain_order=True):
        n = g.height
        if k > n:
            raise ValueError(f"k = {k} > n = {n} samples for problem {dict(zip(keys, key, strict=True))}")
        ans = g["answer"].to_list()
        uniq = sorted({a for a in ans if a is not None})
        index = {a: i for i, a in enumerate(uniq)}
        n_unparsed = sum(a is None for a in ans)
        cor = g["_correct"].to_numpy()
        if unparsed == "wrong_vote" and n_unparsed:
            index[None] = len(uniq)  # one shared wrong "no answer"
        codes = np.array([index.get(a, -1) for a in ans], dtype=np.int64)
        ans_correct = np.array([cor[codes == i].mean() for i in range(len(uniq))], dtype=float)
        if unparsed == "wrong_vote" and n_unparsed:
            ans_correct = np.append(ans_correct, 0.0)
        value, n_sub, exact, n_ties, n_ties_c = _majority_one(codes, ans_correct, k, n_subsets, rng, ties)
        row = dict(zip(keys, key, strict=True))
        row.update(
            n_samples=n, n_unparsed=n_unparsed, k=k, majority_at_k=value, pass_at_1=float(cor.mean()),
            exact=exact, n_subsets=n_sub, n_ties=n_ties, n_ties_with_correct=n_ties_c, tie_policy=ties,
        )  # fmt: skip
        out.append(row)
    return pl.DataFrame(out)
