"""Choose an adapter for every file by layout and content (never by extension alone) and group files into units.

A *unit* is what one ledger row (``ingest_files``) describes: a single file (a JSON Lines run log, a table, a
verl log, an MLflow SQLite database, an lm-eval results file with its samples) or a run folder (a TensorBoard
event folder, an MLflow file-store run, a W&B offline run, a Hugging Face Trainer output folder, an Aim
repository). Its content hash covers every member file, so re-ingesting an unchanged unit is a no-op and a unit
whose files grew is re-read and replaces what it loaded before.

Order of recognition (first match claims the files): side-car files, Aim repositories, W&B offline runs, MLflow
file-store runs, MLflow SQLite databases, TensorBoard event files, Hugging Face Trainer files, lm-eval results and
samples, then single files: W&B exports (by columns), JSON Lines run logs, tidy/eval tables, verl console logs
(by content: a ``*.log`` without verl output is skipped with a hint, never parsed as verl).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from data.ingest.adapters import aim_repo, hf_trainer, lm_eval, mlflow_store, tensorboard, wandb_files
from data.ingest.adapters.common import Context
from data.ingest.adapters.sidecar import SidecarError, is_sidecar, sidecar_files_for
from data.ingest.records import ParsedFile, UnparseableFileError

__all__ = ["Unit", "plan_units", "unit_sha"]

_TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
_VERL_STEP = re.compile(r"step:\d+\s+-\s+[^\s:]+:")
_SNIFF_BYTES = 4 << 20


@dataclass
class Unit:
    """One ledger entry to ingest: ``path`` (a file or a run folder), the adapter ``format`` (None = skipped, with
    ``reason``), the ``members`` whose bytes are hashed, and ``parse`` returning the :class:`ParsedFile`."""

    path: Path
    format: str | None
    members: list[Path] = field(default_factory=list)
    parse: Callable[[], ParsedFile] | None = None
    reason: str = ""


def unit_sha(unit: Unit) -> str:
    """Hex SHA-256 over the members' names (relative to the unit) and bytes, in name order."""
    h = hashlib.sha256()
    base = unit.path if unit.path.is_dir() else unit.path.parent
    for m in sorted(unit.members):
        h.update(str(m.relative_to(base) if base in m.parents else m.name).encode() + b"\0")
        with open(m, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def _root_of(f: Path, roots: list[Path]) -> Path:
    best = None
    for r in roots:
        if r.is_dir() and (r == f or r in f.parents) and (best is None or len(r.parts) > len(best.parts)):
            best = r
    return best or f.parent


def plan_units(
    files: Sequence[Path],
    roots: Sequence[str | Path],
    *,
    source: str | None = None,
    unwalked: Sequence[Path] = (),
) -> list[Unit]:
    """Group ``files`` (absolute, as walked from ``roots``) into units, each with its adapter.

    Parameters
    ----------
    files : sequence of Path
        Files found under the paths given to ``scaling ingest``.
    roots : sequence of paths
        The paths as given (folders bound the side-car search and name folder-shaped runs).
    source : str, optional
        ``--source``: overrides every run's ``source``.
    unwalked : sequence of Path, optional
        Folders the walk saw but did not enter (hidden ones): an Aim repository (``.aim``) among them is read.

    Returns
    -------
    list of Unit
        In a stable order; skipped files carry the reason (and a hint when they look like a known tool's file).
    """
    roots_r = [Path(r).resolve() for r in roots]
    todo = sorted({Path(f).resolve() for f in files})
    # Aim keeps its repository in a hidden folder that a walk may not enter
    candidates = [Path(d).resolve() for d in unwalked] + [d for r in roots_r for d in (r, r / ".aim")]
    for aim_dir in candidates:
        if aim_repo.is_aim_repo(aim_dir):
            todo = sorted(set(todo) | {p.resolve() for p in aim_dir.rglob("*") if p.is_file()})
    claimed: set[Path] = set()
    units: list[Unit] = []

    def ctx_for(p: Path) -> Context:
        return Context(root=_root_of(p, roots_r), source=source)

    def add(unit: Unit, claim: list[Path]) -> None:
        if unit.parse is not None:
            unit.parse = _guarded(unit.parse, unit.path, unit.format or "")
        units.append(unit)
        claimed.update(claim)

    free = lambda: [f for f in todo if f not in claimed]  # noqa: E731
    keys = [f.parts for f in todo]  # sorted: the files below a folder are one contiguous block

    def under(d: Path) -> list[Path]:
        """Unclaimed files below folder ``d`` (binary search, not a scan: thousands of run folders stay fast)."""
        out, n = [], len(d.parts)
        for i in range(bisect.bisect_left(keys, d.parts), len(keys)):
            if keys[i][:n] != d.parts:
                break
            if todo[i] not in claimed:
                out.append(todo[i])
        return out

    for f in free():
        if is_sidecar(f):
            add(Unit(f, None, reason="side-car file: applied to the runs in this folder and below"), [f])
    # Aim repositories
    for d in sorted({p for f in free() for p in f.parents if aim_repo.is_aim_repo(p)}):
        mem = under(d)
        add(Unit(d, aim_repo.FORMAT, mem, lambda d=d: aim_repo.parse_aim_repo(d, ctx_for(d))), mem)
    # W&B offline runs: the folder holding run-<id>.wandb (its files/, logs/ and tmp/ belong to it)
    for d in sorted({f.parent for f in free() if f.suffix == ".wandb" and wandb_files.is_wandb_file(f)}):
        mem = under(d)
        add(Unit(d, wandb_files.OFFLINE_FORMAT, mem,
                 lambda d=d, m=mem: wandb_files.parse_wandb_offline(d, m, ctx_for(d))), mem)  # fmt: skip
    # MLflow file store: run folders, with the experiment's meta.yaml hashed along
    exp_metas = [f for f in free() if mlflow_store.is_experiment_meta(f)]
    for meta in [f for f in free() if mlflow_store.is_run_meta(f)]:
        d = meta.parent
        mem = under(d) + [e for e in exp_metas if e.parent == d.parent]
        add(Unit(d, mlflow_store.FILE_FORMAT, mem, lambda d=d: mlflow_store.parse_mlflow_run_dir(d, ctx_for(d))),
            mem)  # fmt: skip
    for e in exp_metas:
        if e not in claimed:
            add(Unit(e, None, reason="MLflow experiment metadata (read with its runs)"), [e])
    for f in free():
        if mlflow_store.is_mlflow_sqlite(f):
            add(Unit(f, mlflow_store.SQLITE_FORMAT, [f], lambda f=f: mlflow_store.parse_mlflow_sqlite(f, ctx_for(f))),
                [f])  # fmt: skip
    # TensorBoard: one run per folder holding event files
    events = [f for f in free() if tensorboard.is_event_file(f)]
    event_dirs = {f.parent for f in events}
    by_run: dict[Path, list[Path]] = {}
    for f in events:
        by_run.setdefault(tensorboard.run_folder(f, event_dirs), []).append(f)
    for d, mem in sorted(by_run.items()):
        add(
            Unit(d, tensorboard.FORMAT, mem, lambda d=d, m=mem: tensorboard.parse_tb_dir(d, m, ctx_for(d))),
            mem,
        )
    # Hugging Face Trainer output folders
    hf = [f for f in free() if hf_trainer.is_state(f) or (f.name in hf_trainer.RESULTS and _is_json_obj(f))]
    by_out: dict[Path, list[Path]] = {}
    for f in hf:
        by_out.setdefault(hf_trainer.output_dir(f), []).append(f)
    for d, mem in sorted(by_out.items()):
        add(
            Unit(d, hf_trainer.FORMAT, mem, lambda d=d, m=mem: hf_trainer.parse_hf_output(d, m, ctx_for(d))),
            mem,
        )
    # lm-evaluation-harness
    samples = [f for f in free() if lm_eval.is_samples(f)]
    samples_by_dir: dict[Path, list[Path]] = {}
    for f in samples:
        samples_by_dir.setdefault(f.parent, []).append(f)
    for r in [f for f in free() if lm_eval.is_results(f)]:
        mem = [r, *lm_eval.samples_for(r, samples_by_dir.get(r.parent, []))]
        add(Unit(r, lm_eval.FORMAT, mem, lambda r=r, m=mem: lm_eval.parse_lm_eval(r, m, ctx_for(r))), mem)
    for s in [f for f in samples if f not in claimed]:
        add(Unit(s, lm_eval.FORMAT, [s], lambda s=s: lm_eval.parse_lm_eval(s, [s], ctx_for(s))), [s])
    # single files
    for f in free():
        units.append(_single(f, ctx_for(f)))
    # a W&B history export's run config beside it belongs to the export's unit (hashed with it)
    configs = {}
    for u in units:
        if u.format == "wandb_export" and (cfg := wandb_files.sibling_config_path(u.path)) is not None:
            configs[cfg] = u
            u.members.append(cfg)
    return [u for u in units if not (u.format is None and u.path in configs)]


def _guarded(parse: Callable[[], ParsedFile], path: Path, fmt: str) -> Callable[[], ParsedFile]:
    """``parse`` with any unexpected error turned into :class:`UnparseableFileError` naming the unit and adapter, so
    one malformed tool file fails alone and the rest of the ingest goes on."""

    def run() -> ParsedFile:
        try:
            return parse()
        except UnparseableFileError:
            raise
        except Exception as e:  # noqa: BLE001 - tool files can be malformed in any way
            raise UnparseableFileError(
                str(path), f"{fmt} adapter could not read it: {type(e).__name__}: {e}"
            ) from e

    return run


def _is_json_obj(f: Path) -> bool:
    try:
        return isinstance(json.loads(f.read_bytes()), dict)
    except (OSError, ValueError):
        return False


def _columns(f: Path) -> list[str]:
    import polars as pl

    try:
        if f.name.lower().endswith(".parquet"):
            return list(pl.read_parquet_schema(f))
        return pl.read_csv(f, n_rows=1, infer_schema=False).columns
    except Exception:  # noqa: BLE001 - unreadable tables are reported by the table parser
        return []


def _first_json_line(f: Path) -> object:
    import gzip

    try:
        opener = gzip.open if f.name.endswith(".gz") else open
        with opener(f, "rb") as fh:
            return json.loads(fh.readline().decode("utf-8-sig"))
    except (OSError, ValueError, EOFError):
        return None


def _single(f: Path, ctx: Context) -> Unit:
    """A unit for one file: W&B exports and ``*.log``/``*.json`` files by content here, everything else by the
    reader registry of ``data.ingest`` (JSON Lines run logs, tables, ...), with the side-car applied."""
    import data.ingest as registry
    from data.ingest.verl_log import parse_verl_log

    name = f.name.lower()
    if name.endswith(_TABLE_SUFFIXES) and wandb_files.export_kind(_columns(f)):
        return Unit(f, "wandb_export", [f], lambda: wandb_files.parse_wandb_export(f, ctx))
    if name.endswith(_JSONL_SUFFIXES):
        first = _first_json_line(f)
        if isinstance(first, dict) and "_step" in first and first.get("type") != "run":
            return Unit(f, "wandb_export", [f], lambda: wandb_files.parse_wandb_export(f, ctx))
    if name.endswith(".json"):
        df = wandb_files.read_export(f)
        if df is not None and wandb_files.export_kind(df.columns):
            return Unit(f, "wandb_export", [f], lambda: wandb_files.parse_wandb_export(f, ctx))
        return Unit(f, None)  # no known layout: the ingest loop names the reason (and a tool hint)
    if name.endswith(".log"):
        kind = sniff_log(f)
        if kind == "verl":
            return Unit(f, "verl_log", [f], lambda: _with_sidecar(parse_verl_log(f, source=None), ctx, f))
        return Unit(f, None, reason=kind)
    fmt = registry.detect_format(f)
    if fmt is None:
        return Unit(f, None)  # the ingest loop names the reason (and a tool hint)
    return Unit(f, fmt, [f], lambda: _with_sidecar(registry.parse_file(f), ctx, f))


def sniff_log(f: Path) -> str:
    """``"verl"`` when ``f`` holds verl output (a ``step:N - key:value`` line or verl's config dict), else the
    reason it is skipped, naming the tool it looks like (W&B, Aim, MLflow) when it does."""
    try:
        with open(f, "rb") as fh:
            text = fh.read(_SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError as e:
        return f"cannot be read: {e}"
    if _VERL_STEP.search(text) or "'actor_rollout_ref'" in text:
        return "verl"
    hint = ""
    if "wandb" in text.lower() or f.name in ("debug.log", "debug-internal.log", "output.log"):
        hint = " (looks like a Weights & Biases log; ingest the run folder with its run-*.wandb file)"
    elif "aim" in text.lower() and ".aim" in str(f):
        hint = " (looks like an Aim log; ingest the folder holding .aim)"
    return "a .log file without verl training output" + hint


def _with_sidecar(parsed: ParsedFile, ctx: Context, where: Path) -> ParsedFile:
    """Apply the side-car and ``--source`` to runs parsed by the native parsers (JSON Lines, tables, verl)."""
    from data.ingest.jsonl import validate_run_meta

    out = []
    for run in parsed.runs:
        try:
            car, car_files = sidecar_files_for(where, ctx.root, run["run_id"])
        except SidecarError as e:
            raise UnparseableFileError(parsed.path, str(e)) from e
        line = run.pop("source_line", None)
        merged = dict(run)
        if (
            run.get("compute_source") == "6ND"
            and "compute_flops" not in car
            and {"n_params", "n_tokens"} & set(car)
        ):
            merged.pop("compute_flops", None)  # 6ND was filled from the old N, D: recompute from the new ones
        merged["config"] = {**(run.get("config") or {}), **(car.pop("config", None) or {})}
        merged.update(car)
        if ctx.source:
            merged["source"] = ctx.source
        if not merged.get("source"):
            merged["source"] = where.parent.name
        try:
            new = validate_run_meta(merged, parsed.path) if car else merged
        except ValueError as e:
            used = f" (side-car: {', '.join(map(str, car_files))})"
            raise UnparseableFileError(parsed.path, str(e).split(": ", 1)[-1] + used) from e
        new["source_line"] = line
        out.append(new)
    parsed.runs = out
    return parsed
