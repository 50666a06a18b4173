"""One scheduler step per task: enforce stop and deadline, ask Optuna for the
next runs' parameters, enqueue them, and finish the task when its runs are
done. Called at task start, after every run, and by the reconciler. A Redis
lock per task makes concurrent steps (two runs ending at once) safe."""

from __future__ import annotations

import math

from redis import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from shared.core.i18n import N_
from shared.core.queue import cancel_job, enqueue_run, job_id
from shared.core.settings import Settings
from shared.records import Direction, JobKind, Run, RunStatus, Task, TaskStatus, utcnow
from shared.services import search

_ACTIVE = (RunStatus.queued, RunStatus.running)


def schedule_task(*, engine: Engine, redis: Redis, settings: Settings, task_id: int) -> None:
    """One step for ``task_id``; the worker, the CLI and the UI all call this (it runs no user code)."""
    with redis.lock(f"trainyard:schedule:{task_id}", timeout=60, blocking_timeout=60):
        _step(engine=engine, redis=redis, settings=settings, task_id=task_id)


def _step(*, engine: Engine, redis: Redis, settings: Settings, task_id: int) -> None:
    with Session(engine, expire_on_commit=False) as session:
        task = session.get(Task, task_id)
        if task is None or task.status.finished:
            return
        runs = list(session.exec(select(Run).where(Run.task_id == task_id).order_by(Run.index)))
        active = [r for r in runs if r.status in _ACTIVE]
        now = utcnow()
        ending: TaskStatus | None = None
        if task.stop_requested:
            ending = TaskStatus.stopped
        elif task.deadline is not None and now >= task.deadline:
            ending = TaskStatus.timed_out
        if ending is not None:
            for r in active:
                if r.status == RunStatus.queued:
                    r.status = RunStatus.cancelled if ending == TaskStatus.stopped else RunStatus.timed_out
                    r.reason = N_("cancelled: task stopped") if ending == TaskStatus.stopped \
                        else N_("cancelled: task time limit reached")
                    r.finished_at = now
                    session.add(r)
                    if r.job_id:
                        cancel_job(r.job_id, connection=redis)
            session.commit()
            if any(r.status == RunStatus.running for r in runs):
                return  # their own loops kill them and call us again
            _finish(session, task, runs, ending)
            return
        if task.status == TaskStatus.waiting:
            task.status = TaskStatus.running
            from shared.services.tasks import start_deadline

            start_deadline(task, settings)
            session.add(task)
            session.commit()
        free = min(task.max_parallel, settings.max_parallel_runs) - len(active)
        todo = min(task.n_runs - len(runs), free)
        if todo > 0 and not runs and task.warm_start_task_id is not None and search.is_search(task):
            from shared.services.warm_start import warm_start_seeds

            # Before the first ask, once (the study remembers it): the new runs explore from there.
            search.warm_start(task, settings.database_url,
                              warm_start_seeds(session=session, task_id=task.warm_start_task_id))
        for i in range(max(0, todo)):
            run = Run(task_id=task.id, index=len(runs) + i)
            if search.is_search(task):
                run.trial_number, run.params = search.ask(task, settings.database_url)
            else:
                run.params = search.fixed_values(task)
            session.add(run)
            session.flush()
            run.job_id = job_id(JobKind.run, run.id)
            session.commit()
            enqueue_run(run.id, connection=redis, gpus=task.gpus_per_run)
        if todo <= 0 and not active and len(runs) >= task.n_runs:
            _finish(session, task, runs, None)


def pick_best(task: Task, runs: list[Run]) -> Run | None:
    """The best scored run. A pruned run's score is its partial curve (it stopped early),
    so it competes only when the task says so (``rank_pruned``)."""
    def ok(r: Run) -> bool:
        return r.score is not None and math.isfinite(r.score)

    ranked = (RunStatus.completed, RunStatus.pruned) if task.rank_pruned else (RunStatus.completed,)
    pool = [r for r in runs if r.status in ranked and ok(r)]
    if not pool:  # e.g. a timed-out task: finished runs keep their results
        pool = [r for r in runs if r.status in (RunStatus.stopped, RunStatus.timed_out) and ok(r)]
    if not pool:
        return None
    key = (lambda r: r.score) if task.direction == Direction.maximize else (lambda r: -r.score)
    return max(pool, key=key)


def _finish(session: Session, task: Task, runs: list[Run], ending: TaskStatus | None) -> None:
    best = pick_best(task, runs) if task.eval_metric else None
    if best is None and not task.eval_metric:
        done = [r for r in runs if r.status == RunStatus.completed]
        best = done[-1] if done else None
    task.best_run_id = best.id if best else None
    task.finished_at = utcnow()
    if ending is not None:
        task.status = ending
        task.reason = N_("stopped by user") if ending == TaskStatus.stopped else \
            N_("time limit {seconds} s reached").format(seconds=task.time_limit_s)
    elif any(r.status in (RunStatus.completed, RunStatus.pruned) for r in runs):
        task.status = TaskStatus.completed
        failed = [r for r in runs if r.status == RunStatus.failed]
        task.reason = N_("{failed} of {total} runs failed").format(failed=len(failed), total=len(runs)) \
            if failed else None
        if task.eval_metric and best is None:
            task.reason = ((task.reason + "; ") if task.reason else "") + \
                N_("no run printed the evaluation metric {metric}").format(metric=repr(task.eval_metric))
    else:
        task.status = TaskStatus.failed
        first = next((r for r in runs if r.reason), None)
        task.reason = N_("all {total} runs failed").format(total=len(runs)) + (
            "; " + N_("run {run_id}: {reason}").format(run_id=first.id, reason=first.reason) if first else "")
    session.add(task)
    session.commit()
