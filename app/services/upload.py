"""Ingest files uploaded in the browser: the same ``data.ingest.ingest_paths`` as ``scaling ingest``, on a temporary
folder named after the source (no ``st.*`` here)."""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import polars as pl

from data.ingest import ingest_paths


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", PurePosixPath(name).name).strip("._") or "file"


def _extract(archive: Path, dest: Path) -> list[Path]:
    """Unpack a zip into ``dest`` (folders kept, for formats that are folders); refuses paths leaving ``dest``.

    Raises
    ------
    ValueError
        If the archive is not a zip or holds an absolute path or ``..``.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{archive.name}: not a valid zip archive ({e})") from e
    out = []
    with zf:
        for info in zf.infolist():
            parts = PurePosixPath(info.filename).parts
            if info.filename.startswith("/") or ".." in parts:
                raise ValueError(f"{archive.name}: refusing path {info.filename!r} outside the archive")
            if info.is_dir():
                continue
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                dst.write(src.read())
            out.append(target)
    return out


def ingest_uploads(db: str | Path, files: list[tuple[str, bytes]], source: str, max_mb: float) -> dict:
    """Write uploaded ``(name, content)`` files into ``<tmp>/<source>/`` (zips unpacked) and ingest that folder.

    Parameters
    ----------
    db : path
        The store (written through ``writable_copy``, like ``scaling ingest``).
    files : list of (str, bytes)
        File name as uploaded and its bytes.
    source : str
        Folder name, i.e. the default ``source`` of runs whose files do not name one.
    max_mb : float
        Total size limit in megabytes (``SCALING_UPLOAD_MAX_MB``).

    Returns
    -------
    dict
        ``report`` (polars frame: file, status, format, runs, rows, rejects, message), ``counts`` per status,
        ``n_rejects``.

    Raises
    ------
    ValueError
        Nothing uploaded, over the size limit, an empty source name, or a bad zip (nothing is ingested).
    """
    if not files:
        raise ValueError("no file uploaded")
    total = sum(len(b) for _, b in files) / 1e6
    if total > max_mb:
        raise ValueError(f"{total:.1f} MB uploaded; the limit is {max_mb:g} MB (SCALING_UPLOAD_MAX_MB)")
    folder_name = _safe_name(source.strip())
    if not source.strip():
        raise ValueError("give a source name (the sweep or study the runs belong to)")
    with tempfile.TemporaryDirectory(prefix="scaling-upload-") as tmp:
        folder = Path(tmp) / folder_name
        folder.mkdir()
        for name, content in files:
            target = folder / _safe_name(name)
            target.write_bytes(content)
            if target.suffix.lower() == ".zip":
                _extract(target, folder / target.stem)
                target.unlink()
        report = ingest_paths(db, [folder])
        prefix = str(folder) + "/"
    rows = [
        {
            "file": f.path.removeprefix(prefix),
            "status": f.status,
            "format": getattr(f, "format", None),
            "runs": getattr(f, "n_runs", 0),
            "rows": getattr(f, "n_rows", 0),
            "rejects": getattr(f, "n_rejects", 0),
            "message": getattr(f, "message", None),
        }
        for f in report.files
    ]
    frame = pl.DataFrame(
        rows,
        schema={"file": pl.String, "status": pl.String, "format": pl.String, "runs": pl.Int64, "rows": pl.Int64,
                "rejects": pl.Int64, "message": pl.String},
    )  # fmt: skip
    counts = {s: report.count(s) for s in ("loaded", "unchanged", "failed", "skipped")}
    return {"report": frame, "counts": counts, "n_rejects": report.n_rejects}
