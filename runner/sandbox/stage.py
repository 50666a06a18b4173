"""Mount sources the sandbox's uid could not reach by their path.

bubblewrap runs as the run's unprivileged uid and resolves every bind source by
its path as that uid (``--bind-fd`` too: it reads the fd's link text back and
walks it), so a DATA_DIR in root's 0700 home, or a private TMPDIR, is out of its
reach. A root worker therefore *stages* the sources: the child it forks, still
root, makes a mount namespace of its own, bind-mounts each source onto an empty
entry of a fresh root-owned 0711 folder under /tmp, and only then drops to the
run's uid and execs bwrap, which binds those entries. The host's mount table
never changes (the namespace is the child's, its mounts propagate nowhere) and
the host sees only empty entries, removed when the run ends.

Root resolves these paths, so it must never follow a link user code planted:
below DATA_DIR (the only place user code writes: work dirs, writable mounts)
each component is opened with ``O_NOFOLLOW`` relative to its parent's fd, and
the mount is made from the last fd (``/proc/self/fd/N``), so what is mounted is
what that walk reached (the worker walks once first, to refuse with a message).
DATA_DIR itself and sources outside it (the interpreter's prefix, local
package indexes) are the operator's paths and are resolved as written. The
fds are ``O_CLOEXEC`` and closed once mounted: none is open when bwrap starts.

It needs CAP_SYS_ADMIN for the mount namespace; :func:`available` says whether
this worker has it (a container without it keeps the path binds, and ``up``
names a source the uid cannot reach).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.sandbox.access import drop_uid
from shared.core.errors import SandboxError
from shared.core.i18n import N_

_CLONE_NEWNS = 0x00020000
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_SLAVE = 1 << 19
_PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
# Loaded once here: the forked child must not load libraries (another thread may hold the loader's lock).
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.unshare.argtypes = [ctypes.c_int]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _private_namespace() -> None:
    """A mount namespace of this process's own, whose mounts reach no other namespace."""
    _check(_libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(None, b"/", None, _MS_REC | _MS_SLAVE, None), "making / a slave mount")


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether this process can stage (root with CAP_SYS_ADMIN), tried once in a real child."""
    if os.geteuid() != 0:
        return False
    try:
        subprocess.run(["/bin/true"], preexec_fn=_private_namespace, check=True, timeout=30,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@dataclass(frozen=True)
class _Source:
    anchor: str  # opened as written (the operator's path)
    parts: tuple[str, ...]  # opened one by one below it, links refused
    target: str  # the empty entry in the staging folder it is mounted on


def _open(src: _Source) -> int:
    """An O_PATH fd of the source, reached without following a link below its anchor."""
    fd = os.open(src.anchor, os.O_PATH | os.O_CLOEXEC)
    try:
        for part in src.parts:
            nxt = os.open(part, _PATH_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
            if stat.S_ISLNK(os.fstat(fd).st_mode):  # O_PATH|O_NOFOLLOW opens the link itself
                raise OSError(errno.ELOOP, "a symbolic link")
        return fd
    except BaseException:
        os.close(fd)
        raise


class Staging:
    """The staged sources of one sandbox; ``add`` them, fork with :meth:`preexec`, ``close`` after the run."""

    def __init__(self, *, data_dir: Path) -> None:
        self._data_dir = os.path.realpath(data_dir)
        self._dir: str | None = None
        self._sources: dict[str, _Source] = {}

    def add(self, host: Path) -> str:
        """The path bwrap binds ``host`` from; refuses a source reached through a link below DATA_DIR."""
        path = os.path.abspath(host)
        if path in self._sources:
            return self._sources[path].target
        rel = os.path.relpath(path, self._data_dir)
        if rel not in (".", "..") and not rel.startswith(".." + os.sep):  # below DATA_DIR
            anchor, parts = self._data_dir, tuple(p for p in rel.split(os.sep) if p not in ("", "."))
        else:
            anchor, parts = os.path.realpath(path), ()
        if self._dir is None:
            # Fixed under /tmp, not TMPDIR: the uid must pass through to it. mkdtemp's name is new and ours.
            self._dir = tempfile.mkdtemp(prefix="trainyard-stage-", dir="/tmp")
            os.chmod(self._dir, 0o711)
        target = os.path.join(self._dir, str(len(self._sources)))
        src = _Source(anchor=anchor, parts=parts, target=target)
        try:
            fd = _open(src)
        except OSError as exc:
            raise SandboxError(N_("Cannot mount {host} into the sandbox: {error} on the way to it (a link is never "
                                  "followed below DATA_DIR)."), params={"host": host, "error": exc.strerror}) from None
        try:
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        finally:
            os.close(fd)
        if is_dir:
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
        self._sources[path] = src
        return target

    def preexec(self) -> None:
        """In the forked child, still root: the private namespace and the staged mounts. Each source is
        opened again here (an fd from the parent's namespace cannot be bind-mounted in this one)."""
        _private_namespace()
        for src in self._sources.values():
            fd = _open(src)
            try:
                _check(_libc.mount(f"/proc/self/fd/{fd}".encode(), src.target.encode(), None, _MS_BIND | _MS_REC,
                                   None), f"bind-mounting {src.target}")
            finally:
                os.close(fd)

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


@contextlib.contextmanager
def staged(*, uid: int | None, settings: Any) -> Iterator[Staging | None]:
    """A :class:`Staging` for a sandbox that drops to ``uid``, removed on exit; None when nothing is
    staged (no sandbox, no uid to drop to, or no mount namespace to be had)."""
    if settings.unsafe_no_sandbox or drop_uid(uid) is None or not available():
        yield None
        return
    staging = Staging(data_dir=settings.data_dir)
    try:
        yield staging
    finally:
        staging.close()
