"""Label and delete runs from the app (the Run explorer), recorded in the audit trail like the CLI's
``scaling label`` / ``scaling delete`` (no ``st.*`` here)."""

from __future__ import annotations

from pathlib import Path

from data.connect import writable_copy
from data.curate import delete_runs, label_runs
from data.migrate import migrate


def label(db: str | Path, run_ids: list[str], field: str, value: str | None, actor: str) -> int:
    """Set one label on ``run_ids``; returns how many values changed (see ``data.curate.label_runs``).

    Raises
    ------
    ValueError
        Unknown label or run.
    """
    with writable_copy(db) as con:
        migrate(con)
        return label_runs(con, run_ids, {field: value or None}, actor=actor, via="app")


def delete(db: str | Path, run_ids: list[str], actor: str) -> dict[str, int]:
    """Delete ``run_ids`` with their rows; returns rows deleted per table (see ``data.curate.delete_runs``).

    Raises
    ------
    ValueError
        Unknown run.
    """
    with writable_copy(db) as con:
        migrate(con)
        return delete_runs(con, run_ids, actor=actor, via="app")
