"""``scaling ingest --watch``: new and growing files are picked up; only what is new is added."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from data.connect import open_ro
from data.ingest.watch import watch

META = {"type": "run", "run_id": "live", "kind": "pretrain", "n_params": 1e8, "n_tokens": 2e9}


def n_points(db: Path) -> int:
    con = open_ro(db)
    try:
        return con.execute("SELECT count(*) FROM metrics WHERE run_id = 'live'").fetchone()[0]
    finally:
        con.close()


def wait_for(cond, timeout=20.0):
    t = time.monotonic()
    while not cond():
        if time.monotonic() - t > timeout:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_watch_picks_up_a_new_file_then_its_appended_lines(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    db = tmp_path / "db.duckdb"
    lines: list[str] = []
    rounds: list = []
    stop = threading.Event()
    th = threading.Thread(
        target=watch,
        args=(db, [d]),
        kwargs=dict(interval_s=0.05, stop=stop, echo=lines.append, on_round=rounds.append),
    )
    th.start()
    try:
        log = d / "live.jsonl"
        with open(log, "w") as fh:
            fh.write(json.dumps(META) + "\n")
            fh.write(json.dumps({"step": 1, "train/loss": 5.0}) + "\n")
            fh.write(json.dumps({"step": 2, "train/loss": 4.5, "val/loss": 4.7}) + "\n")
        wait_for(lambda: any("loaded" in ln for ln in lines))
        assert n_points(db) == 3
        assert lines[-1].endswith("1 runs, 3 rows (+3 new)")
        n_rounds = len(rounds)
        with open(log, "a") as fh:  # the job logs two more steps
            fh.write(json.dumps({"step": 3, "train/loss": 4.1}) + "\n")
            fh.write(json.dumps({"step": 4, "train/loss": 3.9, "val/loss": 4.0}) + "\n")
        wait_for(lambda: len(rounds) > n_rounds and sum("loaded" in ln for ln in lines) >= 2)
        assert n_points(db) == 6
        assert lines[-1].endswith("1 runs, 6 rows (+3 new)")
        time.sleep(0.2)  # nothing changed: no further rounds
        n_rounds = len(rounds)
        time.sleep(0.2)
        assert len(rounds) == n_rounds
    finally:
        stop.set()
        th.join(10)
    assert not th.is_alive()


def test_watch_rejects_a_non_positive_interval(tmp_path):
    with pytest.raises(ValueError, match="interval must be > 0"):
        watch(tmp_path / "db.duckdb", [tmp_path], interval_s=0)


def test_cli_watch_stops_on_sigterm(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    (d / "live.jsonl").write_text(json.dumps(META) + "\n" + json.dumps({"step": 1, "loss": 2.0}) + "\n")
    db = tmp_path / "db.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "ingest", str(d), "--db", str(db), "--watch", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out = []
        for line in proc.stdout:
            out.append(line)
            if line.startswith("loaded"):
                break
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    assert "1 runs, 1 rows (+1 new)" in "".join(out)
    assert rest.strip().startswith("stopped after 1 ingest rounds")
