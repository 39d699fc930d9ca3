"""The side-car file: run facts the logging tool did not record (N, D, C, source, kind, labels).

A file named ``scaling_run.json``, ``scaling_run.yaml``/``.yml`` or ``scaling.yaml``/``.yml`` in a run's folder or
any folder above it (up to the folder given to ``scaling ingest``) applies to every run found below it; a nearer
file overrides a farther one key by key. Content (JSON or YAML mapping)::

    source: my-sweep          # any column of ``runs``: kind, n_params, n_tokens, compute_flops, corpus, ...
    kind: pretrain
    n_params: 1.24e8
    config: {notes: "embeddings counted"}   # merged into the run's config
    runs:                     # optional per-run values, keyed by run id (or its last path part)
      tb/run_a: {n_params: 1.24e8, n_tokens: 2.5e9}

Read by every tool adapter and the verl adapter; values here override what the tool logged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

#: Side-car file names, nearest-first priority within one folder.
SIDECAR_NAMES: tuple[str, ...] = (
    "scaling_run.json",
    "scaling_run.yaml",
    "scaling_run.yml",
    "scaling.yaml",
    "scaling.yml",
)


class SidecarError(ValueError):
    """A side-car file exists but is not a valid mapping (the message names the file)."""


def read_sidecar(path: Path) -> dict[str, Any]:
    """Parse one side-car file into a dict.

    Raises
    ------
    SidecarError
        If the file is not valid JSON/YAML or not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise SidecarError(f"{path}: side-car file cannot be read: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SidecarError(f"{path}: side-car file must hold a mapping of run fields")
    return data


def _folders(start: Path, root: Path) -> list[Path]:
    """``start`` and its parents up to ``root`` (inclusive), farthest first; just ``start`` if outside root."""
    start, root = start.resolve(), root.resolve()
    chain = [start]
    if start != root and root in start.parents:
        for p in start.parents:
            chain.append(p)
            if p == root:
                break
    return chain[::-1]


def sidecar_for(where: Path, root: Path, run_id: str) -> dict[str, Any]:
    """Merged side-car values for run ``run_id`` found at ``where`` (a file or a run folder).

    Raises
    ------
    SidecarError
        If a side-car file on the way is invalid.
    """
    return sidecar_files_for(where, root, run_id)[0]


def sidecar_files_for(where: Path, root: Path, run_id: str) -> tuple[dict[str, Any], list[Path]]:
    """Like :func:`sidecar_for`, also returning the side-car files read (farthest first).

    Raises
    ------
    SidecarError
        If a side-car file on the way is invalid.
    """
    start = where if where.is_dir() else where.parent
    out: dict[str, Any] = {}
    used: list[Path] = []
    for folder in _folders(start, root):
        for name in SIDECAR_NAMES:
            p = folder / name
            if p.is_file():
                used.append(p)
                data = dict(read_sidecar(p))
                per_run = data.pop("runs", None) or {}
                _merge(out, data)
                if isinstance(per_run, dict):
                    tail = run_id.rsplit("/", 1)[-1]
                    for key in (tail, run_id):
                        if isinstance(per_run.get(key), dict):
                            _merge(out, per_run[key])
                break
    return out, used


#: Numeric run fields: YAML reads ``2.5e9`` (no sign in the exponent) as text, so numeric text is coerced.
_NUMERIC = ("n_params", "n_params_nonembed", "n_tokens", "compute_flops", "budget_flops", "seed", "n_gpus")


def _merge(out: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if k == "config" and isinstance(v, dict):
            out.setdefault("config", {}).update(v)
        elif k in _NUMERIC and isinstance(v, str):
            try:
                f = float(v.strip())
            except ValueError:
                out[k] = v  # validation names the bad value
            else:
                out[k] = int(f) if k in ("seed", "n_gpus") and f == int(f) else f
        elif k != "run_id":
            out[k] = v


def is_sidecar(path: Path) -> bool:
    """True for a file named like a side-car."""
    return path.name in SIDECAR_NAMES
