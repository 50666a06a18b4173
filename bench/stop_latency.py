"""Figure 9: stop latency. How soon a run that was asked to stop, or that hit
a limit, is gone with every process it started; the tests only check that it
goes (tests/runner/test_execute.py, tests/flow/test_tasks.py,
tests/runner/test_envs.py), the seconds are measured here.

- ``execute()`` told to stop a stubborn tree (the script and a child ignore
  SIGTERM, a setsid'd daemon escapes the session): the check's answer → the
  call returned with no process of the marker left. Sandboxed, and without the
  sandbox when the worker is root (the daemon is then found by its uid).
- ``kill_tree`` of a plain SIGTERM-ignoring process group, 0.5 s grace.
- The memory and disk watches: run started → run stopped for the limit.
- An env build against an index that never answers, 2 s build timeout:
  ``ensure_env`` called → its error raised.
- The whole platform: ``request_stop`` (the Task page's Stop) → no process of
  the run left, with one worker daemon.

Baseline, same run: SIGKILL of a bare sleeping ``python`` → reaped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench.config import Config
from bench.report import Goal, Row
from bench.stack import BenchError, poll, world_dir
from shared.services.users import operator
from tests.support.procs import STUBBORN, STUBBORN_TRAIN, procs_with

MEMORY = ("import os, sys, time\n"
          "for i in range(3):\n"
          "    if os.fork() == 0:\n"
          "        x = b'1' * (110 << 20)\n"
          "        time.sleep(60)\n"
          "        os._exit(0)\n"
          "time.sleep(60)\n")

DISK = ("import os, sys, time\n"
        "for i in range(8):\n"
        "    with open(f'part{i}.bin', 'wb') as f:\n"
        "        f.write(os.urandom(1 << 20))\n"
        "        os.fsync(f.fileno())\n"
        "time.sleep(60)\n")

class _Runs:
    """Runs of scripts through ``execute()`` in a venv of the settings' interpreter."""

    def __init__(self, cfg: Config, base: Path) -> None:
        from runner.envs import find_uv
        from shared.core.settings import Settings

        self.base = base
        self.settings = Settings(data_dir=base / "data", unsafe_no_sandbox=cfg.unsafe_no_sandbox,
                                 uv_cache_dir=cfg.uv_cache_dir)
        self.venv = base / "venv"
        subprocess.run([find_uv(), "venv", "-q", "--python", self.settings.env_python, str(self.venv)], check=True,
                       capture_output=True)
        self.uid = self.settings.sandbox_uid_base + 9000 + os.getpid() % 500

    def run(self, script: str, *, unsafe: bool | None = None, check=None, limits=None):
        """(seconds from start to return, seconds from the check's stop to return, outcome, marker)."""
        from runner.execute import execute
        from runner.sandbox import Limits, Mount, SandboxSpec

        marker = f"bench-marker-{uuid.uuid4().hex}"
        wd = world_dir(self.base / f"work-{uuid.uuid4().hex[:8]}")
        (wd / "main.py").write_text(script)
        settings = self.settings if unsafe is None else self.settings.model_copy(update={"unsafe_no_sandbox": unsafe})
        spec = SandboxSpec(argv=[str(self.venv / "bin" / "python"), "main.py", marker], workdir=wd,
                           mounts=[Mount(host=self.venv, inside=str(self.venv))], uid=self.uid,
                           limits=limits or Limits(max_procs=50))
        lines: list[str] = []
        stopped: dict[str, float] = {}

        def ask():
            if check is not None and check(lines):
                stopped.setdefault("at", time.monotonic())
                return "stopped by user"
            return None

        t0 = time.monotonic()
        outcome = execute(spec=spec, settings=settings, log_path=wd / "run.log",
                          on_line=lambda _s, text: lines.append(text), check=ask, check_interval=0.05)
        end = time.monotonic()
        left = procs_with(marker)
        if left:
            raise BenchError(f"{len(left)} processes of the run were left behind: {left}")
        return end - t0, (end - stopped["at"]) if stopped else None, outcome


def _ready(lines: list[str]) -> bool:
    return "ready" in lines and "stubborn up" in lines


def _kill_tree_seconds(python: str) -> float:
    from runner.execute import kill_tree

    marker = f"bench-marker-{uuid.uuid4().hex}"
    proc = subprocess.Popen([python, "-c",
                             "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                             "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', sys.argv[1]]); "
                             "time.sleep(600)", marker], start_new_session=True)
    poll(lambda: len(procs_with(marker)) == 2, timeout=30, what="the process group to start")
    t0 = time.monotonic()
    kill_tree(proc.pid, grace=0.5)
    proc.wait(30)
    poll(lambda: not procs_with(marker), timeout=30, what="the process group to be gone", poll_s=0.005)
    return time.monotonic() - t0


def _bare_kill_seconds(python: str) -> float:
    proc = subprocess.Popen([python, "-c", "import time; print('up', flush=True); time.sleep(600)"],
                            stdout=subprocess.PIPE)
    proc.stdout.readline()
    t0 = time.monotonic()
    proc.kill()
    proc.wait(30)
    took = time.monotonic() - t0
    proc.stdout.close()
    return took


def _build_timeout_seconds(cfg: Config, base: Path) -> float:
    from runner.envs import ensure_env
    from shared.core.errors import EnvBuildError
    from shared.core.settings import Settings

    with socket.socket() as server:  # accepts connections (the kernel's backlog), never answers
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        port = server.getsockname()[1]
        s = Settings(data_dir=base / f"stall-{uuid.uuid4().hex[:6]}", uv_cache_dir=cfg.uv_cache_dir,
                     index_url=f"http://127.0.0.1:{port}/simple", extra_index_urls=[], find_links=[],
                     constraints=[], env_build_timeout_s=2)
        t0 = time.monotonic()
        try:
            ensure_env(settings=s, requirements=["six"])
        except EnvBuildError as exc:
            if "longer than 2 s" not in str(exc):
                raise
            return time.monotonic() - t0
    raise BenchError("the build against a stalled index did not fail")


def _platform_stop_seconds(cfg: Config, reps: int) -> list[float]:
    from shared.records import RunStatus
    from shared.services.tasks import request_stop

    out = []
    with cfg.stack("stop") as st:
        st.start_worker()
        ds = st.add_dataset()
        model = st.deploy(train=STUBBORN_TRAIN)
        for _ in range(reps):
            marker = f"bench-marker-{uuid.uuid4().hex}"
            st.wait_idle()
            task_id = st.start_task(model_id=model, dataset_id=ds, params={"marker": (marker, False)})

            def running(task_id=task_id, marker=marker):
                runs = st.runs(task_id)
                return runs and runs[0].status == RunStatus.running and runs[0].lines > 2 \
                    and len(procs_with(marker)) >= 2

            poll(running, timeout=120, what="the stubborn run to be running")
            t0 = time.monotonic()
            with st.session() as s:
                request_stop(session=s, task_id=task_id, actor=operator())
            poll(lambda marker=marker: not procs_with(marker), timeout=60, what="the run's processes to go",
                 poll_s=0.005)
            out.append(time.monotonic() - t0)
            st.wait_task(task_id, timeout=60)
    return out


def run(cfg: Config) -> list[Row]:
    reps = cfg.size(5, 2)
    stop = Row("9", "stop: execute() told to stop → whole stubborn tree gone (sandbox)", unit=" s",
               goal=Goal("<=", 2.0, " s"))
    stop_unsafe = Row("9", "stop: the same without the sandbox (root: the daemon found by its uid)", unit=" s",
                      goal=Goal("<=", 2.0, " s"))
    tree = Row("9", "kill_tree, 0.5 s grace: SIGTERM-ignoring process group → gone", unit=" s",
               goal=Goal("<=", 2.0, " s"))
    memory = Row("9", "memory watch: 3 × 110 MiB under a 300 MiB limit, start → stopped", unit=" s",
                 goal=Goal("<=", 10.0, " s"))
    disk = Row("9", "disk watch: 8 MiB written under a 5 MiB limit, start → stopped", unit=" s",
               goal=Goal("<=", 8.0, " s"))
    build = Row("9", "env build, 2 s timeout, index never answers: call → error", unit=" s",
                goal=Goal("<=", 20.0, " s"))
    platform = Row("9", "platform: request_stop → every process of the run gone", unit=" s",
                   goal=Goal("<=", 2.5, " s"))
    bare = Row("9", "baseline: SIGKILL of a bare sleeping python → reaped", unit=" s")
    from runner.sandbox import Limits

    with tempfile.TemporaryDirectory(prefix="bench-stop-", dir=world_dir(cfg.base)) as tmp:
        base = world_dir(Path(tmp))
        os.chmod(base, 0o755)
        runs = _Runs(cfg, base)
        python = runs.settings.env_python
        can_unsafe = os.geteuid() == 0
        for _ in range(reps):
            stop.values.append(runs.run(STUBBORN, check=_ready)[1])
            if can_unsafe:
                stop_unsafe.values.append(runs.run(STUBBORN, unsafe=True, check=_ready)[1])
            tree.values.append(_kill_tree_seconds(python))
            bare.values.append(_bare_kill_seconds(python))
            took, _, outcome = runs.run(MEMORY, limits=Limits(memory_bytes=300 << 20))
            if outcome.kill_kind is None or outcome.kill_kind.value != "memory":
                raise BenchError(f"the memory watch did not stop the run: {outcome.reason}")
            memory.values.append(took)
            took, _, outcome = runs.run(DISK, limits=Limits(max_disk_bytes=5 << 20, max_file_bytes=2 << 20))
            if outcome.kill_kind is None or outcome.kill_kind.value != "disk":
                raise BenchError(f"the disk watch did not stop the run: {outcome.reason}")
            disk.values.append(took)
        build.values.append(_build_timeout_seconds(cfg, base))
    platform.values.extend(_platform_stop_seconds(cfg, reps))
    stop.note = f"{reps} runs; a SIGTERM-ignoring child and a setsid'd daemon; 1 s grace, then SIGKILL"
    if bare.values and tree.values:
        tree.note = f"{tree.median / bare.median:.0f}× the bare SIGKILL; the grace is most of it"
    platform.note = "1 worker; the run polls the stop flag every 0.5 s, then the tree gets a 1 s grace"
    # Without root the unsandboxed case cannot find an escaped daemon at all: no row rather than a failed one.
    return [stop, *([stop_unsafe] if can_unsafe else []), tree, memory, disk, build, platform, bare]
