"""Load benchmark: many concurrent sessions against one `scaling serve` on a database of >= 10 million metric rows.

Usage::

    python benchmarks/bench_load.py                 # full: 20 sessions for 180 s on 10.0M synthetic metric rows
    python benchmarks/bench_load.py --quick         # smoke: 4 sessions for 20 s on 0.2M rows (about 2 minutes)
    python benchmarks/bench_load.py --sessions 20 --duration 300 --runs 2000 --steps 5000

Database: the bundled real samples (``data/samples``, through the real ingest) plus SYNTHETIC pretraining runs in
their own source ``synthetic_load`` (never mixed with real data): ``--runs`` runs x ``--steps`` logged steps of a
Chinchilla-shaped loss curve with seeded pseudo-random N, D and noise, generated inside DuckDB from ``range()`` and
``hash()`` (deterministic for a seed). It is cached under ``var/bench_load/`` and reused while the parameters match.

Measurement, all in one run so the figures are comparable: the server is started (``python -m app serve`` on a
free 127.0.0.1 port), one session visits every page once (cold: fills the caches), then a single session visits
every page ``--baseline-rounds`` times (the baseline), then ``--sessions`` sessions loop over every page (each
starting on a different one) for ``--duration`` seconds over Streamlit's WebSocket protocol
(``scripts/st_session.py``) while a health checker polls ``/_stcore/health`` and a sampler reads the server's
resident memory from /proc. Half way through, ``scaling ingest`` adds one new run in a separate process (so the
sessions recompute on the new file version under load) and the run count must have grown by one at the end.
Prints errors (exceptions on a page, timeouts, dropped connections, failed health checks: must be 0), page time
p50/p95 under load and for the single session, their ratio, the slowest health answer and the peak server RSS.
Exit status 1 if any error occurred or the new run is not visible.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
_spec = importlib.util.spec_from_file_location("st_session", REPO / "scripts" / "st_session.py")
st_session = sys.modules.setdefault("st_session", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(st_session)

SOURCE = "synthetic_load"
FILE_PATH = "synthetic://bench_load"


def _spec_text(runs: int, steps: int, seed: int) -> str:
    return f"runs={runs};steps={steps};seed={seed};v1"


def build_db(db: Path, runs: int, steps: int, seed: int) -> tuple[Path, int, float]:
    """Build (or reuse) the benchmark database; returns (path, metric rows, seconds spent building).

    Raises
    ------
    RuntimeError
        If the bundled samples fail to ingest.
    """
    from data.connect import open_ro, writable_copy
    from data.ingest import ingest_paths

    spec = _spec_text(runs, steps, seed)
    if db.exists():
        con = open_ro(db)
        try:
            row = con.execute(
                "SELECT content_sha256 FROM ingest_files WHERE path = ?", [FILE_PATH]
            ).fetchone()
            n = con.execute("SELECT count(*) FROM metrics").fetchone()[0]
        finally:
            con.close()
        if row and row[0] == spec:
            return db, n, 0.0
        db.unlink()
    t0 = time.perf_counter()
    db.parent.mkdir(parents=True, exist_ok=True)
    from app.services.demo import demo_paths
    from app.settings import SAMPLES_DIR

    rep = ingest_paths(db, demo_paths(SAMPLES_DIR))
    if rep.count("failed"):
        raise RuntimeError(f"sample ingest failed: {[f.message for f in rep.files if f.status == 'failed']}")
    # u(k) in [0, 1): a seeded hash of (seed, run, k), the same whatever the thread count
    u = "(hash({seed}, i, {k}) % 1000000007) / 1000000007.0"
    with writable_copy(db) as con:
        fid = con.execute("SELECT nextval('file_id_seq')").fetchone()[0]
        con.execute(
            "INSERT INTO ingest_files (file_id, path, content_sha256, format, status, n_runs, n_rows, n_rejects, "
            "message, ingested_at) VALUES (?, ?, ?, 'synthetic', 'loaded', ?, ?, 0, "
            "'SYNTHETIC load-benchmark runs (benchmarks/bench_load.py), not real data', now())",
            [fid, FILE_PATH, spec, runs, runs * (steps + 1)],
        )
        # N log-uniform in [1e7, 1e10]; tokens per parameter log-uniform in [5, 100]; C = 6ND
        con.execute(
            f"""
            INSERT INTO runs (run_id, kind, source, model_family, n_params, n_tokens, compute_flops, compute_source,
                              corpus, seed, loss_metric, file_id, source_file, ingested_at)
            SELECT 'synthetic/run-' || i, 'pretrain', '{SOURCE}', 'synthetic', n, n * tpp, 6 * n * n * tpp, '6ND',
                   'synthetic', {seed}, 'train/loss', {fid}, '{FILE_PATH}', now()
            FROM (SELECT i, exp(ln(1e7) + {u.format(seed=seed, k=1)} * ln(1e3)) AS n,
                         exp(ln(5) + {u.format(seed=seed, k=2)} * ln(20)) AS tpp
                  FROM range({runs}) t(i))
            """
        )
        # loss at a fraction f of training: E + A/N^alpha + B/(f D)^beta (Chinchilla values) times 1% noise
        con.execute(
            f"""
            INSERT INTO metrics (run_id, step, tokens_seen, flops_seen, metric, value, file_id)
            SELECT r.run_id, s.j + 1, r.n_tokens * (s.j + 1) / {steps}, r.compute_flops * (s.j + 1) / {steps},
                   'train/loss',
                   (1.69 + 406.4 / pow(r.n_params, 0.34) + 410.7 / pow(r.n_tokens * (s.j + 1) / {steps}, 0.28))
                   * (1 + 0.01 * ((hash({seed}, r.run_id, s.j) % 2000001) / 1000000.0 - 1)),
                   {fid}
            FROM runs r, range({steps}) s(j)
            WHERE r.source = '{SOURCE}'
            """
        )
        n = con.execute("SELECT count(*) FROM metrics").fetchone()[0]
    return db, n, time.perf_counter() - t0


def _new_run_log(folder: Path) -> Path:
    """One JSON Lines run log: a real sample run's records under a new run id (added during the load)."""
    from app.settings import SAMPLES_DIR

    src = sorted((SAMPLES_DIR / "misfitting_li2025").glob("*.jsonl"))[0]
    header, *rest = src.read_text().splitlines()
    run = json.loads(header)
    run["run_id"] = f"bench-load/new-run-{int(time.time())}"
    path = folder / "bench-load-new-run.jsonl"
    path.write_text("\n".join([json.dumps(run), *rest]) + "\n")
    return path


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    xs = sorted(values)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="smoke test: 4 sessions, 20 s, 200 runs x 1000 steps"
    )
    ap.add_argument("--sessions", type=int, default=None, help="concurrent sessions (default 20; quick 4)")
    ap.add_argument("--duration", type=float, default=None, help="seconds of load (default 180; quick 20)")
    ap.add_argument("--runs", type=int, default=None, help="synthetic runs (default 2000; quick 200)")
    ap.add_argument(
        "--steps", type=int, default=None, help="logged steps per synthetic run (default 5000; quick 1000)"
    )
    ap.add_argument("--seed", type=int, default=20241129, help="seed of the synthetic data")
    ap.add_argument(
        "--baseline-rounds", type=int, default=2, help="rounds of every page for the single session"
    )
    ap.add_argument("--db", default=None, help="database file (default var/bench_load/<spec>.duckdb, reused)")
    ap.add_argument("--no-ingest", action="store_true", help="do not ingest a new run during the load")
    args = ap.parse_args(argv)
    sessions = args.sessions or (4 if args.quick else 20)
    duration = args.duration or (20.0 if args.quick else 180.0)
    runs = args.runs or (200 if args.quick else 2000)
    steps = args.steps or (1000 if args.quick else 5000)
    db = (
        Path(args.db) if args.db else REPO / "var" / "bench_load" / f"load_{runs}x{steps}_s{args.seed}.duckdb"
    )

    db, n_rows, t_build = build_db(db, runs, steps, args.seed)
    size_mb = db.stat().st_size / 1e6
    how = f"built in {t_build:.0f} s" if t_build else "reused"
    print(
        f"database: {db} ({size_mb:.0f} MB, {n_rows:,} metric rows, {runs} synthetic runs x {steps} steps; {how})"
    )

    errors: list[str] = []
    log = db.with_suffix(".serve.log")
    with st_session.scaling_serve(db, env={"SCALING_BOOTSTRAP": "20"}, log=log) as (proc, base, _port):
        tree = [proc.pid, *st_session.descendants(proc.pid)]
        peak = {"rss": 0}
        done = threading.Event()

        def sample_rss() -> None:
            while not done.is_set():
                live = [proc.pid, *st_session.descendants(proc.pid)]
                peak["rss"] = max(peak["rss"], sum(_rss_kib(p) for p in live if p != proc.pid))
                done.wait(0.5)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()

        # cold: the first visit of every page fills the caches
        with st_session.Session(base) as s:
            t0 = time.perf_counter()
            first = s.run_page("", timeout_s=300)
            pages = s.pages
            cold = [first] + [s.run_page(p, timeout_s=300) for p in pages[1:]]
            t_cold = time.perf_counter() - t0
        runs_before = int(first.metrics["runs"].replace(",", ""))
        for r in cold:
            if r.exceptions:
                errors.append(f"cold {r.page or 'overview'}: {r.exceptions[0]}")
        print(f"cold visit of {len(pages)} pages (fills the caches): {t_cold:.1f} s")

        # baseline: one session alone, warm caches
        base_times: list[float] = []
        with st_session.Session(base) as s:
            s.run_page("", timeout_s=300)
            for _ in range(args.baseline_rounds):
                for p in pages:
                    r = s.run_page(p, timeout_s=300)
                    base_times.append(r.seconds)
                    if r.exceptions:
                        errors.append(f"baseline {p or 'overview'}: {r.exceptions[0]}")

        # load: N sessions looping over every page
        load_times: list[float] = []
        health_times: list[float] = []
        lock = threading.Lock()
        stop = threading.Event()
        n_pages = [0]

        def user(i: int) -> None:
            try:
                with st_session.Session(base) as s:
                    k = i
                    while not stop.is_set():
                        p = pages[k % len(pages)]
                        k += 1
                        r = s.run_page(p, timeout_s=300)
                        with lock:
                            load_times.append(r.seconds)
                            n_pages[0] += 1
                            if r.exceptions:
                                errors.append(f"session {i} {p or 'overview'}: {r.exceptions[0]}")
                            if not r.finished or r.page_not_found:
                                errors.append(f"session {i} {p or 'overview'}: {r.status or 'not found'}")
            except Exception as e:
                with lock:
                    errors.append(f"session {i}: {type(e).__name__}: {e}")

        def health() -> None:
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    with urllib.request.urlopen(base + "/_stcore/health", timeout=30) as r:
                        ok = r.status == 200
                except Exception as e:
                    ok = False
                    with lock:
                        errors.append(f"health: {type(e).__name__}: {e}")
                with lock:
                    health_times.append(time.perf_counter() - t)
                    if not ok:
                        errors.append("health: not 200")
                stop.wait(1.0)

        threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(sessions)]
        threads.append(threading.Thread(target=health, daemon=True))
        t0 = time.monotonic()
        for t in threads:
            t.start()
        ingest_s = None
        if not args.no_ingest:
            time.sleep(duration / 2)
            cmd = [
                sys.executable,
                "-m",
                "app",
                "ingest",
                str(_new_run_log(db.parent)),
                "--db",
                str(db),
                "--quiet",
            ]
            ti = time.perf_counter()
            rc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
            ingest_s = time.perf_counter() - ti
            if rc.returncode:
                errors.append(f"ingest: exit {rc.returncode}: {rc.stderr[-300:]}")
        time.sleep(max(0.0, duration - (time.monotonic() - t0)))
        stop.set()
        for t in threads:
            t.join(timeout=330)
        elapsed = time.monotonic() - t0
        hung = sum(t.is_alive() for t in threads)
        if hung:
            errors.append(f"{hung} session(s) still running {elapsed - duration:.0f} s after the end")
        with st_session.Session(base) as s:
            runs_after = int(s.run_page("", timeout_s=300).metrics["runs"].replace(",", ""))
        done.set()
        sampler.join(timeout=5)
        del tree

    expected = runs_before + (0 if args.no_ingest else 1)
    p50_b, p95_b = _pct(base_times, 0.5), _pct(base_times, 0.95)
    p50_l, p95_l = _pct(load_times, 0.5), _pct(load_times, 0.95)
    print(
        f"single session (baseline): {len(base_times)} page runs, p50 {p50_b:.3f} s, p95 {p95_b:.3f} s, "
        f"mean {statistics.fmean(base_times):.3f} s"
    )
    print(
        f"load: {sessions} sessions x {elapsed:.0f} s, {n_pages[0]} page runs "
        f"({n_pages[0] / elapsed:.2f} pages/s), p50 {p50_l:.3f} s, p95 {p95_l:.3f} s"
    )
    print(f"ratio load / single session: p50 {p50_l / p50_b:.1f}x, p95 {p95_l / p95_b:.1f}x")
    print(
        f"health checks: {len(health_times)}, slowest {max(health_times, default=float('nan')):.3f} s"
        + (f"; ingest of one run during the load took {ingest_s:.1f} s" if ingest_s is not None else "")
    )
    print(f"peak server RSS: {peak['rss'] / 1024:.0f} MiB")
    print(f"runs before {runs_before}, after {runs_after} (expected {expected})")
    if runs_after != expected:
        errors.append(f"run count after the load is {runs_after}, expected {expected}")
    print(f"errors: {len(errors)}")
    for e in errors[:20]:
        print(f"  {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
