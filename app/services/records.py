"""Stored fits and the public SQL interface, shaped for the Fits and SQL console pages (no ``st.*``).

Thin wrappers over ``data.fits`` so that pages can reach them through ``cache.service`` (which calls
``function(con, *args)``), plus the list of public ``v_*`` views read from the migration that defines them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import duckdb
import polars as pl

from app import fmt as textfmt
from app.settings import REPO_ROOT
from data import fits as fits_store

#: The migrations, which define the public views; each view is preceded by ``--`` comment lines describing it.
MIGRATIONS = REPO_ROOT / "data" / "migrations"

_FITS_SCHEMA = {
    "fit_id": pl.String,
    "axis": pl.String,
    "law": pl.String,
    "n_points": pl.Int64,
    "created_at": pl.Datetime("us"),
    "selection": pl.String,
    "params": pl.String,
    "loss_fn": pl.String,
    "optimizer": pl.String,
    "code_version": pl.String,
    "verdict": pl.String,
}


def _loads(x: Any) -> Any:
    return json.loads(x) if isinstance(x, str) else x


def _fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, int | float) else f"{k}={v}" for k, v in params.items())


def stored_fits(
    con: duckdb.DuckDBPyConnection, axis: str | None = None, law: str | None = None
) -> pl.DataFrame:
    """The newest stored fit per (axis, law, selection), newest first, optionally filtered by axis and law.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Read-only connection to the store (``v_fits_latest``).
    axis, law : str or None
        Keep only fits with this axis (``pretraining``, ``rl``, ``test_time``) / law (e.g. ``chinchilla``).

    Returns
    -------
    polars.DataFrame
        One row per fit (shape (n_fits, 11)): fit_id, axis, law, n_points, created_at (UTC timestamp),
        selection (one line, see :func:`selection_label`), params (a one-line ``name=value`` summary in the
        parameters' natural units), loss_fn, optimizer, code_version, verdict (the stored identifiability
        verdict, ``analysis.identifiability``, with the not-identified parameters, e.g. ``"not identified (E)"``;
        "—" for records stored without one).
    """
    raw = fits_store.list_fits(con, axis or None)
    rows = []
    for r in raw.iter_rows(named=True):
        sel = _loads(r["selection_json"]) or {}
        if law and r["law"] != law:
            continue
        rows.append(
            {
                "fit_id": r["fit_id"],
                "axis": r["axis"],
                "law": r["law"],
                "selection": selection_label(sel),
                "n_points": r["n_points"],
                "params": _fmt_params(_loads(r["params_json"]) or {}),
                "loss_fn": r["loss_fn"],
                "optimizer": r["optimizer"],
                "code_version": r["code_version"],
                "created_at": r["created_at"],
                "verdict": _verdict_label(r.get("ident_verdict"), r.get("ident_not_identified")),
            }
        )
    return pl.DataFrame(rows, schema=_FITS_SCHEMA)


def _verdict_label(verdict: str | None, not_identified: str | None) -> str:
    """``"identified"``, ``"not identified (E, eta)"``; "—" when the record carries no identifiability."""
    if not verdict:
        return "—"
    names = _loads(not_identified) or []
    return f"{verdict} ({', '.join(names)})" if names and verdict == "not identified" else verdict


def selection_label(selection: dict[str, Any]) -> str:
    """One line naming a fit's data selection: ``key=value`` pairs, source first, nulls left out.

    Selections differ by axis (pretraining: source, where; RL: run_id, metric, x; test-time: model, benchmark,
    setting), so every non-null key is shown.

    Parameters
    ----------
    selection : dict
        The parsed ``fits.selection_json`` of one fit.

    Returns
    -------
    str
        E.g. ``"source=gadre_overtraining"``; ``"all data"`` when every value is null.
    """
    order = ["source", "model", "run_id", "benchmark", "metric"]
    keys = [k for k in order if k in selection] + sorted(k for k in selection if k not in order)
    parts = [f"{k}={selection[k]}" for k in keys if selection[k] is not None]
    return ", ".join(parts) if parts else "all data"


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def fit_detail(con: duckdb.DuckDBPyConnection, fit_id: str) -> dict[str, Any] | None:
    """One stored fit with its parameter table, replicate counts, backtest and reporting checklist.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Read-only connection to the store (table ``fits``).
    fit_id : str
        16-hex-digit id from :func:`stored_fits`.

    Returns
    -------
    dict or None
        None if no fit has this id. Otherwise the record of ``data.fits.load_fit`` (fit_id, axis, law, selection,
        result, backtest, checklist, code_version, created_at; replicates dropped) plus

        ``params`` : polars.DataFrame, shape (n_params + n_derived, 5): name, kind (parameter / derived), value,
        ci95_lo, ci95_hi (95% bootstrap percentile interval, null without replicates), in the law's natural units
        (loss in nats per token; A, B raw, not log).
        ``n_replicates`` : int, bootstrap replicates drawn (0 when none were stored).
        ``n_kept`` : int, replicates whose refit succeeded (first parameter finite); intervals use these only.
        ``replicate_seed``, ``replicate_unit``, ``replicate_method`` : how the replicates were drawn, or None.

    Notes
    -----
    Interval convention and reporting checklist: Li et al. (2025), arXiv:2502.18969 (METHODS.md s.4, s.10).
    """
    rec = fits_store.load_fit(con, fit_id)
    if rec is None:
        return None
    result = rec.get("result") or {}
    intervals = result.get("intervals_95") or {}
    rows = []
    for kind, d in (("parameter", result.get("params") or {}), ("derived", result.get("derived") or {})):
        for k, v in d.items():
            lo, hi = (intervals.get(k) or [None, None])[:2]
            rows.append(
                {
                    "name": k,
                    "kind": kind,
                    "value": float(v) if _finite(v) else None,
                    "ci95_lo": float(lo) if _finite(lo) else None,
                    "ci95_hi": float(hi) if _finite(hi) else None,
                }
            )
    params = pl.DataFrame(
        rows,
        schema={
            "name": pl.String,
            "kind": pl.String,
            "value": pl.Float64,
            "ci95_lo": pl.Float64,
            "ci95_hi": pl.Float64,
        },
    )
    reps = rec.pop("replicates", None) or {}
    arrays = reps.get("replicates") or {}
    first = next(iter(arrays.values()), [])
    out = dict(rec)
    out.update(
        params=params,
        n_replicates=len(first),
        n_kept=sum(1 for v in first if _finite(v)),
        replicate_seed=reps.get("seed"),
        replicate_unit=reps.get("unit"),
        replicate_method=reps.get("method"),
    )
    return out


def public_views(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The public ``v_*`` views with a one-line description and their columns.

    Descriptions are the ``--`` comment lines right above each ``CREATE ... VIEW v_...`` in
    ``data/migrations/*.sql`` (the views' definitions, so they cannot drift; a later migration's comment wins);
    columns come from the database through DuckDB's relational API.

    Returns
    -------
    polars.DataFrame
        Shape (n_views, 3): view, description, columns (comma-separated; empty if the view is missing from this
        database, e.g. an older schema).
    """
    text = "\n\n".join(p.read_text() for p in sorted(MIGRATIONS.glob("*.sql")))
    rows: dict[str, dict[str, str]] = {}
    comment: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(v_\w+)", s, flags=re.IGNORECASE)
        if s.startswith("--"):
            comment.append(s.lstrip("-").strip())
        elif m:
            try:
                cols = ", ".join(con.table(m.group(1)).columns)
            except duckdb.Error:
                cols = ""
            rows[m.group(1)] = {"view": m.group(1), "description": " ".join(comment), "columns": cols}
            comment = []
        else:
            comment = []
    return pl.DataFrame(
        list(rows.values()), schema={"view": pl.String, "description": pl.String, "columns": pl.String}
    )


#: Largest integer a browser's ``Number`` holds exactly; ``st.dataframe`` greys out and flags larger numbers
#: (streamlit/streamlit#6311, #6549), which hits every FLOPs column.
JS_MAX_SAFE = 2.0**53 - 1


def js_safe(frame: pl.DataFrame, digits: int = 6) -> tuple[pl.DataFrame, list[str]]:
    """Numeric columns holding a value beyond 2^53 in magnitude, rewritten as text in ``%.{digits}g`` form.

    Parameters
    ----------
    frame : polars.DataFrame
        Any frame (shape (n, m)); unchanged columns keep their dtype.
    digits : int
        Significant digits of the rewritten values (e.g. FLOPs ``2.56e+19``).

    Returns
    -------
    (polars.DataFrame, list of str)
        The frame (same shape) and the names of the rewritten columns. Integers keep every digit; nulls stay null;
        NaN and inf become text.
    """
    changed = []
    for name, dtype in frame.schema.items():
        if not dtype.is_numeric() or frame.height == 0:
            continue
        big = frame.get_column(name).cast(pl.Float64).abs()
        big = big.filter(big.is_finite())
        if big.len() and big.max() > JS_MAX_SAFE:
            changed.append(name)
    if not changed:
        return frame, []
    return (
        frame.with_columns(
            pl.col(c).cast(pl.String)  # integers: exact digits
            if frame.schema[c].is_integer()
            else textfmt.g(frame.get_column(c), digits).alias(c)  # vectorised, nulls stay null
            for c in changed
        ),
        changed,
    )
