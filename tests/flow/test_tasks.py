"""Training tasks: search, ranking, pruning, stop, time limit, crash recovery."""

from __future__ import annotations

import os
import signal
import time

import pytest

from runner import context
from runner.reconcile import reconcile_once
from shared.core.errors import FieldError
from shared.core.queue import enqueue_deploy, queued_job_ids
from shared.records import RunStatus, TaskStatus
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from shared.services.tasks import TaskIn, create_task, get_task, request_stop, task_runs
from tests.support.people import OP
from tests.support.pkgs import write_dataset, write_package
from tests.support.procs import STUBBORN_TRAIN, procs_with, start_worker, wait_for


@pytest.fixture
def setup(settings, ctx, session, burst, tmp_path):
    def make(**pkg):
        ds = add_dataset(session=session, settings=settings, zip_path=write_dataset(tmp_path / "d.zip"),
                         name="tiny", task_type="classification", actor=OP)
        model = add_model(session=session, settings=settings, zip_path=write_package(tmp_path / "m.zip", **pkg),
                          name="m", task_type="classification", actor=OP)
        enqueue_deploy(model.id, connection=ctx.redis)
        burst()
        session.refresh(model)
        assert model.status.value == "deployed", model.reason
        return ds, model
    return make


def _run_task(session, burst, task_in):
    task = create_task(session=session, task_in=task_in, actor=OP)
    context.current().schedule(task.id)
    burst()
    session.expire_all()
    return get_task(session=session, task_id=task.id), task_runs(session=session, task_id=task.id)


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid"])
def test_search_makes_the_runs_within_ranges_and_marks_the_best(setup, session, burst, sampler, db_url):
    ds, model = setup()
    params = {"k": ("[5, 9]", True), "opt": ("{sgd, adam}", True)}
    if sampler != "grid":
        params["x"] = ("[0.0, 1.0]", True)
    task, runs = _run_task(session, burst, TaskIn(
        name=sampler, model_id=model.id, dataset_id=ds.id, epochs=2, n_runs=6, metrics=["score"],
        eval_metric="score", params=params, sampler=sampler, prune=False, seed=1, max_parallel=3))
    assert task.status == TaskStatus.completed, task.reason
    assert len(runs) == 6 and all(r.status == RunStatus.completed for r in runs)
    for r in runs:
        assert 5 <= r.params["k"] <= 9 and isinstance(r.params["k"], int)
        assert r.params["opt"] in ("sgd", "adam")
        if sampler != "grid":
            assert 0.0 <= r.params["x"] <= 1.0
    best = max(runs, key=lambda r: r.score)
    assert task.best_run_id == best.id
    if sampler == "grid":
        assert len({(r.params["k"], r.params["opt"]) for r in runs}) == 6  # no grid point twice
    else:
        assert len({r.params["x"] for r in runs}) == 6  # a fixed seed must not repeat the same point


def test_without_search_flags_runs_repeat_the_same_values(setup, session, burst):
    ds, model = setup()
    task, runs = _run_task(session, burst, TaskIn(name="rep", model_id=model.id, dataset_id=ds.id, epochs=1,
                                                  n_runs=3, eval_metric="score", params={"x": ("0.1", False)}))
    assert [r.params for r in runs] == [{"x": 0.1}] * 3


def test_min_direction_and_missing_metric_is_flagged(setup, session, burst):
    ds, model = setup()
    task, runs = _run_task(session, burst, TaskIn(name="min", model_id=model.id, dataset_id=ds.id, epochs=2,
                                                  n_runs=3, eval_metric="loss", params={"x": ("[0, 1]", True)},
                                                  sampler="random", seed=3, prune=False))
    assert task.direction.value == "min"
    assert task.best_run_id == min(runs, key=lambda r: r.score).id
    task2, runs2 = _run_task(session, burst, TaskIn(name="never", model_id=model.id, dataset_id=ds.id, epochs=1,
                                                    eval_metric="mAP"))
    assert runs2[0].score is None and runs2[0].score_missing
    assert "never printed" in runs2[0].reason
    assert task2.best_run_id is None and "mAP" in task2.reason


def test_pruning_stops_clearly_worse_runs(setup, session, burst):
    ds, model = setup()
    # Sequential runs: good ones first (x near 0.3), then clearly worse ones.
    task = create_task(session=session, actor=OP, task_in=TaskIn(
        name="prune", model_id=model.id, dataset_id=ds.id, epochs=8, n_runs=8, eval_metric="score",
        params={"x": ("[-3.0, 3.0]", True), "sleep": ("0.15", False)}, sampler="random", seed=7, max_parallel=1))
    context.current().schedule(task.id)
    burst()
    runs = task_runs(session=session, task_id=task.id)
    pruned = [r for r in runs if r.status == RunStatus.pruned]
    assert pruned, [(r.params, r.status, r.score) for r in runs]
    for r in pruned:
        assert "pruned" in r.reason
    session.expire_all()
    assert get_task(session=session, task_id=task.id).status == TaskStatus.completed


@pytest.mark.parametrize("bad,field", [
    ({"params": {"x": ("0.5", True)}, "eval_metric": "score"}, "x"),          # search on without a range
    ({"metrics": ["loss"], "eval_metric": "score"}, "eval metric"),            # eval metric not charted
    ({"params": {"opt": ("[1, 2]", True)}, "eval_metric": "score"}, "opt"),    # range on a string
    ({"n_runs": 0}, "runs"),                                                   # zero runs
    ({"time_limit": "soon"}, "time limit"),
    ({"params": {"k": ("abc", False)}}, "k"),
    ({"params": {"nope": ("1", False)}}, "nope"),
    ({"params": {"x": ("[0, 1]", True)}, "eval_metric": "score", "sampler": "grid"}, "sampler"),
])
def test_bad_combinations_are_refused_at_the_field(setup, session, bad, field):
    ds, model = setup()
    kw = {"name": "bad", "model_id": model.id, "dataset_id": ds.id, "epochs": 1, **bad}
    with pytest.raises(FieldError) as err:
        create_task(session=session, task_in=TaskIn(**kw), actor=OP)
    assert err.value.field == field


def _running_run(session, task_id):
    session.expire_all()
    runs = task_runs(session=session, task_id=task_id)
    return runs and runs[0].status == RunStatus.running and runs[0].lines > 2


@pytest.mark.slow
@pytest.mark.parametrize("how", ["stop", "time_limit"])
def test_stop_and_time_limit_kill_the_whole_tree(setup, settings, session, how, tmp_path):
    ds, model = setup(train=STUBBORN_TRAIN)
    marker = f"trainyard-marker-{how}-{os.getpid()}"
    task = create_task(session=session, task_in=TaskIn(
        name=how, model_id=model.id, dataset_id=ds.id, epochs=1, n_runs=2, max_parallel=1,
        params={"marker": (marker, False)}, time_limit="4s" if how == "time_limit" else None), actor=OP)
    worker = start_worker(settings)
    context.current().schedule(task.id)
    try:
        wait_for(lambda: _running_run(session, task.id), 60, "the run to start")
        assert procs_with(marker), "the stubborn child should be running"
        if how == "stop":
            request_stop(session=session, task_id=task.id, actor=OP)
            # How soon they go is measured in bench/ (figure 9, stop latency); here, that they all go.
            wait_for(lambda: not procs_with(marker), 30, "every process of the run to be gone")
        wait_for(lambda: get_task(session=session, task_id=task.id).status.finished
              if not session.expire_all() else False, 30, "the task to finish")
        session.expire_all()
        task = get_task(session=session, task_id=task.id)
        runs = task_runs(session=session, task_id=task.id)
        assert not procs_with(marker)
        if how == "stop":
            assert task.status == TaskStatus.stopped
            assert runs[0].status == RunStatus.stopped
            assert [r.status for r in runs[1:]] in ([], [RunStatus.cancelled])
        else:
            assert task.status == TaskStatus.timed_out
            assert runs[0].status == RunStatus.timed_out and "time limit" in runs[0].reason
        assert settings.path(runs[0].log_path).read_text().count("epoch:") >= 2
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)


@pytest.mark.slow
def test_worker_killed_mid_run_is_recovered(setup, settings, ctx, session, monkeypatch):
    ds, model = setup(train=STUBBORN_TRAIN)
    marker = f"trainyard-marker-kill9-{os.getpid()}"
    task = create_task(session=session, task_in=TaskIn(name="k9", model_id=model.id, dataset_id=ds.id, epochs=1,
                                                      params={"marker": (marker, False)}), actor=OP)
    worker = start_worker(settings)
    context.current().schedule(task.id)
    try:
        wait_for(lambda: _running_run(session, task.id), 60, "the run to start")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        # --die-with-parent: the sandbox goes with the worker.
        wait_for(lambda: not procs_with(marker), 5, "the run's processes to die with the worker")
    finally:
        if worker.poll() is None:
            worker.kill()
    ctx.settings.lost_after_s = 1.0
    time.sleep(1.5)
    counts = reconcile_once()
    assert counts["lost"] == 1
    session.expire_all()
    [run] = task_runs(session=session, task_id=task.id)
    assert run.status == RunStatus.failed and "worker lost" in run.reason
    assert settings.path(run.log_path).exists()
    assert get_task(session=session, task_id=task.id).status == TaskStatus.failed


def test_reconciler_reenqueues_runs_redis_lost(setup, ctx, session, burst):
    ds, model = setup()
    task = create_task(session=session, actor=OP,
                       task_in=TaskIn(name="lost", model_id=model.id, dataset_id=ds.id, epochs=1))
    context.current().schedule(task.id)
    [run] = task_runs(session=session, task_id=task.id)
    assert run.job_id in queued_job_ids(connection=ctx.redis)
    ctx.redis.flushdb()  # Redis loses its queue
    assert reconcile_once()["reenqueued"] == 1
    burst()
    session.expire_all()
    assert get_task(session=session, task_id=task.id).status == TaskStatus.completed


@pytest.mark.slow
def test_worker_shutdown_kills_the_run_tree(setup, settings, session):
    ds, model = setup(train=STUBBORN_TRAIN)
    marker = f"trainyard-marker-term-{os.getpid()}"
    task = create_task(session=session, task_in=TaskIn(name="term", model_id=model.id, dataset_id=ds.id, epochs=1,
                                                      params={"marker": (marker, False)}), actor=OP)
    worker = start_worker(settings)
    context.current().schedule(task.id)
    try:
        wait_for(lambda: _running_run(session, task.id), 60, "the run to start")
        worker.send_signal(signal.SIGTERM)
        worker.wait(15)
        assert not procs_with(marker)
    finally:
        if worker.poll() is None:
            worker.kill()
    session.expire_all()
    [run] = task_runs(session=session, task_id=task.id)
    assert run.status == RunStatus.failed and "worker shut down" in run.reason


def test_lost_run_is_requeued_when_the_setting_says_so(setup, ctx, session, burst):
    from datetime import timedelta

    from shared.records import utcnow

    ds, model = setup()
    task = create_task(session=session, actor=OP,
                       task_in=TaskIn(name="rq", model_id=model.id, dataset_id=ds.id, epochs=1))
    context.current().schedule(task.id)
    [run] = task_runs(session=session, task_id=task.id)
    # What a worker killed mid-run leaves behind: running, heartbeat long ago, job gone.
    run.status = RunStatus.running
    run.worker = "gone-worker"
    run.started_at = run.heartbeat_at = utcnow() - timedelta(seconds=120)
    session.add(run)
    session.commit()
    ctx.redis.flushdb()
    ctx.settings.requeue_lost_runs = True
    counts = reconcile_once()
    assert counts["lost"] == 1 and counts["requeued"] == 1
    session.refresh(run)
    assert run.status == RunStatus.queued and run.attempt == 1 and "re-queued" in run.reason
    burst()
    session.expire_all()
    assert get_task(session=session, task_id=task.id).status == TaskStatus.completed
