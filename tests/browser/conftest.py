"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded
browser), a real ``streamlit run`` of the app and a real worker process, both
started with the test's settings (the ``settings`` fixture puts them in the
environment, which the subprocesses inherit) and stopped by their own PIDs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
# No network beyond the local server, no first-run or sync machinery: the test must not depend on the internet.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def wait_for(cond: Callable[[], object], timeout: float, what: str, *, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM to this one process (the worker kills its runs on it), SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class UIServer:
    proc: subprocess.Popen
    url: str
    log: Path

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def wait_ready(self, timeout: float = 60) -> None:
        def healthy() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"streamlit exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    return r.read().strip() == b"ok"
            except OSError:
                return False

        wait_for(healthy, timeout, f"streamlit to answer on {self.url}", every=0.3)


@pytest.fixture
def ui_server(settings, tmp_path) -> Iterator[UIServer]:
    """``streamlit run streamlit_app/app.py`` on a free port. Started at once (it loads while the test
    prepares its data); call ``wait_ready()`` before opening a page."""
    port = _free_port()
    log = tmp_path / "streamlit.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app/app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
    server = UIServer(proc=proc, url=f"http://127.0.0.1:{port}", log=log)
    try:
        yield server
    finally:
        _stop(proc, timeout=10)


@pytest.fixture
def worker(settings) -> Iterator[Callable[[], subprocess.Popen]]:
    """Starts ``python -m runner worker --cpu`` on demand and returns it once registered; stopped at teardown."""
    from redis import Redis
    from rq import Worker

    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "runner", "worker", "--cpu"], cwd=ROOT, env=dict(os.environ),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        conn = Redis.from_url(settings.effective_redis_url)
        wait_for(lambda: bool(Worker.all(connection=conn)) or proc.poll() is not None, 60, "the worker to start")
        assert proc.poll() is None, f"the worker exited at start with {proc.returncode}"
        return proc

    try:
        yield start
    finally:
        for proc in procs:
            _stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Imported here: test_live.py skips (with the reason) when playwright or the browser is missing.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def anonymous_page(browser) -> Iterator[Page]:
    """A fresh browser tab with no cookies: it meets the sign-in screen."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(anonymous_page, settings) -> Page:
    """A browser tab signed in as an admin: the session cookie the sign-in form would have left."""
    from sqlmodel import Session

    from shared.core.db import get_engine
    from shared.records import Role, User
    from shared.services import auth
    from streamlit_app.components.auth import COOKIE

    with Session(get_engine(settings.database_url), expire_on_commit=False) as s:
        admin = User(name="browser-admin", role=Role.admin)
        s.add(admin)
        s.commit()
        s.refresh(admin)
    anonymous_page.context.add_cookies([{"name": COOKIE, "value": auth.issue_token(settings, admin),
                                         "domain": "127.0.0.1", "path": "/"}])
    return anonymous_page
