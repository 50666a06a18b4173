"""Browser helpers: Debian's Chromium (never a downloaded browser) and how it is started, a free port, a
process stopped by its own PID, a handle on a real ``streamlit run`` of the app, and signing in through its
form. The fixtures built on them are in tests/support/browser_fixtures.py (a plugin of tests/conftest.py, so
every directory gets them)."""

from __future__ import annotations

import signal
import socket
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import wait_for

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "UIServer", "free_port", "sign_in_form", "stop", "wait_for"]

CHROMIUM = Path("/usr/bin/chromium")
# No network beyond the local server, no first-run or sync machinery: the test must not depend on the internet.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
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


def sign_in_form(page, name: str, password: str) -> None:
    """Wait for the sign-in screen the page shows now, fill it in and send it."""
    page.get_by_role("heading", name="Sign in to Trainyard").wait_for(timeout=30_000)
    page.get_by_role("textbox", name="Name", exact=True).fill(name)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
