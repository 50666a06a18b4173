"""Process and polling helpers shared by the tests that assert no process of
a run outlives it."""

from __future__ import annotations

import os
import time


def procs_with(marker: str) -> list[int]:
    """Pids whose command line contains ``marker`` (a unique token in argv)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if marker.encode() in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def wait_for(cond, timeout: float, what: str, *, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def start_worker(settings, *extra: str):
    """A real ``python -m runner worker --cpu`` process, returned once it is
    registered with Redis; the caller stops it by its pid."""
    import subprocess
    import sys

    from redis import Redis
    from rq import Worker

    from tests.support.paths import ROOT

    proc = subprocess.Popen([sys.executable, "-m", "runner", "worker", "--cpu", *extra], cwd=ROOT,
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = Redis.from_url(settings.effective_redis_url)
    wait_for(lambda: bool(Worker.all(connection=conn)) or proc.poll() is not None, 60, "the worker to start")
    assert proc.poll() is None, "the worker exited at start"
    return proc


def stop_worker(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except Exception:  # noqa: BLE001 - a worker stuck in teardown is killed
        proc.kill()
        proc.wait(timeout=10)
