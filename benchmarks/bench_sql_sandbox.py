"""Per-query overhead of the SQL sandbox (issue 8): a console query and a filtered query through a worker process,
against the same query on the app's read connection, measured in the same run.

    python benchmarks/bench_sql_sandbox.py [--db var/demo.duckdb] [--n 30]

Prints median wall times (queries ``--gap`` seconds apart, as a user types them) and the ratios sandbox / direct, plus the cold start of a worker (first query
after a kill). Needs a database; without ``--db`` it ingests the bundled Gadre et al. sample into a temp file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from data import queries, sandbox  # noqa: E402
from data.connect import open_ro  # noqa: E402
from data.sql_console import run_sql  # noqa: E402

QUERY = "SELECT source, count(*) AS n, min(loss) AS best FROM v_pretrain_points GROUP BY source"


def _median(fn, n: int, gap_s: float) -> float:
    """Median wall time of ``fn()`` over ``n`` calls ``gap_s`` apart (a user does not type back to back)."""
    times = []
    for _ in range(n):
        time.sleep(gap_s)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="DuckDB file (default: the Gadre sample ingested into a temp file)")
    ap.add_argument("--n", type=int, default=30, help="repetitions per measurement")
    ap.add_argument("--gap", type=float, default=0.3, help="seconds between queries (not timed)")
    args = ap.parse_args(argv)
    if args.db:
        db = Path(args.db)
    else:
        from data.ingest import ingest_paths

        db = Path(tempfile.mkdtemp()) / "bench.duckdb"
        ingest_paths(db, [REPO / "data" / "samples" / "gadre_overtraining"])
    con = open_ro(db)
    source = con.execute("SELECT min(source) FROM v_pretrain_points").fetchall()[0][0]

    def direct_console():
        cur = con.cursor()
        try:
            cur.sql(QUERY).pl()
        finally:
            cur.close()

    direct_console()
    t0 = time.perf_counter()
    run_sql(db, "SELECT 1")
    cold_first = time.perf_counter() - t0
    rows = {
        "console query, app connection (direct)": _median(direct_console, args.n, args.gap),
        "console query, sandbox worker (run_sql)": _median(lambda: run_sql(db, QUERY), args.n, args.gap),
        "SELECT 1, sandbox worker (run_sql)": _median(lambda: run_sql(db, "SELECT 1"), args.n, args.gap),
        "pretrain_points, no filter (direct)": _median(
            lambda: queries.pretrain_points(con, source), args.n, args.gap
        ),
        "pretrain_points, with filter (sandbox)": _median(
            lambda: queries.pretrain_points(con, source, "n_params > 0"), args.n, args.gap
        ),
    }
    sandbox.shutdown()
    t0 = time.perf_counter()
    run_sql(db, "SELECT 1")
    cold_again = time.perf_counter() - t0
    con.close()
    print(
        f"database: {db} ({db.stat().st_size / 1e6:.1f} MB), {args.n} repetitions {args.gap:g} s apart, medians"
    )
    for name, s in rows.items():
        print(f"  {name:<45} {s * 1e3:8.1f} ms")
    print(f"  {'first query of the process (worker start)':<45} {cold_first * 1e3:8.1f} ms")
    print(f"  {'first query after the pool was emptied':<45} {cold_again * 1e3:8.1f} ms")
    c = rows["console query, sandbox worker (run_sql)"] / rows["console query, app connection (direct)"]
    f = rows["pretrain_points, with filter (sandbox)"] / rows["pretrain_points, no filter (direct)"]
    print(f"ratio sandbox / direct: console {c:.1f}x, filtered query {f:.1f}x")
    over = rows["console query, sandbox worker (run_sql)"] - rows["console query, app connection (direct)"]
    print(f"per-query overhead of the sandbox: {over * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
