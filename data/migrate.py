"""Ordered, recorded schema migrations (sqlite-utils style).

Each ``data/migrations/NNNN_name.sql`` file runs once, inside a transaction, and is recorded in
``schema_migrations(name, applied_at)``. Running :func:`migrate` again is a no-op.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def migration_files() -> list[Path]:
    """The migration files in the order they apply (by file name)."""
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def applied(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the migrations already applied to ``con``'s database, in order."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
    )
    return [r[0] for r in con.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every pending migration; return the names applied now (empty when up to date).

    Raises
    ------
    duckdb.Error
        If a migration fails; that migration is rolled back and the error names the file.
    """
    done = set(applied(con))
    new: list[str] = []
    for f in migration_files():
        if f.name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f.read_text())
            con.execute("INSERT INTO schema_migrations VALUES (?, now())", [f.name])
            con.execute("COMMIT")
        except duckdb.Error as e:
            con.execute("ROLLBACK")
            raise type(e)(f"migration {f.name} failed: {e}") from e
        new.append(f.name)
    return new
