"""A throw-away platform for one figure: its own DATA_DIR and SQLite file, the
embedded Redis (or a logical DB of REDIS_URL), and real worker daemons
(``python -m runner worker --cpu``) started and stopped by PID.

The benchmark process itself plays the UI: it calls the same services
(``add_dataset``, ``add_model``, ``create_task``) and the scheduler step
(``schedule_task``) the pages call.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import Session, func, select

from shared.core.errors import TrainyardError
from shared.services.users import operator
from tests.support.pkgs import write_dataset, write_package

ROOT = Path(__file__).resolve().parent.parent
# Logical Redis DB the benchmarks take (and flush) on an external REDIS_URL; the tests use 14.
REDIS_DB = 13
POLL_S = 0.01


class BenchError(TrainyardError):
    """The platform did not do what a figure needs (a deploy or a task failed)."""


def world_dir(path: Path) -> Path:
    """mkdir -p with mode 755 on what it creates: the sandbox's unprivileged uid must traverse it."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir()
        os.chmod(d, 0o755)
    return path


def _with_db(url: str, db: int) -> str:
    head, sep, tail = url.rpartition("/")
    if sep and head.count("/") >= 2 and (tail.isdigit() or tail == ""):
        return f"{head}/{db}"
    return url.rstrip("/") + f"/{db}"


class Stack:
    """One platform instance. Use as a context manager; everything it started is
    stopped by PID and its DATA_DIR removed on exit."""

    def __init__(self, *, base: Path, name: str, redis_url: str | None = None, uv_cache_dir: Path | None = None,
                 unsafe_no_sandbox: bool = False, **overrides: Any) -> None:
        self.base = base
        self.name = name
        self.redis_url = _with_db(redis_url, REDIS_DB) if redis_url else None
        self.uv_cache_dir = uv_cache_dir
        self.overrides = {"unsafe_no_sandbox": unsafe_no_sandbox, "lost_after_s": 60, "reconcile_every_s": 5,
                          **overrides}
        self.workers: list[subprocess.Popen] = []
        self._redis_proc: subprocess.Popen | None = None
        self.data_dir: Path | None = None
        self.settings = None
        self.ctx = None

    # -------------------------------------------------------------- lifecycle
    def __enter__(self) -> Stack:
        from runner import context, redis_server
        from shared.core.settings import Settings

        world_dir(self.base)
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.base))
        os.chmod(self.data_dir, 0o755)
        kwargs: dict[str, Any] = {"data_dir": self.data_dir,
                                  "database_url": f"sqlite:///{self.data_dir / 'trainyard.db'}",
                                  "redis_url": self.redis_url, **self.overrides}
        if self.uv_cache_dir is not None:
            kwargs["uv_cache_dir"] = self.uv_cache_dir
        self.settings = Settings(**kwargs)
        try:
            if self.redis_url is None:
                self._redis_proc = redis_server.start(self.settings)
            context.reset()
            context.SHUTDOWN.clear()
            self.ctx = context.configure(self.settings, gpus="cpu", name=f"bench-{self.name}")
            if self.redis_url is not None:
                self.ctx.redis.flushdb()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        from runner import context, redis_server
        from shared.core.db import dispose_engines

        for w in self.workers:
            self.stop_worker(w)
        self.workers = []
        if self._redis_proc is not None:
            redis_server.stop_pid(self._redis_proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._redis_proc.wait(2)
            self._redis_proc = None
        elif self.ctx is not None and self.redis_url is not None:
            with contextlib.suppress(Exception):
                self.ctx.redis.flushdb()
        context.reset()
        dispose_engines()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """The worker's environment: this stack's settings as TRAINYARD_* variables."""
        s = self.settings
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("TRAINYARD_") and k not in ("DATA_DIR", "DATABASE_URL", "REDIS_URL")}
        env.update({"TRAINYARD_DATA_DIR": str(s.data_dir), "TRAINYARD_DATABASE_URL": s.database_url,
                    "TRAINYARD_UV_CACHE_DIR": str(s.uv_cache_dir), "PYTHONPATH": str(ROOT)})
        if self.redis_url:
            env["TRAINYARD_REDIS_URL"] = self.redis_url
        for key, value in self.overrides.items():
            env[f"TRAINYARD_{key.upper()}"] = str(int(value) if isinstance(value, bool) else value)
        return env

    def session(self) -> Session:
        return Session(self.ctx.engine, expire_on_commit=False)

    # -------------------------------------------------------------- workers
    def start_worker(self, *, wait: float = 60.0) -> subprocess.Popen:
        n = len(self.workers)
        log = open(self.data_dir / f"worker-{n}.log", "wb")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen([sys.executable, "-m", "runner", "worker", "--cpu", "--name",
                                 f"bench-{self.name}-{os.getpid()}-{n}"],
                                cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.close()
        self.workers.append(proc)
        deadline = time.monotonic() + wait
        # Registered and blocked on its queues: that is an idle worker.
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(f"the worker exited at start ({proc.returncode}): {self.worker_log(n)}")
            if self._worker_idle(proc.args[-1]):
                return proc
            time.sleep(0.05)
        raise BenchError(f"the worker did not register within {wait:.0f} s: {self.worker_log(n)}")

    def _worker_idle(self, name: str) -> bool:
        from rq import Worker

        for w in Worker.all(connection=self.ctx.redis):
            if w.name == name:
                return w.get_state() == "idle"
        return False

    def worker_log(self, n: int) -> str:
        try:
            return (self.data_dir / f"worker-{n}.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop_worker(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def wait_idle(self, *, timeout: float = 30.0) -> None:
        """Every worker back on its queues (the previous job's last step done)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._worker_idle(w.args[-1]) for w in self.workers if w.poll() is None):
                return
            time.sleep(0.02)
        raise BenchError(f"the workers were still busy after {timeout:.0f} s")

    # -------------------------------------------------------------- records
    def add_dataset(self) -> int:
        from shared.services.datasets import add_dataset

        zip_path = self.data_dir / "bench-dataset.zip"
        write_dataset(zip_path)
        with self.session() as s:
            ds = add_dataset(session=s, settings=self.settings, zip_path=zip_path, name="bench",
                             task_type="classification", actor=operator())
            return ds.id

    def add_model(self, *, train: str, requirements: str = "", name: str = "bench") -> int:
        """Upload a package; its deploy is enqueued, not awaited."""
        from shared.core.queue import enqueue_deploy
        from shared.services.models import add_model

        zip_path = self.data_dir / f"bench-model-{time.monotonic_ns()}.zip"
        write_package(zip_path, train=train, predict=PREDICT, requirements=requirements)
        with self.session() as s:
            model = add_model(session=s, settings=self.settings, zip_path=zip_path, name=name,
                              task_type="classification", actor=operator())
        enqueue_deploy(model.id, connection=self.ctx.redis)
        return model.id

    def wait_deployed(self, model_id: int, *, timeout: float = 1800.0):
        from shared.records import DeployStatus, ModelPackage

        def done():
            with self.session() as s:
                m = s.get(ModelPackage, model_id)
                return m if m.status in (DeployStatus.deployed, DeployStatus.failed) else None

        model = poll(done, timeout=timeout, what=f"model {model_id} to deploy")
        if model.status != DeployStatus.deployed:
            log = ""
            with contextlib.suppress(OSError):
                log = self.settings.path(model.install_log).read_text(errors="replace")[-1500:]
            raise BenchError(f"model {model_id} failed to deploy: {model.reason}\n{log}")
        return model

    def deploy(self, *, train: str, requirements: str = "") -> int:
        model_id = self.add_model(train=train, requirements=requirements)
        self.wait_deployed(model_id)
        return model_id

    def start_task(self, *, model_id: int, dataset_id: int, **fields: Any) -> int:
        """Create the task and take its first scheduler step, as the New task page does."""
        from shared.services.tasks import TaskIn, create_task

        fields.setdefault("name", f"bench-{time.monotonic_ns()}")
        with self.session() as s:
            task_in = TaskIn(model_id=model_id, dataset_id=dataset_id, **fields)
            task = create_task(session=s, task_in=task_in, actor=operator())
        self.ctx.schedule(task.id)
        return task.id

    def wait_task(self, task_id: int, *, timeout: float = 600.0, poll_s: float = POLL_S):
        from shared.records import Task

        def done():
            with self.session() as s:
                t = s.get(Task, task_id)
                return t if t.status.finished else None

        return poll(done, timeout=timeout, what=f"task {task_id} to finish", poll_s=poll_s)

    def runs(self, task_id: int):
        from shared.services.tasks import task_runs

        with self.session() as s:
            return task_runs(session=s, task_id=task_id)

    def only_run(self, task_id: int, *, expect_ok: bool = True):
        from shared.records import RunStatus

        runs = self.runs(task_id)
        if len(runs) != 1:
            raise BenchError(f"task {task_id} made {len(runs)} runs, expected 1")
        run = runs[0]
        if expect_ok and run.status != RunStatus.completed:
            raise BenchError(f"run {run.id} {run.status.value}: {run.reason}")
        return run

    def metric_counts(self, run_id: int) -> tuple[int, int]:
        """(metric rows, distinct metric lines) stored for a run."""
        from shared.records import MetricPoint

        with self.session() as s:
            rows = s.exec(select(func.count()).where(MetricPoint.run_id == run_id)).one()
            lines = s.exec(select(func.count(func.distinct(MetricPoint.seq))).where(
                MetricPoint.run_id == run_id)).one()
        return int(rows), int(lines)

    def env_python(self, model_id: int) -> Path:
        from shared.records import ModelPackage

        with self.session() as s:
            m = s.get(ModelPackage, model_id)
        return self.settings.data_dir / "envs" / m.env_key / "bin" / "python"


def poll(fn: Callable[[], Any], *, timeout: float, what: str, poll_s: float = POLL_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll_s)


# ------------------------------------------------------------------ uploads

PREDICT = '''
import argparse, os, shutil
p = argparse.ArgumentParser()
p.add_argument("--source")
p.add_argument("--out-dir")
p.add_argument("--weights")
a = p.parse_args()
os.makedirs(a.out_dir, exist_ok=True)
'''


def peak_rss_reset(pid: int) -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of a process; False where not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss(pid: int) -> int:
    """VmHWM of a process in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"/proc/{pid}/status has no VmHWM")
