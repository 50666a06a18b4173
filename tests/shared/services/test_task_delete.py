"""Deleting a task, on a real DB and DATA_DIR: who may, what it refuses (a task or run still going, a
prediction still reading its weights, a later task that has not yet read its runs), and that its rows, its
files, the predictions made with it and its Optuna study go, on the audit log either way."""

from __future__ import annotations

import optuna
import pytest
from sqlmodel import select

from shared.core.errors import ConflictError, NotFoundError, PermissionDenied
from shared.core.i18n import Language, use_language
from shared.records import (
    AuditAction,
    AuditEvent,
    MetricPoint,
    ObjectKind,
    Prediction,
    PredictionStatus,
    ResourceSample,
    Run,
    RunStatus,
    Task,
    TaskStatus,
    Visibility,
    utcnow,
)
from shared.services import search
from shared.services.task_delete import delete_task, deletion_plan
from shared.services.tasks import TaskIn, create_task

SEARCH = {"x": ("[0.0, 1.0]", True)}


def _task(session, who, stock, *, visibility=Visibility.team, name="t", params=None, **kw) -> Task:
    ds, model = stock
    return create_task(session=session, actor=who, visibility=visibility,
                       task_in=TaskIn(name=name, model_id=model.id, dataset_id=ds.id, epochs=1, n_runs=2,
                                      eval_metric="score", params=params or {}, **kw))


def _trained(session, settings, task: Task, *, status=TaskStatus.completed, run_status=RunStatus.completed) -> Task:
    """What a worker leaves behind: two runs with their dirs, logs, metrics and resource samples."""
    for i in range(2):
        run = Run(task_id=task.id, index=i, status=run_status, params={"x": 0.1 * (i + 1)}, score=0.5 + i / 10,
                  work_dir=f"runs/{task.id}/{i}/workspace/work_dir", log_path=f"runs/{task.id}/{i}/run.log")
        session.add(run)
        session.commit()
        work = settings.path(run.work_dir)
        (work / "ckpt").mkdir(parents=True)
        (work / "ckpt" / "best.pt").write_bytes(b"weights")
        settings.path(run.log_path).write_text("o score: 0.5\n")
        session.add(MetricPoint(run_id=run.id, name="score", seq=0, value=0.5))
        session.add(ResourceSample(run_id=run.id, t=1.0, cpu_percent=10.0, rss_bytes=1))
    task.status, task.finished_at = status, utcnow()
    task.best_run_id = run.id
    session.add(task)
    session.commit()
    return task


def _prediction(session, settings, task: Task, *, status=PredictionStatus.completed) -> Prediction:
    run = session.exec(select(Run).where(Run.task_id == task.id)).first()
    pred = Prediction(task_id=task.id, run_id=run.id, model_id=task.model_id, weights="ckpt/best.pt", path="",
                      status=status, owner_id=task.owner_id)
    session.add(pred)
    session.commit()
    pred.path = f"predictions/{pred.id}"
    session.add(pred)
    session.commit()
    (settings.path(pred.path) / "work" / "out").mkdir(parents=True)
    (settings.path(pred.path) / "work" / "out" / "a.png").write_bytes(b"png")
    return pred


def _rows(session, task_id: int) -> dict[str, int]:
    run_ids = list(session.exec(select(Run.id).where(Run.task_id == task_id)))
    return {"task": int(session.get(Task, task_id) is not None), "runs": len(run_ids),
            "metrics": len(session.exec(select(MetricPoint).where(MetricPoint.run_id.in_(run_ids))).all()),
            "samples": len(session.exec(select(ResourceSample).where(ResourceSample.run_id.in_(run_ids))).all()),
            "predictions": len(session.exec(select(Prediction).where(Prediction.task_id == task_id)).all())}


def _deletes(session) -> list[tuple[str, str, int | None, str]]:
    rows = session.exec(select(AuditEvent).where(AuditEvent.action == AuditAction.delete,
                                                 AuditEvent.object_kind == ObjectKind.task).order_by(AuditEvent.id))
    return [(e.user_name, e.outcome.value, e.object_id, e.detail) for e in rows]


def test_the_owner_deletes_a_finished_task_its_rows_files_and_predictions(session, settings, people, stock):
    alice = people["alice"]
    task = _trained(session, settings, _task(session, alice, stock))
    kept = _trained(session, settings, _task(session, alice, stock, name="kept"))
    pred = _prediction(session, settings, task)
    kept_pred = _prediction(session, settings, kept)
    assert _rows(session, task.id) == {"task": 1, "runs": 2, "metrics": 2, "samples": 2, "predictions": 1}
    plan = deletion_plan(session=session, actor=alice, task_id=task.id)
    assert (plan.runs, plan.predictions, plan.unlinked) == (2, 1, [])

    done = delete_task(session=session, settings=settings, actor=alice, task_id=task.id)

    assert (done.task_id, done.runs, done.predictions, done.left_on_disk) == (task.id, 2, 1, 0)
    session.expire_all()
    assert _rows(session, task.id) == {"task": 0, "runs": 0, "metrics": 0, "samples": 0, "predictions": 0}
    assert not (settings.data_dir / "runs" / str(task.id)).exists()
    assert not settings.path(pred.path).exists()
    # Nothing of the other task is touched.
    assert _rows(session, kept.id) == {"task": 1, "runs": 2, "metrics": 2, "samples": 2, "predictions": 1}
    assert (settings.data_dir / "runs" / str(kept.id) / "0" / "workspace" / "work_dir" / "ckpt" / "best.pt").is_file()
    assert settings.path(kept_pred.path).is_dir()
    assert _deletes(session) == [("alice", "ok", task.id, "2 runs, 1 predictions")]
    with pytest.raises(NotFoundError, match=f"task {task.id} does not exist"):
        delete_task(session=session, settings=settings, actor=alice, task_id=task.id)


def test_an_admin_deletes_anothers_task_a_member_or_viewer_is_refused_with_the_role(session, settings, people,
                                                                                      stock):
    alice, bob, val, root = people["alice"], people["bob"], people["val"], people["root"]
    task = _trained(session, settings, _task(session, alice, stock))
    hidden = _trained(session, settings, _task(session, alice, stock, visibility=Visibility.private, name="p"))
    with pytest.raises(PermissionDenied) as err:
        delete_task(session=session, settings=settings, actor=bob, task_id=task.id)
    assert str(err.value) == ("Deleting this task needs owning it or the admin role; you are a member. "
                              "Ask an admin if you need more.")
    with pytest.raises(PermissionDenied, match="needs the member role and owning it, or the admin role; you are a "
                                               "viewer"):
        delete_task(session=session, settings=settings, actor=val, task_id=task.id)
    # Someone else's private task answers exactly like a missing one.
    with pytest.raises(NotFoundError) as missing:
        delete_task(session=session, settings=settings, actor=bob, task_id=hidden.id)
    assert str(missing.value) == f"task {hidden.id} does not exist"
    session.expire_all()
    assert _rows(session, task.id)["runs"] == 2
    assert (settings.data_dir / "runs" / str(task.id) / "1" / "run.log").is_file()

    delete_task(session=session, settings=settings, actor=root, task_id=task.id)
    delete_task(session=session, settings=settings, actor=root, task_id=hidden.id)
    session.expire_all()
    assert _rows(session, task.id)["task"] == 0 and _rows(session, hidden.id)["task"] == 0
    assert not (settings.data_dir / "runs").exists() or not any((settings.data_dir / "runs").iterdir())
    events = _deletes(session)
    assert [(who, outcome, oid) for who, outcome, oid, _ in events] == [
        ("bob", "denied", task.id), ("val", "denied", task.id), ("bob", "failed", hidden.id),
        ("root", "ok", task.id), ("root", "ok", hidden.id)]
    assert "you are a viewer" in events[1][3]


@pytest.mark.parametrize("status", [TaskStatus.waiting, TaskStatus.running])
def test_a_task_still_going_is_refused_stop_it_first(session, settings, people, stock, status):
    alice = people["alice"]
    task = _trained(session, settings, _task(session, alice, stock), status=status, run_status=RunStatus.running)
    with pytest.raises(ConflictError) as err:
        delete_task(session=session, settings=settings, actor=alice, task_id=task.id)
    assert str(err.value) == f"task {task.id} is {status.value}; stop it first, then delete it once it has ended"
    with use_language(Language.zh_CN):  # the status reads as the platform's word, not the raw value
        zh = err.value.localized()
    assert {TaskStatus.waiting: "等待执行", TaskStatus.running: "执行中"}[status] in zh and status.value not in zh
    session.expire_all()
    assert _rows(session, task.id) == {"task": 1, "runs": 2, "metrics": 2, "samples": 2, "predictions": 0}
    assert (settings.data_dir / "runs" / str(task.id) / "0" / "run.log").is_file()
    assert _deletes(session) == [("alice", "failed", task.id, str(err.value))]


def test_a_stopped_task_whose_run_is_still_ending_is_refused(session, settings, people, stock):
    alice = people["alice"]
    task = _trained(session, settings, _task(session, alice, stock), status=TaskStatus.stopped)
    run = session.exec(select(Run).where(Run.task_id == task.id, Run.index == 1)).one()
    run.status = RunStatus.running
    session.add(run)
    session.commit()
    with pytest.raises(ConflictError, match=f"run {run.id} of task {task.id} is still running"):
        delete_task(session=session, settings=settings, actor=alice, task_id=task.id)
    assert _rows(session, task.id)["runs"] == 2


def test_a_prediction_still_reading_its_weights_is_waited_for(session, settings, people, stock):
    alice = people["alice"]
    task = _trained(session, settings, _task(session, alice, stock))
    pred = _prediction(session, settings, task, status=PredictionStatus.running)
    with pytest.raises(ConflictError, match=f"prediction {pred.id} made with task {task.id}'s weights is still "
                                            "running"):
        delete_task(session=session, settings=settings, actor=alice, task_id=task.id)
    assert settings.path(pred.path).is_dir() and _rows(session, task.id)["predictions"] == 1
    pred.status = PredictionStatus.completed
    session.add(pred)
    session.commit()
    assert delete_task(session=session, settings=settings, actor=alice, task_id=task.id).predictions == 1
    assert not settings.path(pred.path).exists()


def test_the_optuna_study_of_a_search_task_goes_with_it(session, settings, people, stock):
    alice = people["alice"]
    task = _task(session, alice, stock, params=SEARCH)
    other = _task(session, alice, stock, params=SEARCH, name="other")
    for t in (task, other):
        search.ask(t, settings.database_url)  # the scheduler's first ask makes the study
    _trained(session, settings, task)
    names = optuna.get_all_study_names(storage=search.storage(settings.database_url))
    assert {search.study_name(task), search.study_name(other)} <= set(names)

    delete_task(session=session, settings=settings, actor=alice, task_id=task.id)

    names = optuna.get_all_study_names(storage=search.storage(settings.database_url))
    assert search.study_name(task) not in names
    assert search.study_name(other) in names
    # A search task that ended before its first ask has no study: nothing to delete, no error.
    never = _trained(session, settings, _task(session, alice, stock, params=SEARCH, name="never"))
    assert delete_task(session=session, settings=settings, actor=alice, task_id=never.id).runs == 2


def test_a_task_that_warm_starts_from_it_is_waited_for_then_unlinked(session, settings, people, stock):
    alice = people["alice"]
    source = _trained(session, settings, _task(session, alice, stock, params=SEARCH))
    follower = _task(session, alice, stock, params=SEARCH, name="follower", warm_start_task_id=source.id)
    assert follower.status == TaskStatus.waiting
    # Not started yet: its first scheduler step reads the source's runs into its study.
    with pytest.raises(ConflictError, match=f"task {follower.id} continues task {source.id}'s search and has not "
                                            "started yet"):
        delete_task(session=session, settings=settings, actor=alice, task_id=source.id)
    assert _rows(session, source.id)["runs"] == 2
    # Started (its study seeded): the source may go, and the follower keeps running without the pointer.
    session.add(Run(task_id=follower.id, index=0, status=RunStatus.running))
    follower.status = TaskStatus.running
    session.add(follower)
    session.commit()
    assert deletion_plan(session=session, actor=alice, task_id=source.id).unlinked == [follower.id]
    done = delete_task(session=session, settings=settings, actor=alice, task_id=source.id)
    assert done.unlinked == [follower.id]
    session.expire_all()
    kept = session.get(Task, follower.id)
    assert kept.warm_start_task_id is None and kept.status == TaskStatus.running
    assert _deletes(session)[-1][3] == f"2 runs, 0 predictions; warm start unlinked from tasks {follower.id}"


def test_a_new_task_that_gets_the_deleted_ones_id_starts_from_nothing(session, settings, people, stock):
    """SQLite gives the next row the highest deleted id: the new task must not inherit the old study or files."""
    alice = people["alice"]
    task = _task(session, alice, stock, params=SEARCH)
    search.ask(task, settings.database_url)
    _trained(session, settings, task)
    old_id = task.id
    delete_task(session=session, settings=settings, actor=alice, task_id=old_id)
    new = _task(session, alice, stock, params=SEARCH, name="new")
    if settings.database_url.startswith("sqlite"):
        assert new.id == old_id
    assert search.load_study(new, settings.database_url).trials == []
    assert not (settings.data_dir / "runs" / str(new.id)).exists()
