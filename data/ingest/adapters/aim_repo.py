"""Aim repositories (``.aim/``) read through the ``aim`` package (optional extra ``pip install -e ".[aim]"``).

Aim stores runs in RocksDB chunks that only its own SDK reads, so there is no light reader: without the extra the
repository is reported as failed with the install hint. Each Aim run becomes one run: ``run_id`` = ``aim/<run
hash>``, ``source`` = the Aim experiment, ``config`` = the run's ``hparams`` (N, D, C read from them by key
name); every tracked metric sequence becomes points named ``<metric>`` (or ``<metric>[k=v,...]`` when it was
tracked with a context), ``wall_time_s`` = seconds since the sequence's first point; Aim's own system-resource
sequences (``__system__cpu``, ...) are not loaded. Aim indexes runs lazily; when its index lacks runs, the
repository is copied to a temporary folder and re-indexed there (the user's repository is never written).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path
from typing import Any

from data.ingest.adapters.common import (
    Context,
    Points,
    finish_run,
    labels_from,
    ndc_from,
    pick_loss_metric,
    tokens_to_meta,
)
from data.ingest.records import ParsedFile, UnparseableFileError

FORMAT = "aim"


def is_aim_repo(path: Path) -> bool:
    """True for a folder named ``.aim`` holding Aim's ``run_metadata.sqlite``."""
    return path.name == ".aim" and (path / "run_metadata.sqlite").is_file()


def parse_aim_repo(unit: Path, ctx: Context) -> ParsedFile:
    """Parse every run of the Aim repository ``unit`` (the ``.aim`` folder).

    Raises
    ------
    UnparseableFileError
        If the ``aim`` package is not installed or the repository cannot be opened.
    """
    try:
        from aim import Repo
    except ImportError as e:
        raise UnparseableFileError(
            str(unit), 'Aim repository: reading it needs the aim extra (pip install -e ".[aim]")'
        ) from e
    parsed = ParsedFile(path=str(unit), format=FORMAT)
    with tempfile.TemporaryDirectory(prefix="scaling-aim-") as tmp:
        try:
            repo = Repo(str(unit.parent))
            runs = list(repo.iter_runs())
            if len(runs) < len(repo.list_all_runs()):
                # Aim indexes runs lazily (its UI or `aim storage reindex` does it); never write into the user's
                # repository: rebuild the index in a temporary copy and read that
                shutil.copytree(unit, Path(tmp) / ".aim")
                repo = Repo(tmp)
                with contextlib.redirect_stderr(io.StringIO()):  # Aim's own progress bar
                    repo._recreate_index()
                runs = list(repo.iter_runs())
                parsed.notes.append("the Aim index was incomplete: read from a re-indexed temporary copy")
            _read_runs(parsed, runs, unit, ctx)
        except UnparseableFileError:
            raise
        except Exception as e:  # noqa: BLE001 - aim raises many types for a broken repo
            raise UnparseableFileError(
                str(unit), f"cannot read the Aim repository: {type(e).__name__}: {e}"
            ) from e
    return parsed


def _read_runs(parsed: ParsedFile, runs: list, unit: Path, ctx: Context) -> None:
    n_system = 0
    for run in runs:
        rid = f"aim/{run.hash}"
        pts = Points()
        for seq in run.metrics():
            if seq.name.startswith("__system__"):
                n_system += 1
                continue
            ctx_d = seq.context.to_dict() if seq.context is not None else {}
            name = seq.name + (f"[{','.join(f'{k}={v}' for k, v in sorted(ctx_d.items()))}]" if ctx_d else "")
            steps, (values, _epochs, times) = seq.data.items_list()
            t0 = min(times) if times else None
            for i, (step, value) in enumerate(zip(steps, values, strict=False)):
                wall = times[i] - t0 if t0 is not None and i < len(times) else None
                pts.add(rid, int(step), name, value, wall_time_s=wall)
        hparams: dict[str, Any] = dict(run.get("hparams", {}) or {})
        meta: dict[str, Any] = {"run_id": rid, "kind": "pretrain", "config": {"hparams": hparams,
                                "name": run.name, "experiment": run.experiment}, **ndc_from(hparams)}  # fmt: skip
        meta.update(labels_from(hparams))
        if run.experiment:
            meta["source"] = str(run.experiment)
        meta["loss_metric"] = pick_loss_metric(pts.metrics())
        tokens_to_meta(pts, rid, meta, parsed)
        finish_run(parsed, meta, ctx, unit, default_source=unit.parent.name)
        pts.flush(parsed)
    if n_system:
        parsed.notes.append(f"{n_system} Aim system-resource sequences (__system__*) not loaded")
