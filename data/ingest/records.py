"""Plain records that every parser produces and the loader writes (no DuckDB here).

A parser turns one file into a :class:`ParsedFile`: zero or more runs, each with its per-step
metric rows, plus eval rows and the rejected lines (file, line, raw text, reason). The loader
(``data.ingest.loader``) writes a ``ParsedFile`` in one transaction, so a file either loads
completely (good rows plus rejects) or not at all.
"""

from __future__ import annotations

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
    value: float
    tokens_seen: float | None = None
    flops_seen: float | None = None
    gpu_hours_seen: float | None = None
    wall_time_s: float | None = None
    line: int | None = None


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
