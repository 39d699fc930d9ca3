"""Data-quality counts per (run, metric), computed in DuckDB when a file is loaded (table ``metric_quality``,
view ``v_data_quality``; README "SQL reference").

Rules, per run, metric and segment of the step counter, over the finite values ordered by step:

- **spike**: a point with at least 3 logged points on each side whose distance from the median of the 11-point
  window centred on it (5 before, 5 after) exceeds 6 times the window's median absolute deviation from those
  centred medians (about 4 standard deviations for Gaussian noise); a constant series flags any departure;
- **level shift**: the median of the 5 points from i on differs from the median of the 5 points before i by more
  than 6 times the larger of the two windows' MADs (each the median, over the window, of the points' absolute
  deviations from their centred medians) and is non-zero, and the single step
  from i-1 to i makes more than half of that difference (a jump, not a steep smooth trend such as the start of
  a loss curve); a run of consecutive such i counts once. A one-point spike moves neither median, so it is not
  a level shift.

Robust rolling statistics in the spirit of the Hampel filter (Hampel 1974; Pearson 2002, "Outliers in process
modeling and identification", IEEE TCST 10(1)).
"""

from __future__ import annotations

import duckdb

#: Window half-width, minimum neighbours on each side, and the MAD multiple of both rules.
HALF_WINDOW = 5
MIN_SIDE = 3
K_MAD = 6.0

_SQL = f"""
INSERT INTO metric_quality
WITH m AS (SELECT run_id, metric, segment, step, value FROM metrics WHERE file_id = $fid),
fl AS (SELECT run_id, metric, segment, flag FROM metric_flags WHERE file_id = $fid),
seq AS (
    SELECT run_id, metric, segment, step, value,
           median(value) OVER wc AS med, count(*) OVER wb AS nb, count(*) OVER wa1 AS na1,
           median(value) OVER wb AS med_b, median(value) OVER wa AS med_a, count(*) OVER wa AS na,
           lag(value) OVER (PARTITION BY run_id, metric, segment ORDER BY step) AS prev
    FROM m WHERE step IS NOT NULL
    WINDOW wc AS (PARTITION BY run_id, metric, segment ORDER BY step
                  ROWS BETWEEN {HALF_WINDOW} PRECEDING AND {HALF_WINDOW} FOLLOWING),
           wb AS (PARTITION BY run_id, metric, segment ORDER BY step
                  ROWS BETWEEN {HALF_WINDOW} PRECEDING AND 1 PRECEDING),
           wa AS (PARTITION BY run_id, metric, segment ORDER BY step
                  ROWS BETWEEN CURRENT ROW AND {HALF_WINDOW - 1} FOLLOWING),
           wa1 AS (PARTITION BY run_id, metric, segment ORDER BY step
                  ROWS BETWEEN 1 FOLLOWING AND {HALF_WINDOW} FOLLOWING)
), dev AS (
    SELECT *, median(abs(value - med)) OVER wc AS mad,
           median(abs(value - med)) OVER wb AS mad_b, median(abs(value - med)) OVER wa AS mad_a
    FROM seq
    WINDOW wc AS (PARTITION BY run_id, metric, segment ORDER BY step
                  ROWS BETWEEN {HALF_WINDOW} PRECEDING AND {HALF_WINDOW} FOLLOWING),
           wb AS (PARTITION BY run_id, metric, segment ORDER BY step
                  ROWS BETWEEN {HALF_WINDOW} PRECEDING AND 1 PRECEDING),
           wa AS (PARTITION BY run_id, metric, segment ORDER BY step
                  ROWS BETWEEN CURRENT ROW AND {HALF_WINDOW - 1} FOLLOWING)
), judged AS (
    SELECT run_id, metric, segment, step,
           (nb >= {MIN_SIDE} AND na1 >= {MIN_SIDE} AND abs(value - med) > {K_MAD} * mad) AS is_spike,
           (nb = {HALF_WINDOW} AND na = {HALF_WINDOW} AND abs(med_a - med_b) > 0
            AND abs(med_a - med_b) > {K_MAD} * greatest(mad_b, mad_a)
            AND abs(value - prev) > 0.5 * abs(med_a - med_b)) AS is_shift
    FROM dev
), marks AS (
    SELECT run_id, metric, count(*) FILTER (WHERE is_spike) AS n_spikes,
           count(*) FILTER (WHERE is_shift AND NOT coalesce(prev_shift, false)) AS n_level_shifts
    FROM (SELECT *, lag(is_shift) OVER (PARTITION BY run_id, metric, segment ORDER BY step) AS prev_shift
          FROM judged)
    GROUP BY run_id, metric
), pts AS (
    SELECT run_id, metric, count(*) AS n_points, count(*) FILTER (WHERE value = 0) AS n_zero,
           max(step) AS last_step, list(DISTINCT segment) AS segs
    FROM m GROUP BY run_id, metric
), flags AS (
    SELECT run_id, metric,
           count(*) FILTER (WHERE flag = 'overlap') AS n_overlaps,
           count(*) FILTER (WHERE flag = 'duplicate') AS n_dup,
           count(*) FILTER (WHERE flag = 'nonfinite') AS n_nonfinite,
           list(DISTINCT segment) FILTER (WHERE flag = 'nonfinite') AS segs
    FROM fl GROUP BY run_id, metric
), resets AS (
    SELECT run_id, max(segment) AS n_resets
    FROM (SELECT run_id, segment FROM m UNION ALL SELECT run_id, segment FROM fl) GROUP BY run_id
), keys AS (
    SELECT run_id, metric FROM pts UNION SELECT run_id, metric FROM flags
)
SELECT k.run_id, k.metric, coalesce(p.n_points, 0),
       len(list_distinct(list_concat(coalesce(p.segs, []), coalesce(f.segs, [])))),
       coalesce(rs.n_resets, 0), coalesce(f.n_overlaps, 0), coalesce(f.n_dup, 0), coalesce(f.n_nonfinite, 0),
       coalesce(p.n_zero, 0), coalesce(mk.n_spikes, 0), coalesce(mk.n_level_shifts, 0), p.last_step, $fid
FROM keys k
LEFT JOIN pts p ON p.run_id = k.run_id AND p.metric = k.metric
LEFT JOIN flags f ON f.run_id = k.run_id AND f.metric = k.metric
LEFT JOIN resets rs ON rs.run_id = k.run_id
LEFT JOIN marks mk ON mk.run_id = k.run_id AND mk.metric = k.metric
"""


def compute_quality(con: duckdb.DuckDBPyConnection, file_id: int) -> None:
    """Insert the ``metric_quality`` rows of one ingested file (its metrics and metric_flags), inside the
    caller's transaction. Raises ``duckdb.Error`` on a database error."""
    con.execute("DELETE FROM metric_quality WHERE file_id = $fid", {"fid": file_id})
    con.execute(_SQL, {"fid": file_id})


def backfill_quality(con: duckdb.DuckDBPyConnection) -> int:
    """Compute ``metric_quality`` for files loaded before it existed (databases from before migration 0030);
    returns how many files were filled in. A no-op afterwards."""
    ids = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT file_id FROM metrics WHERE file_id NOT IN (SELECT file_id FROM metric_quality)"
        ).fetchall()
    ]
    for fid in ids:
        con.execute("BEGIN TRANSACTION")
        try:
            compute_quality(con, fid)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return len(ids)
