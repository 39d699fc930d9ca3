"""A headless Streamlit session over the app's own WebSocket protocol (what a browser tab does, without a browser).

Used by ``tests/app/test_served.py`` (concurrent sessions while an ingest runs) and ``benchmarks/bench_load.py``
(20 sessions). A :class:`Session` opens ``ws://HOST/_stcore/stream`` with the ``streamlit`` subprotocol, asks the
server to run a page (``BackMsg.rerun_script`` with the page's URL path, as the frontend does on navigation), and
reads ``ForwardMsg`` protobufs until ``script_finished``. It records the page's exceptions (``st.exception`` /
uncaught errors), error alerts, titles and metric tiles, and how long the run took. The message types are
Streamlit's own (``streamlit.proto``); the WebSocket client is the ``websockets`` package's synchronous API.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect


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
        headers = {"Host": host_header} if host_header else None
        origin = base.rstrip("/") if host_header is None else f"http://{host_header}"
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(
            connect(
                url,
                subprotocols=["streamlit"],
                additional_headers=headers,
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
