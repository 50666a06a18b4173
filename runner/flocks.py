"""Taking an flock without waiting: the one way env eviction, GPU claims and deploy claims ask
"is someone else holding this?". The kernel drops an flock when its holder's fd closes or its
process dies, so a lock file never needs cleaning up after a crash."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def try_flock(lock_path: Path, *, mode: int = 0o644) -> int | None:
    """The open fd that now holds ``lock_path`` exclusively (close it to release), or None when another
    holder has it. The file is created with ``mode`` when missing."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
