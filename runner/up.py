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
from runner.sandbox.reach import check_paths
from shared.core.errors import SandboxError
from shared.core.redisconn import RedisAuthError, check, connect, redact
from shared.core.settings import SYSTEM_DATA_DIR, Settings

ROOT = Path(__file__).resolve().parent.parent


def _spawn(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def ui_command(settings: Settings, *, host: str | None = None, port: int | None = None) -> list[str]:
    """The UI (``python -m streamlit_app``, which adds the settings' flags such as the upload limit) bound
    to ``host`` (default TRAINYARD_UI_HOST, itself 127.0.0.1: only this machine)."""
    return [sys.executable, "-m", "streamlit_app",
            "--server.address", host or settings.ui_host, "--server.port", str(port or settings.ui_port)]


def first_admin_link(settings: Settings, base_url: str) -> str | None:
    """With no accounts yet, a one-time sign-up link for the first admin (there is no default password)."""
    from shared.core.db import get_engine, session_scope
    from shared.services import auth, users

    with session_scope(get_engine(settings.database_url)) as s:
        if users.count_users(session=s):
            return None
        return auth.signup_url(base_url, auth.create_signup_link(session=s, settings=settings))


def mark_store(settings: Settings) -> str:
    """The platform's host records the store id (DB and DATA_DIR/.trainyard-store), which joining workers check."""
    from shared.core.db import get_engine, session_scope
    from shared.services.store import ensure_store_mark

    with session_scope(get_engine(settings.database_url)) as s:
        store = ensure_store_mark(session=s, data_dir=settings.data_dir)
    print(f"[up] store {store} at {settings.data_dir}", flush=True)
    return store


AUTO = "auto"


def parse_workers(text: str) -> int | str:
    """``--workers``: a positive number, or ``auto`` (see :func:`auto_workers`)."""
    if text.strip().lower() == AUTO:
        return AUTO
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{text!r} is not a number of workers; write a number such as 2, or auto")
    return int(text)


def auto_workers(*, gpus: list[str], cores: int, mem_bytes: int, run_memory: int | None) -> int:
    """``--workers auto``. With GPUs: one worker per GPU (each run gets a GPU of its own). CPU only: a worker per
    two cores (a training run uses more than one core), and no more than the memory holds at the per-run memory
    limit (``TRAINYARD_MEMORY_LIMIT``), so parallel runs do not push each other out of memory; at least one."""
    if gpus:
        return len(gpus)
    n = cores // 2
    if run_memory:
        n = min(n, mem_bytes // run_memory)
    return max(1, n)


def host_resources() -> tuple[int, int]:
    """(usable cores, physical memory in bytes) of this host."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def resolve_workers(*, settings: Settings, workers: int | str, gpus: str | None) -> tuple[int, str | None, str]:
    """(worker count, GPU list to spread over them, why) for ``--workers`` and ``--gpus``."""
    if workers != AUTO:
        return int(workers), gpus, f"{workers} as asked"
    from runner.gpus import detect_gpus

    found = detect_gpus(setting=gpus if gpus is not None else settings.gpus)
    cores, mem = host_resources()
    n = auto_workers(gpus=found, cores=cores, mem_bytes=mem, run_memory=settings.memory_limit)
    if found:
        return n, ",".join(found), f"auto: one per GPU ({','.join(found)})"
    return n, gpus, (f"auto: CPU only, {cores} cores, {mem / 2**30:.0f} GiB; a worker per 2 cores"
                     + (f" and per {settings.memory_limit / 2**30:g} GiB run memory limit"
                        if settings.memory_limit else ""))


def up(*, settings: Settings, workers: int | str = AUTO, gpus: str | None = None, port: int | None = None,
       ui: bool = True, host: str | None = None) -> int:
    if settings.data_dir == SYSTEM_DATA_DIR:
        print(f"[up] DATA_DIR is {SYSTEM_DATA_DIR}: ./data lies in a directory the sandbox's user cannot enter "
              "(a checkout in root's home) and, without CAP_SYS_ADMIN, the workers cannot mount it for that user; "
              "set DATA_DIR to keep the data elsewhere", flush=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:  # what the sandbox's uid cannot use (a private DATA_DIR without CAP_SYS_ADMIN) is named now, not by a run
        check_paths(settings)
    except SandboxError as exc:
        print(f"[up] {exc}", file=sys.stderr)
        return 2
    mark_store(settings)
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
        else:
            url = settings.effective_redis_url
            try:
                check(connect(url, socket_timeout=2, socket_connect_timeout=2), url)
            except RedisAuthError as exc:
                print(f"[up] {exc}", file=sys.stderr)
                return 2
            except Exception:  # noqa: BLE001 - any other failure: it does not answer
                print(f"[up] REDIS_URL={redact(url)} does not answer; start it or unset REDIS_URL "
                      "to use the embedded server", file=sys.stderr)
                return 2
        workers, gpus, why = resolve_workers(settings=settings, workers=workers, gpus=gpus)
        print(f"[up] {workers} worker{'s' if workers != 1 else ''} ({why})", flush=True)
        gpu_sets = _gpu_sets(gpus, workers)
        for i in range(workers):
            cmd = [sys.executable, "-m", "runner", "worker"]
            if gpu_sets[i] is not None:
                cmd += ["--gpus", gpu_sets[i]]
            children.append((f"worker-{i}", _spawn(cmd, env)))
        if ui:
            ui_port, ui_host = port or settings.ui_port, host or settings.ui_host
            children.append(("ui", _spawn(ui_command(settings, host=ui_host, port=ui_port), env)))
            shown = "localhost" if ui_host in ("127.0.0.1", "0.0.0.0", "::", "::1") else ui_host
            base = f"http://{shown}:{ui_port}"
            print(f"[up] UI on {base} (listening on {ui_host})", flush=True)
            if ui_host not in ("127.0.0.1", "::1", "localhost"):
                print("[up] the UI is reachable from other machines: everyone signs in, but put HTTPS in front "
                      "of it (a reverse proxy) beyond a trusted network", flush=True)
            if link := first_admin_link(settings, base):
                print(f"[up] no accounts yet: open this one-time link to make the first admin "
                      f"(valid {settings.signup_link_hours:g} h):\n[up]   {link}", flush=True)
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
    """Every worker of this host names all of its GPUs: they share them through the host's GPU lock folder
    (``runner.gpus.GpuAllocator``), so a run asking for two GPUs can start, and two one-GPU runs and a
    two-GPU run never overlap. With one GPU per run and as many workers as GPUs this is one GPU each."""
    if gpus is None:
        return [None] * workers
    if gpus == "cpu":
        return ["cpu"] * workers
    ids = ",".join(g.strip() for g in gpus.split(",") if g.strip())
    return [ids or "cpu"] * workers
