"""Refuse rather than run unsafe: when bubblewrap cannot start, no user code
runs (not train.py, not install_dependencies.sh) and the reason says how to
fix it; only the explicit TRAINYARD_UNSAFE_NO_SANDBOX=1 runs it, loudly."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from shared.core.settings import Settings
from shared.records import RunStatus, TaskStatus
from tests.support.procs import procs_with


@pytest.fixture
def open_dir():
    """A world-searchable folder (DATA_DIR may be private: CI's TMPDIR is 0700)."""
    d = Path(tempfile.mkdtemp(prefix="trainyard-refuse-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def broken_bwrap(open_dir) -> str:
    # Where the sandbox's uid can run it, so it is the trial run that fails, not the permission check.
    fake = open_dir / "fake-bwrap"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    return str(fake)


def _says_sandbox_cannot_start(reason: str | None) -> None:
    assert reason and "sandbox cannot start" in reason, reason
    assert "TRAINYARD_BWRAP_PATH" in reason and "TRAINYARD_UNSAFE_NO_SANDBOX" in reason, reason


def test_a_broken_sandbox_refuses_to_run_user_code(plat, settings, broken_bwrap):
    model = plat.model()
    side = plat.token + ".txt"
    host_side = Path("/tmp") / side
    settings.bwrap_path = broken_bwrap
    task, [run] = plat.run_task(model=model, cfg={"side_effect": side})
    assert run.status == RunStatus.failed and task.status == TaskStatus.failed
    _says_sandbox_cannot_start(run.reason)
    _says_sandbox_cannot_start(task.reason)
    ws = settings.path(f"runs/{task.id}/{run.id}/workspace")
    assert not (ws / side).exists() and not host_side.exists(), "train.py ran without a sandbox"
    # install_dependencies.sh is user code too: the deploy fails the same way and the script never runs.
    script = f"#!/bin/bash\necho ran > /tmp/{side}\n"
    installer = plat.deploy(plat.upload(extra={"install_dependencies.sh": script}))
    assert installer.status.value == "failed"
    _says_sandbox_cannot_start(installer.reason)
    assert not host_side.exists(), "install_dependencies.sh ran without a sandbox"


def test_unsafe_no_sandbox_runs_user_code_and_says_so_loudly(plat, settings, broken_bwrap, open_dir, monkeypatch):
    # Without the sandbox nothing is mounted: the run's uid walks the host paths itself, so DATA_DIR must not
    # sit in a private folder here.
    settings.data_dir = open_dir / "data"
    settings.data_dir.mkdir()
    model = plat.model()
    settings.bwrap_path = broken_bwrap
    monkeypatch.setenv("TRAINYARD_UNSAFE_NO_SANDBOX", "1")
    settings.unsafe_no_sandbox = Settings().unsafe_no_sandbox
    assert settings.unsafe_no_sandbox is True
    side = plat.token + ".txt"
    marker = f"trainyard-unsafe-daemon-{uuid.uuid4().hex}"
    task, [run] = plat.run_task(model=model, cfg={"side_effect": side, "env": True, "daemons": marker})
    ws = settings.path(f"runs/{task.id}/{run.id}/workspace")
    assert (ws / side).read_text() == plat.token, "user code did not run"
    lines = plat.run_log(run)  # still no worker secret in its environment
    warning = [t for s, t in lines if "TRAINYARD_UNSAFE_NO_SANDBOX" in t]
    assert warning and "WITHOUT the sandbox" in warning[0]
    # Without the pid namespace, the sweep by the run's uid still takes its daemons.
    assert procs_with(marker) == []
    # The platform's paths must work without the sandbox too: --work-dir and --data are host
    # paths then, not /workspace/work_dir and /dataset (which do not exist outside it).
    assert run.status == RunStatus.completed, run.reason
    assert (settings.path(run.work_dir) / "best.pt").is_file()
    assert task.status == TaskStatus.completed, task.reason
