"""Helpers shared by the tool adapters: number coercion, point collection, run finishing (side-car, N/D/C notes).

Pure Python (no DuckDB): adapters build :class:`~data.ingest.records.ParsedFile` objects that the loader writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data.ingest.jsonl import DEFAULT_LOSS_KEYS, validate_run_meta
from data.ingest.records import ParsedFile, StepRow, UnparseableFileError


@dataclass
class Context:
    """Where a unit sits and what the user asked: ``root`` is the folder given to ``scaling ingest`` (for a
    file argument, its folder); ``source`` the ``--source`` override (None = side-car, then the tool, then the
    folder name)."""

    root: Path
    source: str | None = None


def num(v: Any) -> float | None:
    """``v`` as a float: numbers and numeric strings (``"0.91"``) are coerced; booleans, text, None -> None.

    Non-finite values (NaN, +-Inf) are returned as floats; callers decide (see :class:`Points`).
    """
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def positive(v: Any) -> float | None:
    """``v`` as a finite float > 0, else None (used for N, D, C read from a tool's config)."""
    x = num(v)
    return x if x is not None and math.isfinite(x) and x > 0 else None


try:  # the loader merges per (run, segment, step, metric) and flags duplicates, overlaps and NaN/Inf gaps
    from data.ingest.loader import merge_points as _loader_merges  # noqa: F401
    from data.ingest.records import SegmentTracker

    LOADER_MERGES = True
except ImportError:  # an older loader stores what it is given: merge here
    SegmentTracker = None  # type: ignore[assignment,misc]
    LOADER_MERGES = False


@dataclass
class Points:
    """Collects the metric points of one file in file order.

    When the loader merges (``LOADER_MERGES``: per (run, segment, step, metric), the later value winning, with
    duplicates, overlaps and NaN/Inf recorded as flags), every point is passed on as logged, NaN/Inf included, and
    with ``segments`` the step counter of each run is followed (``records.SegmentTracker``): a counter that goes
    back to its start begins a new segment. Otherwise the same merge is done here (later value kept, NaN/Inf
    not stored) and the counts go to the file's notes.
    """

    segments: bool = False
    rows: list[StepRow] = field(default_factory=list)
    _index: dict[tuple[str, int | None, str], int] = field(default_factory=dict)
    _trackers: dict[str, Any] = field(default_factory=dict)
    n_nonfinite: int = 0
    n_duplicates: int = 0
    n_overlaps: int = 0

    def add(self, run_id: str, step: int | None, metric: str, value: Any, **axes: Any) -> bool:
        """Add one point; False when ``value`` is not a number (nothing added)."""
        v = num(value)
        if v is None:
            return False
        row = StepRow(run_id, step, metric, v, **{k: a for k, a in axes.items() if a is not None})
        if LOADER_MERGES:
            if self.segments and step is not None:
                tracker = self._trackers.setdefault(run_id, SegmentTracker())
                row.segment = tracker(step, axes.get("line"))
            self.rows.append(row)
            return True
        if not math.isfinite(v):
            self.n_nonfinite += 1
            return False
        key = (run_id, step, metric)
        i = self._index.get(key)
        if i is None:
            self._index[key] = len(self.rows)
            self.rows.append(row)
        else:
            if self.rows[i].value == v:
                self.n_duplicates += 1
            else:
                self.n_overlaps += 1
            self.rows[i] = row
        return True

    def tokens_axis(self, run_id: str) -> float | None:
        """Fill ``tokens_seen`` of every point of ``run_id`` from a tokens metric logged at the same step (see
        :data:`TOKEN_METRICS`); returns the tokens at the run's last step (D trained so far), or None."""
        names = self.metrics(run_id)
        key = next((k for k in TOKEN_METRICS if k in names), None)
        if key is None:
            return None
        seg = lambda r: getattr(r, "segment", 0)  # noqa: E731 - older records have no segments
        at = {(seg(r), r.step): r.value for r in self.rows if r.run_id == run_id and r.metric == key}
        at = {k: v for k, v in at.items() if k[1] is not None and math.isfinite(v) and v >= 0}
        for r in self.rows:
            if r.run_id == run_id and r.tokens_seen is None and (seg(r), r.step) in at:
                r.tokens_seen = at[(seg(r), r.step)]
        if not at:
            return None
        last = max(at)  # last segment, last step
        return at[last]

    def metrics(self, run_id: str | None = None) -> set[str]:
        """Metric names collected (of one run, or all)."""
        return {r.metric for r in self.rows if run_id is None or r.run_id == run_id}

    def flush(self, parsed: ParsedFile) -> None:
        """Move the points into ``parsed.steps`` with the notes (merge counts or step-counter restarts)."""
        parsed.steps.extend(self.rows)
        for t in self._trackers.values():
            parsed.notes.extend(t.notes())
        if self.n_nonfinite:
            parsed.notes.append(f"{self.n_nonfinite} non-finite values (NaN/Inf) not stored")
        if self.n_duplicates:
            parsed.notes.append(f"{self.n_duplicates} exact duplicate points collapsed")
        if self.n_overlaps:
            parsed.notes.append(
                f"{self.n_overlaps} points logged again with another value; the later one kept"
            )
        self.rows, self._index, self._trackers = [], {}, {}


#: Logged metric names read as the tokens axis (``tokens_seen``); the last value is the run's D when the tool
#: logged no planned token count.
TOKEN_METRICS: tuple[str, ...] = (
    "tokens_seen", "train/tokens_seen", "num_input_tokens_seen", "train/num_input_tokens_seen", "tokens",
    "train/tokens", "consumed_tokens", "train/consumed_tokens", "num_tokens", "trainer/tokens_seen",
)  # fmt: skip


def tokens_to_meta(pts: Points, run_id: str, meta: dict[str, Any], parsed: ParsedFile) -> None:
    """Use a logged tokens metric as the tokens axis and, when ``meta`` has no ``n_tokens``, as D (noted)."""
    d = pts.tokens_axis(run_id)
    if d and d > 0 and not meta.get("n_tokens"):
        meta["n_tokens"] = d
        parsed.notes.append(f"run {run_id}: n_tokens (D) = {d:.6g}, the tokens seen at its last logged step")


def finish_run(
    parsed: ParsedFile,
    meta: dict[str, Any],
    ctx: Context,
    where: Path,
    *,
    default_source: str | None = None,
) -> dict[str, Any]:
    """Apply the side-car and the source rule to ``meta``, validate it and append it to ``parsed.runs``.

    Source precedence: ``--source`` > side-car ``source`` > ``meta["source"]`` (what the tool logged, e.g. an
    MLflow experiment or W&B project) > ``default_source`` > the name of the folder holding ``where`` (a file
    or a run folder).
    The side-car (``data.ingest.adapters.sidecar``) overrides logged values. When N, D or C is still missing
    a note says what a fit lacks and how to add it.

    Raises
    ------
    UnparseableFileError
        If the merged metadata is invalid (e.g. a non-positive ``n_params`` in the side-car).
    """
    from data.ingest.adapters.sidecar import SidecarError, sidecar_files_for

    meta = dict(meta)
    try:
        car, car_files = sidecar_files_for(where, ctx.root, meta["run_id"])
    except SidecarError as e:
        raise UnparseableFileError(parsed.path, str(e)) from e
    config = dict(meta.pop("config", None) or {})
    config.update(car.pop("config", None) or {})
    meta.update(car)
    if ctx.source:
        meta["source"] = ctx.source
    if not meta.get("source"):
        meta["source"] = default_source or where.parent.name
    meta["config"] = config
    try:
        run = validate_run_meta(meta, f"{parsed.path}")
    except ValueError as e:
        used = f" (side-car: {', '.join(map(str, car_files))})" if car_files else ""
        raise UnparseableFileError(parsed.path, str(e).split(": ", 1)[-1] + used) from e
    missing = [
        s for s, k in (("N", "n_params"), ("D", "n_tokens"), ("C", "compute_flops")) if run.get(k) is None
    ]
    if missing and run["kind"] == "pretrain":
        parsed.notes.append(
            f"run {run['run_id']}: {', '.join(missing)} not logged by the tool; a scaling fit needs them: add"
            " n_params / n_tokens (/ compute_flops) in a scaling_run.json side-car next to the logs"
            " (README 'Side-car file') and ingest again"
        )
    parsed.runs.append(run)
    return run


def pick_loss_metric(metrics: set[str]) -> str | None:
    """The run's loss key: the first of ``val/loss``, ``eval/loss``, ``loss``, ``train/loss`` (and the ``eval_loss``
    / ``train_loss`` spellings) that was logged, also when logged with a context suffix (``loss[subset=train]``);
    None if none was."""
    keys = (*DEFAULT_LOSS_KEYS, "eval_loss", "validation/loss", "val_loss", "train_loss")
    for k in keys:
        if k in metrics:
            return k
    # metrics tracked with a context (Aim: "loss[subset=train]"): the same order on the name before "["
    for k in keys:
        hits = sorted(m for m in metrics if m.split("[", 1)[0] == k)
        if hits:
            return hits[0]
    return None


def run_name(unit: Path, root: Path) -> str:
    """Run id for a folder-shaped run: its path below the parent of ``root`` (``logs/run_a`` for ``run_a`` under
    the given folder ``logs``), so ids are stable for the same ingest root and unique across its sub-folders."""
    unit, root = unit.resolve(), root.resolve()
    if unit == root or root not in unit.parents:
        return unit.name
    return "/".join((root.name, *unit.relative_to(root).parts))


def load_json(path: Path) -> object:
    """Parse a JSON file (bare ``NaN``/``Infinity`` tokens allowed, as Python's json writes them).

    Raises
    ------
    UnparseableFileError
        If the file cannot be read or is not valid JSON.
    """
    import json

    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UnparseableFileError(str(path), f"not valid JSON: {e}") from e


#: Config/param/hparam key names (last path part, lower case) read as N, D, C when the tool logged them.
NDC_KEYS: dict[str, tuple[str, ...]] = {
    "n_params": ("n_params", "num_params", "num_parameters", "n_parameters", "model_params", "params_total",
                 "total_params", "n_params_total"),
    "n_params_nonembed": ("n_params_nonembed", "non_embedding_params", "num_params_nonembed",
                          "n_params_non_embedding"),
    "n_tokens": ("n_tokens", "num_tokens", "train_tokens", "total_tokens", "tokens", "num_train_tokens",
                 "training_tokens"),
    "compute_flops": ("compute_flops", "flops", "total_flops", "train_flops", "total_flos"),
}  # fmt: skip


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> ``{"a.b.c": value}``."""
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                out.update(flatten(v, key))
            else:
                out[key] = v
    return out


def ndc_from(config: dict[str, Any]) -> dict[str, float]:
    """N, D, C found in a tool's config/params/hparams by key name (:data:`NDC_KEYS`, any nesting, ``/`` or ``.``
    separated); values must be positive numbers (numeric strings allowed). The first key found wins."""
    flat = flatten(config)
    out: dict[str, float] = {}
    for col, names in NDC_KEYS.items():
        for key, v in flat.items():
            last = key.replace("/", ".").rsplit(".", 1)[-1].lower()
            if last in names:
                x = positive(v)
                if x is not None:
                    out[col] = x
                    break
    return out


#: Text labels of ``runs`` taken from a tool's config/params/hparams when logged under the same name.
LABEL_KEYS: tuple[str, ...] = (
    "kind",
    "corpus",
    "recipe",
    "model_family",
    "algorithm",
    "reward_shaping",
    "base_model",
)


def labels_from(config: dict[str, Any]) -> dict[str, Any]:
    """Run labels (``corpus``, ``recipe``, ``kind``, ...) a tool logged as top-level config keys; ``kind`` only when
    it is one of pretrain / rl / eval."""
    from data.ingest.records import RUN_KINDS

    out = {k: str(config[k]) for k in LABEL_KEYS if isinstance(config.get(k), str) and config[k].strip()}
    if out.get("kind") not in RUN_KINDS:
        out.pop("kind", None)
    return out
