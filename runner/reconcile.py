"""The reconciler: the DB is the source of truth. It fails (or re-queues) runs
whose worker stopped heart-beating, re-enqueues work Redis lost, and steps
tasks so deadlines hold even when no run is active."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlmodel import Session, select

from runner import context
from shared.core.i18n import N_
from shared.core.queue import enqueue_deploy, enqueue_prediction, enqueue_run, job_id, queued_job_ids
from shared.records import (
    DeployStatus,
    JobKind,
    ModelPackage,
    Prediction,
    PredictionStatus,
    Run,
    RunStatus,
    Task,
    TaskStatus,
    utcnow,
)

log = logging.getLogger(__name__)


def reconcile_once() -> dict[str, int]:
    ctx = context.current()
    settings = ctx.settings
    now = utcnow()
    lost_before = now - timedelta(seconds=settings.lost_after_s)
    counts = {"lost": 0, "requeued": 0, "reenqueued": 0, "tasks": 0}
    in_redis = queued_job_ids(connection=ctx.redis)
    task_ids: set[int] = set()
    with Session(ctx.engine, expire_on_commit=False) as session:
        for run in session.exec(select(Run).where(Run.status == RunStatus.running)):
            beat = run.heartbeat_at or run.started_at or run.created_at
            if beat >= lost_before:
                continue
            counts["lost"] += 1
            task_ids.add(run.task_id)
            if settings.requeue_lost_runs and run.attempt < 2:
                run.attempt += 1
                run.status = RunStatus.queued
                run.reason = N_("re-queued: worker {worker} lost (no heartbeat for {seconds} s)").format(
                    worker=run.worker, seconds=f"{settings.lost_after_s:.0f}")
                run.job_id = job_id(JobKind.run, run.id, run.attempt)
                session.add(run)
                session.commit()
                enqueue_run(run.id, connection=ctx.redis, attempt=run.attempt, gpus=_gpus(session, run))
                counts["requeued"] += 1
            else:
                run.status = RunStatus.failed
                run.finished_at = now
                run.reason = N_("worker lost: {worker} stopped heart-beating for over {seconds} s (killed or "
                                "crashed); the log is kept").format(worker=run.worker,
                                                                    seconds=f"{settings.lost_after_s:.0f}")
                session.add(run)
                session.commit()
        for run in session.exec(select(Run).where(Run.status == RunStatus.queued)):
            if run.job_id and run.job_id not in in_redis:
                enqueue_run(run.id, connection=ctx.redis, attempt=run.attempt, gpus=_gpus(session, run))
                counts["reenqueued"] += 1
        for model in session.exec(select(ModelPackage).where(ModelPackage.status == DeployStatus.waiting)):
            if job_id(JobKind.deploy, model.id) not in in_redis:
                enqueue_deploy(model.id, connection=ctx.redis)
                counts["reenqueued"] += 1
        for pred in session.exec(select(Prediction).where(Prediction.status == PredictionStatus.queued)):
            if job_id(JobKind.predict, pred.id) not in in_redis:
                enqueue_prediction(pred.id, connection=ctx.redis)
                counts["reenqueued"] += 1
        active = session.exec(select(Task.id).where(Task.status.in_([TaskStatus.waiting, TaskStatus.running])))
        task_ids.update(active)
    for tid in sorted(task_ids):
        context.current().schedule(tid)
        counts["tasks"] += 1
    return counts


def _gpus(session: Session, run: Run) -> int:
    task = session.get(Task, run.task_id)
    return task.gpus_per_run if task is not None else 1


class Reconciler(threading.Thread):
    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True, name="reconciler")
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                reconcile_once()
            except Exception:  # noqa: BLE001 - keep reconciling; the next pass retries
                log.exception("reconcile pass failed")
