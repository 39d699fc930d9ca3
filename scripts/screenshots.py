"""Serve the app on a demo database and save a full-page PNG of every page of its navigation.

Usage::

    python scripts/screenshots.py [--out screenshots/] [--db EXISTING.duckdb] [--no-fit] [--all-pages]

Without ``--db`` the bundled real samples (``data/samples``) are ingested into a temporary DuckDB file through the
real ingest (``app.services.demo.demo_paths`` + ``data.ingest.ingest_paths``) and, unless ``--no-fit``, one
Chinchilla fit of ``gadre_overtraining`` (20 bootstrap replicates, backtest) is stored so the Fits page has a record.
The app runs as ``python -m streamlit run app/streamlit_app.py`` on a free localhost port with ``SCALING_BOOTSTRAP``
low, and Debian's ``/usr/bin/chromium`` is driven through Playwright's sync API (no browser is downloaded).
``--all-pages`` serves a generated entrypoint listing every ``app/app_pages/*.py``, to review pages that are not
registered in the navigation yet. Exit code 1 if a page showed an exception or never finished running.

The helpers (``build_demo_db``, ``serve``, ``launch_browser``, ``nav_pages``, ``open_page``) are shared with
``tests/app/test_browser.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ENTRYPOINT = REPO_ROOT / "app" / "streamlit_app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def build_demo_db(db: str | Path, *, with_fit: bool = False) -> Path:
    """Ingest the bundled samples into ``db`` (a new file); optionally store one pretraining fit.

    Raises
    ------
    RuntimeError
        If a sample file fails to ingest or the fit command fails.
    """
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from app.services.demo import demo_paths
    from app.settings import SAMPLES_DIR
    from data.ingest import ingest_paths

    db = Path(db)
    rep = ingest_paths(db, demo_paths(SAMPLES_DIR))
    if rep.count("failed"):
        raise RuntimeError(f"ingest failed: {[f.message for f in rep.files if f.status == 'failed']}")
    if with_fit:
        from app.cli import main

        args = ["fit", "pretraining", "--db", str(db), "--source", "gadre_overtraining"]
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            rc = main(args + ["--bootstrap", "20", "--backtest", "--json"])
        if rc:
            raise RuntimeError(f"`scaling {' '.join(args)}` exited with {rc}")
    return db


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(
    db: str | Path,
    *,
    bootstrap: int = 20,
    start_timeout_s: float = 60.0,
    log: Path | None = None,
    entrypoint: Path | None = None,
) -> Iterator[str]:
    """Run the Streamlit app on ``db`` in a subprocess; yields its base URL; always terminates it.

    Raises
    ------
    RuntimeError
        If the server does not answer ``/_stcore/health`` within ``start_timeout_s`` or exits early (the message
        carries the end of its log).
    """
    port = free_port()
    env = dict(os.environ, SCALING_DB=str(Path(db).resolve()), SCALING_BOOTSTRAP=str(bootstrap))
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(entrypoint or ENTRYPOINT),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    log = log or Path(tempfile.mkdtemp(prefix="streamlit-log-")) / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"streamlit did not answer within {start_timeout_s:g} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def launch_browser(width: int = 1400, height: int = 1000):
    """A Playwright page in Debian's headless Chromium (sync API); closes the browser on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def wait_until_idle(page, timeout_s: float = 60.0) -> None:
    """Wait until the script finished (``stApp`` not running, no "Running..." status) and charts are drawn.

    Raises
    ------
    playwright.sync_api.TimeoutError
        If the page is still running after ``timeout_s``.
    """
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            const state = app && app.getAttribute('data-test-script-state');
            if (state !== 'notRunning') return false;
            if (document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')) return false;
            if (document.querySelector('[data-testid="stSkeleton"]')) return false;
            const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
            // charts in inactive tabs or collapsed expanders are not drawn until shown
            return charts.filter(c => c.checkVisibility()).every(c => c.querySelector('canvas, svg'));
        }""",
        timeout=timeout_s * 1000,
        polling=250,
    )
    page.wait_for_timeout(500)  # vega draws marks a moment after the canvas exists


def nav_pages(page, base: str) -> list[tuple[str, str]]:
    """(label, absolute URL) of every link in the sidebar navigation, in order."""
    page.goto(base + "/")
    wait_until_idle(page)
    links = page.locator('[data-testid="stSidebarNavLink"]')
    out = []
    for i in range(links.count()):
        a = links.nth(i)
        href = a.get_attribute("href") or "/"
        url = href if href.startswith("http") else base + "/" + href.lstrip("/")
        lines = [t.strip() for t in a.inner_text().splitlines() if t.strip()]
        out.append((lines[-1] if lines else "", url))  # the first line is the icon's ligature name
    return out


@dataclass
class PageReport:
    """What one page showed after its script finished."""

    label: str
    url: str
    h1: list[str] = field(default_factory=list)
    n_exceptions: int = 0
    exception_text: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    n_charts: int = 0  # visible chart elements (not in an inactive tab or collapsed expander)
    n_charts_drawn: int = 0  # of those, how many hold a canvas or svg
    placeholder: bool = False
    seconds: float = 0.0


def open_page(page, label: str, url: str, timeout_s: float = 60.0) -> PageReport:
    """Open ``url``, wait for the script to finish, and report title, exceptions, alerts and charts."""
    t0 = time.monotonic()
    page.goto(url)
    wait_until_idle(page, timeout_s)
    rep = PageReport(label, url)
    rep.h1 = [t.strip() for t in page.locator("h1").all_inner_texts() if t.strip()]
    exc = page.locator('[data-testid="stException"]')
    rep.n_exceptions = exc.count()
    rep.exception_text = "\n".join(exc.all_inner_texts())[:2000]
    rep.errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    rep.warnings = page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts()
    rep.n_charts, rep.n_charts_drawn = page.evaluate(
        """() => {
            const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                .filter(c => c.checkVisibility());
            return [charts.length, charts.filter(c => c.querySelector('canvas, svg')).length];
        }"""
    )
    body = page.locator('[data-testid="stMain"]').inner_text()
    rep.placeholder = bool(re.search(r"\bcoming soon\b", body, flags=re.IGNORECASE))
    rep.seconds = time.monotonic() - t0
    return rep


def tab_pngs(page, stem: Path) -> list[str]:
    """Click every tab after the first (``st.tabs`` are switched client-side) and shoot each; returns their labels.

    Files are ``<stem>_tab<i>.png``; the first tab is the page shot itself.
    """
    tabs = page.locator('[data-testid="stTab"], button[role="tab"]')
    labels = []
    for i in range(1, tabs.count()):
        tab = tabs.nth(i)
        labels.append(tab.inner_text().strip())
        tab.click()
        wait_until_idle(page)
        full_page_png(page, stem.with_name(f"{stem.name}_tab{i}.png"))
    if labels:
        tabs.nth(0).click()
    return labels


def full_page_png(page, path: Path, max_height: int = 12_000) -> None:
    """Screenshot the whole main column: Streamlit scrolls inside ``stMain``, so grow the viewport to fit it."""
    h = page.evaluate(
        """() => {
            const m = document.querySelector('[data-testid="stMain"]');
            return Math.max(m ? m.scrollHeight : 0, document.body.scrollHeight);
        }"""
    )
    vp = page.viewport_size
    page.set_viewport_size({"width": vp["width"], "height": int(min(max(h, vp["height"]), max_height))})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(vp)


def all_pages_entrypoint(folder: Path) -> Path:
    """Write an entrypoint that registers every ``app/app_pages/*.py`` (for reviewing pages not yet registered)."""
    pages = sorted(p for p in (REPO_ROOT / "app" / "app_pages").glob("*.py") if p.name != "__init__.py")
    first = [p for p in pages if p.stem == "overview"] + [p for p in pages if p.stem != "overview"]
    lines = [
        "import sys",
        f"sys.path.insert(0, {str(REPO_ROOT)!r})",
        "import streamlit as st",
        'st.set_page_config(page_title="Scaling dashboard (all pages)", layout="wide")',
        "page = st.navigation([",
        *(
            f"    st.Page({str(p)!r}, title={p.stem!r}, url_path={p.stem!r}, default={i == 0}),"
            for i, p in enumerate(first)
        ),
        "])",
        "page.run()",
    ]
    ep = folder / "all_pages_app.py"
    ep.write_text("\n".join(lines) + "\n")
    return ep


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) a database, serve the app, screenshot every page; prints one line per page."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out", default=str(REPO_ROOT / "screenshots"), help="folder for the PNGs (default screenshots/)"
    )
    ap.add_argument(
        "--db", help="existing DuckDB file to serve (default: ingest the bundled samples into a temp file)"
    )
    ap.add_argument(
        "--no-fit", action="store_true", help="do not store the gadre_overtraining fit in the temp DB"
    )
    ap.add_argument("--bootstrap", type=int, default=20, help="SCALING_BOOTSTRAP for the server (default 20)")
    ap.add_argument(
        "--all-pages",
        action="store_true",
        help="shoot every app/app_pages/*.py through a generated entrypoint, registered in the navigation or not",
    )
    ap.add_argument("--width", type=int, default=1400, help="viewport width in CSS pixels (default 1400)")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} not found (this script never downloads a browser)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="scaling-shots-"))
    try:
        if args.db:
            db = Path(args.db)
        else:
            print("ingesting the bundled samples ...", flush=True)
            db = build_demo_db(tmp / "demo.duckdb", with_fit=not args.no_fit)
        bad = 0
        ep = all_pages_entrypoint(tmp) if args.all_pages else None
        with (
            serve(db, bootstrap=args.bootstrap, log=tmp / "server.log", entrypoint=ep) as base,
            launch_browser(args.width) as page,
        ):
            for i, (label, url) in enumerate(nav_pages(page, base)):
                slug = url.rstrip("/").rsplit("/", 1)[-1] if url.rstrip("/") != base else "home"
                name = f"{i:02d}_{slug}"
                try:
                    rep = open_page(page, label, url)
                except Exception as e:  # a page that never finishes is reported, the others still shot
                    print(f"{name:>18}: FAILED to settle: {type(e).__name__}: {str(e).splitlines()[0]}")
                    bad += 1
                    full_page_png(page, out / f"{name}.png")
                    continue
                full_page_png(page, out / f"{name}.png")
                flags = []
                tabs = tab_pngs(page, out / name)
                if tabs:
                    flags.append(f"tabs shot separately: {tabs}")
                if rep.n_exceptions:
                    flags.append(f"{rep.n_exceptions} exception(s)")
                if rep.errors:
                    flags.append(f"errors: {rep.errors}")
                if rep.placeholder:
                    flags.append("placeholder")
                bad += bool(rep.n_exceptions)
                print(
                    f"{name:>18}: {out / (name + '.png')}  title={rep.h1[:1]} charts={rep.n_charts_drawn}/"
                    f"{rep.n_charts} {rep.seconds:.1f}s {'; '.join(flags)}",
                    flush=True,
                )
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
