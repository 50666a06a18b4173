"""Deleting a task (its owner or an admin): its runs with their metrics and resource samples, the
predictions made with its runs, its Optuna study, and its files under DATA_DIR (``runs/<task id>/``).

What it refuses, and why:

- a task that is waiting or running: stop it first. Stopping is asynchronous (each worker kills its
  sandbox on its next poll, then writes the run's outcome, metrics and files), so deleting at once
  would race those writes and leave rows or files behind; Stop, then Delete once it has ended.
- a run still queued or running (a stopped task whose last run is still ending), for the same reason.
- a prediction made with its weights that is still queued or running: its job reads the run's work dir.
- a task another task warm-starts from that has not started yet: that task reads this one's runs
  when it starts (``scheduling``), so they must still be there.

What goes with it, and why:

- the predictions made with its runs, and their folders: a prediction belongs to the run whose
  weights made it (its row points at the run, its page at the task), so it cannot outlive it. The
  dialog and the CLI say how many go, and the audit log records them.
- the warm-start link of later tasks that continued its search: once such a task has started, its
  study already holds this task's results (``search.warm_start`` copies them before its first ask),
  so it only loses the pointer; the audit detail names the tasks unlinked.

The files go last, after the rows are committed, as for datasets and models; user code wrote them, so
they are removed without following any link it planted (``shared.core.saferemove``), moved aside first:
SQLite gives the next task the deleted one's id, and its runs must not find what could not be removed.
For the same reason the Optuna study must go (the next task with this id would load it); it goes before
the rows, because on SQLite it is written through Optuna's own connection, which would wait on this
session's write lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna
from sqlalchemy import or_
from sqlmodel import Session, select

from shared.core import saferemove
from shared.core.errors import ConflictError
from shared.core.i18n import N_
from shared.core.settings import Settings
from shared.records import (
    Action,
    AuditAction,
    MetricPoint,
    ObjectKind,
    Prediction,
    PredictionStatus,
    ResourceSample,
    Run,
    RunStatus,
    Task,
    User,
)
from shared.records.labels import term
from shared.services import access, audit, search

_ACTIVE_RUNS = (RunStatus.queued, RunStatus.running)
_ACTIVE_PREDICTIONS = (PredictionStatus.queued, PredictionStatus.running)


@dataclass(frozen=True)
class TaskDeletion:
    """What deleting the task removes (``deletion_plan``) or removed (``delete_task``)."""

    task_id: int
    runs: int
    predictions: int
    unlinked: list[int] = field(default_factory=list)  # tasks that warm-started from it
    left_on_disk: int = 0  # entries that could not be removed (another uid's files, say)


def deletion_plan(*, session: Session, actor: User, task_id: int) -> TaskDeletion:
    """What a delete would take with it, for the confirmation; a task ``actor`` may not see is missing."""
    task = access.get_visible(session=session, user=actor, model=Task, obj_id=task_id)
    runs = _runs(session, task.id)
    return TaskDeletion(task_id=task.id, runs=len(runs), predictions=len(_predictions(session, task.id, runs)),
                        unlinked=[t.id for t in _followers(session, task.id)])


def delete_task(*, session: Session, settings: Settings, actor: User, task_id: int) -> TaskDeletion:
    """Delete the task and everything made from it (see the module's docstring for what is refused)."""
    with audit.audited(session=session, user=actor, action=AuditAction.delete,
                       obj=(ObjectKind.task, task_id)) as note:
        task = access.get_visible(session=session, user=actor, model=Task, obj_id=task_id)
        access.require(actor, Action.delete, task)
        done = _delete(session=session, settings=settings, task=task)
        note["detail"] = (f"{done.runs} runs, {done.predictions} predictions"
                          + (f"; warm start unlinked from tasks {', '.join(map(str, done.unlinked))}"
                             if done.unlinked else "")
                          + (f"; {done.left_on_disk} files could not be removed" if done.left_on_disk else ""))
    return done


def _delete(*, session: Session, settings: Settings, task: Task) -> TaskDeletion:
    task_id = task.id
    runs = _runs(session, task_id)
    predictions = _predictions(session, task_id, runs)
    followers = _followers(session, task_id)
    _check(session, task, runs, predictions, followers)
    if search.is_search(task):
        _delete_study(settings, task)
    pred_paths = [settings.path(p.path) for p in predictions if p.path]
    run_ids = [r.id for r in runs]
    for f in followers:
        f.warm_start_task_id = None
        session.add(f)
    for p in predictions:
        session.delete(p)
    if run_ids:
        session.exec(MetricPoint.__table__.delete().where(MetricPoint.run_id.in_(run_ids)))
        session.exec(ResourceSample.__table__.delete().where(ResourceSample.run_id.in_(run_ids)))
    session.flush()  # the rows that point at the runs go before the runs (foreign keys)
    for r in runs:
        session.delete(r)
    session.flush()
    session.delete(task)
    session.commit()
    left = saferemove.remove_tree(settings.data_dir / "runs" / str(task_id), move_aside=True)
    for path in pred_paths:
        left += saferemove.remove_tree(path, move_aside=True)
    return TaskDeletion(task_id=task_id, runs=len(runs), predictions=len(predictions),
                        unlinked=[f.id for f in followers], left_on_disk=left)


def _check(session: Session, task: Task, runs: list[Run], predictions: list[Prediction],
           followers: list[Task]) -> None:
    if not task.status.finished:
        raise ConflictError(N_("task {task_id} is {task_status}; stop it first, then delete it once it has ended"),
                            params={"task_id": task.id, "task_status": term(task.status)})
    busy = next((r for r in runs if r.status in _ACTIVE_RUNS), None)
    if busy is not None:
        raise ConflictError(N_("run {run_id} of task {task_id} is still {run_status}; delete the task once it has "
                               "ended"),
                            params={"run_id": busy.id, "task_id": task.id, "run_status": term(busy.status)})
    busy_pred = next((p for p in predictions if p.status in _ACTIVE_PREDICTIONS), None)
    if busy_pred is not None:
        raise ConflictError(N_("prediction {prediction_id} made with task {task_id}'s weights is still "
                               "{prediction_status}; delete the task once it has finished"),
                            params={"prediction_id": busy_pred.id, "task_id": task.id,
                                    "prediction_status": term(busy_pred.status)})
    for f in followers:
        if not f.status.finished and not _runs(session, f.id):
            raise ConflictError(N_("task {follower_id} continues task {task_id}'s search and has not started yet; "
                                   "it reads task {task_id}'s runs when it starts. Delete task {task_id} once task "
                                   "{follower_id} is running, or delete task {follower_id} first"),
                                params={"follower_id": f.id, "task_id": task.id})


def _delete_study(settings: Settings, task: Task) -> None:
    try:
        optuna.delete_study(study_name=search.study_name(task), storage=search.storage(settings.database_url))
    except KeyError:
        pass  # never asked: a search task that ended before its first run


def _runs(session: Session, task_id: int) -> list[Run]:
    return list(session.exec(select(Run).where(Run.task_id == task_id).order_by(Run.index)))


def _predictions(session: Session, task_id: int, runs: list[Run]) -> list[Prediction]:
    # Both keys: a prediction row points at the task and at the run, and either must be gone first.
    made_here = Prediction.task_id == task_id
    ids = [r.id for r in runs]
    stmt = select(Prediction).where(or_(made_here, Prediction.run_id.in_(ids)) if ids else made_here)
    return list(session.exec(stmt.order_by(Prediction.id)))


def _followers(session: Session, task_id: int) -> list[Task]:
    return list(session.exec(select(Task).where(Task.warm_start_task_id == task_id).order_by(Task.id)))
