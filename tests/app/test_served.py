"""A served app under a team's use: concurrent sessions on every page while ingests replace the database.

Starts ``scaling serve`` (a real process on a free 127.0.0.1 port) on a copy of the demo database, then drives
4 concurrent sessions over Streamlit's own WebSocket protocol (``scripts/st_session.py``: the messages a browser
tab exchanges) through every page of the navigation while ``scaling ingest`` adds three new runs in separate
processes. Asserts: the health endpoint answers throughout (no hang), no page shows an exception, every session
sees the new runs afterwards without a restart, an idle session gets them by the app's own refresh timer, and a
WebSocket with a foreign Host header (DNS rebinding) is refused. About a minute on two cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from app.settings import SAMPLES_DIR
from tests.app.serving import scaling_serve, st_session

REPO = Path(__file__).resolve().parents[2]

N_SESSIONS = 4
N_NEW_RUNS = 3


def _new_run_logs(folder: Path, n: int) -> list[Path]:
    """``n`` JSON Lines run logs: a real sample run's records under new run ids (one file each)."""
    src = sorted((SAMPLES_DIR / "misfitting_li2025").glob("*.jsonl"))[0]
    header, *rest = src.read_text().splitlines()
    out = []
    for i in range(n):
        run = json.loads(header)
        run["run_id"] = f"served-test/new-run-{i}"
        path = folder / f"new-run-{i}.jsonl"
        path.write_text("\n".join([json.dumps(run), *rest]) + "\n")
        out.append(path)
    return out


class HealthWatch(threading.Thread):
    """Polls /_stcore/health every 0.5 s; records failures and the slowest answer."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base, self.stop, self.failures, self.slowest, self.n = base, threading.Event(), [], 0.0, 0

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(self.base + "/_stcore/health", timeout=10) as r:
                    assert r.status == 200
            except Exception as e:
                self.failures.append(f"{type(e).__name__}: {e}")
            self.slowest = max(self.slowest, time.perf_counter() - t0)
            self.n += 1
            self.stop.wait(0.5)


def _runs(run) -> int:
    return int(run.metrics["runs"].replace(",", ""))


def test_concurrent_sessions_every_page_during_ingest(demo_db, tmp_path):
    import shutil

    db = tmp_path / "team.duckdb"
    shutil.copy(demo_db, db)
    logs = _new_run_logs(tmp_path, N_NEW_RUNS)
    env = {"SCALING_REFRESH_S": "1"}
    with scaling_serve(db, env=env, log=tmp_path / "serve.log") as (_proc, base, _port):
        with st_session.Session(base) as probe:
            first = probe.run_page("")
            pages = probe.pages
        assert first.titles == ["Overview"] and not first.exceptions
        runs_before = _runs(first)
        assert len(pages) >= 9 and pages[0] == ""

        # an idle session on the Overview page: it must get the new runs from the app's refresh timer alone
        idle = st_session.Session(base)
        assert _runs(idle.run_page("")) == runs_before
        assert idle.auto_reruns, "the app registers no refresh timer"

        health = HealthWatch(base)
        health.start()
        results: dict[int, list] = {}
        errors: list[str] = []

        def visit(i: int) -> None:
            try:
                with st_session.Session(base) as s:
                    order = (
                        pages[i % len(pages) :] + pages[: i % len(pages)]
                    )  # sessions start on different pages
                    results[i] = [s.run_page(p, timeout_s=150) for p in order]
            except Exception as e:
                errors.append(f"session {i}: {type(e).__name__}: {e}")

        def ingest() -> None:
            for log in logs:
                cmd = [sys.executable, "-m", "app", "ingest", str(log), "--db", str(db), "--quiet"]
                rc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
                if rc.returncode:
                    errors.append(f"ingest {log.name}: exit {rc.returncode}: {rc.stderr[-500:]}")
                time.sleep(1.0)

        threads = [threading.Thread(target=visit, args=(i,)) for i in range(N_SESSIONS)]
        threads.append(threading.Thread(target=ingest))
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        elapsed = time.monotonic() - t0
        health.stop.set()
        health.join(timeout=15)

        assert errors == []
        assert not any(t.is_alive() for t in threads), "a session hung"
        assert health.failures == [], health.failures[:3]
        assert health.n >= 2 and health.slowest < 10
        for i, runs in results.items():
            assert [r.page for r in runs] == pages[i % len(pages) :] + pages[: i % len(pages)]
            for r in runs:
                assert r.finished, (i, r.page, r.status)
                assert not r.page_not_found, (i, r.page)
                assert r.exceptions == [], (i, r.page, r.exceptions)
                assert r.titles, (i, r.page)

        # every session sees the new runs afterwards, without a restart
        with st_session.Session(base) as s:
            assert _runs(s.run_page("")) == runs_before + N_NEW_RUNS
        # the idle session's refresh timer reran its page with the new data
        deadline = time.monotonic() + 30
        seen = None
        while time.monotonic() < deadline:
            rerun = idle.tick(timeout_s=60)
            if rerun is not None and "runs" in rerun.metrics:
                seen = _runs(rerun)
                break
            time.sleep(1)
        idle.close()
        assert seen == runs_before + N_NEW_RUNS

        # DNS rebinding: a WebSocket whose Host header names another site is refused
        with pytest.raises(Exception, match="HTTP 403"):
            st_session.Session(base, host_header="rebind.attacker.example")
        with st_session.Session(base, host_header="localhost") as local:  # the allowed names still work
            assert local.run_page("").titles == ["Overview"]
    print(f"{N_SESSIONS} sessions x {len(pages)} pages + {N_NEW_RUNS} ingests in {elapsed:.0f} s")
