"""One number format for the app and the CLI, and plain-text tables that fit the terminal (standard library only,
so ``scaling --help`` stays fast).

The app's tiles use ``app.widgets.human`` / ``sci``, the CLI these (which import no Streamlit);
tests/app/test_cli_workflow.py checks both write the same text. N and D (parameters, tokens) are written with a
k/M/B/T suffix (``human``: 7.12e9 -> "7.12B"), FLOPs in scientific
notation (``sci``: 8.38e22 -> "8.38e+22"), other floats with 4 significant digits (``num``).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
#: Column names written with :func:`human` (counts of parameters and tokens).
COUNT_COLUMNS = ("n_params", "n_params_nonembed", "n_tokens", "n_tokens_planned", "tokens_seen", "N", "D")
#: Column-name fragments written with :func:`sci` (FLOPs).
FLOP_HINTS = ("flops", "compute")


def _bad(v) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def human(v: float | None, digits: int = 4) -> str:
    """A count with a k/M/B/T suffix and ``digits`` significant digits: 7.12e9 -> "7.12B", 1.295e12 -> "1.295T".

    Parameters
    ----------
    v : float or None
        Any number (parameters, tokens); values >= 1e15 fall back to scientific notation.
    digits : int
        Significant digits.

    Returns
    -------
    str
        "" for None or NaN; "inf" / "-inf" as such.
    """
    if _bad(v):
        return ""
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    a = abs(v)
    if a >= 1e15:
        return sci(v, digits - 1)
    for scale, suffix in _SUFFIXES:
        if a >= scale:
            return f"{v / scale:.{digits}g}{suffix}"
    return f"{v:.{digits}g}"


def sci(v: float | None, digits: int = 3) -> str:
    """Scientific notation with ``digits`` decimals (FLOPs): 8.3812e22 -> "8.381e+22"; "" for None or NaN."""
    if _bad(v):
        return ""
    return f"{v:.{digits}e}"


def num(v, digits: int = 4) -> str:
    """A float with ``digits`` significant digits (1.23456 -> "1.235", 1234567.0 -> "1.235e+06"); ints in full
    with thousands separators; "" for None/NaN; other values as ``str``."""
    if _bad(v):
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def interval(lo: float | None, hi: float | None, fmt=num) -> str:
    """ "[lo, hi]" formatted with ``fmt``; "n/a" when either end is missing (no replicates)."""
    if _bad(lo) or _bad(hi):
        return "n/a"
    return f"[{fmt(lo)}, {fmt(hi)}]"


def cell(column: str, v) -> str:
    """Text of one table cell: counts with suffixes, FLOPs in scientific notation, floats with 4 digits."""
    if isinstance(v, float) and not _bad(v):
        if column in COUNT_COLUMNS:
            return human(v)
        if any(h in column.lower() for h in FLOP_HINTS):
            return sci(v, 3)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(cell(column, x) for x in v) + "]"
    if hasattr(v, "isoformat") and not isinstance(v, str):
        return v.isoformat(sep=" ", timespec="seconds") if hasattr(v, "hour") else v.isoformat()
    return num(v)


def text_table(
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    width: int | None = None,
    max_cell: int = 40,
    min_cell: int = 10,
) -> str:
    """Rows as an aligned plain-text table no wider than ``width`` (default: the terminal's).

    Cells longer than their column are cut with "…"; columns are narrowed (widest first, never below
    ``min_cell``) until the table fits; columns that still do not fit are left out and named in a last line.
    Numbers are right-aligned.

    Parameters
    ----------
    columns : sequence of str
        Column names.
    rows : sequence of sequences
        Values, one sequence per row (any Python values; formatted with :func:`cell`).
    width : int, optional
        Characters per line; default ``shutil.get_terminal_size().columns`` (80 when not a terminal).

    Returns
    -------
    str
        The table without a trailing newline ("(no rows)" under the header when ``rows`` is empty).
    """
    width = width or shutil.get_terminal_size((100, 24)).columns
    texts = [[cell(c, v) for c, v in zip(columns, r, strict=False)] for r in rows]
    numeric = [
        all(isinstance(r[i], int | float) or r[i] is None for r in rows) and bool(rows)
        for i in range(len(columns))
    ]
    widths = [min(max_cell, max([len(c)] + [len(t[i]) for t in texts])) for i, c in enumerate(columns)]
    sep = 2
    floor = [min(w, min_cell) for w in widths]  # narrow columns keep their width
    while sum(widths) + sep * (len(widths) - 1) > width and any(
        w > f for w, f in zip(widths, floor, strict=True)
    ):
        i = max(range(len(widths)), key=lambda j: widths[j] - floor[j])
        widths[i] -= 1
    shown = len(columns)
    while shown > 1 and sum(widths[:shown]) + sep * (shown - 1) > width:
        shown -= 1

    def fit(text: str, w: int, right: bool) -> str:
        text = text.replace("\n", " ")
        if len(text) > w:
            text = text[: max(w - 1, 0)] + "…"
        return text.rjust(w) if right else text.ljust(w)

    lines = ["  ".join(fit(columns[i], widths[i], numeric[i]) for i in range(shown)).rstrip()]
    lines.append("  ".join("-" * widths[i] for i in range(shown)))
    for t in texts:
        lines.append("  ".join(fit(t[i], widths[i], numeric[i]) for i in range(shown)).rstrip())
    if not rows:
        lines.append("(no rows)")
    if shown < len(columns):
        lines.append(
            f"({len(columns) - shown} more columns not shown: {', '.join(columns[shown:])}; use --csv or --json)"
        )
    return "\n".join(lines)
