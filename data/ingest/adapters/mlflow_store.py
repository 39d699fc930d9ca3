"""MLflow tracking data read directly, without MLflow: the file store and the SQLite tracking database.

File store (``mlruns/<experiment_id>/<run_id>/``): ``meta.yaml`` (run name, status, start time), ``metrics/<key>``
with one ``<timestamp_ms> <value> <step>`` line per point (keys with ``/`` are nested folders), ``params/<key>``
and ``tags/<key>`` holding the value as text; the experiment's name is in ``mlruns/<experiment_id>/meta.yaml``.
SQLite (``mlflow.db``): tables ``experiments``, ``runs``, ``metrics`` (key, value, timestamp, step, is_nan),
``params`` and ``tags``, read with the standard library's sqlite3 in read-only mode.

Each MLflow run becomes one run: ``run_id`` = MLflow's run id, ``source`` = the experiment name, ``config`` = the
params (plus ``run_name``, ``status``, tags), metrics keep their step and ``wall_time_s`` (seconds since the
run's first logged point, from MLflow's millisecond timestamps). N, D, C: params named like ``n_params``, ``n_tokens``, ``compute_flops`` (see
``common.NDC_KEYS``), else the side-car. Deleted runs (lifecycle_stage ``deleted``) are not loaded.
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path
from typing import Any

import yaml

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

FILE_FORMAT = "mlflow_file"
SQLITE_FORMAT = "mlflow_sqlite"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLES = {"experiments", "runs", "metrics", "params", "tags"}


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: ~20x faster


def _yaml(path: Path) -> dict[str, Any]:
    try:
        st = path.stat()
    except OSError:
        return {}
    return _yaml_cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8192)
def _yaml_cached(path: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    """A small YAML mapping file, parsed once per content version (sniffing and parsing both read meta.yaml)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(1 << 20)
        if "experiment_id" not in text:  # neither a run's nor an experiment's meta.yaml: skip the YAML parse
            return {}
        d = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return d if isinstance(d, dict) else {}


def is_run_meta(path: Path) -> bool:
    """True for ``<run>/meta.yaml`` of an MLflow file store (has ``run_uuid``/``run_id`` and ``experiment_id``)."""
    if path.name != "meta.yaml":
        return False
    d = _yaml(path)
    return bool((d.get("run_uuid") or d.get("run_id")) and "experiment_id" in d)


def is_experiment_meta(path: Path) -> bool:
    """True for ``mlruns/<experiment>/meta.yaml`` (has ``experiment_id`` and ``name``, no run id)."""
    if path.name != "meta.yaml":
        return False
    d = _yaml(path)
    return "experiment_id" in d and "name" in d and not (d.get("run_uuid") or d.get("run_id"))


def _read_kv(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if folder.is_dir():
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                out[f.relative_to(folder).as_posix()] = f.read_text(
                    encoding="utf-8", errors="replace"
                ).strip()
    return out


def parse_mlflow_run_dir(unit: Path, ctx: Context) -> ParsedFile:
    """Parse one file-store run folder (``mlruns/<experiment>/<run>``) into one run.

    Returns
    -------
    ParsedFile
        ``format="mlflow_file"``; one run (kind ``pretrain`` unless a param/tag/side-car ``kind`` says otherwise);
        one point per (step, metric): a metric line logged twice for one step keeps the later timestamp's value.
        Lines that are not ``<timestamp> <value> <step>`` are rejected with their file and line.

    Raises
    ------
    UnparseableFileError
        If ``meta.yaml`` is missing or not an MLflow run's.
    """
    meta_y = _yaml(unit / "meta.yaml")
    rid = str(meta_y.get("run_uuid") or meta_y.get("run_id") or "")
    if not rid:
        raise UnparseableFileError(str(unit), "meta.yaml has no run_uuid: not an MLflow run folder")
    parsed = ParsedFile(path=str(unit), format=FILE_FORMAT)
    if meta_y.get("lifecycle_stage") == "deleted":
        parsed.notes.append(f"MLflow run {rid} is deleted; not loaded")
        return parsed
    exp = _yaml(unit.parent / "meta.yaml")
    params = _read_kv(unit / "params")
    tags = _read_kv(unit / "tags")
    pts = Points()
    mdir = unit / "metrics"
    files = sorted(f for f in mdir.rglob("*") if f.is_file()) if mdir.is_dir() else []
    rows_by_key: dict[str, list[tuple[float, int, str, int]]] = {}
    for f in files:
        key = f.relative_to(mdir).as_posix()
        rows = []
        for lineno, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            ts, val, step = (parts + [None, None, None])[:3]
            tsf, stepf = num(ts), num(step if step is not None else 0)
            if (
                len(parts) not in (2, 3)
                or tsf is None
                or num(val) is None
                or stepf is None
                or stepf != int(stepf)
            ):
                parsed.rejects.append(Reject(lineno, f"{f.name}: {line}", f"metric file {key}: expected "
                                             "'<timestamp_ms> <value> <step>'"))  # fmt: skip
                continue
            rows.append((tsf, int(stepf), val, lineno))
        rows_by_key[key] = rows
    t0 = min((r[0] for rows in rows_by_key.values() for r in rows), default=None)
    for key, rows in rows_by_key.items():
        for tsf, step, val, lineno in sorted(rows, key=lambda r: (r[0], r[3])):
            pts.add(rid, step, key, val, wall_time_s=(tsf - t0) / 1000.0, line=lineno)
    parsed.notes.extend([] if files else [f"MLflow run {rid} has no metrics"])
    _finish(parsed, rid, exp.get("name"), meta_y.get("run_name") or tags.get("mlflow.runName"),
            meta_y.get("status"), params, tags, pts, ctx, unit)  # fmt: skip
    return parsed


def _finish(
    parsed, rid, exp_name, run_name, status, params, tags, pts: Points, ctx: Context, where: Path
) -> None:
    config: dict[str, Any] = {"params": params}
    if run_name:
        config["run_name"] = run_name
    if status is not None:
        config["status"] = status
    user_tags = {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
    if user_tags:
        config["tags"] = user_tags
    meta: dict[str, Any] = {"run_id": rid, "kind": "pretrain", "config": config, **ndc_from(params)}
    meta.update(labels_from({**user_tags, **params}))
    for k in ("source", "loss_metric"):
        v = params.get(k) or user_tags.get(k)
        if v:
            meta[k] = v
    if exp_name and "source" not in meta:
        meta["source"] = str(exp_name)
    meta.setdefault("loss_metric", pick_loss_metric(pts.metrics(rid)))
    tokens_to_meta(pts, rid, meta, parsed)
    finish_run(parsed, meta, ctx, where)
    pts.flush(parsed)


def is_mlflow_sqlite(path: Path) -> bool:
    """True for an SQLite file holding MLflow's tracking tables."""
    try:
        with open(path, "rb") as fh:
            if fh.read(16) != _SQLITE_MAGIC:
                return False
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except (OSError, sqlite3.Error):
        return False
    return _TABLES <= names


def parse_mlflow_sqlite(path: Path, ctx: Context) -> ParsedFile:
    """Parse an MLflow SQLite tracking database: every non-deleted run of every experiment.

    Returns
    -------
    ParsedFile
        ``format="mlflow_sqlite"``; one run per MLflow run (``run_id`` = MLflow's run id, ``source`` = the
        experiment name), one point per (run, step, metric), the later timestamp winning; NaN values
        (``is_nan``) are counted, not stored.

    Raises
    ------
    UnparseableFileError
        If the database cannot be opened or read.
    """
    parsed = ParsedFile(path=str(path), format=SQLITE_FORMAT)
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            exps = dict(con.execute("SELECT experiment_id, name FROM experiments").fetchall())
            runs = con.execute(
                "SELECT run_uuid, name, status, start_time, experiment_id, lifecycle_stage FROM runs"
                " ORDER BY start_time, run_uuid"
            ).fetchall()
            params = con.execute("SELECT run_uuid, key, value FROM params").fetchall()
            tags = con.execute("SELECT run_uuid, key, value FROM tags").fetchall()
            metrics = con.execute(
                "SELECT run_uuid, key, value, timestamp, step, is_nan FROM metrics ORDER BY run_uuid, timestamp, step"
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        raise UnparseableFileError(str(path), f"cannot read the MLflow database: {e}") from e
    by_run: dict[str, list[tuple]] = {}
    for r in metrics:
        by_run.setdefault(r[0], []).append(r)
    n_deleted = 0
    for rid, name, status, _start, exp_id, stage in runs:
        if stage == "deleted":
            n_deleted += 1
            continue
        p = {k: v for u, k, v in params if u == rid}
        t = {k: v for u, k, v in tags if u == rid}
        pts = Points()
        rows = by_run.get(rid, [])
        t0 = min((r[3] for r in rows if r[3] is not None), default=None)
        for _, key, value, ts, step, is_nan in rows:
            wall = (ts - t0) / 1000.0 if ts is not None and t0 is not None else None
            pts.add(rid, int(step or 0), key, float("nan") if is_nan else value, wall_time_s=wall)
        _finish(parsed, rid, exps.get(exp_id), name, status, p, t, pts, ctx, path)
    if n_deleted:
        parsed.notes.append(f"{n_deleted} deleted MLflow runs not loaded")
    return parsed
