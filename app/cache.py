"""The only module with Streamlit caches. Every cached function takes the database path and its mtime."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from app.settings import Settings
from data import queries
from data.connect import open_ro


def settings() -> Settings:
    """Settings from the environment (read on each call so tests can change SCALING_* between runs)."""
    return Settings.from_env()


def db_state() -> tuple[str, float]:
    """(absolute database path, mtime) -- the cache key of everything read from the store."""
    path = str(Path(settings().db).resolve())
    return path, (os.path.getmtime(path) if os.path.exists(path) else 0.0)


@st.cache_resource(max_entries=4)
def _connection(path: str, mtime: float) -> duckdb.DuckDBPyConnection:
    return open_ro(path)


def con() -> duckdb.DuckDBPyConnection:
    """A per-call cursor on the cached read-only connection (reopened when the file changes)."""
    path, mtime = db_state()
    return _connection(path, mtime).cursor()


@st.cache_data(max_entries=64, show_spinner=False)
def query(path: str, mtime: float, name: str, *args) -> pl.DataFrame:
    """Cached ``data.queries.<name>(con, *args)``."""
    c = _connection(path, mtime).cursor()
    try:
        return getattr(queries, name)(c, *args)
    finally:
        c.close()


def q(name: str, *args):
    """Shorthand: run a named query against the current database (cached by path and mtime)."""
    path, mtime = db_state()
    return query(path, mtime, name, *args)


@st.cache_data(max_entries=32, show_spinner=False)
def pretraining_fit(
    path: str, mtime: float, source: str, where: str | None, law: str, n_boot: int, seed: int, backtest: bool
):
    """Cached pretraining fit for one data selection (see ``app.services.pretraining.fit_pretraining``)."""
    from app.services.pretraining import fit_pretraining

    points = query(path, mtime, "pretrain_points", source, where)
    return fit_pretraining(
        points,
        law=law,
        selection={"source": source, "where": where},
        n_boot=n_boot,
        seed=seed,
        backtest=backtest,
    )


@st.cache_data(max_entries=64, show_spinner=False)
def _service(path: str, mtime: float, target: str, args: tuple, kwargs: tuple):
    import importlib

    module, name = target.split(":")
    fn = getattr(importlib.import_module(module), name)
    c = _connection(path, mtime).cursor()
    try:
        return fn(c, *args, **dict(kwargs))
    finally:
        c.close()


def service(target: str, *args, **kwargs):
    """Cached call of a service function ``"module:function"`` as ``function(con, *args, **kwargs)``.

    The cache key is the database path and mtime plus the arguments (which must be hashable), so pages get a
    fresh result after an ingest and the same result for the same selection. Used by pages that need a fit or a
    query composed in ``app.services``; keeps every ``st.cache_*`` in this module.
    """
    path, mtime = db_state()
    return _service(path, mtime, target, tuple(args), tuple(sorted(kwargs.items())))
