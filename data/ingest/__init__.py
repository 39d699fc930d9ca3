"""Ingest run logs and tables into the DuckDB store: ``ingest_paths`` is the front door."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from data.connect import writable_copy
from data.ingest.jsonl import parse_jsonl_run_log
from data.ingest.loader import FileOutcome, already_loaded, load_parsed, record_failure
from data.ingest.records import ParsedFile, UnparseableFileError
from data.ingest.tables import parse_table
from data.migrate import migrate

#: Folder names that are never walked (reference copies of published tables, not runs).
SKIP_DIRS = {"reference", "__pycache__", ".git"}
_TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")


@dataclass
class IngestReport:
    """Outcome of one ``ingest_paths`` call, one entry per file considered."""

    files: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Number of files with ``status`` (loaded, unchanged, failed, skipped)."""
        return sum(1 for f in self.files if f.status == status)

    @property
    def n_rejects(self) -> int:
        """Rejected records across all files (a failed file counts one)."""
        return sum(f.n_rejects for f in self.files)


def detect_format(path: Path) -> str | None:
    """Parser name for ``path`` by its name: jsonl_run_log, table, verl_log; None = not a data file."""
    name = path.name.lower()
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl_run_log"
    if name.endswith(_TABLE_SUFFIXES):
        return "table"
    if name.endswith(".log"):
        return "verl_log"
    return None


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files under ``paths`` (folders walked recursively, sorted; ``reference/`` folders skipped).

    Raises
    ------
    FileNotFoundError
        If a given path does not exist.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
        if p.is_file():
            out.append(p.resolve())
            continue
        for f in sorted(p.rglob("*")):
            if f.is_file() and not (set(f.relative_to(p).parts[:-1]) & SKIP_DIRS):
                out.append(f.resolve())
    return out


def parse_file(path: Path) -> ParsedFile:
    """Parse one file with the parser its name selects.

    Raises
    ------
    UnparseableFileError
        If the file cannot be parsed at all.
    """
    fmt = detect_format(path)
    if fmt == "jsonl_run_log":
        return parse_jsonl_run_log(path)
    if fmt == "table":
        from data.ingest.eval_summary import header_of, is_eval_summary, parse_eval_summary

        if is_eval_summary(header_of(path)):  # aggregated eval results (docs/FORMATS.md 3b)
            return parse_eval_summary(path)
        return parse_table(path)
    if fmt == "verl_log":
        from data.ingest.verl_log import parse_verl_log

        return parse_verl_log(path)
    raise UnparseableFileError(str(path), "not a recognised data file")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ingest_paths(
    db_path: str | Path,
    paths: Sequence[str | Path],
    *,
    progress: Callable[[Iterable[Path]], Iterable[Path]] | None = None,
) -> IngestReport:
    """Migrate ``db_path`` and ingest every data file under ``paths``.

    Writes go to a copy of the database that replaces the live file only when everything finished
    (``data.connect.writable_copy``): an interrupted ingest leaves the previous database untouched, and each
    file commits in its own transaction inside the copy, so a failed file never leaves a half-written run.

    Parameters
    ----------
    db_path : path
        DuckDB file (created if missing).
    paths : sequence of paths
        Files or folders.
    progress : callable, optional
        Wraps the file iterable (e.g. ``tqdm``) to show progress.

    Raises
    ------
    FileNotFoundError
        If a path does not exist (nothing is written).
    """
    files = expand_paths(paths)
    report = IngestReport()
    with writable_copy(db_path) as con:
        migrate(con)
        for f in progress(files) if progress else files:
            fmt = detect_format(f)
            if fmt is None:
                report.files.append(FileOutcome(str(f), "skipped", message="not a data file"))
                continue
            sha = sha256_of(f)
            prior = already_loaded(con, str(f), sha)
            if prior is not None:
                msg = "unchanged" if prior == str(f) else f"same content already loaded from {prior}"
                report.files.append(FileOutcome(str(f), "unchanged", message=msg))
                continue
            try:
                parsed = parse_file(f)
            except UnparseableFileError as e:
                report.files.append(record_failure(con, str(f), sha, e.reason))
                continue
            report.files.append(load_parsed(con, parsed, sha))
    return report
