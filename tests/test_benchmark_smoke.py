"""The Chinchilla benchmark's quick mode runs and its fast fit reaches the reference optimum (exit code 0).

Speed is reported by the benchmark (ratios measured in one run), never asserted here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_chinchilla.py"


def test_bench_quick_reaches_same_optimum_and_prints_ratios():
    proc = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "speed ratio reference / fast" in proc.stdout
    assert "bootstrap, 1000 replicates" in proc.stdout
    assert "OK: same optimum" in proc.stdout
