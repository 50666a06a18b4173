"""The bubblewrap command line of one run, with its mounts checked and the
work dir handed to the run's uid."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runner.egress import INSIDE_SOCKET, bridge_argv, proxy_env
from runner.sandbox.access import blocked_for, chown_tree, drop_uid
from runner.sandbox.bwrap import SYSTEM_DIRS, check_sandbox, feats_of, gpu_bind_args, namespace_args, system_args
from runner.sandbox.environ import base_env, host_path, index_mounts
from runner.sandbox.spec import UNSAFE_WARNING, WORKSPACE, Mount, SandboxSpec
from runner.sandbox.stage import Staging
from shared.core.errors import SandboxError
from shared.core.i18n import N_

log = logging.getLogger(__name__)


def _interpreter_mounts(spec: SandboxSpec, settings: Any) -> list[Mount]:
    """The base Python the model envs are built on, when it lives outside /usr.

    Venvs hold only a symlink to their interpreter, so its prefix must exist
    inside at its host path. It is taken from the settings, never from the
    env's own files: an install script can write pyvenv.cfg or bin/python, and
    what it writes must not choose what gets mounted into later runs.
    """
    python = getattr(settings, "env_python", None) if settings is not None else None
    if not python:
        return []
    real = os.path.realpath(python)
    prefix = os.path.dirname(os.path.dirname(real))  # <prefix>/bin/python3.x -> <prefix>
    if _under_system(prefix) or not os.path.isdir(prefix):
        return []
    if any(_is_under(prefix, str(m.host)) and m.inside == str(m.host) for m in spec.mounts):
        return []
    return [Mount(host=Path(prefix), inside=prefix)]


def _is_under(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root + "/") or root == "/"


def _under_system(path: str) -> bool:
    real = os.path.realpath(path)
    return any(_is_under(real, os.path.realpath(d)) for d in SYSTEM_DIRS if os.path.exists(d))


def _validate(spec: SandboxSpec) -> None:
    if not spec.argv:
        raise SandboxError(N_("Nothing to run: the sandbox command is empty."))
    if not spec.workdir.is_dir():
        raise SandboxError(N_("The run's work dir {workdir} does not exist; create it before starting the run."),
                           params={"workdir": spec.workdir})
    for m in spec.mounts:
        if not m.inside.startswith("/") or ".." in m.inside.split("/"):
            raise SandboxError(N_("Mount target {inside!r} must be an absolute path without '..'."),
                               params={"inside": m.inside})
        if m.inside.rstrip("/") in ("", "/proc", "/dev", "/sys"):
            raise SandboxError(N_("Mount target {inside!r} would hide a system directory of the sandbox."),
                               params={"inside": m.inside})
        if not Path(m.host).exists():
            raise SandboxError(N_("Cannot mount {host} at {inside}: {host} does not exist."),
                               params={"host": m.host, "inside": m.inside})


def _check_uid_access(spec: SandboxSpec, uid: int, mounts: Iterable[Mount], *, staged: bool) -> None:
    # Staged sources are mounted by root: only the source itself must let the uid in, not the folders above it.
    for m in mounts:
        blocked = blocked_for(Path(m.host), uid=uid, gid=uid, need=os.R_OK, ancestors=not staged)
        if blocked:
            raise SandboxError(N_("The sandbox user (uid {uid}) cannot read {host} (mounted at {inside}): "
                                  "{blocked}. Keep DATA_DIR and model environments outside 0700 directories such "
                                  "as /root, or make them world-searchable."),
                               params={"uid": uid, "host": m.host, "inside": m.inside, "blocked": blocked})
    if not staged:
        blocked = blocked_for(spec.workdir.parent, uid=uid, gid=uid, need=os.X_OK)
        if blocked:
            raise SandboxError(N_("The sandbox user (uid {uid}) cannot reach the work dir {workdir}: {blocked}. "
                                  "Keep DATA_DIR outside 0700 directories such as /root."),
                               params={"uid": uid, "workdir": spec.workdir, "blocked": blocked})
    exe = spec.argv[0]
    if os.path.isabs(exe):
        host_exe = host_path(spec, exe) or exe
        blocked = blocked_for(Path(host_exe), uid=uid, gid=uid, need=os.R_OK | os.X_OK, ancestors=not staged)
        if blocked:
            raise SandboxError(N_("The sandbox user (uid {uid}) cannot run {exe}: {blocked}. Build run "
                                  "environments on an interpreter every user can reach (TRAINYARD_ENV_PYTHON, e.g. "
                                  "/usr/bin/python3.11), not on one under root's home."),
                               params={"uid": uid, "exe": exe, "blocked": blocked})


def build_command(*, spec: SandboxSpec, settings: Any, egress: Path | None = None,
                  staging: Staging | None = None) -> tuple[list[str], dict[str, str]]:
    """The argv to exec and its environment.

    A spec with ``network`` still gets a network namespace of its own (only
    loopback): ``egress`` is the unix socket of the worker's egress proxy
    (:class:`runner.egress.EgressProxy`), bound into the sandbox, and the
    platform's forwarder runs in front of ``spec.argv`` so that the proxy
    variables (``HTTPS_PROXY=http://127.0.0.1:3128``) reach it.

    Side effect, on purpose: when the worker is root and ``spec.uid`` is set,
    the work dir and writable mounts are chowned to that uid, since they are
    the places the run must be able to write.

    With ``staging`` (a root worker, :mod:`runner.sandbox.stage`), every host
    source is bound from its staged entry, so it may sit behind a folder the
    run's uid cannot pass; the child must then be started with
    :func:`runner.sandbox.popen_kwargs` given the same ``staging``.
    """
    _validate(spec)
    if spec.network and egress is None and not settings.unsafe_no_sandbox:
        raise SandboxError(N_("A sandbox with network needs the egress proxy's socket; none was given."))
    uid = drop_uid(spec.uid)
    extra = _interpreter_mounts(spec, settings)
    if spec.install and settings is not None:
        extra += [m for m in index_mounts(settings) if not any(_is_under(str(m.host), str(x.host))
                                                                 for x in spec.mounts)]
    env = base_env(spec=spec, install=spec.install, settings=settings)
    if spec.network and not settings.unsafe_no_sandbox:
        env.update(proxy_env())
    if uid is not None:
        _check_uid_access(spec, uid, [*spec.mounts, *extra], staged=staging is not None)
        chown_tree(spec.workdir, uid)
        for m in spec.mounts:
            if m.writable:
                chown_tree(Path(m.host), uid)
    if settings.unsafe_no_sandbox:
        log.warning(UNSAFE_WARNING)
        return list(spec.argv), env

    source = staging.add if staging is not None else str
    bwrap = check_sandbox(settings=settings)
    feats = feats_of(bwrap)
    # Always a network namespace of its own: with network, the only way out is the egress proxy.
    args = [bwrap, *namespace_args(network=False, feats=feats), *system_args(network=spec.network)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    mem = spec.limits.memory_bytes
    for tmp, size in (("/tmp", mem), ("/dev/shm", spec.limits.shm_bytes or mem)):
        # tmpfs is memory that no RSS counts; cap it like the run's memory.
        if size and feats.tmpfs_size:
            args += ["--size", str(size)]
        args += ["--tmpfs", tmp]
    args += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]  # CPU topology for BLAS/torch
    args += gpu_bind_args(gpus=spec.gpus)
    args += ["--bind", source(spec.workdir), WORKSPACE]
    for m in [*spec.mounts, *extra]:
        args += ["--bind" if m.writable else "--ro-bind", source(m.host), m.inside]
    # bwrap builds / on a tmpfs: without this, writes to /x or /etc/x would land
    # in host memory outside every limit. The binds above keep their own modes.
    argv = list(spec.argv)
    if spec.network:
        assert egress is not None
        args += ["--ro-bind", source(egress), INSIDE_SOCKET]
        argv = bridge_argv(python=settings.env_python, argv=argv)
    args += ["--remount-ro", "/"]
    args += ["--chdir", WORKSPACE, "--", *argv]
    return args, env

