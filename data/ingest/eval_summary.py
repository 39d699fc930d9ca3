"""Parser for eval SUMMARY tables: accuracy or pass@k per configuration and budget, with n (docs/FORMATS.md 3b).

A summary table is what a paper's results table or an eval harness's report holds when the per-problem data are
gone: one row per (model, benchmark, setting[, k]) with the share of problems solved, how many problems, and
optionally mean tokens and cost. It is recognised by its columns (no ``problem_id``; ``benchmark``,
``n_problems`` and ``accuracy`` or ``pass_at_k``). Each row is stored as one run of kind ``eval`` whose numbers
are summary metrics; the view ``v_eval_summary`` shows them as a table.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from data.ingest.records import ParsedFile, Reject, StepRow, UnparseableFileError
from data.ingest.tables import read_table_as_text

#: Value columns: the measure each one holds.
VALUE_COLUMNS = {"pass_at_k": "pass@k", "pass@k": "pass@k", "accuracy": "accuracy"}
#: Optional numeric columns stored as summary metrics (units: tokens per answer, US dollars per question).
NUMERIC_COLUMNS = ("setting_value", "mean_input_tokens", "mean_output_tokens", "cost_usd")
TABLE_SHAPE = "eval_summary"


def is_eval_summary(columns: list[str]) -> bool:
    """Whether a table header is an eval summary table: no problem_id; benchmark, n_problems and a value column."""
    cols = {c.strip() for c in columns}
    return (
        "problem_id" not in cols
        and {"model", "benchmark", "n_problems"} <= cols
        and bool(cols & set(VALUE_COLUMNS))
    )


def header_of(path: Path) -> list[str]:
    """Column names of a CSV/CSV.gz/Parquet file without reading its rows ([] if unreadable)."""
    try:
        if path.name.lower().endswith(".parquet"):
            return list(pl.read_parquet_schema(path))
        return pl.read_csv(path, n_rows=0, infer_schema=False).columns
    except Exception:  # noqa: BLE001 - unreadable here means "not a summary"; the table parser reports why
        return []


def _num(v: str | None) -> float | None:
    if v is None or str(v).strip() == "":
        return None
    return float(v)


def parse_eval_summary(path: Path) -> ParsedFile:
    """Parse an eval summary table into runs (kind eval, one per row) and their summary metrics.

    Per row: ``value`` (the accuracy or pass@k, fraction in [0, 1]), ``k`` (1 for accuracy), ``n_problems``,
    and where given ``n_samples``, ``setting_value``, ``mean_input_tokens``, ``mean_output_tokens`` (tokens per
    answer, reasoning included) and ``cost_usd`` (US dollars per question, all k samples of a pass@k row). A bad
    row (value outside [0, 1], n_problems not a whole number > 0, k < 1 or above n_samples, a negative token
    count or cost, a duplicate configuration) goes to ``rejects`` with its line; the others load.

    Raises
    ------
    UnparseableFileError
        If the file cannot be read or lacks the required columns.
    """
    path = Path(path)
    df, offset = read_table_as_text(path)
    if not is_eval_summary(df.columns):
        raise UnparseableFileError(
            str(path),
            "not an eval summary table: need model, benchmark, n_problems and accuracy or pass_at_k",
        )
    value_col = next(c for c in VALUE_COLUMNS if c in df.columns)
    measure = VALUE_COLUMNS[value_col]
    if measure == "pass@k" and "k" not in df.columns:
        raise UnparseableFileError(
            str(path), f"column '{value_col}' needs a 'k' column (samples per attempt)"
        )
    parsed = ParsedFile(path=str(path), format=TABLE_SHAPE)
    default_source = path.parent.name
    seen: dict[str, int] = {}
    for i, row in enumerate(df.iter_rows(named=True)):
        line = i + offset
        raw = json.dumps({k: v for k, v in row.items() if v is not None})
        try:
            model, bench = (row.get("model") or "").strip(), (row.get("benchmark") or "").strip()
            if not model or not bench:
                raise ValueError("empty 'model' or 'benchmark'")
            value = _num(row[value_col])
            if value is None or not 0.0 <= value <= 1.0:
                raise ValueError(f"'{value_col}' must be a fraction in [0, 1], got {row[value_col]!r}")
            n_prob = _num(row["n_problems"])
            if n_prob is None or n_prob <= 0 or n_prob != int(n_prob):
                raise ValueError(f"'n_problems' must be a whole number > 0, got {row['n_problems']!r}")
            k = _num(row.get("k")) if "k" in df.columns else None
            k = 1.0 if k is None and measure == "accuracy" else k
            if k is None or k < 1 or k != int(k):
                raise ValueError(f"'k' must be a whole number >= 1, got {row.get('k')!r}")
            n_samp = _num(row.get("n_samples"))
            if n_samp is not None and (n_samp < k or n_samp != int(n_samp)):
                raise ValueError(
                    f"'n_samples' must be a whole number >= k = {k:g}, got {row.get('n_samples')!r}"
                )
            nums = {c: _num(row.get(c)) for c in NUMERIC_COLUMNS if c in df.columns}
            bad = [c for c, v in nums.items() if v is not None and c != "setting_value" and v < 0]
            if bad:
                raise ValueError(f"'{bad[0]}' is negative ({row[bad[0]]}); tokens and costs are >= 0")
        except (TypeError, ValueError) as e:
            msg = str(e)
            if "could not convert" in msg:
                msg = f"a numeric column is not a number ({msg})"
            parsed.rejects.append(Reject(line, raw, msg))
            continue
        setting = (row.get("setting") or "").strip()
        source = (row.get("source") or "").strip() or default_source
        base = (row.get("run_id") or "").strip() or f"{source}/{model}/{bench}/{setting or '-'}"
        run_id = f"{base}@k={int(k)}" if measure == "pass@k" else base
        if run_id in seen:
            parsed.rejects.append(
                Reject(line, raw, f"duplicate configuration '{run_id}' (first kept, line {seen[run_id]})")
            )
            continue
        seen[run_id] = line
        config = {"table_shape": TABLE_SHAPE, "benchmark": bench, "measure": measure}
        config |= {c: row[c].strip() for c in ("setting", "setting_knob") if row.get(c) and row[c].strip()}
        parsed.runs.append(
            {"run_id": run_id, "kind": "eval", "source": source, "model_family": model, "config": config,
             "source_line": line}
        )  # fmt: skip
        metrics = {"value": value, "k": k, "n_problems": n_prob, "n_samples": n_samp, **nums}
        parsed.steps += [
            StepRow(run_id, None, m, float(v), line=line) for m, v in metrics.items() if v is not None
        ]
    if not parsed.runs and parsed.rejects:
        parsed.notes.append("every row was rejected")
    return parsed
