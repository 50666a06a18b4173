"""Where an environment lives and how its state is marked on disk.

On-disk layout of one environment::

    envs/<key>.lock                 flock: builders take it exclusive, users shared
    envs/<key>/                     the venv itself (built in place: venvs embed absolute paths)
    envs/<key>/install.log          everything uv (and the install script) printed
    envs/<key>/.trainyard-freeze.txt  ``uv pip freeze`` of the finished env
    envs/<key>/.last-used           its mtime orders eviction
    envs/<key>/.trainyard-complete  written last; an env without it is a leftover
    envs/failed-<key>-<ts>.log      the log of a build that failed (the env dir is removed)
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

COMPLETE_MARKER = ".trainyard-complete"
LAST_USED = ".last-used"
FREEZE_FILE = ".trainyard-freeze.txt"
INSTALL_LOG = "install.log"

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


def try_flock(lock_path: Path) -> int | None:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def is_complete(path: Path) -> bool:
    return (path / COMPLETE_MARKER).is_file()


def touch(path: Path) -> None:
    marker = path / LAST_USED
    marker.touch()
    os.utime(marker)  # touch() keeps an existing mtime on some filesystems; be explicit


def reuse(key: str, path: Path, emit: LogFn) -> EnvResult:
    touch(path)
    freeze_file = path / FREEZE_FILE
    freeze = freeze_file.read_text().splitlines() if freeze_file.is_file() else []
    emit(f"Reusing environment {key} ({len(freeze)} packages); nothing to install.")
    return EnvResult(key=key, path=path, built=False, log_path=path / INSTALL_LOG, freeze=freeze)


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)

