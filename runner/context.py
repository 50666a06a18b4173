"""Per-process wiring for jobs: settings, engine, Redis and this worker's GPUs,
built once at the edge (the worker entry point or a test) and reused."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from redis import Redis
from sqlalchemy.engine import Engine

from runner.gpus import GpuAllocator, detect_gpus
from shared.core.db import get_engine
from shared.core.queue import redis_connection
from shared.core.settings import Settings, get_settings
from shared.services.scheduling import schedule_task


@dataclass
class Context:
    settings: Settings
    engine: Engine
    redis: Redis
    gpus: GpuAllocator
    name: str = field(default_factory=lambda: f"{socket.gethostname()}")

    def schedule(self, task_id: int) -> None:
        """One scheduler step for a task with this process's connections."""
        schedule_task(engine=self.engine, redis=self.redis, settings=self.settings, task_id=task_id)


_CTX: Context | None = None
# Set when the worker is asked to shut down: active runs kill their trees.
SHUTDOWN = threading.Event()


def configure(settings: Settings | None = None, *, gpus: str | None = None, name: str | None = None) -> Context:
    global _CTX
    settings = settings or get_settings()
    setting = gpus if gpus is not None else settings.gpus
    ctx = Context(settings=settings, engine=get_engine(settings.database_url), redis=redis_connection(settings),
                  gpus=GpuAllocator(detect_gpus(setting=setting), lock_dir=settings.gpu_lock_dir))
    if name:
        ctx.name = name
    _CTX = ctx
    return ctx


def current() -> Context:
    return _CTX or configure()


def reset() -> None:
    global _CTX
    _CTX = None
