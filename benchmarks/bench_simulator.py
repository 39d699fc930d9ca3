"""Benchmark: the budget simulator's slider answer and full optimisation, vectorised vs a loop over replicates.

Usage::

    python benchmarks/bench_simulator.py                 # builds the demo store in a temp dir, 200 replicates
    python benchmarks/bench_simulator.py --db var/demo.duckdb
    python benchmarks/bench_simulator.py --quick --db DB  # CI smoke: 10 replicates

On the demo data (the bundled samples) with the page's defaults (1e24 FLOPs, 1e9 queries, pass@k, ScaleRL 8B):

* build: fitting the links on the store (done once per configuration and cached by the page);
* slider answer: ``split_payload`` (the split's metric with its band and the marginal return of each axis) -- what
  the page computes when a slider moves;
* full optimisation: ``optimum_payload`` (grid + SciPy polish, band over replicates, per-replicate optima).

Each is timed against a baseline measured in the same run: the same computation with the chain evaluated one
replicate at a time (a Python loop over R + 1 single-replicate chains; for the optimisation, re-optimising each
replicate). Prints the ratios and whether the targets (slider < 1 s, optimisation < 10 s) are met; exits 1 if the
vectorised and looped answers disagree. No absolute thresholds are enforced.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from analysis.simulator import Chain, optimise  # noqa: E402


def single(chain: Chain, i: int) -> Chain:
    """The chain restricted to parameter row i (0 = point estimate), as a chain without replicates."""
    take = lambda d: {k: v[i : i + 1] for k, v in d.items()}  # noqa: E731
    return dataclasses.replace(
        chain,
        law=take(chain.law),
        acc=take(chain.acc),
        tail=chain.tail[i : i + 1],
        rl=None if chain.rl is None else take(chain.rl),
        assumption_draws=take(chain.assumption_draws),
        n_replicates=0,
    )


def timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="DuckDB store (default: ingest the bundled samples into a temp dir)")
    ap.add_argument("--quick", action="store_true", help="10 replicates (CI smoke)")
    ap.add_argument(
        "--replicates", type=int, default=None, help="band replicates (default 200, 10 with --quick)"
    )
    args = ap.parse_args(argv)
    R = args.replicates or (10 if args.quick else 200)

    from app.services import simulator as sim
    from data.connect import open_ro

    tmp = None
    db = args.db
    if db is None:
        from app.services.demo import demo_paths
        from app.settings import SAMPLES_DIR
        from data.ingest import ingest_paths

        tmp = tempfile.TemporaryDirectory()
        db = str(Path(tmp.name) / "demo.duckdb")
        t = time.perf_counter()
        ingest_paths(db, demo_paths(SAMPLES_DIR))
        print(f"demo store built in {time.perf_counter() - t:.1f} s: {db}")
    cfg = sim.SimConfig(n_replicates=R, seed=0)
    budget = (1e24, "flops", 1e9, 70.0, 215.0)
    split = (0.8, 0.05, 0.15)
    con = open_ro(db)
    try:
        t_build, links = timed(lambda: sim.load_links(con, cfg))
    finally:
        con.close()
    chain = sim.chain_from_links(links, cfg)
    print(
        f"configuration: {R} replicates, budget 1e24 FLOPs, 1e9 queries, split {split}, {cfg.test_time}, {cfg.rl}"
    )
    print(f"build (fit the links on the store, cached by the page): {t_build:.3f} s")

    # --- full optimisation -------------------------------------------------------------------------------------
    t_opt, (payload, opt) = timed(lambda: sim.optimum_payload(chain, cfg, budget))

    n_loop = R + 1 if not args.quick else min(R + 1, 4)
    t_loop_opt, per = timed(
        lambda: [
            optimise(single(chain, i), sim.Budget(*budget), replicate_optima=False) for i in range(n_loop)
        ]
    )
    t_loop_opt *= (R + 1) / n_loop
    ok = abs(per[0].metric["value"] - opt.metric["value"]) < 1e-9

    # --- slider answer -----------------------------------------------------------------------------------------
    t_slider, sp = timed(lambda: sim.split_payload(chain, budget, split, opt), repeat=3)

    def loop_slider():
        vals = []
        for i in range(R + 1):
            c = single(chain, i)
            o = per[i] if i < len(per) else per[0]
            vals.append(sim.split_payload(c, budget, split, o)["split"]["metric"]["value"])
        return vals

    t_loop_slider, vals = timed(loop_slider)
    ok &= abs(vals[0] - sp["split"]["metric"]["value"]) < 1e-9

    print(
        f"slider answer (split + band + marginal returns): {t_slider:.3f} s vectorised, "
        f"{t_loop_slider:.3f} s loop over replicates; speed ratio loop / vectorised {t_loop_slider / t_slider:.1f}x;"
        f" target < 1 s: {'OK' if t_slider < 1 else 'SLOW'}"
    )
    print(
        f"full optimisation with a {R}-replicate band: {t_opt:.3f} s vectorised, {t_loop_opt:.3f} s re-optimising "
        f"each replicate{f' (extrapolated from {n_loop})' if n_loop < R + 1 else ''}; speed ratio loop / vectorised "
        f"{t_loop_opt / t_opt:.1f}x; target < 10 s: {'OK' if t_opt < 10 else 'SLOW'}"
    )
    print(
        f"optimum metric {opt.metric['value']:.4f} [{opt.metric['lo']:.4f}, {opt.metric['hi']:.4f}]; "
        f"split metric {sp['split']['metric']['value']:.4f}"
    )
    reps = np.array([p.metric["value"] for p in per[1:]]) if len(per) > 1 else np.array([])
    if reps.size:
        print(
            f"re-optimised replicate metrics: median {np.median(reps):.4f} (the band holds the decision fixed)"
        )
    if tmp is not None:
        tmp.cleanup()
    print(
        "OK: vectorised and looped answers agree" if ok else "MISMATCH between vectorised and looped answers"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
