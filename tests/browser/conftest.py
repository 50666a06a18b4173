"""Browser fixtures of this directory: a real worker process started with the test's settings and stopped by
its own PID. The browser, the pages and the app server come from tests/support/browser_fixtures.py (a plugin of
tests/conftest.py); the helpers from tests/support/browser.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from tests.support.browser import stop, wait_for
from tests.support.paths import ROOT


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
            stop(proc)
