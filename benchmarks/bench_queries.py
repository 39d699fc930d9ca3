"""Source-filtered final-loss queries: v_final_loss before and after migration 0070 (issue 12, item 5).

Builds a seeded synthetic store in DuckDB SQL (synthetic data, for this benchmark only): ``--runs`` pretraining runs
spread over ``--sources`` sources, ``--points`` loss points each (default 2,000 x 1,000 = 2M metric rows) with
power-law-shaped values and noise. It then times, in the same run and on the same connection, the page queries
(``v_pretrain_points`` and ``v_final_loss`` filtered by one source) against the old view definition (migration 0030,
rank every run then filter) and the current one (migration 0070, filter pushed below the window), checks both return
identical rows, and prints the median times and their ratio old / new. Also prints whether EXPLAIN shows the source
filter below the window.

Usage: python benchmarks/bench_queries.py [--runs 2000] [--points 1000] [--sources 20] [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.connect import open_rw  # noqa: E402
from data.migrate import migrate  # noqa: E402

#: v_final_loss / v_pretrain_points as migration 0030 defined them (the baseline).
OLD_VIEWS = """
CREATE OR REPLACE TEMP VIEW old_final_loss AS
WITH pts AS (
    SELECT m.run_id, m.segment, m.step, m.value FROM metrics m JOIN runs r ON r.run_id = m.run_id AND m.metric = r.loss_metric
    UNION ALL
    SELECT f.run_id, f.segment, f.step, f.value FROM metric_flags f JOIN runs r ON r.run_id = f.run_id AND f.metric = r.loss_metric
    WHERE f.flag = 'nonfinite'
), ranked AS (
    SELECT run_id, step, value,
           row_number() OVER (PARTITION BY run_id ORDER BY (step IS NULL) DESC, segment DESC, step DESC) AS rk
    FROM pts
)
SELECT r.run_id, r.kind, r.source, r.corpus, r.recipe, r.model_family,
       r.n_params, r.n_params_nonembed, r.n_tokens, r.compute_flops, r.compute_source, r.budget_flops,
       r.n_tokens / r.n_params AS tokens_per_param,
       r.loss_metric, k.value AS final_loss, k.step AS final_step
FROM runs r JOIN ranked k ON k.run_id = r.run_id AND k.rk = 1
WHERE isfinite(k.value);
CREATE OR REPLACE TEMP VIEW old_pretrain_points AS
SELECT run_id, source, corpus, recipe, model_family, n_params, n_params_nonembed, n_tokens, compute_flops,
       compute_source, budget_flops, tokens_per_param, loss_metric, final_loss AS loss
FROM old_final_loss
WHERE kind = 'pretrain' AND n_params > 0 AND n_tokens > 0 AND compute_flops > 0 AND final_loss > 0;
"""


def build(con, n_runs: int, n_points: int, n_sources: int) -> None:
    """Seeded synthetic runs and loss curves (L = E + A / step^0.3 + noise), all in DuckDB SQL."""
    con.execute("SELECT setseed(0.42)")
    con.execute(
        """
        INSERT INTO runs (run_id, kind, source, model_family, n_params, n_tokens, compute_flops, compute_source,
                          corpus, recipe, loss_metric, file_id, source_file, ingested_at)
        SELECT printf('run%06d', i), 'pretrain', printf('src%03d', i % ?), 'synthetic',
               1e7 * (1 + i % 50), 2e8 * (1 + i % 37), 6 * 1e7 * (1 + i % 50) * 2e8 * (1 + i % 37), '6ND',
               'c' || (i % 3), 'r' || (i % 2), 'loss', 1, 'synthetic.jsonl', TIMESTAMP '2026-01-01'
        FROM range(?) t(i)
        """,
        [n_sources, n_runs],
    )
    con.execute(
        """
        INSERT INTO metrics (run_id, step, metric, value, file_id, segment)
        SELECT printf('run%06d', i), s * 10, 'loss', 1.8 + 4.0 / pow(s * 10 + 1, 0.3) + 0.01 * random(), 1, 0
        FROM range(?) t(i), range(1, ? + 1) u(s)
        """,
        [n_runs, n_points],
    )


def timed(con, sql: str, params: list, repeat: int) -> tuple[float, list]:
    """Median wall time (s) of ``repeat`` runs and the sorted rows of the last one."""
    times, rows = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = con.execute(sql, params).fetchall()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), sorted(rows, key=str)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--sources", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="200 runs x 100 points, 3 repeats (smoke test)")
    a = ap.parse_args(argv)
    if a.quick:
        a.runs, a.points, a.repeat = 200, 100, 3
    with tempfile.TemporaryDirectory() as tmp:
        con = open_rw(Path(tmp) / "bench.duckdb")
        migrate(con)
        t0 = time.perf_counter()
        build(con, a.runs, a.points, a.sources)
        n = con.execute("SELECT count(*) FROM metrics").fetchone()[0]
        print(
            f"synthetic store: {a.runs:,} runs, {n:,} metric rows, {a.sources} sources "
            f"(built in {time.perf_counter() - t0:.1f} s)"
        )
        con.execute(OLD_VIEWS)
        plan = "\n".join(
            r[1] for r in con.execute("EXPLAIN SELECT * FROM v_final_loss WHERE source = 'src001'").fetchall()
        )
        below = plan.rfind("WINDOW") < plan.rfind("src001")
        print(f"EXPLAIN: source filter below the window in v_final_loss: {'yes' if below else 'no'}")
        ok = True
        queries = [
            ("v_pretrain_points WHERE source = ?", "old_pretrain_points", "v_pretrain_points"),
            ("v_final_loss WHERE source = ?", "old_final_loss", "v_final_loss"),
        ]
        print(f"{'query':40s} {'old (s)':>9s} {'new (s)':>9s} {'ratio old/new':>14s}")
        for label, old, new in queries:
            t_old, r_old = timed(con, f"SELECT * FROM {old} WHERE source = ?", ["src001"], a.repeat)
            t_new, r_new = timed(con, f"SELECT * FROM {new} WHERE source = ?", ["src001"], a.repeat)
            same = r_old == r_new and len(r_new) > 0
            ok &= same
            print(
                f"{label:40s} {t_old:9.4f} {t_new:9.4f} {t_old / t_new:13.1f}x{'' if same else '  MISMATCH'}"
            )
        con.close()
    print("OK: identical rows" if ok else "FAIL: old and new views disagree")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
