"""Where the env is and where DATA_DIR is (issue 15): a model's env appears at
one fixed path inside every sandbox (its install script's ``$1``, runs,
predictions), built relocatable so its console scripts work there; and what
the sandbox's uid cannot reach is named when ``up`` or a worker starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from runner.sandbox import ENV_MOUNT, stage
from runner.sandbox.reach import check_paths
from runner.up import up
from shared.core.errors import SandboxError
from shared.core.queue import enqueue_deploy
from shared.core.settings import Settings, others_can_enter
from shared.records import RunStatus, TaskStatus
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from shared.services.tasks import TaskIn
from tests.flow.test_tasks import _run_task
from tests.support.paths import ROOT
from tests.support.people import OP
from tests.support.pkgs import QUADRATIC_TRAIN, write_dataset, write_package

IS_ROOT = os.geteuid() == 0

TRAIN = '''
import shutil, subprocess
import colorama
print("colorama at", colorama.__file__, flush=True)
print("pip script at", shutil.which("pip"), flush=True)
print("pip says", subprocess.run(["pip", "--version"], capture_output=True, text=True).stdout.strip(), flush=True)
''' + QUADRATIC_TRAIN

INSTALL = 'echo "env is $1"\n"$1/bin/pip" install --no-cache-dir colorama\n'


def test_install_script_and_runs_see_the_env_at_its_fixed_path(settings, ctx, session, burst, tmp_path):
    local = [u for u in settings.extra_index_urls if u.startswith("file://")]
    if not local:
        pytest.skip("no file:// package index in pip's configuration for the install script's pip")
    settings.index_url, settings.extra_index_urls = local[0], local[1:]
    ds = add_dataset(session=session, settings=settings, zip_path=write_dataset(tmp_path / "d.zip"), name="d",
                     task_type="classification", actor=OP)
    model = add_model(session=session, settings=settings, actor=OP, name="m", task_type="classification",
                      zip_path=write_package(tmp_path / "m.zip", train=TRAIN,
                                             extra={"install_dependencies.sh": INSTALL}))
    enqueue_deploy(model.id, connection=ctx.redis)
    burst()
    session.refresh(model)
    assert model.status.value == "deployed", model.reason
    deploy_log = settings.path(model.install_log).read_text()
    assert f"env is {ENV_MOUNT}\n" in deploy_log, deploy_log
    env = settings.data_dir / "envs" / model.env_key
    # Relocatable: no script of the env names the host path it was built at.
    pip_script = (env / "bin" / "pip").read_text()
    assert str(env) not in pip_script, pip_script.splitlines()[:3]

    task, [run] = _run_task(session, burst, TaskIn(name="fixed", model_id=model.id, dataset_id=ds.id, epochs=1,
                                                    metrics=["score"], eval_metric="score"))
    assert task.status == TaskStatus.completed and run.status == RunStatus.completed, run.reason
    log = (settings.path(run.log_path)).read_text(errors="replace")
    assert f"colorama at {ENV_MOUNT}/lib/" in log, log  # installed by $1/bin/pip during the deploy
    assert f"pip script at {ENV_MOUNT}/bin/pip" in log, log
    assert f"from {ENV_MOUNT}/lib/" in log, log  # the console script runs at the fixed path
    assert str(settings.data_dir) not in log


@pytest.fixture
def open_tmp():
    """A world-searchable scratch dir (pytest's own is 0700 all the way up)."""
    d = Path(tempfile.mkdtemp(prefix="trainyard-portability-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _private_data_dir(tmp: Path) -> Path:
    home = tmp / "roothome"
    home.mkdir(mode=0o700)
    os.chmod(home, 0o700)  # as /root: the sandbox's uid cannot pass through it
    return home / "trainyard" / "data"


@pytest.mark.skipif(not IS_ROOT, reason="only a root worker drops to the sandbox's uid")
def test_a_private_data_dir_starts_a_worker_that_can_stage_and_stops_one_that_cannot(settings, tmp_path, open_tmp):
    """A worker (a real process) with DATA_DIR in a 0700 home: it mounts runs' folders for the sandbox's uid
    itself when it can (root with CAP_SYS_ADMIN), so it starts; without that it stops at once, naming path,
    uid and fix."""
    data = _private_data_dir(open_tmp)
    env = {**os.environ, "TRAINYARD_DATA_DIR": str(data), "TRAINYARD_DATABASE_URL": f"sqlite:///{tmp_path}/w.db"}
    proc = subprocess.run([sys.executable, "-m", "runner", "worker", "--cpu", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if stage.available():
        assert proc.returncode == 0, proc.stderr[-2000:]
        return
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr
    assert f"uid {settings.sandbox_uid_base}" in err, err
    assert str(data) in err and f"directory {open_tmp / 'roothome'}" in err and "not searchable" in err, err
    assert "TRAINYARD_DATA_DIR" in err and f"chmod o+x` {open_tmp / 'roothome'}" in err, err


@pytest.mark.skipif(not IS_ROOT, reason="only a root worker drops to the sandbox's uid")
def test_up_refuses_a_private_data_dir_only_when_it_cannot_stage(tmp_path, open_tmp, capsys, monkeypatch):
    data = _private_data_dir(open_tmp)
    monkeypatch.setattr(stage, "available", lambda: False)
    assert up(settings=Settings(data_dir=data, database_url=f"sqlite:///{tmp_path}/u.db"), ui=False) == 2
    err = capsys.readouterr().err
    assert err.startswith("[up] The sandbox user (uid ") and str(data) in err and "TRAINYARD_DATA_DIR" in err, err
    assert "CAP_SYS_ADMIN" in err, err
    monkeypatch.setattr(stage, "available", lambda: True)
    check_paths(Settings(data_dir=data, database_url=f"sqlite:///{tmp_path}/u.db"))  # staged: nothing to refuse


@pytest.mark.skipif(not IS_ROOT, reason="only a root worker drops to the sandbox's uid")
def test_an_interpreter_in_a_private_home_is_named_with_the_fix_when_nothing_is_staged(settings, open_tmp,
                                                                                       monkeypatch):
    home = open_tmp / "roothome"
    home.mkdir(mode=0o700)
    python = home / "python3"
    python.symlink_to(os.path.realpath(settings.env_python))
    settings.env_python = str(python)
    monkeypatch.setattr(stage, "available", lambda: True)
    check_paths(settings)  # staged: the interpreter's prefix is mounted by root; only its own mode matters
    monkeypatch.setattr(stage, "available", lambda: False)
    with pytest.raises(SandboxError) as err:
        check_paths(settings)
    msg = str(err.value)
    assert f"{python} (the interpreter model envs are built on (TRAINYARD_ENV_PYTHON))" in msg, msg
    assert f"uid {settings.sandbox_uid_base}" in msg and "/usr/bin/python3.11" in msg, msg
    if others_can_enter(settings.data_dir):  # CI's DATA_DIR is private: with staging off it is named too
        assert str(settings.data_dir) not in msg


def test_nothing_is_checked_without_a_uid_to_drop_to(settings, open_tmp):
    settings.unsafe_no_sandbox = True
    settings.data_dir = _private_data_dir(open_tmp)
    check_paths(settings)  # the worker's own permissions apply: nothing to refuse
