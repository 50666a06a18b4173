"""``python -m runner up``: embedded Redis + worker(s) + UI as managed children,
all stopped by PID on Ctrl-C or SIGTERM (and if any one of them dies)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from runner import redis_server
from shared.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _spawn(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def up(*, settings: Settings, workers: int = 1, gpus: str | None = None, port: int | None = None,
       ui: bool = True) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    children: list[tuple[str, subprocess.Popen]] = []
    stopping = False

    def stop_all(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    env = dict(os.environ)
    env["TRAINYARD_DATA_DIR"] = str(settings.data_dir)
    try:
        if settings.embedded_redis:
            proc = redis_server.start(settings)
            if proc is not None:
                children.append(("redis", proc))
            print(f"[up] redis: embedded, unix://{settings.redis_socket}", flush=True)
        elif not redis_server.ping(settings):
            print(f"[up] REDIS_URL={settings.redis_url} does not answer; start it or unset REDIS_URL "
                  "to use the embedded server", file=sys.stderr)
            return 2
        gpu_sets = _gpu_sets(gpus, workers)
        for i in range(workers):
            cmd = [sys.executable, "-m", "runner", "worker"]
            if gpu_sets[i] is not None:
                cmd += ["--gpus", gpu_sets[i]]
            children.append((f"worker-{i}", _spawn(cmd, env)))
        if ui:
            ui_port = port or settings.ui_port
            cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app" / "app.py"),
                   "--server.port", str(ui_port), "--server.headless", "true",
                   "--browser.gatherUsageStats", "false", "--browser.serverAddress", "localhost",
                   "--client.toolbarMode", "viewer"]  # why: .streamlit/config.toml
            children.append(("ui", _spawn(cmd, env)))
            print(f"[up] UI on http://localhost:{ui_port}", flush=True)
        print("[up] running; Ctrl-C stops everything", flush=True)
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    print(f"[up] {name} exited with {proc.returncode}; stopping the rest", file=sys.stderr)
                    stopping = True
                    break
            time.sleep(0.5)
    finally:
        for name, proc in reversed(children):
            if proc.poll() is None:
                redis_server.stop_pid(proc.pid, timeout=15 if name.startswith("worker") else 5)
            print(f"[up] stopped {name} (pid {proc.pid})", flush=True)
    return 0


def _gpu_sets(gpus: str | None, workers: int) -> list[str | None]:
    """A worker per GPU is the simple scale-out: with --gpus 0,1 and 2 workers,
    worker 0 gets GPU 0 and worker 1 gets GPU 1."""
    if gpus is None:
        return [None] * workers
    if gpus == "cpu":
        return ["cpu"] * workers
    ids = [g for g in gpus.split(",") if g.strip()]
    if workers <= 1:
        return [",".join(ids)]
    return [ids[i % len(ids)] if ids else "cpu" for i in range(workers)]
