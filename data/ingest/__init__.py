"""Ingest run logs and tables into the DuckDB store: ``ingest_paths`` is the front door."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from data.connect import writable_copy
from data.ingest.adapters import plan_units, unit_sha
from data.ingest.jsonl import parse_jsonl_run_log
from data.ingest.loader import (
    FileOutcome,
    already_loaded,
    clear_skips,
    load_parsed,
    record_failure,
    record_skip,
)
from data.ingest.quality import backfill_quality
from data.ingest.records import ParsedFile, UnparseableFileError
from data.ingest.tables import parse_table
from data.ingest.walk import SKIP_DIRS, known_tool_hint, walk_paths
from data.migrate import migrate

__all__ = [
    "FORMATS",
    "SKIP_DIRS",
    "FileFormat",
    "IngestReport",
    "detect_format",
    "expand_paths",
    "ingest_paths",
    "parse_file",
    "register_format",
]

_TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
_VERL_HEAD_RE = re.compile(rb"actor_rollout_ref|Initial validation metrics|step:\s*\d+ - ")


@dataclass(frozen=True)
class FileFormat:
    """One reader: ``sniff(path)`` says (cheaply, by name and at most the first bytes) whether it reads the file;
    ``parse(path)`` returns a :class:`~data.ingest.records.ParsedFile` or raises ``UnparseableFileError``."""

    name: str
    sniff: Callable[[Path], bool]
    parse: Callable[[Path], ParsedFile]


def _is_verl_log(path: Path) -> bool:
    if not path.name.lower().endswith(".log"):
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
    except OSError:
        return True  # let the parser report the read error
    return bool(_VERL_HEAD_RE.search(head))


def _parse_verl(path: Path) -> ParsedFile:
    from data.ingest.verl_log import parse_verl_log

    return parse_verl_log(path)


def _parse_table(path: Path) -> ParsedFile:
    """A per-run or eval table, or an aggregated eval summary table (docs/FORMATS.md 3b), told apart by header."""
    from data.ingest.eval_summary import header_of, is_eval_summary, parse_eval_summary

    if is_eval_summary(header_of(path)):
        return parse_eval_summary(path)
    return parse_table(path)


#: Readers tried in order; the first whose ``sniff`` accepts a file parses it. Adapters add theirs with
#: :func:`register_format`.
FORMATS: list[FileFormat] = [
    FileFormat("jsonl_run_log", lambda p: p.name.lower().endswith(_JSONL_SUFFIXES), parse_jsonl_run_log),
    FileFormat("table", lambda p: p.name.lower().endswith(_TABLE_SUFFIXES), _parse_table),
    FileFormat("verl_log", _is_verl_log, _parse_verl),
]


def register_format(fmt: FileFormat, *, before: str | None = None) -> None:
    """Add a reader to :data:`FORMATS` (replacing one of the same name), before the reader named ``before``
    (e.g. a content-sniffing adapter that must see ``*.jsonl`` files before the native JSON Lines reader)."""
    FORMATS[:] = [f for f in FORMATS if f.name != fmt.name]
    names = [f.name for f in FORMATS]
    FORMATS.insert(names.index(before) if before in names else len(FORMATS), fmt)


@dataclass
class IngestReport:
    """Outcome of one ``ingest_paths`` call, one entry per file (or skipped folder) considered."""

    files: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Number of files with ``status`` (loaded, unchanged, failed, skipped)."""
        return sum(1 for f in self.files if f.status == status)

    @property
    def n_rejects(self) -> int:
        """Rejected records across all files (a failed file counts one)."""
        return sum(f.n_rejects for f in self.files)

    @property
    def warnings(self) -> list[str]:
        """Pretraining runs loaded without N, D or a loss (a pretraining fit will leave them out)."""
        return [m for f in self.files if f.status == "loaded" for m in f.missing]


def detect_format(path: Path) -> str | None:
    """Name of the first reader in :data:`FORMATS` that accepts ``path``; None = no reader does."""
    for fmt in FORMATS:
        if fmt.sniff(path):
            return fmt.name
    return None


def expand_paths(paths: Sequence[str | Path], *, include_hidden: bool = False) -> list[Path]:
    """Files under ``paths`` (see :func:`data.ingest.walk.walk_paths`; the skipped entries are dropped here).

    Raises
    ------
    FileNotFoundError
        If a given path does not exist.
    """
    return walk_paths(paths, include_hidden=include_hidden).files


def parse_file(path: Path, fmt: str | None = None) -> ParsedFile:
    """Parse one file with the reader ``fmt`` (default: the one :func:`detect_format` selects).

    Raises
    ------
    UnparseableFileError
        If the file cannot be parsed at all, or no reader accepts it.
    """
    fmt = fmt or detect_format(path)
    for f in FORMATS:
        if f.name == fmt:
            return f.parse(path)
    raise UnparseableFileError(str(path), "not a recognised data file")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _with_hint(path: Path, reason: str) -> str:
    hint = known_tool_hint(path)
    return f"{reason} ({hint})" if hint else reason


def _skip_reason(path: Path) -> str:
    hint = known_tool_hint(path)
    if hint:
        return f"not read: {hint}"
    name = path.name.lower()
    if name.startswith(("readme", "license", "provenance")) or name.endswith((".md", ".txt", ".rst")):
        return "not read: documentation, not a data file"
    return "not read: no reader recognises this file (formats: docs/FORMATS.md)"


def ingest_paths(
    db_path: str | Path,
    paths: Sequence[str | Path],
    *,
    progress: Callable[[Iterable[Path]], Iterable[Path]] | None = None,
    include_hidden: bool = False,
    lock_timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    source: str | None = None,
) -> IngestReport:
    """Migrate ``db_path`` and ingest every data file under ``paths``.

    Writes go to a copy of the database that replaces the live file only when everything finished
    (``data.connect.writable_copy``, under the database's write lock: concurrent ingests run one after the
    other): an interrupted ingest leaves the previous database untouched, and each file commits in its own
    transaction inside the copy, so a failed file never leaves a half-written run and never costs the other
    files of the batch (it is recorded as ``failed`` with its message). Files no reader accepts, hidden entries
    and symlinks out of a folder are recorded as ``skipped`` with the reason (and a hint naming the tool that
    wrote the file, when known).

    Parameters
    ----------
    db_path : path
        DuckDB file (created if missing).
    paths : sequence of paths
        Files or folders.
    progress : callable, optional
        Wraps the file iterable (e.g. ``tqdm``) to show progress.
    include_hidden : bool
        Walk hidden folders and read hidden files inside the given folders.
    lock_timeout : float, optional
        Seconds to wait for another writer's lock; None waits as long as it runs.
    on_wait : callable, optional
        Receives the "waiting for the ingest lock held by pid N ..." message (default: stderr).
    source : str, optional
        Overrides every run's ``source`` (``scaling ingest --source``).

    Raises
    ------
    FileNotFoundError
        If a path does not exist (nothing is written).
    data.connect.LockTimeoutError
        If another writer held the lock for longer than ``lock_timeout`` (nothing is written).
    """
    walked = walk_paths(paths, include_hidden=include_hidden)
    # adapters are chosen by layout and content (data.ingest.adapters); a unit is a file or a run folder
    units = plan_units(walked.files, paths, source=source, unwalked=[p for p, _ in walked.skipped])
    read_dirs = [u.path for u in units if u.format is not None and u.path.is_dir()]
    report = IngestReport()
    with writable_copy(db_path, lock_timeout=lock_timeout, on_wait=on_wait) as con:
        migrate(con)
        backfill_quality(con)
        clear_skips(con, [str(Path(p).resolve()) for p in paths])
        for p, reason in walked.skipped:
            if any(p.resolve() == d or d in p.resolve().parents for d in read_dirs):
                continue  # e.g. the hidden .aim folder: the adapters read it
            report.files.append(record_skip(con, str(p), reason))
        for u in progress(units) if progress else units:
            f = u.path
            if u.format is None or u.parse is None:
                report.files.append(record_skip(con, str(f), u.reason or _skip_reason(f)))
                continue
            try:
                sha = unit_sha(u)
            except OSError as e:
                report.files.append(record_failure(con, str(f), None, f"cannot be read: {e}"))
                continue
            prior = already_loaded(con, str(f), sha)
            if prior is not None:
                msg = "unchanged" if prior == str(f) else f"same content already loaded from {prior}"
                report.files.append(FileOutcome(str(f), "unchanged", message=msg))
                continue
            try:
                parsed = u.parse()
            except UnparseableFileError as e:
                report.files.append(record_failure(con, str(f), sha, _with_hint(f, e.reason)))
                continue
            except (
                Exception
            ) as e:  # a reader bug or an input it did not foresee: this file fails, the batch goes on
                reason = f"could not be parsed ({type(e).__name__}: {str(e)[:500]})"
                report.files.append(record_failure(con, str(f), sha, _with_hint(f, reason)))
                continue
            try:
                report.files.append(load_parsed(con, parsed, sha))
            except Exception as e:  # rolled back inside load_parsed; record why and go on
                reason = f"could not be stored ({type(e).__name__}: {str(e)[:500]})"
                report.files.append(record_failure(con, str(f), sha, reason))
    return report
