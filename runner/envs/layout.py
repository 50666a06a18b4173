"""Where an environment lives and how its state is marked on disk.

On-disk layout of one environment::

    envs/<key>.lock                 flock: builders take it exclusive, users shared
    envs/<key>/                     the venv itself, built relocatable (sandboxes see it at
                                    /opt/trainyard/env); root's and read-only once built,
                                    mounted read-only into runs
    envstate/<key>/install.log      everything uv (and the install script) printed
    envstate/<key>/freeze.txt       the installed distributions of the finished env
    envstate/<key>/last-used        its mtime orders eviction
    envstate/<key>/complete         written last; an env without it is a leftover
    envs/failed-<key>-<ts>.log      the log of a build that failed (the env dir is removed)

The markers live in ``envstate/``, a sibling that no sandbox ever sees: an
install script writes into ``envs/<key>/`` while it runs, and a marker there
could be a link it planted for the worker to write through.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shared.core.settings import Settings

COMPLETE_MARKER = "complete"
LAST_USED = "last-used"
FREEZE_FILE = "freeze.txt"
INSTALL_LOG = "install.log"
REQUIREMENTS_FILE = "requirements.txt"
CONSTRAINTS_FILE = "constraints.txt"

LogFn = Callable[[str], None]


@dataclass
class EnvResult:
    key: str
    path: Path
    built: bool
    log_path: Path
    freeze: list[str] = field(default_factory=list)  # `uv pip freeze` lines


def env_python(path: Path) -> Path:
    return Path(path) / "bin" / "python"


def env_dir(*, settings: Settings, key: str) -> Path:
    return settings.data_dir / "envs" / key


def state_dir(path: Path) -> Path:
    """The platform's own files about the env at ``path`` (``envs/<key>`` -> ``envstate/<key>``)."""
    path = Path(path)
    return path.parent.with_name("envstate") / path.name


@contextlib.contextmanager
def flock(lock_path: Path, mode: int, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    # flock locks belong to the open file description, so two threads of one
    # process that each open the file exclude each other just like two processes.
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if on_wait:
                on_wait()
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def is_complete(path: Path) -> bool:
    return (state_dir(path) / COMPLETE_MARKER).is_file() and Path(path).is_dir()


def touch(path: Path) -> None:
    marker = state_dir(path) / LAST_USED
    marker.touch()
    os.utime(marker)  # touch() keeps an existing mtime on some filesystems; be explicit


def reuse(key: str, path: Path, emit: LogFn) -> EnvResult:
    touch(path)
    freeze_file = state_dir(path) / FREEZE_FILE
    freeze = freeze_file.read_text().splitlines() if freeze_file.is_file() else []
    emit(f"Reusing environment {key} ({len(freeze)} packages); nothing to install.")
    return EnvResult(key=key, path=path, built=False, log_path=state_dir(path) / INSTALL_LOG, freeze=freeze)


def _writable_dirs(path: Path) -> None:
    # A sealed env is read-only (and an install script may have taken the write bit off
    # its own dirs): a worker that is not root could not delete inside them otherwise.
    stack = [str(path)]
    while stack:
        d = stack.pop()
        with contextlib.suppress(OSError):
            os.chmod(d, 0o700)
        with contextlib.suppress(OSError), os.scandir(d) as it:
            stack.extend(e.path for e in it if e.is_dir(follow_symlinks=False))


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        if os.geteuid() != 0:
            _writable_dirs(path)
        shutil.rmtree(path)


def remove_env(path: Path) -> None:
    """The env and its state: the marker first, so a crash midway leaves an "incomplete" env."""
    state = state_dir(path)
    with contextlib.suppress(FileNotFoundError):
        (state / COMPLETE_MARKER).unlink()
    remove_tree(path)
    remove_tree(state)
