"""Follow running jobs: poll folders and ingest what is new (``scaling ingest --watch``).

Every ``interval_s`` seconds the watched paths are walked and each file's (size, modification time) compared with
the previous round; when anything changed, :func:`data.ingest.ingest_paths` runs. Ingest is idempotent per unit
(content hash): unchanged files and run folders add nothing, a grown log is re-read and replaces what its path
loaded before, so after each round the store holds exactly the points on disk. Each round writes a new copy of
the database that replaces the live file (``data.connect.writable_copy``), so a running app sees the new steps
when it next reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from data.ingest import IngestReport, expand_paths, ingest_paths


def fingerprint(paths: Sequence[str | Path]) -> dict[str, tuple[int, int]]:
    """``{absolute path: (size in bytes, mtime in ns)}`` of every file under ``paths`` (missing paths: none)."""
    out: dict[str, tuple[int, int]] = {}
    existing = [p for p in map(Path, paths) if p.exists()]
    for f in expand_paths(existing):
        try:
            st = f.stat()
        except OSError:
            continue
        out[str(f)] = (st.st_size, st.st_mtime_ns)
    return out


def watch(
    db_path: str | Path,
    paths: Sequence[str | Path],
    *,
    interval_s: float = 5.0,
    source: str | None = None,
    stop: threading.Event | None = None,
    echo: Callable[[str], None] = print,
    on_round: Callable[[IngestReport], None] | None = None,
) -> int:
    """Poll ``paths`` until ``stop`` is set, ingesting into ``db_path`` whenever a file appeared or changed.

    Parameters
    ----------
    db_path : path
        DuckDB file (created if missing).
    paths : sequence of paths
        Folders or files to follow (a folder that does not exist yet is waited for).
    interval_s : float
        Seconds between polls (> 0).
    source : str, optional
        ``--source`` for every run.
    stop : threading.Event, optional
        Set it (e.g. from a SIGTERM handler) to end the loop after the current round.
    echo : callable
        Receives one line per loaded unit: path, runs, rows now stored and the change since the last round.
    on_round : callable, optional
        Called with each round's :class:`IngestReport` (tests use it).

    Returns
    -------
    int
        Number of ingest rounds run.

    Raises
    ------
    ValueError
        If ``interval_s`` is not positive.
    """
    if not interval_s > 0:
        raise ValueError(f"interval must be > 0 seconds, got {interval_s}")
    stop = stop or threading.Event()
    last: dict[str, tuple[int, int]] | None = None
    rows: dict[str, int] = {}
    rounds = 0
    while not stop.is_set():
        fp = fingerprint(paths)
        if fp != last and fp:
            existing = [p for p in paths if Path(p).exists()]
            report = ingest_paths(db_path, existing, source=source)
            rounds += 1
            for f in report.files:
                if f.status == "loaded":
                    delta = f.n_rows - rows.get(f.path, 0)
                    rows[f.path] = f.n_rows
                    echo(f"loaded   {f.path}: {f.n_runs} runs, {f.n_rows} rows ({delta:+d} new)")
                elif f.status == "failed":
                    echo(f"FAILED   {f.path}: {f.message}")
            if on_round:
                on_round(report)
            last = fp
        stop.wait(interval_s)
    return rounds
