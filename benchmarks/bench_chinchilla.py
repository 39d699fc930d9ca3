"""Benchmark: reference Chinchilla fit (4,500-start L-BFGS-B) vs variable projection, and the bootstrap.

Usage::

    python benchmarks/bench_chinchilla.py            # full: all 4,500 reference starts (a few minutes)
    python benchmarks/bench_chinchilla.py --quick    # CI: a subset of starts, time extrapolated (< 1 min)

Builds a 240-point problem (24 sizes x 10 token budgets) from synthetic runs with known parameters (the
unrounded Chinchilla values, 1% log-noise, fixed seed), times both methods of
``analysis.chinchilla.fit_chinchilla`` in the same process, and prints the speed ratio, the relative
objective difference and the largest relative parameter difference. Then times the run-level bootstrap
(``analysis.uncertainty.chinchilla_bootstrap``, warm-started). Exits with status 1 if the fast method's
optimum differs from the reference beyond tolerance (objective 1e-6 relative, parameters 0.5%).
Ratios are printed, no absolute time thresholds are enforced.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from analysis.chinchilla import chinchilla_grid, fit_chinchilla  # noqa: E402
from analysis.synthetic import CHINCHILLA_UNROUNDED, synthetic_chinchilla_runs  # noqa: E402
from analysis.uncertainty import chinchilla_bootstrap  # noqa: E402

OBJ_TOL = 1e-6
PARAM_TOL = 5e-3
KEYS = ("E", "A", "B", "alpha", "beta")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="subset of reference starts; extrapolate time")
    ap.add_argument("--starts", type=int, default=150, help="reference starts used with --quick")
    ap.add_argument(
        "--boot", type=int, default=None, help="bootstrap replicates to run (default 1000, 250 quick)"
    )
    ap.add_argument("--seed", type=int, default=20241129)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    df = synthetic_chinchilla_runs(rng, CHINCHILLA_UNROUNDED, n_sizes=24, n_per_size=10, noise_sd=0.01)
    N, D, L = (df[c].to_numpy() for c in ("n_params", "n_tokens", "loss"))
    print(f"problem: {N.size} synthetic runs, true params {CHINCHILLA_UNROUNDED}, seed {args.seed}")

    n_full = len(chinchilla_grid())
    n_ref = args.starts if args.quick else None
    t0 = time.perf_counter()
    ref = fit_chinchilla(N, D, L, method="lbfgs", n_starts=n_ref)
    t_ref_run = time.perf_counter() - t0
    t_ref = t_ref_run / ref.n_starts * n_full
    label = f"{ref.n_starts} of {n_full} starts, extrapolated" if args.quick else f"{n_full} starts"
    print(
        f"reference L-BFGS-B ({label}): {t_ref:.2f} s  (ran {t_ref_run:.2f} s, {t_ref_run / ref.n_starts * 1e3:.1f} ms/start)"
    )

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fast = fit_chinchilla(N, D, L, method="vpnls")
        times.append(time.perf_counter() - t0)
    t_fast = float(np.median(times))
    print(f"variable projection (median of 3): {t_fast:.3f} s")
    print(f"speed ratio reference / fast: {t_ref / t_fast:.0f}x")

    d_obj = abs(fast.objective - ref.objective) / ref.objective
    d_par = {k: abs(fast.params[k] / ref.params[k] - 1) for k in KEYS}
    worst = max(d_par, key=d_par.get)
    print(
        f"objective: reference {ref.objective:.10e}, fast {fast.objective:.10e}, relative difference {d_obj:.2e}"
    )
    print(f"max parameter relative difference: {d_par[worst]:.2e} ({worst})")
    print("fast params: " + ", ".join(f"{k}={fast.params[k]:.6g}" for k in KEYS))
    print(f"grad norm: reference {ref.grad_norm:.2e}, fast {fast.grad_norm:.2e}")

    n_boot = args.boot if args.boot is not None else (250 if args.quick else 1000)
    t0 = time.perf_counter()
    boot = chinchilla_bootstrap(N, D, L, np.arange(N.size), n_boot=n_boot, rng=rng, full_fit=fast)
    t_boot = time.perf_counter() - t0
    t_1000 = t_boot / n_boot * 1000
    extra = "" if n_boot == 1000 else f" (extrapolated from {n_boot}: {t_boot:.2f} s)"
    print(f"bootstrap, 1000 replicates: {t_1000:.2f} s{extra}; failed {boot.n_failed()}")
    gain = boot.replicates["grid_check_gain"]
    print(f"  grid checks: {int(np.sum(np.isfinite(gain)))}, max objective gain {np.nanmax(gain):.1e}")
    lo, hi = boot.interval("a")
    print(f"  a = beta/(alpha+beta): {fast.derived['a']:.4f}, 95% interval [{lo:.4f}, {hi:.4f}]")

    ok = d_obj <= OBJ_TOL and d_par[worst] <= PARAM_TOL
    print("OK: same optimum" if ok else f"FAIL: optimum differs (tolerance {OBJ_TOL:g} / {PARAM_TOL:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
