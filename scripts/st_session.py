"""A headless Streamlit session over the app's own WebSocket protocol (what a browser tab does, without a browser).

Used by ``tests/app/test_served.py`` (concurrent sessions while an ingest runs) and ``benchmarks/bench_load.py``
(20 sessions). A :class:`Session` opens ``ws://HOST/_stcore/stream`` with the ``streamlit`` subprotocol, asks the
server to run a page (``BackMsg.rerun_script`` with the page's URL path, as the frontend does on navigation), and
reads ``ForwardMsg`` protobufs until ``script_finished``. It records the page's exceptions (``st.exception`` /
uncaught errors), error alerts, titles and metric tiles, and how long the run took. The message types are
Streamlit's own (``streamlit.proto``); the WebSocket client is the ``websockets`` package's synchronous API.

:func:`scaling_serve` runs ``python -m app serve`` on a free 127.0.0.1 port and always stops it; :func:`descendants`
and :func:`alive` read the process tree from /proc (Linux).
"""

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
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

REPO = Path(__file__).resolve().parents[1]


@dataclass
class PageRun:
    """What one page run showed: titles, metrics (label -> text), exceptions, error alerts, seconds, status."""

    page: str
    seconds: float = 0.0
    finished: bool = False
    status: str = ""
    titles: list[str] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    n_elements: int = 0
    page_not_found: bool = False


class Session:
    """One browser-like session of a served Streamlit app (not thread-safe: one thread per session).

    Parameters
    ----------
    base : str
        ``http://host:port`` of the server.
    host_header : str, optional
        Host name to present (default: the one in ``base``); a name outside ``server.allowedHosts`` is refused.
    open_timeout_s : float
        Seconds to wait for the WebSocket handshake.

    Raises
    ------
    websockets.exceptions.InvalidStatus
        If the server refuses the connection (e.g. HTTP 403 for a host name it does not allow).
    """

    def __init__(self, base: str, *, host_header: str | None = None, open_timeout_s: float = 30.0):
        url = base.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        sock = None
        if (
            host_header
        ):  # talk to the same server under another name (its Host header), as after DNS rebinding
            host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
            sock = socket.create_connection((host, int(port)), timeout=open_timeout_s)
            url = url.replace(f"//{host}:{port}/", f"//{host_header}:{port}/", 1)
        origin = url.replace("ws://", "http://").split("/_stcore", 1)[0]
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(
            connect(
                url,
                sock=sock,
                subprotocols=["streamlit"],
                origin=origin,
                open_timeout=open_timeout_s,
                max_size=None,
                compression=None,
            )
        )
        # URL paths of the navigation ("" = default page), known after the first run
        self.pages: list[str] = []
        self.auto_reruns: dict[str, float] = {}  # fragment id -> interval (s) the app asked to rerun it at
        self.page = ""

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run_page(self, page: str = "", *, timeout_s: float = 120.0) -> PageRun:
        """Run the page at URL path ``page`` ("" = default) and collect what it shows until the script finishes.

        Raises
        ------
        TimeoutError
            If the script has not finished after ``timeout_s`` (e.g. a hung server).
        """
        self.page = page
        self.auto_reruns.clear()
        self._send(page=page)
        return self._collect(PageRun(page), timeout_s=timeout_s)

    def tick(self, *, timeout_s: float = 60.0) -> PageRun | None:
        """Do what the browser's timers do for ``st.fragment(run_every=...)``: rerun each such fragment once.

        Returns the page run when a fragment triggered a full rerun of the page (e.g. new data), else None.

        Raises
        ------
        TimeoutError
            If a rerun does not finish within ``timeout_s``.
        """
        for fragment_id in list(self.auto_reruns):
            self._send(page=self.page, fragment_id=fragment_id)
            run = self._collect(PageRun(self.page), timeout_s=timeout_s, fragment=True)
            if run.finished:
                return run
        return None

    def _send(self, *, page: str, fragment_id: str = "") -> None:
        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_name = page
        msg.rerun_script.page_script_hash = ""
        if fragment_id:
            msg.rerun_script.fragment_id = fragment_id
            msg.rerun_script.is_auto_rerun = True
        self.ws.send(msg.SerializeToString())

    def _collect(self, run: PageRun, *, timeout_s: float, fragment: bool = False) -> PageRun:
        """Read messages until the page run finishes (or, for a fragment run, until the fragment finishes)."""
        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        started = fragment
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"page {run.page!r} did not finish within {timeout_s:g} s")
            try:
                raw = self.ws.recv(timeout=left)
            except TimeoutError as e:
                raise TimeoutError(f"page {run.page!r} did not finish within {timeout_s:g} s") from e
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                started = True
            elif kind == "navigation":
                self.pages = [p.url_pathname for p in fm.navigation.app_pages]
            elif kind == "auto_rerun":
                self.auto_reruns[fm.auto_rerun.fragment_id] = fm.auto_rerun.interval
            elif kind == "page_not_found":
                run.page_not_found = True
            elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                self._element(fm.delta.new_element, run)
            elif kind == "script_finished" and started:
                status = ForwardMsg.ScriptFinishedStatus.Name(fm.script_finished)
                run.status = status
                if status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY":
                    if fragment:
                        break  # the fragment ran and did not rerun the page
                    continue
                run.finished = status != "FINISHED_EARLY_FOR_RERUN"
                if run.finished:
                    break
        run.seconds = time.perf_counter() - t0
        return run

    @staticmethod
    def _element(el, run: PageRun) -> None:
        run.n_elements += 1
        kind = el.WhichOneof("type")
        if kind == "exception":
            run.exceptions.append(f"{el.exception.type}: {el.exception.message}")
        elif kind == "alert" and el.alert.format == el.alert.ERROR:
            run.errors.append(el.alert.body)
        elif kind == "heading" and el.heading.tag == "h1":
            run.titles.append(el.heading.body)
        elif kind == "metric":
            run.metrics[el.metric.label] = el.metric.body


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
    full_env = {**os.environ, "SCALING_BOOTSTRAP": "20", **(env or {})}
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
