"""Thinking-token axis: accuracy against generated tokens per thinking level, its fit, marginal gains.

Input is a per-answer frame with the ``eval_samples`` column names (``model``, ``benchmark``,
``setting``, ``problem_id``, ``correct``, ``output_tokens`` ...). Token counts must be totals of
*generated* tokens, reasoning included; in the tts-knowledge data this is ``total_output_tokens``
(``completion_tokens`` excludes reasoning for grok-3-mini), see its PROVENANCE.md.

References: Muennighoff et al. (2025), "s1: Simple test-time scaling", arXiv 2501.19393 (accuracy
roughly linear in log thinking tokens until it flattens); Zhao, Hooi, Ng (2025), arXiv 2509.06861
(more thinking does not reliably help knowledge-intensive tasks); Khatri et al. (2025), arXiv
2510.13786 (the saturating sigmoid form, used there against RL compute).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from itertools import product
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import least_squares
from scipy.stats import norm

from analysis.errors import FitError, InsufficientDataError
from analysis.results import FitResult

__all__ = [
    "wilson_interval",
    "accuracy_vs_tokens",
    "saturating_log_tokens",
    "fit_accuracy_vs_log_tokens",
    "marginal_gains",
    "stopping_point",
    "fitted_gain_per_1k",
    "fitted_stopping_point",
    "fit_thinking_curve",
    "saturating_unidentified",
]


def _check_columns(frame: pl.DataFrame, cols: Sequence[str]) -> None:
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(f"expected a polars DataFrame, got {type(frame).__name__}")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"missing columns {missing}; frame has {frame.columns}")
    if frame.height == 0:
        raise ValueError("empty frame")


def wilson_interval(successes: Any, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion.

    centre = (x + z^2 / 2) / (n + z^2), half = z sqrt(x (n - x) / n + z^2 / 4) / (n + z^2),
    with z the standard-normal quantile at (1 + level) / 2.

    Parameters
    ----------
    successes : array_like, shape (m,)
        Correct answers x (count, 0 <= x <= n).
    n : array_like, shape (m,)
        Answers (count, >= 1).
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    (lo, hi) : tuple of ndarray, shape (m,)
        Interval bounds in [0, 1].

    Raises
    ------
    ValueError
        If level is outside (0, 1), n < 1, x < 0, x > n, NaN, or shapes differ.

    Notes
    -----
    Wilson (1927), JASA 22:209; preferred to the Wald interval near 0 and 1 (Brown, Cai, DasGupta
    2001). No arXiv id.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    if x.shape != m.shape:
        raise ValueError(f"successes and n differ in shape: {x.shape} vs {m.shape}")
    if np.isnan(x).any() or np.isnan(m).any():
        raise ValueError("successes or n contains NaN")
    if (m < 1).any() or (x < 0).any() or (x > m).any():
        raise ValueError("need n >= 1 and 0 <= successes <= n")
    z = norm.ppf(0.5 + level / 2)
    denom = m + z**2
    centre = (x + z**2 / 2) / denom
    half = z * np.sqrt(x * (m - x) / m + z**2 / 4) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def accuracy_vs_tokens(
    frame: pl.DataFrame,
    *,
    token_col: str = "output_tokens",
    by: Sequence[str] = ("model", "benchmark", "setting"),
    correct_col: str = "correct",
    level: float = 0.95,
) -> pl.DataFrame:
    """Accuracy and generated tokens per thinking level (one point of the curve per group).

    accuracy = (1 / n) sum_j correct_j over the answers of the group, with a Wilson interval.

    Parameters
    ----------
    frame : polars.DataFrame
        One row per answer with the ``by`` columns, ``correct_col`` (bool or 0/1) and
        ``token_col`` (generated tokens per answer, reasoning included; nulls allowed and
        counted).
    token_col : str
        Token column; for the tts-knowledge data use the comparable total
        (``total_output_tokens``, ingested as ``output_tokens``).
    by : sequence of str
        Grouping columns; the last one is normally the thinking level (``setting``).
    correct_col : str
        Correctness column.
    level : float
        Confidence level of the Wilson interval.

    Returns
    -------
    polars.DataFrame
        One row per group: the ``by`` columns, ``setting_knob`` / ``setting_value`` when present,
        ``n_answers``, ``n_correct``, ``accuracy``, ``acc_lo``, ``acc_hi``, ``mean_tokens``,
        ``median_tokens`` (tokens per answer), ``n_tokens_missing``; sorted by the ``by`` columns
        but the last, then by ``mean_tokens``.

    Raises
    ------
    ValueError
        If columns are missing, the frame is empty, or ``correct_col`` has nulls.

    Notes
    -----
    The Wilson interval treats answers as independent; with several samples per problem they
    are clustered and the interval is too narrow. Muennighoff et al. (2025), arXiv 2501.19393;
    Zhao et al. (2025), arXiv 2509.06861.
    """
    by = list(by)
    _check_columns(frame, [*by, token_col, correct_col])
    if frame[correct_col].null_count():
        raise ValueError(f"column {correct_col!r} has nulls")
    extra = [c for c in ("setting_knob", "setting_value") if c in frame.columns and c not in by]
    out = (
        frame.group_by(by, maintain_order=True)
        .agg(
            *[pl.col(c).first() for c in extra],
            pl.len().alias("n_answers"),
            pl.col(correct_col).cast(pl.Float64).sum().alias("n_correct"),
            pl.col(token_col).cast(pl.Float64).mean().alias("mean_tokens"),
            pl.col(token_col).cast(pl.Float64).median().alias("median_tokens"),
            pl.col(token_col).null_count().alias("n_tokens_missing"),
        )
        .with_columns((pl.col("n_correct") / pl.col("n_answers")).alias("accuracy"))
    )
    lo, hi = wilson_interval(out["n_correct"].to_numpy(), out["n_answers"].to_numpy(), level)
    out = out.with_columns(pl.Series("acc_lo", lo), pl.Series("acc_hi", hi))
    cols = [*by, *extra, "n_answers", "n_correct", "accuracy", "acc_lo", "acc_hi"]
    cols += ["mean_tokens", "median_tokens", "n_tokens_missing"]
    return out.select(cols).sort([*by[:-1], "mean_tokens"])


def saturating_log_tokens(T: Any, A: float, R0: float, T_mid: float, B: float) -> np.ndarray:
    """Saturating (logistic in ln T) accuracy curve.

    acc(T) = A - (A - R0) / (1 + (T / T_mid)^B): R0 at T -> 0, asymptote A as T -> inf, half-way
    at T = T_mid, steepness B. In x = ln T it is R0 + (A - R0) sigmoid(B (x - ln T_mid)).

    Parameters
    ----------
    T : array_like, shape (m,)
        Generated tokens per answer (> 0).
    A : float
        Asymptotic accuracy (fraction).
    R0 : float
        Accuracy with no thinking tokens (fraction).
    T_mid : float
        Tokens at the midpoint (> 0).
    B : float
        Steepness in log tokens (> 0).

    Returns
    -------
    ndarray, shape (m,)
        Predicted accuracy.

    Raises
    ------
    ValueError
        If T is empty, NaN or <= 0, or T_mid <= 0.

    Notes
    -----
    Form of the ScaleRL compute curve (Khatri et al. 2025, arXiv 2510.13786) with C -> T.
    """
    t = np.asarray(T, dtype=float)
    if t.size == 0 or np.isnan(t).any() or (t <= 0).any():
        raise ValueError("T must be non-empty, finite and > 0")
    if not T_mid > 0:
        raise ValueError(f"T_mid must be > 0, got {T_mid}")
    return A - (A - R0) / (1.0 + np.power(t / T_mid, B))


def _check_xy(tokens: Any, acc: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(tokens, dtype=float)
    y = np.asarray(acc, dtype=float)
    if t.ndim != 1 or t.shape != y.shape:
        raise ValueError(f"tokens and acc must be 1-D of equal length, got {t.shape}, {y.shape}")
    if t.size == 0:
        raise ValueError("empty input")
    if np.isnan(t).any() or np.isnan(y).any():
        raise ValueError("tokens or acc contains NaN")
    if (t <= 0).any():
        raise ValueError("tokens must be > 0 (the law is in ln T)")
    w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != t.shape or np.isnan(w).any() or (w <= 0).any():
        raise ValueError("weights must be positive, finite and the same length as tokens")
    return t, y, w


def fit_accuracy_vs_log_tokens(
    tokens: Any,
    acc: Any,
    form: str = "linear",
    *,
    weights: Any = None,
    R0: float | None = None,
    x0: Mapping[str, float] | None = None,
) -> FitResult:
    """Fit accuracy against log generated tokens, linear or saturating.

    ``form="linear"`` (law ``"acc_log_linear"``): acc = p + q ln T, weighted least squares.
    ``form="saturating"`` (law ``"acc_saturating"``): acc = A - (A - R0) / (1 + (T / T_mid)^B)
    (:func:`saturating_log_tokens`), bounded least squares from a grid of starts; ``R0`` may be
    fixed (e.g. to the no-thinking accuracy), otherwise it is fitted.

    Parameters
    ----------
    tokens : array_like, shape (m,)
        Mean generated tokens per answer at each thinking level (> 0).
    acc : array_like, shape (m,)
        Accuracy at each level (fraction).
    form : {"linear", "saturating"}
        Functional form.
    weights : array_like, shape (m,), optional
        Positive weights of the squared residuals (e.g. answers per level).
    R0 : float, optional
        Fixed low-token accuracy for the saturating form.
    x0 : mapping, optional
        Saturating form only: one start ``{"A", "R0", "T_mid", "B"}`` instead of the 15-start grid (bootstrap
        refits warm-start from the full-data optimum).

    Returns
    -------
    FitResult
        Linear: params ``{"p", "q"}``, derived ``{"gain_per_doubling": q ln 2}``.
        Saturating: params ``{"A", "R0", "T_mid", "B"}``, derived ``{"asymptote": A}``.
        Residuals are in accuracy (``space="linear"``, ``loss="linear"``).

    Raises
    ------
    ValueError
        For an unknown form, shape mismatch, NaN, empty input or tokens <= 0.
    InsufficientDataError
        With fewer points than free parameters (2 linear, 4 or 3 saturating).
    FitError
        If every optimizer start fails.

    Notes
    -----
    Muennighoff et al. (2025), arXiv 2501.19393 (log-linear then flat); Khatri et al. (2025),
    arXiv 2510.13786 (saturating form). With 3-5 thinking levels the saturating form is barely
    identified: prefer the linear form unless a plateau is visible.
    """
    t, y, w = _check_xy(tokens, acc, weights)
    x = np.log(t)
    if form == "linear":
        if t.size < 2:
            raise InsufficientDataError(f"need at least 2 points for p and q, got {t.size}")
        if np.ptp(x) == 0:
            raise ValueError("all tokens are equal: the slope q is undefined")
        sw = np.sqrt(w)
        design = np.column_stack([np.ones_like(x), x])
        (p, q), *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
        r = p + q * x - y
        grad = 2 * design.T @ (w * r)
        return FitResult(
            law="acc_log_linear",
            params={"p": float(p), "q": float(q)},
            n_points=int(t.size),
            objective=float(np.sum(w * r**2)),
            loss="linear",
            space="linear",
            optimizer="weighted linear least squares (numpy.linalg.lstsq)",
            n_starts=1,
            grad_norm=float(np.linalg.norm(grad)),
            success=True,
            derived={"gain_per_doubling": float(q * np.log(2))},
        )
    if form != "saturating":
        raise ValueError(f"form must be 'linear' or 'saturating', got {form!r}")
    n_free = 4 if R0 is None else 3
    if t.size < n_free:
        raise InsufficientDataError(f"need at least {n_free} points for the saturating form")
    sw = np.sqrt(w)

    def unpack(theta: np.ndarray) -> tuple[float, float, float, float]:
        if R0 is None:
            return theta[0], theta[1], float(np.exp(theta[2])), theta[3]
        return theta[0], float(R0), float(np.exp(theta[1])), theta[2]

    def resid(theta: np.ndarray) -> np.ndarray:
        a_, r0_, tm_, b_ = unpack(theta)
        return sw * (saturating_log_tokens(t, a_, r0_, tm_, b_) - y)

    lo_x, hi_x = x.min() - 3.0, x.max() + 3.0
    lower = [0.0, 0.0, lo_x, 1e-3] if R0 is None else [0.0, lo_x, 1e-3]
    upper = [1.0, 1.0, hi_x, 20.0] if R0 is None else [1.0, hi_x, 20.0]
    best = None
    n_starts = 0
    a0 = float(np.clip(y.max(), 0.0, 1.0))
    r00 = float(np.clip(y[np.argmin(x)], 0.0, 1.0))
    if x0 is not None:
        grid = [(float(np.log(x0["T_mid"])), float(x0["B"]))]
        a0, r00 = float(x0["A"]), float(x0.get("R0", r00))
    else:
        grid = list(product(np.linspace(x.min(), x.max(), 5), (0.5, 1.0, 3.0)))
    for xm, b0 in grid:
        start = [a0, r00, xm, b0] if R0 is None else [a0, xm, b0]
        start = list(np.clip(start, np.add(lower, 1e-9), np.subtract(upper, 1e-9)))
        n_starts += 1
        try:
            sol = least_squares(resid, start, bounds=(lower, upper), method="trf")
        except (ValueError, FloatingPointError):
            continue
        if best is None or sol.cost < best.cost:
            best = sol
    if best is None:
        raise FitError("every start of the saturating fit failed")
    a_, r0_, tm_, b_ = unpack(best.x)
    grad = 2 * best.jac.T @ best.fun
    return FitResult(
        law="acc_saturating",
        params={"A": float(a_), "R0": float(r0_), "T_mid": float(tm_), "B": float(b_)},
        n_points=int(t.size),
        objective=float(2 * best.cost),
        loss="linear",
        space="linear",
        optimizer="scipy.optimize.least_squares (trf, bounded) multi-start",
        n_starts=n_starts,
        grad_norm=float(np.linalg.norm(grad)),
        success=bool(best.success),
        message=str(best.message),
        derived={"asymptote": float(a_)},
        extra={"R0_fixed": R0 is not None, "bounds": {"lower": lower, "upper": upper}},
    )


def marginal_gains(
    curve_frame: pl.DataFrame,
    *,
    price_per_mtok: float | Mapping[str, float] | None = None,
    by: Sequence[str] = ("model", "benchmark"),
    level_col: str = "setting",
    token_col: str = "mean_tokens",
    acc_col: str = "accuracy",
) -> pl.DataFrame:
    """Accuracy gained per extra 1k tokens (and per dollar) between consecutive thinking levels.

    Within each group, levels are ordered by ``token_col``; for level j > 0,
    gain_per_1k_tokens = (acc_j - acc_{j-1}) / ((T_j - T_{j-1}) / 1000) and, with a price P in
    $ per million output tokens, gain_per_usd = (acc_j - acc_{j-1}) / ((T_j - T_{j-1}) P / 1e6),
    i.e. accuracy points (fraction) per extra dollar spent per question.

    Parameters
    ----------
    curve_frame : polars.DataFrame
        Output of :func:`accuracy_vs_tokens` (one row per level).
    price_per_mtok : float or mapping model -> float, optional
        Output-token price in $ per 1e6 tokens (reasoning tokens are billed as output).
    by : sequence of str
        Columns that identify one curve.
    level_col, token_col, acc_col : str
        Level label, tokens per answer and accuracy columns.

    Returns
    -------
    polars.DataFrame
        The input columns plus ``prev_level``, ``d_accuracy``, ``d_tokens``,
        ``gain_per_1k_tokens`` and ``gain_per_usd`` (null for the first level of each curve,
        when d_tokens = 0, or without a price).

    Raises
    ------
    ValueError
        If columns are missing, the frame is empty, tokens are NaN/null, prices are negative, or
        a model has no price in the mapping.

    Notes
    -----
    Muennighoff et al. (2025), arXiv 2501.19393 (their "Scaling" metric is the mean of such
    slopes).
    """
    by = list(by)
    _check_columns(curve_frame, [*by, level_col, token_col, acc_col])
    if curve_frame[token_col].null_count() or curve_frame[token_col].is_nan().any():
        raise ValueError(f"column {token_col!r} has null or NaN values")
    df = curve_frame.sort([*by, token_col])
    d_acc = pl.col(acc_col) - pl.col(acc_col).shift(1).over(by)
    d_tok = pl.col(token_col) - pl.col(token_col).shift(1).over(by)
    df = df.with_columns(
        pl.col(level_col).shift(1).over(by).alias("prev_level"),
        d_acc.alias("d_accuracy"),
        d_tok.cast(pl.Float64).alias("d_tokens"),
    )
    per_1k = (
        pl.when(pl.col("d_tokens") > 0)
        .then(pl.col("d_accuracy") / (pl.col("d_tokens") / 1000.0))
        .otherwise(None)
    )
    df = df.with_columns(per_1k.alias("gain_per_1k_tokens"))
    if price_per_mtok is None:
        price = pl.lit(None, dtype=pl.Float64)
    elif isinstance(price_per_mtok, Mapping):
        if "model" not in df.columns:
            raise ValueError("a per-model price mapping needs a 'model' column")
        absent = sorted(set(df["model"].unique().to_list()) - set(price_per_mtok))
        if absent:
            raise ValueError(f"no price for models {absent}")
        if any(v < 0 for v in price_per_mtok.values()):
            raise ValueError("prices must be >= 0")
        price = pl.col("model").replace_strict(dict(price_per_mtok), return_dtype=pl.Float64)
    else:
        if price_per_mtok < 0:
            raise ValueError("prices must be >= 0")
        price = pl.lit(float(price_per_mtok))
    d_usd = pl.col("d_tokens") * price / 1e6
    df = df.with_columns(
        pl.when(d_usd > 0).then(pl.col("d_accuracy") / d_usd).otherwise(None).alias("gain_per_usd")
    )
    return df


def stopping_point(
    marginal_frame: pl.DataFrame,
    threshold: float,
    *,
    metric: str = "gain_per_1k_tokens",
    by: Sequence[str] = ("model", "benchmark"),
    level_col: str = "setting",
    token_col: str = "mean_tokens",
    acc_col: str = "accuracy",
) -> pl.DataFrame:
    """First thinking level after which the RAW marginal gain falls below a threshold (prefer the fitted stop).

    This rule reads differences between measured levels, so one noisy early level decides it (on a 30-problem
    benchmark it stops at the noisiest early step whatever the threshold); :func:`fit_thinking_curve` places the
    stop on the fitted curve's marginal gain with a bootstrap interval and is what the app and CLI report.

    Walking up the levels of a curve in token order, the stop is level j - 1 for the first j
    whose ``metric`` (gain from level j - 1 to j) is < ``threshold`` (a null gain, from equal
    token counts, does not stop the walk); if no gain falls below, the stop is the last level.

    Parameters
    ----------
    marginal_frame : polars.DataFrame
        Output of :func:`marginal_gains`.
    threshold : float
        Minimum worthwhile gain, in the unit of ``metric`` (accuracy fraction per 1k tokens, or
        per dollar for ``"gain_per_usd"``).
    metric : str
        ``"gain_per_1k_tokens"`` or ``"gain_per_usd"``.
    by, level_col, token_col, acc_col : str
        As in :func:`marginal_gains`.

    Returns
    -------
    polars.DataFrame
        One row per curve: the ``by`` columns, ``stop_level``, ``stop_tokens``,
        ``stop_accuracy``, ``next_gain`` (the gain that fell below, null if none) and
        ``n_levels``.

    Raises
    ------
    ValueError
        If columns are missing, the frame is empty or the threshold is NaN.

    Notes
    -----
    A first-crossing rule: later levels can gain again (gains are noisy with ~800 questions);
    read the curve too. Zhao et al. (2025), arXiv 2509.06861.
    """
    by = list(by)
    _check_columns(marginal_frame, [*by, level_col, token_col, acc_col, metric])
    if np.isnan(threshold):
        raise ValueError("threshold is NaN")
    rows = []
    for key, g in marginal_frame.sort([*by, token_col]).group_by(by, maintain_order=True):
        gains = g[metric].to_list()
        stop = g.height - 1
        nxt = None
        for j in range(1, g.height):
            if gains[j] is not None and gains[j] < threshold:
                stop, nxt = j - 1, gains[j]
                break
        row = dict(zip(by, key, strict=True))
        row.update(
            stop_level=g[level_col][stop],
            stop_tokens=float(g[token_col][stop]),
            stop_accuracy=float(g[acc_col][stop]),
            next_gain=nxt,
            n_levels=g.height,
        )
        rows.append(row)
    return pl.DataFrame(rows).with_columns(pl.col("next_gain").cast(pl.Float64))


def fitted_gain_per_1k(params: Mapping[str, float], T: Any) -> np.ndarray:
    """Marginal accuracy gain of a FITTED thinking curve per extra 1k generated tokens, 1000 d acc / dT.

    Linear form (params p, q): 1000 q / T. Saturating form (params A, R0, T_mid, B), with u = (T / T_mid)^B:
    1000 (A - R0) B u / (T (1 + u)^2), which rises to a single peak at u = (B - 1) / (B + 1) (for B > 1) and
    then falls monotonically.

    Parameters
    ----------
    params : mapping
        ``FitResult.params`` of :func:`fit_accuracy_vs_log_tokens` (either form).
    T : array_like, shape (m,)
        Generated tokens per answer (> 0).

    Returns
    -------
    ndarray, shape (m,)
        Accuracy fraction per 1k tokens.

    Raises
    ------
    ValueError
        If T is not > 0 or the parameters are neither form.

    Notes
    -----
    Derivative of the forms in :func:`fit_accuracy_vs_log_tokens` (Muennighoff et al. 2025, arXiv 2501.19393;
    Khatri et al. 2025, arXiv 2510.13786).
    """
    t = np.asarray(T, dtype=float)
    if t.size == 0 or np.isnan(t).any() or (t <= 0).any():
        raise ValueError("T must be non-empty, finite and > 0")
    if "q" in params:
        return 1000.0 * float(params["q"]) / t
    if not {"A", "R0", "T_mid", "B"} <= set(params):
        raise ValueError(f"params must be (p, q) or (A, R0, T_mid, B), got {sorted(params)}")
    A, R0, tm, B = (float(params[k]) for k in ("A", "R0", "T_mid", "B"))
    u = np.power(t / tm, B)
    return 1000.0 * (A - R0) * B * u / (t * (1.0 + u) ** 2)


def fitted_stopping_point(
    params: Mapping[str, float], threshold: float, t_range: tuple[float, float]
) -> dict[str, Any]:
    """Tokens per answer beyond which the FITTED curve gains less than ``threshold`` per extra 1k tokens.

    The stop is the largest T whose fitted marginal gain (:func:`fitted_gain_per_1k`) is >= threshold: for
    the linear form T* = 1000 q / threshold; for the saturating form the root of gain(T) = threshold beyond the
    gain's peak (found by ``scipy.optimize.brentq`` in ln T). Using the fitted curve, not differences between
    noisy observed levels, keeps one noisy early level from deciding the stop.

    Parameters
    ----------
    params : mapping
        Fitted parameters (linear p, q or saturating A, R0, T_mid, B).
    threshold : float
        Smallest worthwhile gain, accuracy fraction per 1k tokens (> 0).
    t_range : (float, float)
        Smallest and largest observed tokens per answer (for the status).

    Returns
    -------
    dict
        ``T_stop`` (tokens per answer, never below the smallest observed T), ``acc_stop`` (fitted accuracy
        there), ``status``: ``"within data"``, ``"beyond the data"`` (the fit says keep thinking past the
        largest observed level: an extrapolation), ``"at the first level"`` (the gain is already below the
        threshold there), or ``"no worthwhile gain"`` (the fitted gain never reaches the threshold; T_stop is
        the smallest observed T).

    Raises
    ------
    ValueError
        If threshold <= 0 or NaN, or t_range is not 0 < lo <= hi.
    """
    from scipy.optimize import brentq

    if not threshold > 0:
        raise ValueError(f"threshold must be > 0 (accuracy per 1k tokens), got {threshold}")
    lo, hi = float(t_range[0]), float(t_range[1])
    if not 0 < lo <= hi:
        raise ValueError(f"t_range must satisfy 0 < lo <= hi, got {t_range}")

    def acc_at(t: float) -> float:
        if "q" in params:
            return float(params["p"] + params["q"] * np.log(t))
        return float(saturating_log_tokens([t], params["A"], params["R0"], params["T_mid"], params["B"])[0])

    t_star: float | None = None
    if "q" in params:
        if params["q"] > 0:
            t_star = 1000.0 * float(params["q"]) / threshold
    else:
        A, R0, tm, B = (float(params[k]) for k in ("A", "R0", "T_mid", "B"))
        if A > R0:
            t_peak = tm * ((B - 1) / (B + 1)) ** (1 / B) if B > 1 else lo * 1e-3

            def f(lt: float) -> float:
                return float(fitted_gain_per_1k(params, [np.exp(lt)])[0]) - threshold

            a = float(np.log(t_peak))
            if f(a) >= 0:
                b = a + 1.0
                while f(b) > 0 and b < a + 80:
                    b += 2.0
                if f(b) <= 0:
                    t_star = float(np.exp(brentq(f, a, b, xtol=1e-10)))
    if t_star is None:
        return {"T_stop": lo, "acc_stop": acc_at(lo), "status": "no worthwhile gain"}
    if t_star < lo:  # one cannot stop before the first level measured
        return {"T_stop": lo, "acc_stop": acc_at(lo), "status": "at the first level"}
    status = "within data" if t_star <= hi else "beyond the data"
    return {"T_stop": t_star, "acc_stop": acc_at(t_star), "status": status}


def fit_thinking_curve(
    tokens: Any,
    acc: Any,
    n: Any,
    *,
    form: str = "linear",
    threshold: float = 0.01,
    n_boot: int = 0,
    rng: np.random.Generator | None = None,
    replicates: tuple[np.ndarray, np.ndarray] | None = None,
) -> FitResult:
    """Fit one thinking-token curve, its stopping point from the fit, and bootstrap intervals for both.

    Fits :func:`fit_accuracy_vs_log_tokens` (weights = answers per level), then :func:`fitted_stopping_point`.
    With ``n_boot > 0`` each replicate refits (the saturating form warm-started from the full-data optimum)
    and recomputes the stop, so ``result.interval("T_stop")`` and the parameters' intervals are percentile
    intervals. Replicates come from ``replicates`` (a problem bootstrap computed by the caller from
    per-answer data, paired across levels) or, without it, from a parametric binomial resample of each
    level's accuracy with its n (levels treated as independent: summary tables).

    Parameters
    ----------
    tokens, acc, n : array_like, shape (m,)
        Mean generated tokens per answer (> 0), accuracy (fraction) and answers (or problems) per level.
    form : {"linear", "saturating"}
    threshold : float
        Smallest worthwhile gain per 1k tokens (accuracy fraction).
    n_boot : int
        Replicates (0 = none); ignored when ``replicates`` is given (its row count is used).
    rng : numpy.random.Generator, optional
        Needed for the parametric resample.
    replicates : (tokens_reps, acc_reps), optional
        Arrays of shape (n_boot, m).

    Returns
    -------
    FitResult
        As :func:`fit_accuracy_vs_log_tokens`, with derived ``T_stop`` (tokens per answer), ``acc_stop``,
        extra ``stop_status``, ``threshold_per_1k`` and ``bootstrap_unit``; ``bootstrap`` holds the
        parameters, ``T_stop`` and ``acc_stop`` per replicate (NaN where a refit failed).

    Raises
    ------
    ValueError
        As :func:`fit_accuracy_vs_log_tokens` and :func:`fitted_stopping_point`; n_boot > 0 without rng or
        replicates.
    InsufficientDataError, FitError
        As :func:`fit_accuracy_vs_log_tokens`.

    Notes
    -----
    Muennighoff et al. (2025), arXiv 2501.19393; Khatri et al. (2025), arXiv 2510.13786 (saturating form);
    bootstrap percentile intervals (Efron & Tibshirani 1993).
    """
    from analysis.results import Bootstrap

    t, y, w = _check_xy(tokens, acc, n)
    fit = fit_accuracy_vs_log_tokens(t, y, form, weights=w)
    rng_range = (float(t.min()), float(t.max()))
    stop = fitted_stopping_point(fit.params, threshold, rng_range)
    derived = {**fit.derived, "T_stop": stop["T_stop"], "acc_stop": stop["acc_stop"]}
    extra = {**fit.extra, "stop_status": stop["status"], "threshold_per_1k": float(threshold)}
    boot = None
    if replicates is not None or n_boot > 0:
        if replicates is not None:
            t_reps, y_reps = (np.asarray(a, dtype=float) for a in replicates)
            unit, seed = "problem", -1
        else:
            if rng is None:
                raise ValueError("n_boot > 0 needs rng or replicates")
            seed = int(rng.integers(0, 2**63 - 1))
            child = np.random.default_rng(seed)
            y_reps = (
                child.binomial(w.astype(np.int64)[None, :], np.clip(y, 0, 1)[None, :], (n_boot, t.size)) / w
            )
            t_reps = np.broadcast_to(t, y_reps.shape)
            unit = "level (binomial)"
        keys = [*fit.params, "T_stop", "acc_stop"]
        reps = {k: np.full(y_reps.shape[0], np.nan) for k in keys}
        for b in range(y_reps.shape[0]):
            try:
                rb = fit_accuracy_vs_log_tokens(
                    t_reps[b], y_reps[b], form, weights=w, x0=fit.params if form == "saturating" else None
                )
                sb = fitted_stopping_point(rb.params, threshold, rng_range)
            except (ValueError, FitError, InsufficientDataError):
                continue
            for k_, v in rb.params.items():
                reps[k_][b] = v
            reps["T_stop"][b], reps["acc_stop"][b] = sb["T_stop"], sb["acc_stop"]
        boot = Bootstrap(
            replicates=reps,
            seed=seed,
            unit=unit,
            method="nonparametric" if unit == "problem" else "parametric",
        )
        extra["bootstrap_unit"] = unit
    return dataclasses.replace(fit, derived=derived, extra=extra, bootstrap=boot)


def saturating_unidentified(params: Mapping[str, float], tokens: Any, tol: float = 1e-3) -> str:
    """Why a saturating thinking fit is not identified, or "" when it is.

    Not identified when the ceiling A sits at its bound (A >= 1 - tol, or A <= R0 + tol: no rise) or the midpoint
    T_mid lies outside the measured tokens (the bend was never observed, so A and T_mid trade off).

    Parameters
    ----------
    params : mapping
        ``A``, ``R0``, ``T_mid`` of :func:`fit_accuracy_vs_log_tokens` (saturating form).
    tokens : array_like, shape (m,)
        Measured tokens per answer (> 0).
    tol : float
        Distance to a bound counted as "at" it (accuracy fraction).

    Returns
    -------
    str
        The reason, e.g. ``"ceiling A = 1.000 at its bound"``; "" when identified.

    Notes
    -----
    Same reading as ScaleRL's (arXiv 2510.13786, App. A.5-A.7): a ceiling is trusted only once the curve bends.
    """
    t = np.asarray(tokens, dtype=float)
    A, tm = float(params["A"]), float(params["T_mid"])
    if A >= 1.0 - tol or A <= float(params["R0"]) + tol:
        return f"ceiling A = {A:.3f} at its bound"
    if not t.min() <= tm <= t.max():
        return f"T_mid = {tm:.0f} tokens outside the measured {t.min():.0f}-{t.max():.0f}"
    return ""
