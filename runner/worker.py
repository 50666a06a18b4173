"""``python -m runner worker``: an RQ worker (no fork per job, so a killed
worker takes its sandboxes with it through --die-with-parent) plus the
reconciler thread."""

from __future__ import annotations

import logging
import os

from rq import SimpleWorker

from runner import context
from runner.reconcile import Reconciler, reconcile_once
from shared.core.errors import SandboxError
from shared.core.queue import QUEUES
from shared.core.redisconn import check
from shared.services.workers import advertise_devices


def run_worker(*, gpus: str | None = None, burst: bool = False, name: str | None = None) -> int:
    ctx = context.configure(gpus=gpus, name=name or f"trainyard-{os.uname().nodename}-{os.getpid()}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
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
        logging.getLogger(__name__).warning("sandbox unavailable: %s", exc)
    reconcile_once()
    reconciler = Reconciler(ctx.settings.reconcile_every_s)
    reconciler.start()
    worker = TrainyardWorker(list(QUEUES), connection=ctx.redis, name=ctx.name)
    worker.gpus = tuple(ctx.gpus.gpus)
    try:
        worker.work(burst=burst, logging_level="WARNING")
    finally:
        reconciler.stopping.set()
    return 0


class TrainyardWorker(SimpleWorker):
    """RQ's warm shutdown would wait for a training run to end; instead the
    shutdown flag makes the active run kill its process tree right away.
    At birth it writes its GPUs into its RQ hash, so the task form can say
    which devices the runs will get."""

    gpus: tuple[str, ...] = ()

    def register_birth(self):
        super().register_birth()
        advertise_devices(redis=self.connection, worker_key=self.key, gpus=list(self.gpus))

    def request_stop(self, signum, frame):
        context.SHUTDOWN.set()
        super().request_stop(signum, frame)
