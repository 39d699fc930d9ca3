"""Parsers for tidy tables (CSV, gzipped CSV, Parquet): per-run tables and eval tables (docs/FORMATS.md 2-3).

Every cell is read as text first and cast column by column, so one bad cell rejects its row (with the line
number: CSV line = data row + 2 for the header; Parquet "line" = row number, 1-based) and never the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from data.ingest.jsonl import fill_compute
from data.ingest.records import (
    COMPUTE_SOURCES,
    EVAL_NUMERIC_COLUMNS,
    RUN_COLUMNS,
    RUN_KINDS,
    ParsedFile,
    Reject,
    StepRow,
    UnparseableFileError,
    to_float,
    to_int64,
)

_RUN_FLOAT = ("n_params", "n_params_nonembed", "n_tokens", "compute_flops", "budget_flops")
_RUN_INT = ("seed", "n_gpus")
_EVAL_FLOAT = EVAL_NUMERIC_COLUMNS
_EVAL_TEXT = ("run_id", "model", "benchmark", "problem_id", "answer", "setting", "setting_knob")
_TRUE = {"true", "t", "1", "yes", "y", "1.0"}
_FALSE = {"false", "f", "0", "no", "n", "0.0"}


def read_table_as_text(path: Path) -> tuple[pl.DataFrame, int]:
    """Read a CSV/CSV.gz/Parquet file with every column as text; returns (frame, line offset of row 0).

    Raises
    ------
    UnparseableFileError
        If the file cannot be read as a table (truncated Parquet, malformed CSV, empty).
    """
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            df = pl.read_parquet(path)
            df = df.with_columns(pl.all().cast(pl.String))
            offset = 1
        else:
            df = pl.read_csv(path, infer_schema=False, null_values=[""], raise_if_empty=True)
            offset = 2
    except Exception as e:  # polars raises several exception types for malformed input
        msg = str(e).split("\n")[0]
        if "more fields than defined" in msg:
            msg = "a row has more fields than the header (ragged CSV); fix or quote that row"
        raise UnparseableFileError(str(path), f"cannot be read as a table: {msg}") from e
    if df.height == 0:
        raise UnparseableFileError(str(path), "table has a header but no rows")
    df = df.rename({c: c.strip() for c in df.columns})
    return df, offset


def _bad_cast(df: pl.DataFrame, col: str, dtype) -> pl.Series:
    """Boolean mask of rows whose non-empty ``col`` does not cast to ``dtype``."""
    s = df[col].str.strip_chars()
    cast = s.cast(dtype, strict=False)
    return s.is_not_null() & (s != "") & cast.is_null()


def _mostly_numeric(col: pl.Series) -> bool:
    """A column is numeric when at least half of its non-blank cells are numbers (``N/A`` in a numeric column
    is then rejected cell by cell, loudly, instead of silently turning the whole column into text)."""
    s = col.str.strip_chars()
    filled = int((s.is_not_null() & (s != "")).sum())
    numbers = int(s.cast(pl.Float64, strict=False).is_not_null().sum())
    return numbers > 0 and 2 * numbers >= filled


def _reject_rows(parsed: ParsedFile, df: pl.DataFrame, mask: pl.Series, reason: str) -> pl.DataFrame:
    """Move rows where ``mask`` is true into ``parsed.rejects``; return the remaining rows."""
    if mask.any():
        bad = df.filter(mask)
        for row in bad.iter_rows(named=True):
            raw = json.dumps({k: v for k, v in row.items() if k != "_line" and v is not None})
            parsed.rejects.append(Reject(int(row["_line"]), raw, reason.format(**row)))
    return df.filter(~mask)


def classify(columns: list[str]) -> str:
    """Which table format a header is: ``eval_counts``, ``eval_samples`` or ``run_table``.

    Raises
    ------
    ValueError
        If the columns match no documented format.
    """
    cols = set(columns)
    if "problem_id" in cols and {"n_samples", "n_correct"} <= cols:
        return "eval_counts"
    if "problem_id" in cols and "correct" in cols:
        return "eval_samples"
    if "run_id" in cols:
        return "run_table"
    raise ValueError(
        "no 'run_id' column: expected a per-run table (run_id, n_params, ...) or an eval table "
        "(run_id, model, benchmark, problem_id, correct | n_samples, n_correct); see docs/FORMATS.md"
    )


def parse_table(path: Path) -> ParsedFile:
    """Parse a tidy per-run table or eval table into a :class:`ParsedFile`.

    Raises
    ------
    UnparseableFileError
        If the file cannot be read or matches no documented format.
    """
    path = Path(path)
    df, offset = read_table_as_text(path)
    try:
        fmt = classify(df.columns)
    except ValueError as e:
        raise UnparseableFileError(str(path), str(e)) from e
    df = df.with_row_index("_line", offset=offset)
    parsed = ParsedFile(path=str(path), format=fmt)
    default_source = path.parent.name
    if fmt == "run_table":
        _parse_run_table(parsed, df, default_source)
    else:
        _parse_eval_table(parsed, df, fmt, default_source)
    return parsed


def _parse_run_table(parsed: ParsedFile, df: pl.DataFrame, default_source: str) -> None:
    df = df.with_columns(pl.col("run_id").str.strip_chars())
    df = _reject_rows(parsed, df, df["run_id"].is_null() | (df["run_id"] == ""), "empty run_id")
    df = _reject_rows(
        parsed,
        df,
        df["run_id"].is_duplicated() & ~df["run_id"].is_first_distinct(),
        "duplicate run_id '{run_id}' in this file (first row kept)",
    )
    if "kind" in df.columns:
        df = _reject_rows(
            parsed,
            df,
            df["kind"].is_not_null() & ~df["kind"].is_in(list(RUN_KINDS)),
            "kind must be one of pretrain, rl, eval; got '{kind}'",
        )
    if "compute_source" in df.columns:
        df = _reject_rows(
            parsed,
            df,
            df["compute_source"].is_not_null() & ~df["compute_source"].is_in(list(COMPUTE_SOURCES)),
            "compute_source must be 6ND or measured; got '{compute_source}'",
        )
    reserved = set(RUN_COLUMNS) | {"final_loss", "_line"}
    numeric_cols = [c for c in (*_RUN_FLOAT, *_RUN_INT, "final_loss") if c in df.columns]
    for c in [c for c in _RUN_INT if c in df.columns]:
        f = df[c].str.strip_chars().cast(pl.Float64, strict=False)
        bad = _bad_cast(df, c, pl.Float64) | (  # integral floats such as Parquet's 7.0 are integers
            f.is_not_null() & (~f.is_finite() | (f != f.floor()) | (f.abs() >= 2.0**63))
        ).fill_null(False)
        if bad.any():
            for row in df.filter(bad).iter_rows(named=True):
                parsed.rejects.append(
                    Reject(
                        int(row["_line"]),
                        json.dumps({"run_id": row["run_id"], c: row[c]}),
                        f"column '{c}': '{row[c]}' is not an integer; value dropped, run loaded",
                    )
                )
            df = df.with_columns(pl.when(bad).then(None).otherwise(pl.col(c)).alias(c))
    numeric_cols = [c for c in numeric_cols if c not in _RUN_INT]
    for c in numeric_cols:
        dtype = pl.Float64
        df = _reject_rows(
            parsed, df, _bad_cast(df, c, dtype), f"column '{c}': value '{{{c}}}' is not a number"
        )
        if c in _RUN_FLOAT or c == "final_loss":
            v = df[c].str.strip_chars().cast(pl.Float64, strict=False)
            df = _reject_rows(
                parsed,
                df,
                v.is_not_null() & ~v.is_finite(),
                f"column '{c}': value '{{{c}}}' is not a finite number (NaN, Inf or beyond a 64-bit float)",
            )
            v = df[c].str.strip_chars().cast(pl.Float64, strict=False)
            df = _reject_rows(
                parsed, df, v.is_not_null() & ~(v > 0), f"column '{c}': value '{{{c}}}' must be positive"
            )
    extra = [c for c in df.columns if c not in reserved]
    extra_numeric = [c for c in extra if _mostly_numeric(df[c])]
    extra_text = [c for c in extra if c not in extra_numeric]
    for row in df.iter_rows(named=True):
        run: dict[str, Any] = {"run_id": row["run_id"], "kind": row.get("kind") or "pretrain"}
        for c in RUN_COLUMNS:
            if c in ("run_id", "kind") or row.get(c) is None:
                continue
            if c in _RUN_FLOAT:
                run[c] = float(row[c])
            elif c in _RUN_INT:
                run[c] = to_int64(row[c])[0]
            else:
                run[c] = row[c]
        run.setdefault("source", default_source)
        fill_compute(run)
        run["config"] = {c: row[c] for c in extra_text if row[c] is not None}
        run["source_line"] = int(row["_line"])
        line = int(row["_line"])
        if row.get("final_loss") is not None:
            run.setdefault("loss_metric", "loss")
            parsed.steps.append(
                StepRow(run["run_id"], None, run["loss_metric"], float(row["final_loss"]), line=line)
            )
        for c in extra_numeric:
            if row[c] is None or not row[c].strip():
                continue  # a blank cell is "not logged": no row, never 0 or NaN
            f, why = to_float(row[c])
            if why is not None:
                parsed.rejects.append(
                    Reject(
                        line,
                        json.dumps({"run_id": run["run_id"], c: row[c]}),
                        f"column '{c}': {why}; this value not loaded, run loaded",
                    )
                )
                continue
            parsed.steps.append(StepRow(run["run_id"], None, c, f, line=line))  # NaN/Inf: a flagged gap
        parsed.runs.append(run)


def _parse_eval_table(parsed: ParsedFile, df: pl.DataFrame, fmt: str, default_source: str) -> None:
    required = ["run_id", "model", "benchmark", "problem_id"] + (
        ["n_samples", "n_correct"] if fmt == "eval_counts" else ["correct"]
    )
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UnparseableFileError(parsed.path, f"eval table lacks required column(s) {', '.join(missing)}")
    if fmt == "eval_samples" and "sample_idx" not in df.columns:
        # number samples per (run, problem) in file order, before any row is rejected
        df = df.with_columns(
            pl.int_range(pl.len()).over("run_id", "problem_id").cast(pl.String).alias("sample_idx")
        )
    for c in required:
        df = _reject_rows(parsed, df, df[c].is_null() | (df[c].str.strip_chars() == ""), f"empty '{c}'")
    if fmt == "eval_counts":
        for c in ("n_samples", "n_correct"):
            df = _reject_rows(
                parsed, df, _bad_cast(df, c, pl.Int64), f"column '{c}': '{{{c}}}' is not an integer"
            )
        key = [c for c in ("run_id", "problem_id", "setting") if c in df.columns]
        dup = df.select(pl.struct(key).is_duplicated() & ~pl.struct(key).is_first_distinct()).to_series()
        df = _reject_rows(
            parsed, df, dup, "duplicate problem '{problem_id}' for this run in this file (first kept)"
        )
        n = df["n_samples"].cast(pl.Int64)
        c_ = df["n_correct"].cast(pl.Int64)
        df = _reject_rows(
            parsed,
            df,
            (n <= 0) | (c_ < 0) | (c_ > n),
            "need 0 <= n_correct <= n_samples and n_samples > 0; got n={n_samples}, c={n_correct}",
        )
        out = df.select(
            "run_id",
            "model",
            "benchmark",
            "problem_id",
            (pl.col("setting") if "setting" in df.columns else pl.lit(None, pl.String)).alias("setting"),
            pl.col("n_samples").cast(pl.Int64),
            pl.col("n_correct").cast(pl.Int64),
        )
        parsed.eval_counts = out
    else:
        low = df["correct"].str.strip_chars().str.to_lowercase()
        df = _reject_rows(
            parsed,
            df,
            ~(low.is_in(list(_TRUE)) | low.is_in(list(_FALSE))),
            "column 'correct': '{correct}' is not true/false",
        )
        for c in _EVAL_FLOAT:
            if c in df.columns:
                df = _reject_rows(
                    parsed, df, _bad_cast(df, c, pl.Float64), f"column '{c}': '{{{c}}}' is not a number"
                )
                v = df[c].str.strip_chars().cast(pl.Float64, strict=False)
                df = _reject_rows(
                    parsed,
                    df,
                    v.is_not_null() & ~v.is_finite(),
                    f"column '{c}': '{{{c}}}' is not a finite number",
                )
                if c != "setting_value":
                    v = df[c].str.strip_chars().cast(pl.Float64, strict=False)
                    df = _reject_rows(
                        parsed,
                        df,
                        v.is_not_null() & (v < 0),
                        f"column '{c}': {{{c}}} is negative (a count or cost)",
                    )
        df = _reject_rows(
            parsed,
            df,
            _bad_cast(df, "sample_idx", pl.Int64) | df["sample_idx"].is_null(),
            "column 'sample_idx': '{sample_idx}' is not an integer",
        )
        idx = pl.col("sample_idx").cast(pl.Int64)
        dup = (
            df.with_columns(idx.alias("_idx"))
            .select(
                pl.struct("run_id", "problem_id", "_idx").is_duplicated()
                & ~pl.struct("run_id", "problem_id", "_idx").is_first_distinct()
            )
            .to_series()
        )
        df = _reject_rows(
            parsed, df, dup, "duplicate (run_id, problem_id, sample_idx) in this file (first kept)"
        )
        known = set(_EVAL_TEXT) | set(_EVAL_FLOAT) | {"correct", "sample_idx", "_line", "n_params", "source"}
        extra = [c for c in df.columns if c not in known]
        cols = [
            pl.col("run_id"),
            pl.col("model"),
            pl.col("benchmark"),
            pl.col("problem_id"),
            idx.alias("sample_idx"),
            pl.col("correct").str.strip_chars().str.to_lowercase().is_in(list(_TRUE)).alias("correct"),
        ]
        for c in ("answer", "setting", "setting_knob"):
            cols.append((pl.col(c) if c in df.columns else pl.lit(None, pl.String)).alias(c))
        for c in _EVAL_FLOAT:
            cols.append(
                (
                    pl.col(c).str.strip_chars().cast(pl.Float64, strict=False)
                    if c in df.columns
                    else pl.lit(None, pl.Float64)
                ).alias(c)
            )
        cols.append(
            (pl.struct(extra).struct.json_encode() if extra else pl.lit(None, pl.String)).alias("extra_json")
        )
        parsed.eval_samples = df.select(cols)
    # one `runs` row (kind eval) per inference job
    runs = df.group_by("run_id", maintain_order=True).agg(
        pl.col("model").first(),
        pl.col("_line").min(),
        *([pl.col("n_params").cast(pl.Float64, strict=False).first()] if "n_params" in df.columns else []),
        *([pl.col("source").first()] if "source" in df.columns else []),
    )
    for row in runs.iter_rows(named=True):
        run = {
            "run_id": row["run_id"],
            "kind": "eval",
            "model_family": row["model"],
            "source": row.get("source") or default_source,
            "config": {},
            "source_line": int(row["_line"]),
        }
        if row.get("n_params"):
            run["n_params"] = float(row["n_params"])
        parsed.runs.append(run)
