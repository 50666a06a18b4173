"""The walking skeleton end to end: dataset zip + model zip in, a sandboxed
run through a real RQ worker, metrics and status out."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlmodel import select

from runner import context
from shared.core.errors import PackageError
from shared.core.queue import enqueue_deploy
from shared.records import DeployStatus, MetricPoint, ModelPackage, RunStatus, TaskStatus
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from shared.services.tasks import TaskIn, create_task, get_task, task_runs, task_summary
from tests.support.paths import ROOT
from tests.support.people import OP
from tests.support.pkgs import QUADRATIC_TRAIN, write_dataset, write_package


def _deployed_model(session, settings, ctx, burst, tmp_path, **kw):
    model = add_model(session=session, settings=settings, zip_path=write_package(tmp_path / "m.zip", **kw),
                      name="quadratic", task_type="classification", actor=OP)
    enqueue_deploy(model.id, connection=ctx.redis)
    burst()
    session.refresh(model)
    return model


def test_one_run_end_to_end(settings, ctx, session, burst, tmp_path, db_url):
    ds = add_dataset(session=session, settings=settings, zip_path=write_dataset(tmp_path / "d.zip"), name="tiny",
                     task_type="classification", actor=OP)
    model = _deployed_model(session, settings, ctx, burst, tmp_path)
    assert model.status == DeployStatus.deployed, model.reason
    task = create_task(session=session, task_in=TaskIn(name="t", model_id=model.id, dataset_id=ds.id, epochs=4,
                                                      metrics=["loss", "score"], eval_metric="score",
                                                      params={"x": ("0.25", False)}), actor=OP)
    context.current().schedule(task.id)
    burst()
    session.expire_all()
    task = get_task(session=session, task_id=task.id)
    assert task.status == TaskStatus.completed, task.reason
    [run] = task_runs(session=session, task_id=task.id)
    assert run.status == RunStatus.completed
    assert task.best_run_id == run.id
    points = session.exec(select(MetricPoint).where(MetricPoint.run_id == run.id,
                                                    MetricPoint.name == "epoch")).all()
    assert [p.value for p in sorted(points, key=lambda p: p.seq)] == [1, 2, 3, 4]
    summary = task_summary(session=session, task=task)
    assert summary["runs"][0]["metrics"]["score"][-1] == pytest.approx(1 - 0.05**2 - 0.36, abs=1e-6)
    # argv: platform args filled (declared ones only), epochs, device, user values.
    argv = json.loads(next(line for line in (settings.path(run.log_path)).read_text().splitlines()
                           if "argv" in line).split("argv ", 1)[1])
    assert argv[argv.index("--epochs") + 1] == "4"
    assert argv[argv.index("--x") + 1] == "0.25"
    assert argv[argv.index("--device") + 1] == "cpu"
    assert argv[argv.index("--data") + 1] == "/dataset"
    assert argv[argv.index("--train-data") + 1] == "/dataset/train"
    assert json.loads(argv[argv.index("--label-class") + 1]) == {"0": "a", "1": "b"}
    assert "--val-data" not in argv  # not declared by this train.py
    assert (settings.path(run.work_dir) / "best.pt").is_file()


def test_failing_train_py_keeps_log_and_reason(settings, ctx, session, burst, tmp_path):
    ds = add_dataset(session=session, settings=settings, zip_path=write_dataset(tmp_path / "d.zip"), name="tiny",
                     task_type="classification", actor=OP)
    model = _deployed_model(session, settings, ctx, burst, tmp_path)
    task = create_task(session=session, task_in=TaskIn(name="t", model_id=model.id, dataset_id=ds.id, epochs=2,
                                                      params={"fail": ("true", False)}), actor=OP)
    context.current().schedule(task.id)
    burst()
    session.expire_all()
    task = get_task(session=session, task_id=task.id)
    [run] = task_runs(session=session, task_id=task.id)
    assert run.status == RunStatus.failed
    assert run.exit_code == 3
    assert "exit code 3" in run.reason and "asked to fail" in run.reason
    assert task.status == TaskStatus.failed and "asked to fail" in task.reason
    assert settings.path(run.log_path).read_text().count("epoch: ") == 2


def test_global_variables_are_substituted(settings, ctx, session, burst, tmp_path):
    train = '''
import os
data = "DATA_PATH"
work = "WORK_DIR_PATH"
classes = "LABEL_CLASS"
n = "LABEL_CLASS_COUNT"
os.makedirs(work, exist_ok=True)
print(f"seen: {data}|{work}|{classes}|{n + 0}")
print("epoch: 1, acc: 0.5")
'''
    ds = add_dataset(session=session, settings=settings, zip_path=write_dataset(tmp_path / "d.zip"), name="tiny",
                     task_type="classification", actor=OP)
    model = _deployed_model(session, settings, ctx, burst, tmp_path, train=train)
    task = create_task(session=session, actor=OP,
                       task_in=TaskIn(name="g", model_id=model.id, dataset_id=ds.id, epochs=1))
    context.current().schedule(task.id)
    burst()
    [run] = task_runs(session=session, task_id=task.id)
    session.refresh(run)
    assert run.status == RunStatus.completed, run.reason
    log = settings.path(run.log_path).read_text()
    assert 'seen: /dataset|/workspace/work_dir|{"0": "a", "1": "b"}|2' in log


def test_package_missing_predict_is_rejected_and_leaves_nothing(settings, session, tmp_path):
    import zipfile

    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("m/train.py", QUADRATIC_TRAIN)
        zf.writestr("m/requirements.txt", "")
        zf.writestr("m/weights/.keep", "")
    with pytest.raises(PackageError, match="predict.py"):
        add_model(session=session, settings=settings, zip_path=bad, name="bad", actor=OP)
    assert session.exec(select(ModelPackage)).all() == []
    models_dir = settings.data_dir / "models"
    leftovers = [p for p in models_dir.rglob("*") if p.name != ".incoming"] if models_dir.exists() else []
    assert leftovers == []


def test_cli_reports_errors_on_stderr(settings, tmp_path):
    notzip = tmp_path / "x.zip"
    notzip.write_text("hello")
    proc = subprocess.run([sys.executable, "-m", "runner", "dataset", "add", str(notzip), "--name", "x",
                           "--type", "classification", "--json"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "not a zip" in json.loads(proc.stderr)["error"]
    proc = subprocess.run([sys.executable, "-m", "runner", "dataset", "add", str(notzip), "--type", "nope"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and "unknown task type" in proc.stderr
