"""What a run's end looks like to the caller: why it was stopped, the
resource samples taken while it ran, and the final :class:`Outcome`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from shared.core.i18n import N_


class KillReason(str, Enum):
    stopped = "stopped"
    time_limit = "time_limit"
    memory = "memory"
    disk = "disk"
    files = "files"
    procs = "procs"
    pruned = "pruned"
    worker_shutdown = "worker_shutdown"


KILL_TEXT = {
    KillReason.stopped: N_("stopped by user"),
    KillReason.time_limit: N_("time limit reached"),
    KillReason.memory: N_("memory limit reached"),
    KillReason.disk: N_("disk limit reached"),
    KillReason.files: N_("file count limit reached"),
    KillReason.procs: N_("process limit reached"),
    KillReason.pruned: N_("pruned by the parameter search"),
    KillReason.worker_shutdown: N_("the worker shut down"),
}

# What check() may return: a message, a KillReason, or both.
CheckResult = str | KillReason | tuple[KillReason, str] | None


@dataclass
class Sample:
    t: float                     # wall-clock time (epoch seconds)
    cpu_percent: float           # summed over the run's processes (200 = two cores busy)
    rss_bytes: int
    gpu_util: float | None       # mean utilisation of the run's GPUs, percent
    gpu_mem_bytes: int | None    # GPU memory held by the run's processes


@dataclass
class Outcome:
    exit_code: int | None
    signal: int | None
    kill_reason: str | None
    reason: str | None
    duration_s: float
    lines: int
    log_bytes_written: int
    log_bytes_dropped: int
    lines_truncated: int
    kill_kind: KillReason | None = None
    summary: str | None = None             # the first line of ``reason``
    tail: list[str] = field(default_factory=list)
    peak_rss_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.kill_reason is None

