"""Enqueue helpers: the only place that names RQ queues.

Workers listen to ``predict`` first (analysts wait on it), then ``deploy``,
then ``train``. Job ids are derived from the record ids, so enqueueing the
same run twice (e.g. by the reconciler) is harmless.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue

from shared.core.settings import Settings

PREDICT_QUEUE = "predict"
DEPLOY_QUEUE = "deploy"
TRAIN_QUEUE = "train"
QUEUES = (PREDICT_QUEUE, DEPLOY_QUEUE, TRAIN_QUEUE)

# The platform enforces its own time limits (task deadline, build timeout), so
# RQ's per-job timeout is disabled rather than left at its 180 s default.
_NO_TIMEOUT = -1


def redis_connection(settings: Settings) -> Redis:
    return Redis.from_url(settings.effective_redis_url)


def _queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection)


def _enqueue(queue: str, func: str, record_id: int, job_id: str, connection: Redis) -> str:
    q = _queue(queue, connection)
    job = q.fetch_job(job_id)
    if job is not None and job.get_status(refresh=True) in ("queued", "started", "deferred", "scheduled"):
        return job_id
    if job is not None:
        job.delete()
    q.enqueue_call(func, args=(record_id,), job_id=job_id, timeout=_NO_TIMEOUT,
                   result_ttl=3600, failure_ttl=7 * 86400)
    return job_id


def enqueue_deploy(model_id: int, *, connection: Redis, attempt: int = 0) -> str:
    return _enqueue(DEPLOY_QUEUE, "runner.jobs.deploy_model", model_id, f"deploy-{model_id}-{attempt}", connection)


def enqueue_run(run_id: int, *, connection: Redis, attempt: int = 0) -> str:
    return _enqueue(TRAIN_QUEUE, "runner.jobs.run_trial", run_id, f"run-{run_id}-{attempt}", connection)


def enqueue_prediction(prediction_id: int, *, connection: Redis) -> str:
    return _enqueue(PREDICT_QUEUE, "runner.jobs.run_prediction", prediction_id,
                    f"predict-{prediction_id}", connection)


def queued_job_ids(*, connection: Redis) -> set[str]:
    """Ids of jobs Redis still holds as queued or started (for the reconciler)."""
    from rq.registry import StartedJobRegistry

    ids: set[str] = set()
    for name in QUEUES:
        q = _queue(name, connection)
        ids.update(q.get_job_ids())
        ids.update(StartedJobRegistry(queue=q).get_job_ids())
    return ids


def cancel_job(job_id: str, *, connection: Redis) -> None:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return
    if job.get_status(refresh=True) == "queued":
        job.cancel()
