"""The RQ workers that are up, with their queues and devices, and what that
means for a task's parallel runs.

A worker runs one job at a time, so the runs of a task go as many at a time as
there are workers on the train queue (capped by the task's own "max parallel
runs"). Each worker writes its GPU ids into its own RQ worker hash when it
starts (:func:`advertise_devices`); the field dies with the hash, so a worker
that is gone never shows up with stale devices.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from shared.core.i18n import _
from shared.core.queue import TRAIN_QUEUE

DEVICES_FIELD = "trainyard_devices"
_CPU = "cpu"


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    queues: tuple[str, ...]
    gpus: tuple[str, ...]  # host GPU ids; empty for a CPU-only worker
    state: str  # RQ's: idle, busy, suspended, ...

    @property
    def trains(self) -> bool:
        return TRAIN_QUEUE in self.queues

    @property
    def device_text(self) -> str:
        if not self.gpus:
            return "CPU"
        return ("GPU " if len(self.gpus) == 1 else "GPUs ") + ",".join(self.gpus)


def advertise_devices(*, redis: Redis, worker_key: str, gpus: list[str]) -> None:
    """Called by the worker right after RQ registered it (RQ rewrites the hash at birth)."""
    redis.hset(worker_key, DEVICES_FIELD, ",".join(gpus) or _CPU)


def list_workers(*, redis: Redis) -> list[WorkerInfo]:
    """The workers RQ holds as alive, by name. Raises RedisError when Redis does not answer."""
    from rq import Worker

    out = []
    for w in Worker.all(connection=redis):
        raw = redis.hget(w.key, DEVICES_FIELD)
        text = raw.decode() if isinstance(raw, bytes) else (raw or "")
        gpus = tuple(g for g in text.split(",") if g and g != _CPU)
        out.append(WorkerInfo(name=w.name, queues=tuple(w.queue_names()), gpus=gpus, state=str(w.get_state())))
    return sorted(out, key=lambda w: w.name)


def at_a_time(*, workers: list[WorkerInfo], wanted: int) -> int:
    """How many runs of a task really go at once: one per training worker, at most ``wanted``."""
    return min(max(wanted, 1), sum(w.trains for w in workers))


def parallelism_text(*, workers: list[WorkerInfo], wanted: int) -> str:
    """What will really happen to a task asking for ``wanted`` runs at a time, in the user's words."""
    trainers = [w for w in workers if w.trains]
    n = len(trainers)
    if n == 0:
        return _("No worker is up: the runs wait in the queue until one starts "
                 "(`python -m runner up`, or `python -m runner worker`).")
    devices = ", ".join(sorted({w.device_text for w in trainers}, key=lambda d: (d != "CPU", d)))
    if n == 1:
        return _("1 worker up ({devices}): runs go one at a time.", devices=devices)
    real = at_a_time(workers=trainers, wanted=wanted)
    if wanted > n:
        return _("{n} workers up ({devices}): {real} at a time, not {wanted}: start more workers for more.",
                 n=n, devices=devices, real=real, wanted=wanted)
    return _("{n} workers up ({devices}): {real} at a time.", n=n, devices=devices, real=real)
