"""Helpers for tests that run `scaling serve` as a real process: free port, health wait, process tree, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 by the OS)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when a new server could listen on ``port`` (as servers do, with SO_REUSEADDR: TIME_WAIT is fine)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def healthy(base: str, timeout_s: float = 2.0) -> bool:
    """True when ``base/_stcore/health`` answers 200 within ``timeout_s``."""
    try:
        with urllib.request.urlopen(base + "/_stcore/health", timeout=timeout_s) as r:
            return r.status == 200
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    """Process ids of every live descendant of ``pid`` (from /proc; Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if fields[0] == "Z":  # zombie: already dead
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text.rsplit(")", 1)[1].split()[0] != "Z"


@contextlib.contextmanager
def scaling_serve(
    db: Path, *, env: dict[str, str] | None = None, start_timeout_s: float = 90.0, log: Path | None = None
) -> Iterator[tuple[subprocess.Popen, str, int]]:
    """Run ``python -m app serve --db DB --host 127.0.0.1 --port FREE``; yields (process, base URL, port).

    Always stops it: SIGTERM, then SIGKILL of its process tree if it is still there after 20 s.

    Raises
    ------
    RuntimeError
        If the server does not answer its health check within ``start_timeout_s`` (with the end of its log).
    """
    port = free_port()
    log = log or Path(os.devnull)
    full_env = dict(os.environ, SCALING_BOOTSTRAP="20", **(env or {}))
    cmd = [sys.executable, "-m", "app", "serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while not healthy(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = Path(log).read_text()[-3000:] if log != Path(os.devnull) else ""
                raise RuntimeError(f"scaling serve did not come up (exit {proc.poll()}):\n{tail}")
            time.sleep(0.3)
        yield proc, base, port
    finally:
        tree = descendants(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
