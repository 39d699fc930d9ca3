"""The only module with Streamlit caches. Every cached function takes the database path and its version.

Freshness: the version is the file's identity (inode, mtime in ns, size; ``data.connect.file_identity``). Ingest
replaces the file (a new inode), so the next page run sees a new version, opens a new read instance of the new file
and recomputes; results cached for the old version are never used again. Read connections are never shared with
the old file: each is its own DuckDB instance (``data.connect.open_ro``), and each query gets its own cursor, so
sessions on different threads never share a DuckDB connection.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from app.settings import Settings
from data import queries
from data.connect import file_identity, is_usable, open_ro

#: Version of a database file: (inode, mtime_ns, size), or None when the file does not exist.
Version = tuple[int, int, int] | None


def settings() -> Settings:
    """Settings from the environment (read on each call so tests can change SCALING_* between runs)."""
    return Settings.from_env()


def db_state() -> tuple[str, Version]:
    """(absolute database path, version) -- the cache key of everything read from the store.

    The version is falsy (None) when the file does not exist.
    """
    path = str(Path(settings().db).resolve())
    return path, file_identity(path)


@st.cache_resource(max_entries=2, show_spinner=False, validate=is_usable)
def _connection(path: str, version: Version) -> duckdb.DuckDBPyConnection:
    # Two entries: the current file version and the previous one (queries that started before an ingest). Evicted
    # connections are not closed here: a query of another session may still run on a cursor of it; the instance
    # is freed when the last cursor is garbage-collected.
    return open_ro(path)


def con() -> duckdb.DuckDBPyConnection:
    """A new cursor on the read connection of the current file version (the caller closes it)."""
    path, version = db_state()
    return _connection(path, version).cursor()


@st.cache_data(max_entries=64, show_spinner=False)
def query(path: str, version: Version, name: str, *args) -> pl.DataFrame:
    """Cached ``data.queries.<name>(con, *args)``."""
    c = _connection(path, version).cursor()
    try:
        return getattr(queries, name)(c, *args)
    finally:
        c.close()


def q(name: str, *args):
    """Shorthand: run a named query against the current database (cached by path and version)."""
    path, version = db_state()
    return query(path, version, name, *args)


@st.cache_data(max_entries=32, show_spinner=False)
def pretraining_fit(
    path: str,
    version: Version,
    source: str,
    where: str | None,
    law: str,
    n_boot: int,
    seed: int,
    backtest: bool,
):
    """Cached pretraining fit for one data selection (see ``app.services.pretraining.fit_pretraining``)."""
    from app.services.pretraining import fit_pretraining

    points = query(path, version, "pretrain_points", source, where)
    return fit_pretraining(
        points,
        law=law,
        selection={"source": source, "where": where},
        n_boot=n_boot,
        seed=seed,
        backtest=backtest,
    )


@st.cache_data(max_entries=64, show_spinner=False)
def _service(path: str, version: Version, target: str, args: tuple, kwargs: tuple):
    import importlib

    module, name = target.split(":")
    fn = getattr(importlib.import_module(module), name)
    c = _connection(path, version).cursor()
    try:
        return fn(c, *args, **dict(kwargs))
    finally:
        c.close()


def service(target: str, *args, **kwargs):
    """Cached call of a service function ``"module:function"`` as ``function(con, *args, **kwargs)``.

    The cache key is the database path and version plus the arguments (which must be hashable), so pages get a
    fresh result after an ingest and the same result for the same selection. Used by pages that need a fit or a
    query composed in ``app.services``; keeps every ``st.cache_*`` in this module.
    """
    path, version = db_state()
    return _service(path, version, target, tuple(args), tuple(sorted(kwargs.items())))
