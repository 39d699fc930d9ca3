"""Test-time scaling: pass@k and coverage fits, thinking-token curves, cost frontier, adaptive allocation.

Every public function takes the read-only DuckDB connection first and only hashable arguments after it, so pages
call them through ``app.cache.service("app.services.test_time:<name>", ...)``. Nothing here imports Streamlit.

Sources: Chen et al. (2021) arXiv:2107.03374 (pass@k); Brown et al. (2024) arXiv:2407.21787 (coverage law);
Muennighoff et al. (2025) arXiv:2501.19393 and Zhao et al. (2025) arXiv:2509.06861 (thinking tokens); Kapoor et al.
(2024) arXiv:2407.01502 (cost frontier); Snell et al. (2024) arXiv:2408.03314 (difficulty-adaptive allocation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import polars as pl

from analysis.adaptive import adaptive_allocation
from analysis.errors import FitError, InsufficientDataError
from analysis.frontier import cheapest_reaching, cost_of, pareto_frontier, upper_concave_hull
from analysis.results import FitResult
from analysis.sampling import coverage_curve, coverage_law, fit_coverage_counts, log_spaced_ks, majority_at_k
from analysis.sampling import pass_at_k as _pass_at_k
from analysis.thinking import (
    accuracy_vs_tokens,
    fit_accuracy_vs_log_tokens,
    marginal_gains,
    saturating_unidentified,
    stopping_point,
)
from app import fmt as textfmt
from app.services.common import fit_record
from data import queries

AXIS = "test_time"
CONFIG = ("model", "benchmark", "setting")
#: Placeholder price ($ per 1e6 tokens: input, output) used until the user edits it. Not a real price list.
PLACEHOLDER_PRICE: tuple[float, float] = (1.0, 4.0)
#: Smallest samples per problem for which a coverage curve is fitted (log-spaced k grid needs a range).
MIN_N_COVERAGE = 10
#: Fewest thinking levels for the 4-parameter saturating fit.
MIN_LEVELS_SATURATING = 5
PRICE_NOTE = (
    f"No prices ship with the data: every model starts at a placeholder ${PLACEHOLDER_PRICE[0]:g} input / "
    f"${PLACEHOLDER_PRICE[1]:g} output per 1M tokens. Reasoning tokens are billed as output. The prices used are "
    "stored in the thinking-token fit records."
)
COVERAGE_NOTE = (
    "Coverage law c(k) = exp(a k^b) (Brown et al. 2024, arXiv:2407.21787) fitted at 40 log-spaced k; 95% CI: "
    "percentile intervals from {n_boot} bootstrap replicates over problems. coverage@k_max: empirical coverage "
    "with all samples (k_max = samples per problem); fit@k_max: the law there; mean_abs_err: mean |data - law| "
    "over the k grid (coverage fraction)."
)
ADAPTIVE_NOTE = (
    "Per-difficulty allocation (Snell et al. 2024, arXiv:2408.03314), 5 quantile bins of pass@1. uniform k: samples "
    "of every problem needed for the target coverage; adaptive k: mean samples per problem when harder bins get "
    "more; saving: 1 - adaptive/uniform; –: target out of reach (see note). "
)
ORACLE_CAVEAT = (
    "Caveat: difficulty is estimated on the same samples that evaluate the allocation, so the saving is "
    "optimistic; tick split-half for an honest estimate."
)
SPLIT_CAVEAT = "Difficulty and allocation from half of each problem's samples, evaluated on the other half."
#: Marginal-gain metrics and their units (accuracy fraction per ...).
GAIN_UNITS = {"gain_per_1k_tokens": "1k output tokens", "gain_per_usd": "$ per question"}
#: Columns in tokens (per answer or per question) that tables show rounded to whole tokens.
TOKEN_COLUMNS = (
    "mean_tokens", "median_tokens", "d_tokens", "stop_tokens", "cost_tokens_per_question", "T_stop", "T_stop_lo",
    "T_stop_hi",
)  # fmt: skip
#: Marginal-gain table: the columns a reader compares first (the rest follow).
MARGINAL_FIRST = (
    "model", "setting", "mean_tokens", "accuracy", "gain_per_1k_tokens", "gain_per_usd", "prev_level",
    "d_accuracy", "d_tokens", "acc_lo", "acc_hi",
)  # fmt: skip
#: Headers of the thinking-fit table: acc = p + q ln T (linear) and the saturating form's A, T_mid, B.
THINK_FIT_LABELS = {
    "n_levels": "levels",
    "p": "p (linear: acc at T=1)",
    "q": "q (per ln token)",
    "gain_per_doubling": "gain per doubling of T",
    "sat_A": "A (saturating: ceiling)",
    "sat_T_mid": "T_mid (tokens)",
    "sat_B": "B (slope)",
    "sat_note": "saturating fit",
}
#: Headers of the adaptive-allocation table (samples per problem k; saving = 1 - adaptive / uniform).
ADAPTIVE_LABELS = {
    "uniform_samples_per_problem": "uniform k",
    "adaptive_samples_per_problem": "adaptive k (mean)",
    "saving": "saving (fraction)",
}
#: Axis / metric labels of the cost units.
COST_LABELS = {"tokens": "output tokens", "usd": "USD", "latency_s": "seconds"}
#: Tie policies of majority@k in words (``analysis.sampling.TIE_POLICIES``).
TIE_NOTES = {
    "random": "a tie for the most votes is broken uniformly at random among the tied answers",
    "wrong": "a tie for the most votes counts as wrong",
    "expected": "a tie scores the share of the tied answers that are correct (expected value of a random break)",
}
#: What an unparsed answer does in the vote, in words (``analysis.sampling.UNPARSED_POLICIES``).
UNPARSED_NOTES = {
    "abstain": "take their place among the k samples but cast no vote (all abstaining = wrong)",
    "wrong_vote": "vote together for one wrong 'no answer'",
}
NO_ANSWERS_NOTE = (
    "Majority@k needs the sampled answers. The selected data log only whether each sample was correct "
    "(Large Language Monkeys counts, tts-knowledge grades), so only oracle-verifier metrics (pass@k, coverage) "
    "are shown; majority voting cannot be computed."
)


def _err(e: Exception) -> ValueError:
    return ValueError(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)


def problem_counts(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Per-problem (n, c) counts of every configuration, integer-typed (``v_eval_by_problem``).

    Returns
    -------
    polars.DataFrame
        Columns run_id, model, benchmark, setting (null filled with ""), problem_id, n_samples, n_correct (Int64).

    Raises
    ------
    ValueError
        If the filter is not valid SQL over ``v_eval_by_problem`` columns.

    Notes
    -----
    (n, c) are the sufficient statistics of pass@k (Chen et al. 2021, arXiv:2107.03374).
    """
    try:
        df = queries.eval_by_problem(con, where)
    except duckdb.Error as e:
        raise ValueError(f"bad filter {where!r}: {_err(e)}") from e
    return df.with_columns(
        pl.col("setting").fill_null(""),
        pl.col("n_samples").cast(pl.Int64),
        pl.col("n_correct").cast(pl.Int64),
    )


def parse_ks(text: str) -> tuple[int, ...]:
    """Parse a comma-separated list of k (e.g. ``"1,10,100"``) into sorted unique positive integers.

    Raises
    ------
    ValueError
        If an item is not a whole number >= 1 or the list is empty.

    Notes
    -----
    k is the number of attempts of pass@k (Chen et al. 2021, arXiv:2107.03374).
    """
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError(f"--k {text!r}: give comma-separated whole numbers >= 1, e.g. 1,10,100")
    ks = []
    for t in items:
        try:
            v = int(t)
        except ValueError:
            raise ValueError(
                f"--k {text!r}: {t!r} is not a whole number; give comma-separated k >= 1, e.g. 1,10,100"
            ) from None
        if v < 1:
            raise ValueError(f"--k {text!r}: k must be >= 1, got {v}")
        ks.append(v)
    return tuple(sorted(set(ks)))


def pass_at_k_table(
    con: duckdb.DuckDBPyConnection, ks: tuple[int, ...], where: str | None = None
) -> pl.DataFrame:
    """Unbiased pass@k (mean over problems) per (model, benchmark, setting) at each k.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    ks : tuple of int, shape (K,)
        Attempts (count, >= 1).
    where : str, optional
        SQL filter over ``v_eval_by_problem`` columns.

    Returns
    -------
    polars.DataFrame
        One row per configuration: model, benchmark, setting, n_problems, n_min (fewest samples of a problem),
        n_correct_total, and ``pass@<k>`` per k (null where k > n_min: not estimable from these samples).

    Raises
    ------
    ValueError
        Empty selection, bad filter, or every k above the largest n in the selection.

    Notes
    -----
    Chen et al. (2021), arXiv:2107.03374; pass@1 = mean c/n.
    """
    df = problem_counts(con, where)
    if df.height == 0:
        raise ValueError(f"no evaluation data for filter {where!r}")
    n_top = int(df["n_samples"].max())
    too_big = [k for k in ks if k > n_top]
    if too_big:
        raise ValueError(
            f"k = {too_big[0]} > n = {n_top}: the selection has at most {n_top} samples per problem, "
            "so pass@k cannot be estimated for larger k"
        )
    rows = []
    for key, g in df.group_by(list(CONFIG), maintain_order=True):
        n = g["n_samples"].to_numpy()
        c = g["n_correct"].to_numpy()
        row: dict[str, Any] = dict(zip(CONFIG, key, strict=True))
        row.update(n_problems=g.height, n_min=int(n.min()), n_correct_total=int(c.sum()))
        for k in ks:
            row[f"pass@{k}"] = float(np.mean(_pass_at_k(n, c, k))) if k <= n.min() else None
        rows.append(row)
    schema = {c: pl.String for c in CONFIG} | {
        "n_problems": pl.Int64,
        "n_min": pl.Int64,
        "n_correct_total": pl.Int64,
    }
    schema |= {f"pass@{k}": pl.Float64 for k in ks}
    return pl.DataFrame(rows, schema=schema).sort(list(CONFIG))


def with_dashes(frame: pl.DataFrame, digits: int = 4) -> pl.DataFrame:
    """Float columns with missing values rewritten as text (``digits`` significant digits), "–" where missing.

    A table widget shows a missing number as "None"; a dash reads as "not estimable / not fitted". Columns
    without a missing value keep their dtype (numbers stay sortable and right-aligned); missing text becomes "–".

    Parameters
    ----------
    frame : polars.DataFrame
        Any frame, shape (n, m).
    digits : int
        Significant digits of the rewritten values (pass@k 0.4834, samples per problem 68.98).

    Returns
    -------
    polars.DataFrame
        Same shape and column names.
    """
    cols = [
        c
        for c, t in frame.schema.items()
        if t.is_float() and (frame[c].null_count() or frame[c].is_nan().any())
    ]
    texts = [c for c, t in frame.schema.items() if t == pl.String and frame[c].null_count()]
    return frame.with_columns(
        *(pl.col(c).fill_null("–") for c in texts),
        *(
            textfmt.g(frame.get_column(c), digits)
            .zip_with(
                ~(frame.get_column(c).is_null() | frame.get_column(c).is_nan()),
                pl.Series(["–"] * frame.height),
            )
            .alias(c)
            for c in cols
        ),
    )


def coverage_display(table: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """The coverage-fit table for a page: each 95% interval in one text column, constant columns moved to a note.

    Parameters
    ----------
    table : polars.DataFrame
        ``CoverageFits.table`` (one row per configuration).

    Returns
    -------
    (polars.DataFrame, str)
        Columns model, [benchmark, setting, n_problems, k_max when they vary], a, ``a 95% CI``, b, ``b 95% CI``,
        ``coverage@k_max`` (fraction), ``coverage 95% CI``, ``fit@k_max``, mean_abs_err; CIs are text
        ``"[lo, hi]"`` (3 significant digits, null without bootstrap). The note names the columns that are the
        same in every row (e.g. "benchmark MATH, setting temperature_0.6") and failed fits.

    Notes
    -----
    Brown et al. (2024), arXiv:2407.21787: c(k) = exp(a k^b).
    """
    notes, keep = [], ["model"]
    for col in ("benchmark", "setting", "n_problems", "k_max"):
        vals = table[col].unique().to_list()
        if table.height and len(vals) == 1:
            notes.append(f"{col} {vals[0] if vals[0] != '' else '(none)'}")
        else:
            keep.append(col)
    out = table.select(
        *keep,
        "a",
        textfmt.interval(table["a_lo"], table["a_hi"]).alias("a 95% CI"),
        "b",
        textfmt.interval(table["b_lo"], table["b_hi"]).alias("b 95% CI"),
        "coverage@k_max",
        textfmt.interval(table["cov_lo"], table["cov_hi"]).alias("coverage 95% CI"),
        "fit@k_max",
        "mean_abs_err",
    )
    failed = table.filter(~pl.col("success"))["model"].to_list() if table.height else []
    if failed:
        notes.append(f"optimiser did not converge for {', '.join(failed)}")
    return out, ("All rows: " + "; ".join(notes) + ".") if notes else ""


@dataclass
class CoverageFits:
    """Coverage-law fits: table of (a, b) with intervals, curve points, fitted curves, records, skipped configs."""

    table: pl.DataFrame
    points: pl.DataFrame
    curves: pl.DataFrame
    results: dict[tuple[str, str, str], FitResult] = field(default_factory=dict)
    records: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def coverage_fits(
    con: duckdb.DuckDBPyConnection,
    where: str | None = None,
    n_boot: int = 0,
    seed: int = 0,
    num: int = 40,
) -> CoverageFits:
    """Fit c(k) = exp(a k^b) per configuration with at least ``MIN_N_COVERAGE`` samples per problem.

    Coverage is computed on ``log_spaced_ks(n_min, num)``; a problem bootstrap (``n_boot`` replicates) gives 95%
    intervals of a, b and of coverage at k_max = n_min.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    where : str, optional
        SQL filter over ``v_eval_by_problem`` columns.
    n_boot : int
        Bootstrap replicates over problems (0 = no intervals).
    seed : int
        Seed of the bootstrap generator.
    num : int
        Log-spaced grid size before rounding (Brown et al.: 40).

    Returns
    -------
    CoverageFits
        ``table``: model, benchmark, setting, n_problems, k_max, a, a_lo, a_hi, b, b_lo, b_hi, ``coverage@k_max``
        (empirical, fraction) with cov_lo/cov_hi, ``fit@k_max`` (law at k_max), mean_abs_err, success;
        ``points``: model, benchmark, setting, k, coverage; ``curves``: same with the law on a dense k grid;
        ``records``: one fit record per configuration (axis "test_time", replicates kept).

    Raises
    ------
    ValueError
        Bad filter.

    Notes
    -----
    Brown et al. (2024), "Large Language Monkeys", arXiv:2407.21787, Eq. 3 and App. C.1.
    """
    df = problem_counts(con, where)
    rows, pts, crv, recs, skipped, results = [], [], [], [], [], {}
    rng = np.random.default_rng(seed)
    for key, g in df.group_by(list(CONFIG), maintain_order=True):
        label = " / ".join(str(k) for k in key)
        n = g["n_samples"].to_numpy()
        c = g["n_correct"].to_numpy()
        k_max = int(n.min())
        if k_max < MIN_N_COVERAGE:
            skipped.append(f"{label}: {k_max} sample(s) per problem (need >= {MIN_N_COVERAGE})")
            continue
        try:
            r = fit_coverage_counts(
                n, c, num=num, n_boot=n_boot, rng=rng if n_boot else None, k_eval=(k_max,)
            )
        except (ValueError, FitError, InsufficientDataError) as e:
            skipped.append(f"{label}: {e}")
            continue
        results[key] = r
        ks = log_spaced_ks(k_max, num)
        cov = coverage_curve(n, c, ks)
        base = dict(zip(CONFIG, key, strict=True))
        pts += [{**base, "k": int(k), "coverage": float(v)} for k, v in zip(ks, cov, strict=True)]
        grid = np.unique(np.round(np.logspace(0, np.log10(k_max), 80)))
        crv += [
            {**base, "k": float(k), "coverage": float(v)}
            for k, v in zip(grid, coverage_law(grid, r.params["a"], r.params["b"]), strict=True)
        ]
        a_lo, a_hi = r.interval("a")
        b_lo, b_hi = r.interval("b")
        cv_lo, cv_hi = r.interval(f"coverage@{k_max}")
        rows.append(
            {
                **base,
                "n_problems": g.height,
                "k_max": k_max,
                "a": r.params["a"],
                "a_lo": a_lo,
                "a_hi": a_hi,
                "b": r.params["b"],
                "b_lo": b_lo,
                "b_hi": b_hi,
                "coverage@k_max": r.derived[f"coverage@{k_max}"],
                "cov_lo": cv_lo,
                "cov_hi": cv_hi,
                "fit@k_max": float(coverage_law([k_max], r.params["a"], r.params["b"])[0]),
                "mean_abs_err": r.derived["mean_abs_err"],
                "success": r.success,
            }
        )
        recs.append(
            fit_record(
                AXIS,
                r,
                {**base, "where": where, "n_problems": g.height},
                {"num": num, "k_max": k_max, "n_boot": n_boot, "seed": seed, "bootstrap_unit": "problem"},
                checklist={
                    "law and why": "coverage c(k) = exp(a k^b), Brown et al. 2024 arXiv:2407.21787 Eq. 3",
                    "estimator": "unbiased pass@k (Chen et al. 2021, arXiv:2107.03374) averaged over problems",
                    "objective": "least squares on coverage (linear space) at log-spaced k",
                    "uncertainty": f"bootstrap over problems, {n_boot} replicates" if n_boot else "none",
                },
            )
        )
    schema = {c: pl.String for c in CONFIG}
    table_schema = schema | {
        "n_problems": pl.Int64,
        "k_max": pl.Int64,
        **{
            k: pl.Float64
            for k in (
                "a",
                "a_lo",
                "a_hi",
                "b",
                "b_lo",
                "b_hi",
                "coverage@k_max",
                "cov_lo",
                "cov_hi",
                "fit@k_max",
            )
        },
        "mean_abs_err": pl.Float64,
        "success": pl.Boolean,
    }
    return CoverageFits(
        table=pl.DataFrame(rows, schema=table_schema),
        points=pl.DataFrame(pts, schema=schema | {"k": pl.Int64, "coverage": pl.Float64}),
        curves=pl.DataFrame(crv, schema=schema | {"k": pl.Float64, "coverage": pl.Float64}),
        results=results,
        records=recs,
        skipped=skipped,
    )


def majority_table(
    con: duckdb.DuckDBPyConnection,
    where: str | None = None,
    k: int | tuple[int, ...] = 5,
    n_subsets: int = 100,
    seed: int = 0,
    ties: str = "random",
    unparsed: str = "abstain",
) -> tuple[pl.DataFrame, str]:
    """Majority@k per configuration for any k <= n where answers were logged, else an empty frame and a note.

    Unparsed answers (``eval_samples.answer`` null in a configuration that logged answers) are never dropped
    before voting: their samples stay among the n drawn and their problems stay in the denominator
    (``analysis.sampling.majority_at_k``). A configuration with no answer at all did not log answers and is
    left out (named in the note).

    Parameters
    ----------
    k : int or tuple of int
        Votes per majority (each 1 <= k); ``majority@<k>`` is null for a configuration with a problem of fewer
        than k samples.
    n_subsets : int
        Random size-k subsets per problem (Brown et al. 2024: 100); exact enumeration when C(n, k) is smaller.
    seed : int
        Seed of the subset and tie draws (the same seed gives the same table).
    ties : {"random", "wrong", "expected"}
        Tie policy of ``majority_at_k``.
    unparsed : {"abstain", "wrong_vote"}
        What an unparsed sample does in the vote.

    Returns
    -------
    (polars.DataFrame, str)
        Frame with model, benchmark, setting, n_problems, n_answers, n_unparsed, ``pass@1``, and per k
        ``majority@<k>`` (fraction, mean over problems) and ``ties@<k>`` (subsets whose top count was shared,
        summed over problems); the note explains what is missing and states the tie policy and seed.

    Raises
    ------
    ValueError
        Bad filter, unknown policy, k < 1.

    Notes
    -----
    Brown et al. (2024), arXiv:2407.21787, Sec. 4 (subset estimator); Wu et al. (2024), arXiv:2408.00724
    (majority voting saturates below coverage).
    """
    ks = tuple(sorted({int(v) for v in ((k,) if isinstance(k, int) else k)}))
    if not ks or ks[0] < 1:
        raise ValueError(f"k must be whole numbers >= 1, got {k!r}")
    try:
        s = queries.eval_samples(con, where)
    except duckdb.Error as e:
        raise ValueError(f"bad filter {where!r}: {_err(e)}") from e
    schema: dict[str, Any] = {c: pl.String for c in CONFIG} | {
        "n_problems": pl.Int64,
        "n_answers": pl.Int64,
        "n_unparsed": pl.Int64,
        "pass@1": pl.Float64,
    }
    for kv in ks:
        schema |= {f"majority@{kv}": pl.Float64, f"ties@{kv}": pl.Int64}
    empty = pl.DataFrame(schema=schema)
    if s.height == 0 or s["answer"].null_count() == s.height:
        return empty, NO_ANSWERS_NOTE
    s = s.with_columns(pl.col("setting").fill_null(""))
    rng = np.random.default_rng(seed)
    rows, no_answers, short = [], [], []
    for key, g in s.group_by(list(CONFIG), maintain_order=True):
        label = " / ".join(str(v) for v in key)
        if g["answer"].null_count() == g.height:
            no_answers.append(label)
            continue
        n_min = int(g.group_by("problem_id").len()["len"].min())
        row: dict[str, Any] = dict(zip(CONFIG, key, strict=True))
        row.update(
            n_problems=g["problem_id"].n_unique(),
            n_answers=g.height,
            n_unparsed=g["answer"].null_count(),
            **{"pass@1": float(g.group_by("problem_id").agg(pl.col("correct").mean())["correct"].mean())},
        )
        for kv in ks:
            if kv > n_min:
                row[f"majority@{kv}"], row[f"ties@{kv}"] = None, None
                short.append(f"{label} (k = {kv} > n = {n_min})")
                continue
            m = majority_at_k(g, kv, n_subsets=n_subsets, rng=rng, ties=ties, unparsed=unparsed)
            row[f"majority@{kv}"] = float(m["majority_at_k"].mean())
            row[f"ties@{kv}"] = int(m["n_ties"].sum())
        rows.append(row)
    notes = [
        f"Tie policy: {TIE_NOTES[ties]} (seed {seed}); unparsed answers {UNPARSED_NOTES[unparsed]}, and their "
        f"problems stay in the denominator. Estimator: {n_subsets} random size-k subsets per problem (exact "
        "enumeration when fewer exist), Brown et al. 2024 (arXiv:2407.21787) Sec. 4."
    ]
    if no_answers:
        notes.append(
            f"No answers logged (not voted): {', '.join(no_answers[:3])}{' ...' if len(no_answers) > 3 else ''}."
        )
    if short:
        notes.append(f"majority@k is empty where a problem has fewer than k samples: {', '.join(short[:3])}.")
    return (pl.DataFrame(rows, schema=schema) if rows else empty), " ".join(notes)


def _samples(con: duckdb.DuckDBPyConnection, where: str | None) -> pl.DataFrame:
    try:
        s = queries.eval_samples(con, where)
    except duckdb.Error as e:
        raise ValueError(f"bad filter {where!r}: {_err(e)}") from e
    # A negative token count is a logging error (one o4-mini FRAMES answer reports -45): treat it as missing.
    bad = pl.col("output_tokens") < 0
    return s.with_columns(
        pl.col("setting").fill_null(""),
        pl.when(bad).then(None).otherwise(pl.col("output_tokens")).alias("output_tokens"),
    )


def thinking_curves(con: duckdb.DuckDBPyConnection, where: str | None = None) -> pl.DataFrame:
    """Accuracy (Wilson 95% interval) and mean generated tokens per (model, benchmark, thinking level).

    Token counts are ``eval_samples.output_tokens`` (total generated tokens per answer, reasoning included).

    Returns
    -------
    polars.DataFrame
        Output of ``analysis.thinking.accuracy_vs_tokens`` (accuracy, acc_lo, acc_hi fractions; mean_tokens,
        median_tokens tokens per answer), rows without a token count dropped.

    Raises
    ------
    ValueError
        Bad filter or no per-answer rows.

    Notes
    -----
    Muennighoff et al. (2025), arXiv:2501.19393; Zhao et al. (2025), arXiv:2509.06861.
    """
    s = _samples(con, where)
    if s.height == 0:
        raise ValueError(f"no per-answer evaluation rows for filter {where!r}")
    out = accuracy_vs_tokens(s, token_col="output_tokens", by=CONFIG)
    return out.filter(pl.col("mean_tokens").is_not_null() & (pl.col("mean_tokens") > 0))


def thinking_fits(
    con: duckdb.DuckDBPyConnection,
    where: str | None = None,
    prices: tuple | None = None,
    saturating: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame, list[dict]]:
    """Fit accuracy vs log tokens per (model, benchmark): linear (>= 2 levels), saturating (>= 5 levels).

    The saturating form has 4 parameters, so it is fitted only with at least ``MIN_LEVELS_SATURATING`` levels
    (with 4 points it would interpolate, and its multi-start optimiser is slow there).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    where : str, optional
        SQL filter over ``eval_samples`` columns.
    prices : tuple of (model, P_in, P_out), optional
        $ per 1e6 tokens used for the per-dollar gains; stored in the records' options.
    saturating : bool
        Also fit the saturating form where there are enough levels.

    Returns
    -------
    (table, curves, records)
        table: model, benchmark, n_levels, p, q, gain_per_doubling, sat_A, sat_T_mid, sat_B (null if not fitted),
        sat_note (why the saturating form is not shown: ``analysis.thinking.saturating_unidentified``);
        curves: model, benchmark, form, mean_tokens, accuracy on a token grid; records: fit records.

    Raises
    ------
    ValueError
        As :func:`thinking_curves`.

    Notes
    -----
    Muennighoff et al. (2025), arXiv:2501.19393 (linear in log T); Khatri et al. (2025), arXiv:2510.13786
    (saturating form).
    """
    cur = thinking_curves(con, where)
    rows, crv, recs = [], [], []
    for key, g in cur.group_by(["model", "benchmark"], maintain_order=True):
        t = g["mean_tokens"].to_numpy()
        y = g["accuracy"].to_numpy()
        w = g["n_answers"].to_numpy().astype(float)
        base = {"model": key[0], "benchmark": key[1]}
        row: dict[str, Any] = {**base, "n_levels": g.height}
        grid = np.logspace(np.log10(t.min()), np.log10(t.max()), 40) if g.height >= 2 else None
        forms = ["linear"] + (["saturating"] if saturating and g.height >= MIN_LEVELS_SATURATING else [])
        for form in forms:
            try:
                r = fit_accuracy_vs_log_tokens(t, y, form, weights=w)
            except (ValueError, FitError, InsufficientDataError):
                continue
            if form == "saturating" and (why := saturating_unidentified(r.params, t)):
                row["sat_note"] = f"not identified: {why}"  # no curve, no parameters shown
                continue
            if form == "linear":
                row.update(p=r.params["p"], q=r.params["q"], gain_per_doubling=r.derived["gain_per_doubling"])
                yy = r.params["p"] + r.params["q"] * np.log(grid)
            else:
                row.update(sat_A=r.params["A"], sat_T_mid=r.params["T_mid"], sat_B=r.params["B"])
                yy = r.params["A"] - (r.params["A"] - r.params["R0"]) / (
                    1 + (grid / r.params["T_mid"]) ** r.params["B"]
                )
            crv += [
                {**base, "form": form, "mean_tokens": float(a), "accuracy": float(b)}
                for a, b in zip(grid, yy, strict=True)
            ]
            opts = {"form": form, "token_col": "output_tokens", "weights": "answers per level"}
            if prices:
                opts["prices_usd_per_mtok"] = {m: {"input": pi, "output": po} for m, pi, po in prices}
            recs.append(
                fit_record(
                    AXIS,
                    r,
                    {**base, "where": where, "levels": g["setting"].to_list()},
                    opts,
                    checklist={
                        "variables": "T = mean output_tokens per answer (reasoning included), acc = share correct",
                        "caveat": "few thinking levels; tokenizers differ between models",
                    },
                )
            )
        rows.append(row)
    schema = {
        "model": pl.String,
        "benchmark": pl.String,
        "n_levels": pl.Int64,
        **{k: pl.Float64 for k in ("p", "q", "gain_per_doubling", "sat_A", "sat_T_mid", "sat_B")},
        "sat_note": pl.String,
    }
    return (
        pl.DataFrame(rows, schema=schema),
        pl.DataFrame(
            crv,
            schema={
                "model": pl.String,
                "benchmark": pl.String,
                "form": pl.String,
                "mean_tokens": pl.Float64,
                "accuracy": pl.Float64,
            },
        ),
        recs,
    )


def price_frame(models: list[str] | tuple[str, ...]) -> pl.DataFrame:
    """Editable price table: model, input_usd_per_mtok, output_usd_per_mtok ($ per 1e6 tokens), at the placeholder.

    Returns
    -------
    polars.DataFrame, shape (len(models), 3)

    Notes
    -----
    USD cost as in Kapoor et al. (2024), arXiv:2407.01502: input x P_in + output x P_out per 1e6 tokens.
    """
    return pl.DataFrame(
        {
            "model": list(models),
            "input_usd_per_mtok": [PLACEHOLDER_PRICE[0]] * len(models),
            "output_usd_per_mtok": [PLACEHOLDER_PRICE[1]] * len(models),
        },
        schema={"model": pl.String, "input_usd_per_mtok": pl.Float64, "output_usd_per_mtok": pl.Float64},
    )


def prices_from_frame(frame: Any) -> tuple[tuple | None, str | None]:
    """Hashable prices ``((model, P_in, P_out), ...)`` from an edited :func:`price_frame` (polars or pandas).

    Returns
    -------
    (prices, error)
        ``prices`` is None (placeholders apply) with an ``error`` message when a price is missing, not a number
        or negative; otherwise ``error`` is None.

    Notes
    -----
    Kapoor et al. (2024), arXiv:2407.01502 (state the cost unit and the prices used).
    """
    try:
        rows = pl.DataFrame(frame).rows()
        out = tuple((str(m), float(pi), float(po)) for m, pi, po in rows)
    except (TypeError, ValueError) as e:
        return None, f"prices must be numbers ($ per 1M tokens): {e}"
    if any(not (v >= 0) for _, *vals in out for v in vals):
        return None, "prices must be numbers >= 0 ($ per 1M tokens); the placeholders are used instead"
    return out or None, None


def _price_map(prices: tuple | None, models: list[str]) -> dict[str, tuple[float, float]]:
    given = {m: (float(pi), float(po)) for m, pi, po in (prices or ())}
    return {m: given.get(m, PLACEHOLDER_PRICE) for m in models}


def marginal_table(
    con: duckdb.DuckDBPyConnection,
    where: str | None = None,
    threshold: float = 0.01,
    metric: str = "gain_per_1k_tokens",
    prices: tuple | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Marginal accuracy gain per extra 1k tokens and per dollar between levels, and the stopping level.

    Parameters
    ----------
    threshold : float
        Minimum worthwhile gain in the unit of ``metric`` (accuracy fraction per 1k tokens, or per $ per question).
    metric : {"gain_per_1k_tokens", "gain_per_usd"}
    prices : tuple of (model, P_in, P_out), optional
        $ per 1e6 tokens for models without a logged ``cost_usd`` (``test_time_fits.output_prices``: the logged
        cost per output token is used where every answer has one); models without either get
        ``PLACEHOLDER_PRICE``. Output price is applied (reasoning billed as output).

    Returns
    -------
    (marginal, stops)
        ``analysis.thinking.marginal_gains`` and the raw first-crossing ``stopping_point`` frames (the app and
        CLI report ``test_time_fits.thinking_stops``, the stop from the fitted curve, instead).

    Raises
    ------
    ValueError
        Bad filter, unknown metric, NaN threshold.

    Notes
    -----
    Muennighoff et al. (2025), arXiv:2501.19393; Zhao et al. (2025), arXiv:2509.06861.
    """
    if metric not in ("gain_per_1k_tokens", "gain_per_usd"):
        raise ValueError(f"metric must be gain_per_1k_tokens or gain_per_usd, got {metric!r}")
    from app.services.test_time_fits import output_prices  # imports this module: resolved at call time

    cur = thinking_curves(con, where)
    pm, _ = output_prices(con, cur["model"].unique().to_list(), prices, where)  # logged cost_usd first
    mg = marginal_gains(cur, price_per_mtok=pm)
    return mg, stopping_point(mg, threshold, metric=metric)


def usd_costs(samples: pl.DataFrame, prices: tuple | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Per-answer ``cost_usd``: the logged value where present, else input x P_in + output x P_out per 1e6 tokens.

    Parameters
    ----------
    samples : polars.DataFrame
        ``eval_samples`` rows (model, input_tokens, output_tokens, cost_usd).
    prices : tuple of (model, P_in, P_out), optional
        $ per 1e6 tokens; models without one get ``PLACEHOLDER_PRICE``.

    Returns
    -------
    (frame, notes)
        ``samples`` with ``cost_usd`` filled (rows with neither a logged cost nor an output token count dropped)
        and ``cost_basis`` ("logged" | "price list" | "placeholder price"); notes say how many answers of which
        models used each basis.

    Notes
    -----
    Kapoor et al. (2024), arXiv:2407.01502: state the cost unit and the prices used.
    """
    given = {m: (float(pi), float(po)) for m, pi, po in (prices or ())}
    given = {
        m: v for m, v in given.items() if v != PLACEHOLDER_PRICE
    }  # an unedited row is still the placeholder
    pin = pl.col("model").replace_strict({m: v[0] for m, v in given.items()}, default=PLACEHOLDER_PRICE[0])
    pout = pl.col("model").replace_strict({m: v[1] for m, v in given.items()}, default=PLACEHOLDER_PRICE[1])
    est = (pl.col("input_tokens").fill_null(0.0) * pin + pl.col("output_tokens") * pout) / 1e6
    out = samples.with_columns(
        pl.when(pl.col("cost_usd").is_not_null())
        .then(pl.lit("logged"))
        .when(pl.col("model").is_in(list(given)))
        .then(pl.lit("price list"))
        .otherwise(pl.lit("placeholder price"))
        .alias("cost_basis"),
        pl.coalesce(pl.col("cost_usd"), est).alias("cost_usd"),
    ).filter(pl.col("cost_usd").is_not_null())
    words = {
        "logged": "logged cost_usd",
        "price list": "your price list",
        "placeholder price": f"the placeholder price ${PLACEHOLDER_PRICE[0]:g} in / ${PLACEHOLDER_PRICE[1]:g} out "
        "per 1M tokens",
    }
    notes = []
    by_basis = out.group_by("cost_basis").agg(pl.len(), pl.col("model").unique().sort()).sort("cost_basis")
    for r in by_basis.iter_rows(named=True):
        ms = r["model"]
        more = ", ..." if len(ms) > 3 else ""
        notes.append(f"{r['len']} answer(s) costed from {words[r['cost_basis']]} ({', '.join(ms[:3])}{more})")
    return out, notes


def cost_units(con: duckdb.DuckDBPyConnection, where: str | None = None) -> dict[str, Any]:
    """Which cost units the per-answer data support: tokens (output_tokens), usd (tokens x prices), latency_s.

    Returns
    -------
    dict
        ``units`` (list), ``has_input_tokens``, ``has_logged_cost`` (bools), ``models`` and ``benchmarks`` (lists).

    Raises
    ------
    ValueError
        Bad filter.

    Notes
    -----
    Kapoor et al. (2024), arXiv:2407.01502 (cost units).
    """
    s = _samples(con, where)
    units = []
    if s.height and s["output_tokens"].null_count() < s.height:
        units += ["tokens", "usd"]
    if s.height and s["latency_s"].null_count() == 0:
        units.append("latency_s")
    return {
        "units": units,
        "has_input_tokens": bool(s.height and s["input_tokens"].null_count() < s.height),
        "has_logged_cost": bool(s.height and s["cost_usd"].null_count() == 0),
        "models": sorted(s["model"].unique().to_list()),
        "benchmarks": sorted(s["benchmark"].unique().to_list()),
    }


def frontier(
    con: duckdb.DuckDBPyConnection,
    benchmark: str,
    unit: str = "tokens",
    prices: tuple | None = None,
    target: float | None = None,
    allow_mixing: bool = True,
    where: str | None = None,
) -> dict[str, Any]:
    """Cost-accuracy points of every (model, setting) on one benchmark, Pareto set, upper hull, cheapest target.

    Parameters
    ----------
    benchmark : str
        Configurations are compared on one benchmark only.
    unit : {"tokens", "usd", "latency_s"}
        Cost per question: output tokens, $ from (input, output) prices per 1e6 tokens, or seconds.
    prices : tuple of (model, P_in, P_out), optional
        User-set $ per 1e6 tokens, applied only to answers without a logged ``cost_usd`` (:func:`usd_costs`);
        models without one get ``PLACEHOLDER_PRICE``. Null input tokens count as 0.
    target : float, optional
        Accuracy (fraction) to reach at the lowest expected cost.
    allow_mixing : bool
        Whether a per-query random mixture of two hull configurations may be used.

    Returns
    -------
    dict
        ``points`` (model, setting, config, cost, accuracy, n_questions, on_frontier, on_hull), ``hull`` (the
        hull vertices by cost), ``cheapest`` (from ``cheapest_reaching`` plus ``configs``: list of (config,
        probability)), ``unit``, ``prices_used`` (model -> {input, output} for the models priced from the list,
        for usd) and ``notes`` (which answers were costed from the logged cost_usd and which from the price list).

    Raises
    ------
    ValueError
        Unknown unit, no data, or the unit's columns missing (e.g. latency not logged).

    Notes
    -----
    Kapoor et al. (2024), "AI Agents That Matter", arXiv:2407.01502; METHODS.md s.8.7.
    """
    clause = f"benchmark = '{benchmark.replace(chr(39), chr(39) * 2)}'"
    s = _samples(con, f"({where}) AND {clause}" if where else clause)
    if s.height == 0:
        raise ValueError(f"no per-answer rows for benchmark {benchmark!r}")
    notes, prices_used = [], None
    if unit == "tokens":
        n_missing = s["output_tokens"].null_count()
        if n_missing:
            notes.append(
                f"{n_missing} answer(s) without a valid output token count (null or negative) left out"
            )
        s = s.filter(pl.col("output_tokens").is_not_null())
    if unit == "usd":
        # logged cost_usd where present; the price list (user-set or placeholder) only for the rest
        n_before = s.height
        s, cost_notes = usd_costs(s, prices)
        if n_before - s.height:
            notes.append(
                f"{n_before - s.height} answer(s) with neither a logged cost nor an output token count left out"
            )
        notes += cost_notes
        priced = s.filter(pl.col("cost_basis") != "logged")
        if priced.height and priced["input_tokens"].null_count():
            notes.append(
                "input tokens were not logged for some priced answers: they count as 0 (output tokens only)"
            )
        pm = _price_map(prices, priced["model"].unique().to_list())
        prices_used = {m: {"input": v[0], "output": v[1]} for m, v in sorted(pm.items())}
        if any(v == PLACEHOLDER_PRICE for v in pm.values()):
            notes.append("no prices ship with the data: edit the placeholder prices")
    elif unit == "latency_s":
        if s["latency_s"].null_count():
            raise ValueError("latency was not logged (eval_samples.latency_s is null); choose tokens or usd")
    try:
        pts = cost_of(s, unit, None)
    except ValueError as e:
        raise ValueError(f"cannot cost configurations in {unit}: {e}") from e
    pts = pts.with_columns((pl.col("model") + " / " + pl.col("setting")).alias("config"))
    c, a = pts["cost"].to_numpy(), pts["accuracy"].to_numpy()
    hull_idx = upper_concave_hull(c, a)
    on_hull = np.zeros(pts.height, dtype=bool)
    on_hull[hull_idx] = True
    pts = pts.with_columns(pl.Series("on_frontier", pareto_frontier(c, a)), pl.Series("on_hull", on_hull))
    hull = pts[hull_idx.tolist()].sort("cost")
    cheapest = None
    if target is not None:
        cheapest = cheapest_reaching(c, a, float(target), allow_mixing=allow_mixing)
        if cheapest["mixture"]:
            cheapest["configs"] = [(pts["config"][i], w) for i, w in cheapest["mixture"]]
    return {
        "points": pts,
        "hull": hull,
        "cheapest": cheapest,
        "unit": unit,
        "prices_used": prices_used,
        "notes": notes,
    }


def adaptive_table(
    con: duckdb.DuckDBPyConnection,
    where: str | None = None,
    target: float = 0.5,
    split_half: bool = False,
    seed: int = 0,
    n_bins: int = 5,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Uniform vs per-difficulty samples per problem reaching a target coverage, per configuration.

    Only configurations with >= ``MIN_N_COVERAGE`` samples of every problem are used.

    Parameters
    ----------
    target : float
        Expected coverage (fraction of problems solved by an oracle verifier) to reach.
    split_half : bool
        Estimate difficulty on half of each problem's samples and evaluate on the other half; otherwise the
        estimate is on the same samples ("oracle difficulty", optimistic).
    seed : int
        Seed of the split-half draw.
    n_bins : int
        Difficulty bins (Snell et al.: 5 quantile bins of pass@1).

    Returns
    -------
    (summary, bins)
        summary: model, benchmark, setting, uniform_samples_per_problem (k), adaptive_samples_per_problem (mean k),
        saving (fraction), acc_uniform, acc_adaptive, difficulty, note (the reason when the target is unreachable);
        bins: per-bin allocation with the configuration columns.

    Raises
    ------
    ValueError
        Bad filter.

    Notes
    -----
    Snell et al. (2024), arXiv:2408.03314; Chen et al. (2021), arXiv:2107.03374.
    """
    df = problem_counts(con, where)
    rng = np.random.default_rng(seed)
    rows, bins = [], []
    for key, g in df.group_by(list(CONFIG), maintain_order=True):
        n = g["n_samples"].to_numpy()
        c = g["n_correct"].to_numpy()
        if n.min() < MIN_N_COVERAGE or g.height < n_bins:
            continue
        base = dict(zip(CONFIG, key, strict=True))
        try:
            res = adaptive_allocation(n, c, target=target, n_bins=n_bins, split_half=split_half, rng=rng)
        except ValueError as e:
            rows.append({**base, "note": str(e)})
            continue
        s = res.summary
        rows.append(
            {
                **base,
                "uniform_samples_per_problem": s["samples_per_problem_uniform"],
                "adaptive_samples_per_problem": s["samples_per_problem_adaptive"],
                "saving": s["saving_fraction"],
                "acc_uniform": s["acc_uniform"],
                "acc_adaptive": s["acc_adaptive"],
                "difficulty": s["difficulty"],
                "note": "",
            }
        )
        bins.append(res.bins.with_columns(*(pl.lit(v).alias(k) for k, v in base.items())))
    schema = {c: pl.String for c in CONFIG} | {
        "uniform_samples_per_problem": pl.Float64,
        "adaptive_samples_per_problem": pl.Float64,
        "saving": pl.Float64,
        "acc_uniform": pl.Float64,
        "acc_adaptive": pl.Float64,
        "difficulty": pl.String,
        "note": pl.String,
    }
    return pl.DataFrame(rows, schema=schema), (pl.concat(bins) if bins else pl.DataFrame())
