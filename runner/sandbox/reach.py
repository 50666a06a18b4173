"""The start-up check that the sandbox's uid can use every host path a sandbox
is built from, so that what cannot work is named when ``up`` or a worker
starts, not by the first run that fails.

bubblewrap runs as the sandbox's own uid (see :mod:`runner.sandbox`). A root
worker that can make a mount namespace stages every bind source as root
(:mod:`runner.sandbox.stage`): then the folders above a source do not matter (a
DATA_DIR or an interpreter in root's 0700 home works), and only the
interpreter and local package indexes, which the uid uses by their own modes,
are checked. Without that (no CAP_SYS_ADMIN), bubblewrap opens each source as
the uid: each source and every directory above it must be searchable by it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runner.sandbox import stage
from runner.sandbox.access import blocked_for, drop_uid
from runner.sandbox.environ import index_mounts
from shared.core.errors import SandboxError
from shared.core.i18n import N_


def _needed(settings: Any, *, staged: bool) -> list[tuple[Path, int, str, str]]:
    """(path, access, what it is, how to fix it) for every host path a sandbox is built from."""
    out = [
        (Path(settings.env_python), os.R_OK | os.X_OK, "the interpreter model envs are built on (TRAINYARD_ENV_PYTHON)",
         "set TRAINYARD_ENV_PYTHON to a system interpreter such as /usr/bin/python3.11, or `chmod o+x` {dir}"),
    ]
    if not staged:
        out.append((Path(settings.data_dir), os.X_OK, "DATA_DIR, which holds the work dirs, datasets and envs that "
                    "runs mount", "set TRAINYARD_DATA_DIR to a directory outside it (such as /srv/trainyard or "
                    "/var/lib/trainyard), or `chmod o+x` {dir} (it lets others pass through, not list it)"))
    # uv is not among them: a source build runs a copy of it placed in the build's own work dir, so a
    # checkout (and its .venv) in a private home still works.
    for m in index_mounts(settings):
        out.append((Path(m.host), os.R_OK, "a local package index, find-links or constraints path "
                    "(pip's configuration or TRAINYARD_*INDEX*/FIND_LINKS/CONSTRAINTS)",
                    "move it where every user can read it, or `chmod o+rx` {dir}"))
    return out


def check_paths(settings: Any) -> None:
    """Raise :class:`SandboxError` naming each path the sandbox uid cannot reach, the uid and the fix.

    Nothing to check when no uid is dropped to (the worker is not root) or the
    sandbox is off: then the runs use the worker's own permissions.
    """
    if settings.unsafe_no_sandbox:
        return
    uid = drop_uid(settings.sandbox_uid_base)
    if uid is None:
        return
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    staged = stage.available()
    problems = []
    for path, need, what, fix in _needed(settings, staged=staged):
        blocked = blocked_for(path, uid=uid, gid=uid, need=need, ancestors=not staged)
        if blocked:
            where = _blocking_dir(blocked) or str(path)
            problems.append(f"{path} ({what}): {blocked}. Fix: {fix.format(dir=where)}.")
    if problems:
        if staged:
            raise SandboxError(N_("The sandbox user (uid {uid} and the uids above it) cannot use what sandboxes are "
                                  "built from. {problems}"), params={"uid": uid, "problems": " ".join(problems)})
        raise SandboxError(N_("The sandbox user (uid {uid} and the uids above it) cannot reach what sandboxes are "
                              "built from: bubblewrap mounts these as that user, since this worker cannot make a "
                              "mount namespace of its own to mount them as root (it lacks CAP_SYS_ADMIN). "
                              "{problems}"), params={"uid": uid, "problems": " ".join(problems)})


def _blocking_dir(blocked: str) -> str | None:
    # blocked_for says "directory /root (mode ...) is not searchable"; the fix names that directory.
    if blocked.startswith("directory "):
        return blocked[len("directory "):].split(" (", 1)[0]
    return None
