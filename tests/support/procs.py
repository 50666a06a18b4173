"""Process and polling helpers shared by the tests that assert no process of
a run outlives it, and the stubborn scripts they stop (bench/stop_latency.py
times the same scripts, so it imports them from here)."""

from __future__ import annotations

import os
import time

# A process tree that resists stopping: a child ignoring SIGTERM, a daemon that left the session
# (setsid, double fork) and ignores SIGTERM too, and the script itself ignoring SIGTERM. Every process
# carries ``argv[1]`` (a marker) so ``procs_with`` finds them all; "ready" once they are up.
STUBBORN = r'''
import os, signal, subprocess, sys, time
marker = sys.argv[1]
subprocess.Popen([sys.executable, "-c",
                  "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                  "print('stubborn up', flush=True); time.sleep(600)", marker])
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", marker])
    os._exit(0)
os.waitpid(pid, 0)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
'''

# The platform's train.py, stubborn like the tree above (``--marker`` on every process), printing a
# metric line every 0.2 s for as long as its children sleep.
STUBBORN_TRAIN = '''
import argparse, os, signal, subprocess, sys, time
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--marker", default="x")
a = p.parse_args()
signal.signal(signal.SIGTERM, signal.SIG_IGN)
# a child that ignores SIGTERM and leaves our session
subprocess.Popen([sys.executable, "-c",
    "import signal, time, os; signal.signal(signal.SIGTERM, signal.SIG_IGN); os.setsid(); time.sleep(600)",
    a.marker], start_new_session=True)
for i in range(3000):
    print(f"epoch: {i}, loss: {1.0 / (i + 1)}", flush=True)
    time.sleep(0.2)
'''


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
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


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
