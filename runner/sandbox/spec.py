"""What a sandboxed run is: its command, work dir, mounts, network, GPUs,
uid and resource limits."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shared.core.errors import FieldError
from shared.core.i18n import N_

WORKSPACE = "/workspace"
# Where a model's env appears to runs, predictions and its install script: a fixed path, so that
# nothing depends on where DATA_DIR is (envs are built relocatable for it).
ENV_MOUNT = "/opt/trainyard/env"
# The id user code sees for itself inside the sandbox; the host's /etc/passwd
# and /etc/group name it (nobody/nogroup), which keeps pwd lookups working.
INSIDE_ID = 65534
# bwrap itself is two processes in the sandbox's process count: the outer
# monitor and the namespace's init.
BWRAP_PROCS = 2

UNSAFE_WARNING = ("TRAINYARD_UNSAFE_NO_SANDBOX is set: user code runs WITHOUT the sandbox, with the worker's "
                   "file system and network. Use this only on a trusted single-user machine.")


@dataclass
class Limits:
    """Per-run resource limits; ``None`` means unlimited."""

    memory_bytes: int | None = None
    max_procs: int | None = None
    max_open_files: int | None = None
    max_file_bytes: int | None = None
    max_disk_bytes: int | None = None
    max_files: int | None = None  # files and directories in the writable places (inodes)
    max_log_bytes: int | None = None
    max_line_bytes: int = 8192
    # /dev/shm's size; None: the memory limit's (both tmpfs are capped by it anyway).
    shm_bytes: int | None = None

    @classmethod
    def from_settings(cls, settings: Any, overrides: dict | None = None) -> Limits:
        values: dict[str, int | None] = {
            "memory_bytes": settings.memory_limit,
            "max_procs": settings.max_procs,
            "max_open_files": settings.max_open_files,
            "max_file_bytes": settings.max_file_bytes,
            "max_disk_bytes": settings.max_disk_bytes,
            "max_files": settings.max_files,
            "max_log_bytes": settings.max_log_bytes,
            "max_line_bytes": settings.max_line_bytes,
        }
        known = [f.name for f in fields(cls)]
        for key, value in (overrides or {}).items():
            if key not in known:
                raise FieldError(key, N_("is not a run limit; the limits are {known}"),
                                      params={"known": ', '.join(known)})
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise FieldError(key, N_("must be a positive whole number or empty (no limit), not {value!r}"),
                                      params={"value": value})
            values[key] = value
        if values["max_line_bytes"] is None:
            raise FieldError("max_line_bytes", N_("cannot be unlimited; a line longer than this is cut"))
        mem = values["memory_bytes"]
        shm = getattr(settings, "shm_size", None) or (mem // 2 if mem else None)
        values["shm_bytes"] = min(shm, mem) if shm and mem else shm
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class Mount:
    host: Path
    inside: str
    writable: bool = False


@dataclass
class SandboxSpec:
    argv: list[str]
    workdir: Path
    mounts: list[Mount] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    network: bool = False
    gpus: list[str] | None = None
    limits: Limits = field(default_factory=Limits)
    uid: int | None = None
    # An install step (install_dependencies.sh): the index variables are set and
    # local index/find-links/constraint paths are mounted read-only.
    install: bool = False

