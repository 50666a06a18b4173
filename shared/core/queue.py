"""Enqueue helpers: the only place that names RQ queues and builds job ids.

Workers listen to ``predict`` first (analysts wait on it), then ``deploy``,
then ``train``. A run that needs N > 1 GPUs goes to ``train-gpus-N``: only a
worker with N free GPUs listens there (``runner/worker.py``), so the queue a
run waits in is its placement rule. Job ids are derived from the record ids by ``job_id`` alone, so
enqueueing the same record twice (the UI, the CLI, the reconciler) finds the
job already there instead of adding a second one.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import StartedJobRegistry

from shared.core.redisconn import connect
from shared.core.settings import Settings
from shared.records import JobKind, JobState

PREDICT_QUEUE = "predict"
DEPLOY_QUEUE = "deploy"
TRAIN_QUEUE = "train"
QUEUES = (PREDICT_QUEUE, DEPLOY_QUEUE, TRAIN_QUEUE)
# The most GPUs one run may ask for (one host's GPUs: a run never spans hosts).
MAX_GPUS_PER_RUN = 16
_MULTI_GPU_PREFIX = "train-gpus-"


def train_queue(gpus: int) -> str:
    """The queue of runs needing ``gpus`` GPUs: ``train`` for one (or a CPU worker), ``train-gpus-N`` above."""
    return TRAIN_QUEUE if gpus <= 1 else f"{_MULTI_GPU_PREFIX}{int(gpus)}"


def gpus_of_queue(name: str) -> int:
    """How many GPUs a job taken from this queue needs (0 for the non-training queues)."""
    if name == TRAIN_QUEUE:
        return 1
    if name.startswith(_MULTI_GPU_PREFIX):
        return int(name[len(_MULTI_GPU_PREFIX):])
    return 0


def queues_for(*, free_gpus: int, has_gpus: bool) -> list[str]:
    """The queues a worker listens to now: a CPU worker takes one-GPU runs on its CPU (as the single-machine
    platform always did); a GPU worker takes only runs whose GPUs are free on its host right now."""
    if not has_gpus:
        return list(QUEUES)
    names = [PREDICT_QUEUE, DEPLOY_QUEUE]
    # Bigger runs first: with 2 GPUs free, a waiting 2-GPU run is not starved by a stream of 1-GPU runs.
    names += [train_queue(n) for n in range(min(free_gpus, MAX_GPUS_PER_RUN), 0, -1)]
    return names


ALL_QUEUES = (*QUEUES, *(train_queue(n) for n in range(2, MAX_GPUS_PER_RUN + 1)))

_QUEUE_OF = {JobKind.predict: PREDICT_QUEUE, JobKind.deploy: DEPLOY_QUEUE}
_FUNC_OF = {JobKind.predict: "runner.jobs.run_prediction", JobKind.deploy: "runner.jobs.deploy_model",
            JobKind.run: "runner.jobs.run_trial"}

# The platform enforces its own time limits (task deadline, build timeout), so
# RQ's per-job timeout is disabled rather than left at its 180 s default.
_NO_TIMEOUT = -1


def job_id(kind: JobKind, record_id: int, attempt: int = 0) -> str:
    """The one job id for a record: ``run-7-0``, ``deploy-3-0``, ``predict-12-0``.

    ``attempt`` counts a run's re-queues (a lost worker, a re-run), so a new
    attempt never meets the old attempt's finished job. Deploys and predictions
    always use attempt 0: a redeploy reuses the id, which is what lets the
    reconciler see that the deploy is already queued."""
    return f"{JobKind(kind).value}-{int(record_id)}-{int(attempt)}"


def redis_connection(settings: Settings) -> Redis:
    """REDIS_URL as given (credentials, TLS, db) or the embedded server's socket."""
    return connect(settings.effective_redis_url)


def _queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection)


def job_state(jid: str, *, connection: Redis) -> JobState | None:
    """The job's state in Redis; None when Redis holds no such job."""
    try:
        job = Job.fetch(jid, connection=connection)
        return JobState(job.get_status(refresh=True))
    except NoSuchJobError:
        return None


def is_active(kind: JobKind, record_id: int, attempt: int = 0, *, connection: Redis) -> bool:
    """True while the record's job waits for a worker or runs on one."""
    state = job_state(job_id(kind, record_id, attempt), connection=connection)
    return state is not None and state.active


def _enqueue(kind: JobKind, record_id: int, attempt: int, connection: Redis, queue: str | None = None) -> str:
    jid = job_id(kind, record_id, attempt)
    q = _queue(queue or _QUEUE_OF[kind], connection)
    job = q.fetch_job(jid)
    if job is not None and JobState(job.get_status(refresh=True)).active:
        return jid
    if job is not None:
        job.delete()
    q.enqueue_call(_FUNC_OF[kind], args=(record_id,), job_id=jid, timeout=_NO_TIMEOUT,
                   result_ttl=3600, failure_ttl=7 * 86400)
    return jid


def enqueue_deploy(model_id: int, *, connection: Redis) -> str:
    return _enqueue(JobKind.deploy, model_id, 0, connection)


def enqueue_run(run_id: int, *, connection: Redis, attempt: int = 0, gpus: int = 1) -> str:
    """Queue a run for a worker that has ``gpus`` free GPUs (the task's GPUs per run)."""
    return _enqueue(JobKind.run, run_id, attempt, connection, train_queue(gpus))


def enqueue_prediction(prediction_id: int, *, connection: Redis) -> str:
    return _enqueue(JobKind.predict, prediction_id, 0, connection)


def queued_job_ids(*, connection: Redis) -> set[str]:
    """Ids of jobs Redis still holds as queued or started (for the reconciler)."""
    ids: set[str] = set()
    for name in ALL_QUEUES:
        q = _queue(name, connection)
        ids.update(q.get_job_ids())
        ids.update(StartedJobRegistry(queue=q).get_job_ids())
    return ids


def cancel_job(jid: str, *, connection: Redis) -> None:
    try:
        job = Job.fetch(jid, connection=connection)
    except NoSuchJobError:
        return
    if JobState(job.get_status(refresh=True)) == JobState.queued:
        job.cancel()


def worker_count(*, connection: Redis) -> int:
    """How many workers are connected to Redis now."""
    return len(Worker.all(connection=connection))
