"""Several GPUs per run, placed by real worker processes on one "host" (a shared GPU lock folder) with fake
GPU ids: every run gets as many GPUs as its task asks, no GPU is in two runs at once, ``--device`` and
``CUDA_VISIBLE_DEVICES`` agree, and a run needing more GPUs than any worker has is never taken. ``--local_rank``
is a launcher flag (LAUNCHER_FLAGS): train.py may declare it, but it is no user parameter and a run never gets it
on its command line (under torchrun each process reads LOCAL_RANK from its environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from runner.jobs.train import build_argv
from shared.core.errors import TrainyardError
from shared.core.queue import enqueue_deploy
from shared.records import Dataset, ModelPackage, Run, RunStatus, Task, TaskStatus, TaskType
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from shared.services.tasks import TaskIn, create_task, get_task, request_stop, task_runs
from tests.support.paths import ROOT
from tests.support.people import OP
from tests.support.pkgs import write_dataset, write_package
from tests.support.procs import wait_for
from tests.support.sandbox import bwrap_works

RECORDING_TRAIN = '''
import argparse, json, os, time
p = argparse.ArgumentParser()
p.add_argument("--work-dir", default="out")
p.add_argument("--data")
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--device", default="cpu")
p.add_argument("--local_rank", type=int, default=0)
a = p.parse_args()
os.makedirs(a.work_dir, exist_ok=True)
start = time.time()
time.sleep(1.0)
print(f"epoch: 1, loss: 0.5", flush=True)
with open(os.path.join(a.work_dir, "placement.json"), "w") as f:
    json.dump({"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "device": a.device, "start": start,
               "end": time.time()}, f)
'''

GPUS = "0,1,2"


def _worker(settings, lock_dir, log):
    env = dict(os.environ, TRAINYARD_GPU_LOCK_DIR=str(lock_dir))
    return subprocess.Popen([sys.executable, "-m", "runner", "worker", "--gpus", GPUS], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _records(settings, session, task_id):
    out = []
    for r in task_runs(session=session, task_id=task_id):
        rec = json.loads((settings.path(r.work_dir) / "placement.json").read_text())
        out.append((r, rec))
    return out


@pytest.mark.skipif(not bwrap_works(), reason="bubblewrap cannot start a sandbox here")
def test_runs_get_their_gpus_and_never_share_one(settings, ctx, session, burst, tmp_path):
    ds = add_dataset(session=session, actor=OP, settings=settings, zip_path=write_dataset(tmp_path / "d.zip"),
                     name="tiny", task_type="classification")
    model = add_model(session=session, actor=OP, settings=settings, name="m", task_type="classification",
                      zip_path=write_package(tmp_path / "m.zip", train=RECORDING_TRAIN))
    enqueue_deploy(model.id, connection=ctx.redis)
    burst()
    session.refresh(model)
    assert model.status.value == "deployed", model.reason
    tasks = {}
    for gpus, runs in ((2, 3), (1, 4), (4, 1)):
        t = create_task(session=session, actor=OP, task_in=TaskIn(
            name=f"g{gpus}", model_id=model.id, dataset_id=ds.id, n_runs=runs, max_parallel=runs, gpus_per_run=gpus))
        ctx.schedule(t.id)
        tasks[gpus] = t.id
    lock_dir = tmp_path / "gpus"
    with open(tmp_path / "workers.log", "wb") as log:
        procs = [_worker(settings, lock_dir, log) for _ in range(3)]
        try:
            for g in (2, 1):
                wait_for(lambda g=g: get_task(session=session, task_id=tasks[g]).status.finished, 240,
                         f"the {g}-GPU task to finish (log: {tmp_path / 'workers.log'})", every=0.5)
            # No worker has 4 GPUs: that run was never taken.
            big = task_runs(session=session, task_id=tasks[4])
            assert [r.status for r in big] == [RunStatus.queued]
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=60)
    request_stop(session=session, actor=OP, task_id=tasks[4])
    ctx.schedule(tasks[4])

    spans: list[tuple[str, float, float, int]] = []
    for g in (2, 1):
        assert get_task(session=session, task_id=tasks[g]).status == TaskStatus.completed
        for run, rec in _records(settings, session, tasks[g]):
            host_gpus = rec["cuda"].split(",")
            assert len(host_gpus) == g and set(host_gpus) <= set(GPUS.split(",")), rec
            assert rec["device"] == run.device == ",".join(str(i) for i in range(g))  # renumbered from 0
            spans += [(gpu, rec["start"], rec["end"], run.id) for gpu in host_gpus]
    for gpu, start, end, run_id in spans:
        for other_gpu, o_start, o_end, other_id in spans:
            if other_id != run_id and other_gpu == gpu:
                assert end <= o_start or o_end <= start, f"GPU {gpu} was in runs {run_id} and {other_id} at once"
    # The launcher's own flag is never passed, though train.py declares it.
    for g in (2, 1):
        for run in task_runs(session=session, task_id=tasks[g]):
            argv = (settings.path(run.log_path).parent / "argv.txt").read_text()
            assert "--device" in argv and "--local_rank" not in argv, argv


def _model(tmp_path, *, distributed: bool) -> tuple[ModelPackage, str]:
    from shared.contract.package import check_package

    tmp_path.mkdir(parents=True, exist_ok=True)
    pkg = write_package(tmp_path / "m.zip", train=RECORDING_TRAIN)
    root = tmp_path / "pkg"
    zipfile.ZipFile(pkg).extractall(root)
    report = check_package(root=next(p for p in root.iterdir() if p.is_dir()))
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").touch()
    model = ModelPackage(id=1, name="m", path="-", report=report.to_dict(), distributed=distributed)
    return model, str(env / "bin" / "python")


def test_a_distributed_model_starts_through_its_envs_torchrun(tmp_path):
    model, python = _model(tmp_path, distributed=True)
    task = Task(name="t", model_id=1, dataset_id=1, gpus_per_run=2)
    dataset = Dataset(name="d", task_type=TaskType.other, path="-", report={"task_type": "other"})
    # A run row stored before launcher flags were refused as user parameters: build_argv still drops it.
    run = Run(task_id=1, params={"local_rank": 5})
    with pytest.raises(TrainyardError, match="has no torchrun: add torch to requirements.txt"):
        build_argv(python=python, task=task, run=run, model=model, dataset=dataset, device="0,1", nproc=2)
    torchrun = tmp_path / "env" / "bin" / "torchrun"
    torchrun.touch()
    argv = build_argv(python=python, task=task, run=run, model=model, dataset=dataset, device="0,1", nproc=2)
    assert argv[:4] == [str(torchrun), "--standalone", "--nproc-per-node=2", "train.py"]
    assert argv[argv.index("--device") + 1] == "0,1"
    assert "--local_rank" not in argv  # torchrun gives each process LOCAL_RANK itself

    plain, python = _model(tmp_path / "plain", distributed=False)
    argv = build_argv(python=python, task=task, run=run, model=plain, dataset=dataset, device="0", nproc=1)
    assert argv[:2] == [python, "train.py"]
