"""The RQ workers that are up, with their queues and devices, and what that
means for a task's parallel runs.

A worker runs one job at a time, so the runs of a task go as many at a time as
there are workers on the train queue (capped by the task's own "max parallel
runs"). Each worker writes its GPU ids into its own RQ worker hash when it
starts (:func:`advertise_devices`), with its host, its CPU count and what
nvidia-smi says of its GPUs; the fields die with the hash, so a worker that is
gone never shows up with stale devices. Workers on several hosts share one
Redis, so this is the one list of every host's workers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis import Redis

from shared.core.i18n import _
from shared.core.queue import TRAIN_QUEUE

DEVICES_FIELD = "trainyard_devices"
HOST_FIELD = "trainyard_host"
CPUS_FIELD = "trainyard_cpus"
GPU_INFO_FIELD = "trainyard_gpu_info"
_CPU = "cpu"


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    queues: tuple[str, ...]
    gpus: tuple[str, ...]  # host GPU ids; empty for a CPU-only worker
    state: str  # RQ's: idle, busy, suspended, ...
    host: str = ""
    cpus: int | None = None
    gpu_info: dict[str, dict[str, Any]] = field(default_factory=dict)  # GPU id -> {"name", "memory_mib"}
    current_job: str | None = None  # RQ job id, e.g. run-7-0
    last_heartbeat: datetime | None = None

    @property
    def current_run(self) -> int | None:
        """The run this worker trains now (its job id is ``run-<id>-<attempt>``)."""
        if self.current_job and self.current_job.startswith("run-"):
            part = self.current_job.split("-")[1]
            return int(part) if part.isdigit() else None
        return None

    @property
    def gpu_text(self) -> str:
        """GPUs with model and memory where nvidia-smi told them: ``0: NVIDIA H100 (80 GiB)``."""
        if not self.gpus:
            return "CPU"
        parts = []
        for g in self.gpus:
            info = self.gpu_info.get(g) or {}
            text = f"{g}: {info['name']}" if info.get("name") else g
            if info.get("memory_mib"):
                text += f" ({int(info['memory_mib']) / 1024:.0f} GiB)"
            parts.append(text)
        return ", ".join(parts)

    @property
    def trains(self) -> bool:
        return TRAIN_QUEUE in self.queues

    @property
    def device_text(self) -> str:
        if not self.gpus:
            return "CPU"
        return ("GPU " if len(self.gpus) == 1 else "GPUs ") + ",".join(self.gpus)


def advertise_devices(*, redis: Redis, worker_key: str, gpus: list[str], host: str = "", cpus: int | None = None,
                      gpu_info: dict[str, dict[str, Any]] | None = None) -> None:
    """Called by the worker right after RQ registered it (RQ rewrites the hash at birth)."""
    mapping: dict[str, str] = {DEVICES_FIELD: ",".join(gpus) or _CPU, GPU_INFO_FIELD: json.dumps(gpu_info or {})}
    if host:
        mapping[HOST_FIELD] = host
    if cpus is not None:
        mapping[CPUS_FIELD] = str(cpus)
    redis.hset(worker_key, mapping=mapping)


def _text(raw) -> str:
    return raw.decode() if isinstance(raw, bytes) else (raw or "")


def list_workers(*, redis: Redis) -> list[WorkerInfo]:
    """The workers RQ holds as alive, by name. Raises RedisError when Redis does not answer."""
    from rq import Worker

    out = []
    for w in Worker.all(connection=redis):
        devices, host, cpus, info = (_text(v) for v in redis.hmget(w.key, DEVICES_FIELD, HOST_FIELD, CPUS_FIELD,
                                                                      GPU_INFO_FIELD))
        gpus = tuple(g for g in devices.split(",") if g and g != _CPU)
        try:
            gpu_info = json.loads(info) if info else {}
        except ValueError:
            gpu_info = {}
        out.append(WorkerInfo(name=w.name, queues=tuple(w.queue_names()), gpus=gpus, state=str(w.get_state()),
                              host=host or (w.hostname or ""), cpus=int(cpus) if cpus.isdigit() else None,
                              gpu_info=gpu_info if isinstance(gpu_info, dict) else {},
                              current_job=w.get_current_job_id(), last_heartbeat=w.last_heartbeat))
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


def placement_text(*, workers: list[WorkerInfo], gpus_per_run: int) -> str | None:
    """A warning when no training worker up has ``gpus_per_run`` GPUs (the runs would wait), else None."""
    if gpus_per_run <= 1:
        return None
    most = max((len(w.gpus) for w in workers if w.trains), default=0)
    if most >= gpus_per_run:
        return None
    return _("No worker up has {n} GPUs (the most is {most}): the runs wait until a worker on a host "
             "with {n} GPUs starts. A run never spans hosts.", n=gpus_per_run, most=most)
