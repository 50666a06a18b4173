"""``python -m runner worker``: an RQ worker (no fork per job, so a killed
worker takes its sandboxes with it through --die-with-parent) plus the
reconciler thread.

Placement: a worker with GPUs takes a job only from the queues whose runs fit
the GPUs free on its host right now (``shared.core.queue.queues_for``), and it
looks, takes the job and reserves its GPUs in one step under the host's GPU
lock (``runner.gpus.GpuAllocator``), so the workers of one host never hand out
a GPU twice and a run never waits on a worker that cannot start it.
"""

from __future__ import annotations

import logging
import os
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker
from rq.worker import WorkerStatus

from runner import context
from runner.gpus import GpuAllocator, describe_gpus
from runner.reconcile import Reconciler, reconcile_once
from shared.core.errors import SandboxError
from shared.core.queue import gpus_of_queue, queues_for
from shared.core.redisconn import check
from shared.services.workers import advertise_devices

log = logging.getLogger(__name__)
_POLL_S = 0.5  # how often an idle GPU worker looks again (GPUs freed by another worker on its host)


def run_worker(*, gpus: str | None = None, burst: bool = False, name: str | None = None, join: bool = False,
               settings=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    # Alembic narrates every plugin and the SQLite dialect at INFO on each start-up upgrade: noise in an
    # operator's log. Its warnings and errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if join:
        from runner.join import check_join
        from shared.core.settings import get_settings

        store = check_join(settings or get_settings())
        log.info("joined store %s", store)
    ctx = context.configure(settings, gpus=gpus, name=name or f"trainyard-{os.uname().nodename}-{os.getpid()}")
    # A refused login is named here (RedisAuthError, naming REDIS_URL), not deep inside RQ.
    check(ctx.redis, ctx.settings.effective_redis_url)
    from runner.sandbox import check_sandbox
    from runner.sandbox.reach import check_paths

    try:  # every run would fail on these: say it once, now, and do not take jobs
        check_paths(ctx.settings)
    except SandboxError as exc:
        logging.getLogger(__name__).error("%s", exc)
        return 2
    try:
        check_sandbox(settings=ctx.settings)
    except Exception as exc:  # noqa: BLE001 - the worker still deploys; runs fail with this reason
        log.warning("sandbox unavailable: %s", exc)
    reconcile_once()
    reconciler = Reconciler(ctx.settings.reconcile_every_s)
    reconciler.start()
    names = queues_for(free_gpus=ctx.gpus.total, has_gpus=bool(ctx.gpus.total))
    worker = TrainyardWorker(names, connection=ctx.redis, name=ctx.name)
    worker.allocator = ctx.gpus
    worker.host = ctx.settings.host_name
    try:
        worker.work(burst=burst, logging_level="WARNING")
    finally:
        reconciler.stopping.set()
    return 0


class TrainyardWorker(SimpleWorker):
    """RQ's warm shutdown would wait for a training run to end; instead the
    shutdown flag makes the active run kill its process tree right away.
    At birth it writes its host, CPUs and GPUs into its RQ hash, so the task
    form and the Workers page can say which devices the runs will get."""

    allocator: GpuAllocator | None = None
    host: str = ""
    gpus: tuple[str, ...] = ()  # set directly by tests that only register a worker

    def register_birth(self):
        super().register_birth()
        gpus = list(self.allocator.gpus) if self.allocator is not None else list(self.gpus)
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        advertise_devices(redis=self.connection, worker_key=self.key, gpus=gpus, host=self.host, cpus=cpus,
                          gpu_info=describe_gpus(gpus))

    def request_stop(self, signum, frame):
        context.SHUTDOWN.set()
        super().request_stop(signum, frame)

    def perform_job(self, job, queue, *args, **kwargs):
        try:
            return super().perform_job(job, queue, *args, **kwargs)
        finally:
            if self.allocator is not None:
                self.allocator.drop_reserved()  # a job that ended before taking its GPUs gives them back

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        alloc = self.allocator
        if alloc is None or not alloc.total:
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        self.set_state(WorkerStatus.IDLE)
        by_name = {q.name: q for q in self.queues}
        idle_since = time.monotonic()
        while True:
            self.heartbeat()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()
            try:
                with alloc.host_lock():
                    free = alloc.free_locked()
                    wanted = [by_name[n] for n in queues_for(free_gpus=len(free), has_gpus=True) if n in by_name]
                    self.procline(f"Listening on {','.join(q.name for q in wanted)} ({len(free)} GPUs free)")
                    result = Queue.dequeue_any(wanted, None, connection=self.connection, job_class=self.job_class,
                                               serializer=self.serializer,
                                               death_penalty_class=self.death_penalty_class)
                    if result is not None:
                        alloc.reserve_locked(gpus_of_queue(result[1].name))
            except (RedisConnectionError, RedisTimeoutError) as exc:
                log.error("Redis does not answer (%s); retrying", exc)
                result = None
            if result is not None:
                job, queue = result
                self.log.info("Worker %s: %s: %s", self.name, queue.name, job.id)
                self.heartbeat()
                return result
            if timeout is None:  # burst: nothing fits now
                return None
            if max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                return None
            time.sleep(_POLL_S)

