"""Staged mounts (runner/sandbox/stage.py) give user code nothing of root's: no fd the worker opened on the
way is open in the sandbox, and the host's own mount table never shows the staged mounts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from runner.envs import find_uv
from runner.execute import execute
from runner.sandbox import ENV_MOUNT, Limits, Mount, SandboxSpec, stage
from shared.core.settings import Settings

pytestmark = pytest.mark.skipif(not stage.available(), reason="staging needs a root worker with CAP_SYS_ADMIN")
RUN_UID = 69000 + os.getpid() % 1000

FDS = r'''
import json, os
fds = {}
for name in os.listdir("/proc/self/fd"):
    try:
        fds[name] = os.readlink(f"/proc/self/fd/{name}")
    except OSError as exc:
        fds[name] = repr(exc)
print(json.dumps(fds), flush=True)
input()  # hold the run open while the worker looks at its own mount table
'''


def test_no_fd_of_the_staging_reaches_user_code_and_the_host_mounts_stay_as_they_were():
    top = Path(tempfile.mkdtemp(prefix="trainyard-private-"))
    top.chmod(0o700)
    try:
        settings = Settings(data_dir=top / "data", unsafe_no_sandbox=False, sandbox_uid_base=RUN_UID)
        env = settings.data_dir / "envs" / "e1"
        subprocess.run([find_uv(), "venv", "-q", "--python", settings.env_python, str(env)], check=True,
                       capture_output=True)
        wd = settings.data_dir / "runs" / "1" / "work"
        wd.mkdir(parents=True)
        (wd / "main.py").write_text(FDS)
        before = Path("/proc/self/mountinfo").read_text()
        seen: dict = {}

        def on_line(stream: str, text: str) -> None:
            if stream == "stdout" and not seen:
                seen.update(json.loads(text))
                seen["host mounts during the run"] = Path("/proc/self/mountinfo").read_text()

        spec = SandboxSpec(argv=[f"{ENV_MOUNT}/bin/python", "main.py"], workdir=wd,
                           mounts=[Mount(host=env, inside=ENV_MOUNT)], uid=RUN_UID,
                           limits=Limits(memory_bytes=1 << 30, max_procs=64))
        outcome = execute(spec=spec, settings=settings, log_path=top / "log", on_line=on_line)
        assert not outcome.ok  # input() met the closed stdin: the run ended after the look
    finally:
        shutil.rmtree(top, ignore_errors=True)
    during = seen.pop("host mounts during the run")
    assert during == before and "trainyard-stage-" not in during
    # stdin, stdout, stderr and listdir's own fd on /proc/self/fd: nothing on the env, the work dir or DATA_DIR.
    assert set(seen) <= {"0", "1", "2", "3"}, seen
    assert not any(str(top) in target or "trainyard-stage-" in target for target in seen.values()), seen
