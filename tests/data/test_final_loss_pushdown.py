"""v_final_loss pushes a source filter below its window (migration 0070, issue 12) without changing its rows.

Speed is reported by benchmarks/bench_queries.py (old / new ratio in one run), never asserted here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from data.connect import open_ro

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_queries.py"

PUBLIC_COLUMNS = [
    "run_id", "kind", "source", "corpus", "recipe", "model_family", "n_params", "n_params_nonembed", "n_tokens",
    "compute_flops", "compute_source", "budget_flops", "tokens_per_param", "loss_metric", "final_loss", "final_step",
]  # fmt: skip


def test_bench_quick_old_and_new_views_agree_and_filter_is_pushed_down():
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "source filter below the window in v_final_loss: yes" in proc.stdout
    assert "ratio old/new" in proc.stdout and "OK: identical rows" in proc.stdout


def test_final_loss_columns_unchanged_and_filtered_rows_equal_unfiltered(tmp_path):
    from app.services.demo import demo_paths
    from app.settings import SAMPLES_DIR
    from data.ingest import ingest_paths

    db = tmp_path / "s.duckdb"
    ingest_paths(db, [p for p in demo_paths(SAMPLES_DIR) if p.name in ("llama3_isoflops", "marin_isoflops")])
    con = open_ro(db)
    try:
        cols = [r[0] for r in con.execute("DESCRIBE v_final_loss").fetchall()]
        full = con.sql("SELECT * FROM v_final_loss ORDER BY run_id").pl()
        srcs = sorted(set(full["source"].to_list()))
        per_src = {
            s: con.sql("SELECT * FROM v_final_loss WHERE source = ? ORDER BY run_id", params=[s]).pl()
            for s in srcs
        }
    finally:
        con.close()
    assert cols == PUBLIC_COLUMNS
    assert len(srcs) == 2 and full.height > 20
    for s, part in per_src.items():
        assert part.height > 0
        assert part.equals(full.filter(full["source"] == s))
