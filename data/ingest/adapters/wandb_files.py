"""Weights & Biases: offline run folders (``run-<id>.wandb``) and the CSV/Parquet/JSON exports.

Offline runs: the ``.wandb`` file is a LevelDB-style log (7-byte header ``:W&B`` + magic + version, then 32 KiB
blocks of records ``crc32 (uint32) | length (uint16) | type (uint8) | data``, types full/first/middle/last) whose
records are ``wandb_internal_pb2.Record`` protobuf messages. The message classes come from the ``wandb`` package
(optional extra ``pip install -e ".[wandb]"``; recent versions write the file from their Go core and ship no
Python reader, so the framing is read here). ``run`` records give the id, project (-> ``source``) and config,
``history`` records one row per ``_step`` (``_runtime`` -> ``wall_time_s``), ``config`` records later config.

Exports (no extra needed), recognised by their columns, not their extension:
- API history export (``run.history()`` / ``scan_history()`` saved as CSV, Parquet or JSON): a ``_step`` column,
  one column per metric; blank / null cells are "not logged". The run config is read from a ``config.json`` /
  ``config.yaml`` beside it (or ``<file stem>.config.json`` / ``<stem>_config.json``); W&B's
  ``{key: {"value": v}}`` wrapping is removed. Run id: the file stem (override with the side-car).
- UI panel export (a line plot's "Export CSV"): ``Step`` plus ``<run name> - <metric>`` columns (``__MIN`` /
  ``__MAX`` band columns are skipped); one run per run name; blank cells are "not logged".
- UI runs-table export: ``Name`` and ``State`` columns, one row per run; numeric columns become summary values
  (step NULL), text columns go to the config.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import polars as pl

from data.ingest.adapters.common import (
    Context,
    Points,
    finish_run,
    labels_from,
    ndc_from,
    num,
    pick_loss_metric,
    tokens_to_meta,
)
from data.ingest.records import ParsedFile, Reject, UnparseableFileError

OFFLINE_FORMAT = "wandb_offline"
HISTORY_FORMAT = "wandb_history"
PANEL_FORMAT = "wandb_panel"
RUNS_FORMAT = "wandb_runs_table"
_MAGIC = b":W&B"
_BLOCK = 32768
_HEADER = 7
_RUNS_META = (
    "Name",
    "State",
    "Notes",
    "User",
    "Tags",
    "Created",
    "Runtime",
    "Sweep",
    "ID",
    "Group",
    "Job Type",
)


def is_wandb_file(path: Path) -> bool:
    """True for a ``.wandb`` transaction log (starts with ``:W&B``)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == _MAGIC
    except OSError:
        return False


def read_wandb_records(path: Path) -> tuple[list[bytes], str | None]:
    """The record payloads of a ``.wandb`` file and a note if it ends early (a run still writing) or a checksum
    fails (reading stops there; earlier records are kept)."""
    data = path.read_bytes()
    out: list[bytes] = []
    buf = b""
    pos = _HEADER
    while pos < len(data):
        left = _BLOCK - (pos % _BLOCK)
        if left < 7:  # block trailer padding
            pos += left
            continue
        if pos + 7 > len(data):
            return out, f"{path.name}: partial record at byte {pos}"
        crc, length, typ = struct.unpack("<IHB", data[pos : pos + 7])
        if typ == 0 and length == 0:  # zero padding
            pos += left
            continue
        chunk = data[pos + 7 : pos + 7 + length]
        if len(chunk) < length:
            return out, f"{path.name}: partial record at byte {pos} (run still being written?)"
        if zlib.crc32(chunk, zlib.crc32(bytes([typ]))) & 0xFFFFFFFF != crc:
            return out, f"{path.name}: checksum mismatch at byte {pos}; later records not read"
        pos += 7 + length
        if typ == 1:
            out.append(chunk)
        elif typ == 2:
            buf = chunk
        elif typ == 3:
            buf += chunk
        elif typ == 4:
            out.append(buf + chunk)
            buf = b""
    return out, None


def _item_key(item) -> str:
    return ".".join(item.nested_key) if item.nested_key else item.key


def _json(v: str) -> Any:
    try:
        return json.loads(v)
    except ValueError:
        return v


def unwrap_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """W&B's stored config ``{key: {"desc": ..., "value": v}}`` -> ``{key: v}``; internal ``_wandb`` dropped."""
    out = {}
    for k, v in cfg.items():
        if k == "_wandb" or k == "wandb_version":
            continue
        out[k] = v["value"] if isinstance(v, dict) and "value" in v and set(v) <= {"value", "desc"} else v
    return out


def parse_wandb_offline(unit: Path, members: list[Path], ctx: Context) -> ParsedFile:
    """Parse one offline run folder (``wandb/offline-run-<time>-<id>/``) from its ``run-<id>.wandb`` file.

    Returns
    -------
    ParsedFile
        ``format="wandb_offline"``; one run (``run_id`` = W&B's run id, ``source`` = the project, ``config`` =
        the run config with display name and tags); one point per (``_step``, metric) with ``wall_time_s`` =
        ``_runtime``; ``_timestamp``/``_runtime``/``_step`` are axes, not metrics.

    Raises
    ------
    UnparseableFileError
        If the ``wandb`` package (extra ``.[wandb]``) is not installed, or the file holds no run record.
    """
    try:
        from wandb.proto import wandb_internal_pb2 as pb
    except ImportError as e:
        raise UnparseableFileError(
            str(unit),
            'W&B offline run: reading .wandb files needs the wandb extra (pip install -e ".[wandb]")',
        ) from e
    parsed = ParsedFile(path=str(unit), format=OFFLINE_FORMAT)
    files = sorted(m for m in members if m.suffix == ".wandb")
    rid = project = name = None
    config: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    for f in files:
        records, note = read_wandb_records(f)
        if note:
            parsed.notes.append(note)
        for data in records:
            rec = pb.Record()
            try:
                rec.ParseFromString(data)
            except Exception:  # noqa: BLE001 - protobuf DecodeError
                parsed.notes.append(f"{f.name}: an undecodable record skipped")
                continue
            kind = rec.WhichOneof("record_type")
            if kind == "run":
                rid = rec.run.run_id or rid
                project = rec.run.project or project
                name = rec.run.display_name or name
                config.update({_item_key(i): _json(i.value_json) for i in rec.run.config.update})
                if rec.run.tags:
                    config["wandb_tags"] = list(rec.run.tags)
            elif kind == "config":
                config.update({_item_key(i): _json(i.value_json) for i in rec.config.update})
            elif kind == "history":
                history.append({_item_key(i): _json(i.value_json) for i in rec.history.item})
    if rid is None:
        raise UnparseableFileError(str(unit), "the .wandb file holds no run record")
    config = unwrap_config(config)
    pts = Points(segments=True)
    for row in history:
        step = row.get("_step")
        if not isinstance(step, int | float):
            continue
        wall = num(row.get("_runtime"))
        for k, v in row.items():
            if k.startswith("_"):
                continue
            pts.add(rid, int(step), k, v, wall_time_s=wall)
    meta: dict[str, Any] = {"run_id": rid, "kind": "pretrain", "config": {**config, "display_name": name}}
    meta.update(ndc_from(config))
    if project:
        meta["source"] = project
    meta.update(labels_from(config))
    meta["loss_metric"] = pick_loss_metric(pts.metrics())
    tokens_to_meta(pts, rid, meta, parsed)
    finish_run(parsed, meta, ctx, unit)
    pts.flush(parsed)
    return parsed


# ------------------------------------------------------------------------------------------------ exports
def read_export(path: Path) -> pl.DataFrame | None:
    """A CSV/Parquet/JSON(L) file as an all-text frame, or None when it is not a table."""
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pl.read_parquet(path).with_columns(pl.all().cast(pl.String))
        if name.endswith((".csv", ".csv.gz")):
            return pl.read_csv(path, infer_schema=False, null_values=[""], raise_if_empty=True)
        if name.endswith((".json", ".jsonl", ".ndjson")):
            text = path.read_text(encoding="utf-8-sig")
            if name.endswith(".json"):
                d = json.loads(text)
                if isinstance(d, dict) and d and all(isinstance(v, dict) for v in d.values()):
                    # pandas DataFrame.to_json() default (orient="columns"): {column: {row: value}}
                    idx = sorted(
                        {i for v in d.values() for i in v}, key=lambda s: int(s) if s.isdigit() else s
                    )
                    rows = [{c: d[c].get(i) for c in d} for i in idx]
                elif isinstance(d, list):
                    rows = d
                else:
                    return None
            else:
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            if not rows or not all(isinstance(r, dict) for r in rows):
                return None
            cols = list(dict.fromkeys(k for r in rows for k in r))
            return pl.DataFrame(
                {
                    c: [
                        None
                        if r.get(c) is None
                        else (json.dumps(r[c]) if isinstance(r[c], dict | list) else str(r[c]))
                        for r in rows
                    ]
                    for c in cols
                },  # fmt: skip
                schema={c: pl.String for c in cols},
            )
    except Exception:  # noqa: BLE001 - unreadable = not an export
        return None
    return None


def export_kind(columns: list[str]) -> str | None:
    """Which W&B export a table is, by its columns: wandb_history, wandb_panel, wandb_runs_table, or None."""
    cols = set(columns)
    if "_step" in cols:
        return HISTORY_FORMAT
    if "Step" in cols and any(" - " in c for c in cols):
        return PANEL_FORMAT
    if {"Name", "State"} <= cols and "run_id" not in cols:
        return RUNS_FORMAT
    return None


def sibling_config_path(path: Path) -> Path | None:
    """The run config saved beside a history export: ``<stem>.config.json``, ``<stem>_config.json``,
    ``config.json`` or ``config.yaml`` (first found), or None."""
    stem = path.name.split(".")[0]
    for name in (f"{stem}.config.json", f"{stem}_config.json", "config.json", "config.yaml"):
        p = path.parent / name
        if p.is_file():
            return p
    return None


def _sibling_config(path: Path) -> dict[str, Any]:
    import yaml

    p = sibling_config_path(path)
    if p is None:
        return {}
    try:
        d = json.loads(p.read_text()) if p.suffix == ".json" else yaml.safe_load(p.read_text())
    except (ValueError, yaml.YAMLError, OSError):
        return {}
    return unwrap_config(d) if isinstance(d, dict) else {}


def _cell(parsed: ParsedFile, pts: Points, rid: str, step: int | None, metric: str, raw: str | None,
          line: int, wall: float | None = None) -> None:  # fmt: skip
    if raw is None or raw.strip() == "":
        return  # blank = not logged
    if num(raw) is None:
        parsed.rejects.append(Reject(line, f"{metric}={raw}", f"'{metric}': {raw!r} is not a number"))
        return
    pts.add(rid, step, metric, raw, wall_time_s=wall, line=line)


def parse_wandb_export(path: Path, ctx: Context) -> ParsedFile:
    """Parse a W&B export (history, panel or runs table, see the module docstring).

    Returns
    -------
    ParsedFile
        ``format`` = the export kind; runs of kind pretrain (unless the side-car says otherwise); a cell that is
        neither blank nor a number is rejected with its line (CSV: file line; JSON/Parquet: row number).

    Raises
    ------
    UnparseableFileError
        If the file is not a readable W&B export.
    """
    df = read_export(path)
    kind = export_kind(df.columns) if df is not None else None
    if df is None or kind is None:
        raise UnparseableFileError(
            str(path), "not a W&B export (no _step, Step + '<run> - <metric>', or Name/State)"
        )
    offset = 2 if path.name.lower().endswith((".csv", ".csv.gz")) else 1
    parsed = ParsedFile(path=str(path), format=kind)
    pts = Points(segments=True)
    if kind == HISTORY_FORMAT:
        rid = path.name.split(".")[0]
        metrics = [c for c in df.columns if not c.startswith("_") and c.strip()]
        for i, row in enumerate(df.iter_rows(named=True)):
            step = num(row["_step"])
            if step is None or step != int(step) or step < 0:
                parsed.rejects.append(Reject(i + offset, str(row)[:400], f"'_step' must be an integer >= 0, got {row['_step']!r}"))  # fmt: skip
                continue
            wall = num(row.get("_runtime"))
            for m in metrics:
                _cell(parsed, pts, rid, int(step), m, row[m], i + offset, wall)
        config = _sibling_config(path)
        meta = {"run_id": rid, "kind": "pretrain", "config": config, **ndc_from(config)}
        meta["loss_metric"] = pick_loss_metric(pts.metrics())
        tokens_to_meta(pts, rid, meta, parsed)
        finish_run(parsed, meta, ctx, path)
    elif kind == PANEL_FORMAT:
        series = [c for c in df.columns if " - " in c and not c.endswith(("__MIN", "__MAX"))]
        runs: dict[str, None] = {}
        for i, row in enumerate(df.iter_rows(named=True)):
            step = num(row["Step"])
            if step is None or step != int(step) or step < 0:
                parsed.rejects.append(Reject(i + offset, str(row)[:400], f"'Step' must be an integer >= 0, got {row['Step']!r}"))  # fmt: skip
                continue
            for c in series:
                rid, metric = c.split(" - ", 1)
                runs[rid] = None
                _cell(parsed, pts, rid, int(step), metric, row[c], i + offset)
        for rid in runs:
            meta = {"run_id": rid, "kind": "pretrain", "config": {}}
            meta["loss_metric"] = pick_loss_metric(pts.metrics(rid))
            finish_run(parsed, meta, ctx, path)
    else:
        for i, row in enumerate(df.iter_rows(named=True)):
            rid = (row.get("ID") or row.get("Name") or "").strip()
            if not rid:
                parsed.rejects.append(Reject(i + offset, str(row)[:400], "row without a run Name"))
                continue
            config: dict[str, Any] = {}
            for c, v in row.items():
                if v is None or v == "":
                    continue
                if c not in _RUNS_META and num(v) is not None:
                    pts.add(rid, None, c, v, line=i + offset)
                else:
                    config[c] = v
            # the export does not say which columns are config and which summary: N, D, C by column name
            meta = {
                "run_id": rid,
                "kind": "pretrain",
                "config": config,
                **ndc_from({k: v for k, v in row.items() if v}),
            }
            meta["loss_metric"] = pick_loss_metric(pts.metrics(rid))
            finish_run(parsed, meta, ctx, path)
    pts.flush(parsed)
    return parsed
