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
