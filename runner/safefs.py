"""Opening files that user code could have written (envs after an install
script, run work dirs, prediction outputs) without trusting them: every path
component opened relative to its parent's fd with ``O_NOFOLLOW`` (a planted
link fails with ELOOP instead of leading to a host file), reads capped in
size, and the worker's own files created with ``O_EXCL`` (never through a file
someone else put there)."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class TooLarge(OSError):
    """A file is larger than the reader's cap."""


def open_beneath(root: Path, rel: str | Path, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """An fd of ``root/rel``, no component of ``rel`` (nor ``root`` itself) a symlink; no '..'."""
    parts = [p for p in Path(rel).parts if p not in ("", ".")]
    if not parts or any(p == ".." or "/" in p for p in parts):
        raise OSError(f"{rel!r} is not a plain relative path")
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode, dir_fd=fd)
    finally:
        os.close(fd)


def read_capped(root: Path, rel: str | Path, cap: int) -> bytes:
    """The bytes of a regular file under ``root``, refusing links, special files and more than ``cap`` bytes."""
    fd = open_beneath(root, rel)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{rel} is not a regular file")
        data = os.read(fd, cap + 1)
        if len(data) > cap:
            raise TooLarge(f"{rel} is larger than {cap} bytes")
        return data
    finally:
        os.close(fd)


def read_head(root: Path, rel: str | Path, cap: int) -> bytes:
    """At most the first ``cap`` bytes of a regular file under ``root`` (links and special files refused)."""
    fd = open_beneath(root, rel)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{rel} is not a regular file")
        return os.read(fd, cap)
    finally:
        os.close(fd)


def write_new(directory: Path, name: str, data: bytes, mode: int = 0o644) -> None:
    """Create ``directory/name`` afresh (``O_EXCL``: an existing file or link there is an error) and write it."""
    fd = open_beneath(directory, name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def replace_file(directory: Path, name: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``directory/name`` through a fresh temporary file renamed over it."""
    tmp = f".{name}.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(directory / tmp)
    write_new(directory, tmp, data, mode)
    os.replace(directory / tmp, directory / name)
