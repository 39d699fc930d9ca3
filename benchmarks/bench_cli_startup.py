"""Start-up time of the `scaling` CLI: `scaling --help` and an argument error, against a baseline that imports
what the parser used to import (polars, scipy, duckdb via app.services.pretraining), measured in the same run.

Usage: python benchmarks/bench_cli_startup.py [--repeat 5]
Prints the median wall time of each and the ratio baseline / now (higher is better).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "scaling --help": "from app.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
    "scaling fit pretraining --law nope": (
        "from app.cli import main\ntry:\n    main(['fit', 'pretraining', '--law', 'nope'])\nexcept SystemExit:\n    pass"
    ),
    "baseline: parser + the old eager imports": (
        "import app.services.pretraining, app.services.pretraining_cli\nfrom app.cli import build_parser\n"
        "build_parser()"
    ),
}


def _time(code: str, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, check=False)
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per case (median reported)")
    args = ap.parse_args()
    times = {name: _time(code, args.repeat) for name, code in CASES.items()}
    base = times["baseline: parser + the old eager imports"]
    for name, t in times.items():
        print(f"{name:45s} {t:6.3f} s   baseline/this = {base / t:5.1f}x")


if __name__ == "__main__":
    main()
