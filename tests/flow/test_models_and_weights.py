"""Model lifecycle (deploy with an install script, templates, delete), weights
download, clone and re-run."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from runner import context
from shared.core.errors import ConflictError, FieldError
from shared.core.queue import enqueue_deploy, enqueue_run
from shared.records import DeployStatus, RunStatus, TaskStatus
from shared.services.datasets import add_dataset
from shared.services.models import add_model, delete_model, get_model, list_templates, model_summary, save_template
from shared.services.tasks import TaskIn, clone_task, create_task, get_task, rerun_run, task_runs
from shared.services.weights import write_weights_zip
from tests.support.paths import ROOT
from tests.support.people import OP
from tests.support.pkgs import write_dataset, write_package


def _model(session, settings, ctx, burst, tmp_path, name="m", **kw):
    model = add_model(session=session, settings=settings, zip_path=write_package(tmp_path / f"{name}.zip", **kw),
                      name=name, task_type="classification", actor=OP)
    enqueue_deploy(model.id, connection=ctx.redis)
    burst()
    session.refresh(model)
    return model


def _dataset(session, settings, tmp_path):
    return add_dataset(session=session, settings=settings, zip_path=write_dataset(tmp_path / "d.zip"), name="d",
                       task_type="classification", actor=OP)


def test_install_script_runs_in_the_sandbox_after_requirements(settings, ctx, session, burst, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("TRAINYARD_SECRET_TOKEN", "s3cr3t-value")
    script = ('echo "env is $1"\n'
              'echo "token=${TRAINYARD_SECRET_TOKEN:-absent}"\n'
              '"$1/bin/pip" --version\n'
              'echo ok > "$1/installed-by-script.txt"\n')
    model = _model(session, settings, ctx, burst, tmp_path, extra={"install_dependencies.sh": script})
    assert model.status == DeployStatus.deployed, model.reason
    log = settings.path(model.install_log).read_text()
    assert "token=absent" in log and "s3cr3t-value" not in log
    assert "pip " in log  # the env has pip for the script
    env = settings.data_dir / "envs" / model.env_key
    assert (env / "installed-by-script.txt").read_text().strip() == "ok"
    assert model_summary(model)["install_script"] is True


def test_second_deploy_with_same_requirements_builds_nothing(settings, ctx, session, burst, tmp_path):
    a = _model(session, settings, ctx, burst, tmp_path, name="a")
    b = _model(session, settings, ctx, burst, tmp_path, name="b")
    assert a.env_key == b.env_key
    assert "reused from cache" in settings.path(b.install_log).read_text()
    assert "built" in settings.path(a.install_log).read_text()


def test_failing_requirement_shows_the_resolver_line(settings, ctx, session, burst, tmp_path):
    model = _model(session, settings, ctx, burst, tmp_path, requirements="nonexistent-pkg-xyz==1.0\n")
    assert model.status == DeployStatus.failed
    assert "nonexistent-pkg-xyz" in model.reason and ("No solution" in model.reason or "not found" in model.reason)


def test_templates_are_typed_and_delete_is_refused_while_used(settings, ctx, session, burst, tmp_path):
    model = _model(session, settings, ctx, burst, tmp_path)
    with pytest.raises(FieldError, match="'abc' is not an integer"):
        save_template(session=session, model_id=model.id, name="bad", values={"k": "abc"}, actor=OP)
    with pytest.raises(FieldError, match="no user parameter"):
        save_template(session=session, model_id=model.id, name="bad", values={"nope": "1"}, actor=OP)
    tpl = save_template(session=session, model_id=model.id, name="fast", values={"k": "7", "x": "0.3"}, actor=OP)
    assert tpl.values == {"k": 7, "x": 0.3}
    assert [t.name for t in list_templates(session=session, model_id=model.id, actor=OP)] == ["fast"]
    ds = _dataset(session, settings, tmp_path)
    create_task(session=session, task_in=TaskIn(name="t", model_id=model.id, dataset_id=ds.id, epochs=1), actor=OP)
    with pytest.raises(ConflictError, match="used by task"):
        delete_model(session=session, settings=settings, model_id=model.id, actor=OP)
    assert get_model(session=session, model_id=model.id)


def test_model_show_json_lists_parameters(settings, ctx, session, burst, tmp_path):
    model = _model(session, settings, ctx, burst, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "runner", "model", "show", str(model.id), "--json"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == "deployed"
    user = {p["name"]: p for p in data["user_parameters"]}
    assert user["x"]["type"] == "float" and user["x"]["default"] == 0.0
    assert user["opt"]["choices"] == ["sgd", "adam"]
    assert user["fail"]["action"] == "store_true"
    platform = {p["name"] for p in data["platform_parameters"]}
    assert {"work-dir", "data", "train-data", "label-class", "label-class-count"} <= platform
    assert "epochs" not in user and "device" not in user


def test_weights_zip_clone_and_rerun(settings, ctx, session, burst, tmp_path, db_url):
    model = _model(session, settings, ctx, burst, tmp_path)
    ds = _dataset(session, settings, tmp_path)
    task = create_task(session=session, task_in=TaskIn(name="w", model_id=model.id, dataset_id=ds.id, epochs=2,
                                                      n_runs=2, eval_metric="score",
                                                      params={"x": ("{0.3, 0.9}", True)}, sampler="grid"), actor=OP)
    context.current().schedule(task.id)
    burst()
    session.expire_all()
    task = get_task(session=session, task_id=task.id)
    assert task.status == TaskStatus.completed
    made = write_weights_zip(session=session, settings=settings, task_id=task.id, run_id=None,
                             dest=tmp_path / "w.zip", actor=OP)
    out, run_id = made.path, made.run_id
    assert not made.partial
    assert run_id == task.best_run_id
    best = next(r for r in task_runs(session=session, task_id=task.id) if r.id == run_id)
    assert best.params["x"] == 0.3
    with zipfile.ZipFile(out) as zf:
        assert f"task{task.id}-run{run_id}/best.pt" in zf.namelist()
        assert f"task{task.id}-run{run_id}/PARTIAL.txt" not in zf.namelist()
    # The CLI writes the same zip.
    proc = subprocess.run([sys.executable, "-m", "runner", "task", "weights", str(task.id), "-o",
                           str(tmp_path / "cli.zip"), "--json"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr and json.loads(proc.stdout)["run"] == run_id
    clone = clone_task(session=session, task_id=task.id, actor=OP)
    assert clone.id != task.id and clone.params == task.params and clone.status == TaskStatus.waiting
    with pytest.raises(ConflictError, match="completed"):
        rerun_run(session=session, run_id=run_id, actor=OP)


def test_rerun_a_failed_run(settings, ctx, session, burst, tmp_path):
    model = _model(session, settings, ctx, burst, tmp_path)
    ds = _dataset(session, settings, tmp_path)
    task = create_task(session=session, task_in=TaskIn(name="f", model_id=model.id, dataset_id=ds.id, epochs=1,
                                                      params={"fail": ("true", False)}), actor=OP)
    context.current().schedule(task.id)
    burst()
    [run] = task_runs(session=session, task_id=task.id)
    session.refresh(run)
    assert run.status == RunStatus.failed
    run = rerun_run(session=session, run_id=run.id, actor=OP)
    assert run.status == RunStatus.queued and run.attempt == 1
    assert get_task(session=session, task_id=task.id).status == TaskStatus.running
    enqueue_run(run.id, connection=ctx.redis, attempt=run.attempt)
    burst()
    session.expire_all()
    [run] = task_runs(session=session, task_id=task.id)
    assert run.status == RunStatus.failed and run.attempt == 1  # same params: fails again, and says so
    assert get_task(session=session, task_id=task.id).status == TaskStatus.failed


def test_deploy_evicts_lru_envs_over_the_cache_size_but_not_envs_in_use(settings, ctx, session, burst, tmp_path):
    from runner.envs import envs_disk_usage

    used = _model(session, settings, ctx, burst, tmp_path, name="used", requirements="six\n")
    idle = _model(session, settings, ctx, burst, tmp_path, name="idle", requirements="idna\n")
    ds = _dataset(session, settings, tmp_path)
    create_task(session=session, task_in=TaskIn(name="keeps", model_id=used.id, dataset_id=ds.id, epochs=1), actor=OP)
    # Room for about one env: the next build must evict, and only the idle one may go.
    ctx.settings.env_cache_max_bytes = envs_disk_usage(settings=settings) // 2
    new = _model(session, settings, ctx, burst, tmp_path, name="new", requirements="colorama\n")
    assert new.status == DeployStatus.deployed, new.reason
    envs = settings.data_dir / "envs"
    assert (envs / used.env_key).is_dir() and (envs / new.env_key).is_dir()
    assert not (envs / idle.env_key).exists()
    assert f"evicted {idle.env_key}" in settings.path(new.install_log).read_text()
