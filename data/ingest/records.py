"""Plain records that every parser produces and the loader writes (no DuckDB here).

A parser turns one file into a :class:`ParsedFile`: zero or more runs, each with its per-step
metric rows, plus eval rows and the rejected lines (file, line, raw text, reason). The loader
(``data.ingest.loader``) writes a ``ParsedFile`` in one transaction, so a file either loads
completely (good rows plus rejects) or not at all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

#: Columns of ``runs`` that parsers may fill; anything else goes to ``config_json``.
RUN_COLUMNS: tuple[str, ...] = (
    "run_id",
    "kind",
    "source",
    "model_family",
    "base_model",
    "n_params",
    "n_params_nonembed",
    "n_tokens",
    "compute_flops",
    "compute_source",
    "budget_flops",
    "corpus",
    "recipe",
    "algorithm",
    "reward_shaping",
    "seed",
    "n_gpus",
    "loss_metric",
)

RUN_KINDS: tuple[str, ...] = ("pretrain", "rl", "eval")
COMPUTE_SOURCES: tuple[str, ...] = ("6ND", "measured")

#: Numeric columns of ``eval_samples`` (tokens are counts, latency in seconds, cost in US dollars).
EVAL_NUMERIC_COLUMNS: tuple[str, ...] = (
    "setting_value",
    "input_tokens",
    "reasoning_tokens",
    "response_tokens",
    "completion_tokens",
    "output_tokens",
    "latency_s",
    "cost_usd",
    "n_tool_calls",
)
#: Columns of ``eval_samples`` in table order (``file_id`` is added by the loader).
EVAL_SAMPLE_COLUMNS: tuple[str, ...] = (
    "run_id",
    "model",
    "benchmark",
    "problem_id",
    "sample_idx",
    "correct",
    "answer",
    "setting",
    "setting_knob",
    *EVAL_NUMERIC_COLUMNS,
    "extra_json",
)

#: Reserved keys of a step record: axes, not metrics.
STEP_AXES: tuple[str, ...] = ("step", "tokens_seen", "flops_seen", "gpu_hours_seen", "wall_time_s")


@dataclass
class Reject:
    """One rejected record: 1-based ``line`` in ``file`` (0 = whole file), raw text, reason."""

    line: int
    raw: str
    reason: str


@dataclass
class StepRow:
    """One metric value of one run at one logging step.

    ``step`` is None for final/summary values (a tidy per-run table). Units: tokens_seen in tokens,
    flops_seen in FLOPs, gpu_hours_seen in GPU-hours, wall_time_s in seconds.
    """

    run_id: str
    step: int | None
    metric: str
    value: float  # may be NaN or +-inf: the loader stores those as flagged gaps, never as metric rows
    tokens_seen: float | None = None
    flops_seen: float | None = None
    gpu_hours_seen: float | None = None
    wall_time_s: float | None = None
    line: int | None = None
    #: 0 for the first run of the step counter; +1 each time the counter restarts (see :class:`SegmentTracker`)
    segment: int = 0


@dataclass
class ParsedFile:
    """What one input file holds, ready to be written in one transaction."""

    path: str
    format: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    steps: list[StepRow] = field(default_factory=list)
    #: polars DataFrames with the ``eval_samples`` / ``eval_counts`` columns (or None when the file has none)
    eval_samples: Any = None
    eval_counts: Any = None
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class UnparseableFileError(ValueError):
    """The file cannot be parsed at all (wrong format, truncated container, missing header)."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


#: Largest magnitude an integer label (seed, n_gpus) or a step may have (DuckDB BIGINT).
INT64_MAX = 2**63 - 1

_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_NONFINITE_RE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)


class Unrepresentable:
    """A number as written in a file that no 64-bit float can hold (``1e400``, a 400-digit integer).

    The JSON Lines parser returns it in place of Python's silent ``inf`` (``json.loads("1e400")``) or an
    arbitrary-precision ``int``, so every consumer rejects it with a reason instead of storing inf or crashing.
    """

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        t = self.text
        return t if len(t) <= 24 else f"{t[:12]}...{t[-6:]} ({len(t)} characters)"


def json_float(text: str) -> float | Unrepresentable:
    """``parse_float`` hook for ``json.loads``: a finite-looking literal that overflows becomes :class:`Unrepresentable`."""
    f = float(text)
    return Unrepresentable(text) if math.isinf(f) else f


def json_int(text: str) -> int | Unrepresentable:
    """``parse_int`` hook for ``json.loads``: an integer beyond a 64-bit float's range becomes :class:`Unrepresentable`."""
    try:
        n = int(text)
        float(n)
    except (ValueError, OverflowError):  # Python's 4,300-digit limit, or beyond 1.8e308
        return Unrepresentable(text)
    return n


def to_float(v: Any) -> tuple[float | None, str | None]:
    """Coerce one logged value to a float: ``(value, None)`` or ``(None, reason it cannot be)``.

    Numbers and numeric strings (``"0.91"``, ``" 1e-3 "``) become floats; ``NaN``/``Infinity`` (as JSON tokens,
    floats or strings such as ``"nan"``, ``"-inf"``) are returned as non-finite floats -- the loader keeps them
    as flagged gaps. ``None`` and blank strings return ``(None, None)`` (not logged). Booleans, text, arrays, objects, and
    numbers that overflow a 64-bit float (``1e400``, 400-digit integers) return a reason naming what the value is.
    """
    if v is None:
        return None, None
    if isinstance(v, bool):
        return None, f"value {v!r} is a boolean, not a number"
    if isinstance(v, Unrepresentable):
        return None, f"value {v!r} cannot be represented as a 64-bit float (out of range)"
    if isinstance(v, int):
        try:
            return float(v), None
        except OverflowError:
            return (
                None,
                f"value {Unrepresentable(str(v))!r} cannot be represented as a 64-bit float (out of range)",
            )
    if isinstance(v, float):
        return v, None
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None, None  # an empty string is "not logged", like a blank CSV cell
        if _NUMBER_RE.fullmatch(s):
            f = float(s)
            if math.isinf(f):
                return (
                    None,
                    f"value {Unrepresentable(s)!r} cannot be represented as a 64-bit float (out of range)",
                )
            return f, None
        if _NONFINITE_RE.fullmatch(s):
            return float(s), None
        shown = s if len(s) <= 40 else s[:37] + "..."
        return None, f"value {shown!r} is text, not a number"
    if isinstance(v, list):
        return None, "value is a JSON array, not a number"
    if isinstance(v, dict):
        return None, "value is a JSON object, not a number"
    return None, f"value {v!r} is not a number"


def to_int64(v: Any) -> tuple[int | None, str | None]:
    """Coerce an integer label or step: ``(int, None)`` or ``(None, reason)``; integral floats/strings are accepted."""
    if isinstance(v, int) and not isinstance(v, bool):
        if -INT64_MAX - 1 <= v <= INT64_MAX:
            return v, None
        return None, f"{Unrepresentable(str(v))!r} is out of the 64-bit integer range"
    f, why = to_float(v)
    if why is not None:
        return None, why
    if f is None:
        return None, None
    if not math.isfinite(f):
        return None, f"{v!r} is not a finite number"
    if f != int(f):
        return None, f"{v!r} is not an integer"
    if not -(2.0**63) <= f < 2.0**63:
        return None, f"{v!r} is out of the 64-bit integer range"
    return int(f), None


class SegmentTracker:
    """Numbers the segments of one run's step counter, fed the steps in file order.

    A step below the previous one that is also at or below the current segment's first step means the counter
    restarted (a new job writing into the same log from the beginning): a new segment starts. A step that goes
    back but stays above the segment's first step is a resume from a checkpoint (or a late eval record for an
    earlier step): it stays in the segment, and the loader merges it per (step, metric), the later value winning.
    ``resets`` lists ``(line, previous step, new step)`` for every restart.
    """

    def __init__(self) -> None:
        self.segment = 0
        self.first: int | None = None
        self.prev: int | None = None
        self.resets: list[tuple[int | None, int, int]] = []

    def __call__(self, step: int, line: int | None = None) -> int:
        if self.first is None or self.prev is None:
            self.first = step
        elif step < self.prev and step <= self.first:
            self.segment += 1
            self.first = step
            self.resets.append((line, self.prev, step))
        self.prev = step
        return self.segment

    def notes(self) -> list[str]:
        """One ledger note per restart."""
        return [
            f"step counter restarted at line {ln} (step {a} -> {b}): stored as segment {i + 1}, not merged into the earlier steps"
            for i, (ln, a, b) in enumerate(self.resets)
        ]


def json_safe(x: Any) -> Any:
    """``x`` with non-finite floats and unrepresentable numbers turned into strings (for a JSON column)."""
    if isinstance(x, Unrepresentable):
        return x.text
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, int) and not isinstance(x, bool) and not -(2**63) <= x < 2**63:
        return str(x)
    return x
