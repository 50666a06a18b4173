"""How the run's process starts: the rlimits its child sets before exec, the
uid it drops to, its own session."""

from __future__ import annotations

import os
import resource
import subprocess
from typing import Any

from runner.sandbox.access import drop_uid
from runner.sandbox.spec import BWRAP_PROCS, SandboxSpec
from runner.sandbox.stage import Staging


def rlimits(*, spec: SandboxSpec) -> list[tuple[int, tuple[int, int]]]:
    """The (resource, (soft, hard)) pairs the child sets before exec."""
    lim = spec.limits
    out: list[tuple[int, tuple[int, int]]] = [(resource.RLIMIT_CORE, (0, 0))]

    def cap(res: int, value: int | None) -> None:
        if value is None:
            return
        _soft, hard = resource.getrlimit(res)
        v = value if hard == resource.RLIM_INFINITY else min(value, hard)
        out.append((res, (v, v)))

    # Address-space limits break CUDA, which reserves far more virtual memory
    # than it uses; GPU runs are held to memory_bytes by the RSS watch instead.
    if not spec.gpus:
        cap(resource.RLIMIT_AS, lim.memory_bytes)
    # RLIMIT_NPROC counts every process of the real uid system-wide and is
    # ignored for root: it is only meaningful for a dedicated per-run uid.
    if lim.max_procs is not None and drop_uid(spec.uid) is not None:
        # With network, the platform's egress forwarder is one more process of the sandbox.
        cap(resource.RLIMIT_NPROC, lim.max_procs + BWRAP_PROCS + (1 if spec.network else 0))
    cap(resource.RLIMIT_NOFILE, lim.max_open_files)
    cap(resource.RLIMIT_FSIZE, lim.max_file_bytes)
    return out


def popen_kwargs(*, spec: SandboxSpec, settings: Any, staging: Staging | None = None) -> dict[str, Any]:
    """Keyword arguments for ``subprocess.Popen`` of the command from :func:`build_command`
    (given the same ``staging``)."""
    limits = rlimits(spec=spec)
    uid = drop_uid(spec.uid)
    # Staged mounts are made as root in the child, so the uid is dropped here, after them, not by Popen
    # (which drops it before any preexec_fn runs).
    stage_then_drop = staging is not None and uid is not None

    # Runs in the forked child: keep it to plain system calls.
    def preexec() -> None:
        if stage_then_drop:
            assert staging is not None and uid is not None
            staging.preexec()
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        for res, value in limits:
            resource.setrlimit(res, value)

    kwargs: dict[str, Any] = {
        "start_new_session": True,
        "preexec_fn": preexec,
        "cwd": str(spec.workdir) if settings.unsafe_no_sandbox else "/",
        "close_fds": True,
        "stdin": subprocess.DEVNULL,
    }
    if uid is not None and not stage_then_drop:
        # Done by _posixsubprocess in C, after fork and before preexec/exec.
        kwargs.update(user=uid, group=uid, extra_groups=[])
    return kwargs
