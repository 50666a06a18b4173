"""The env cache's size: disk usage counted per inode (envs hardlink their
files from uv's cache and share them), and least-recently-used eviction."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from runner.envs.keys import KEY_RE
from runner.envs.layout import COMPLETE_MARKER, LAST_USED, LogFn, is_complete, remove_env, state_dir
from runner.flocks import try_flock
from shared.core.settings import Settings, format_size


@dataclass
class _Usage:
    total: int = 0
    sizes: dict[tuple[int, int], int] = field(default_factory=dict)
    owners: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    inodes: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


def _scan(envs: Path) -> _Usage:
    # Envs hardlink their files from uv's cache and share them with each other;
    # st_blocks per distinct inode is what the disk really holds.
    usage = _Usage()
    with os.scandir(envs) as it:
        entries = list(it)
    for entry in entries:
        mine: list[tuple[int, int]] = []
        stack = [entry.path]
        while stack:
            p = stack.pop()
            try:
                st = os.lstat(p)
            except OSError:
                continue
            ino = (st.st_dev, st.st_ino)
            mine.append(ino)
            if ino not in usage.sizes:
                usage.sizes[ino] = st.st_blocks * 512
                usage.total += usage.sizes[ino]
            usage.owners.setdefault(ino, set()).add(entry.name)
            if os.path.isdir(p) and not os.path.islink(p):
                with contextlib.suppress(OSError), os.scandir(p) as sub:
                    stack.extend(e.path for e in sub)
        usage.inodes[entry.name] = mine
    return usage


def envs_disk_usage(*, settings: Settings) -> int:
    """Bytes on disk under DATA_DIR/envs, each hardlinked file counted once."""
    envs = settings.data_dir / "envs"
    return _scan(envs).total if envs.is_dir() else 0


def _last_used(path: Path) -> float:
    for name in (LAST_USED, COMPLETE_MARKER):
        with contextlib.suppress(OSError):
            return (state_dir(path) / name).stat().st_mtime
    with contextlib.suppress(OSError):
        return path.stat().st_mtime
    return 0.0


def evict_envs(*, settings: Settings, in_use: set[str], keep: Iterable[str] = frozenset(),
               log: LogFn | None = None) -> list[str]:
    """Remove least-recently-used envs until DATA_DIR/envs fits env_cache_max_bytes.

    Never touches keys in ``in_use`` or ``keep``, nor an env someone holds the
    lock of (being built, or being looked up by ``ensure_env``). Leftovers of
    interrupted builds go first. Returns the removed keys.
    """
    emit: LogFn = log or (lambda _line: None)
    limit = settings.env_cache_max_bytes
    envs = settings.data_dir / "envs"
    if limit is None or not envs.is_dir():
        return []
    usage = _scan(envs)
    if usage.total <= limit:
        return []
    protected = set(in_use) | set(keep)
    leftovers, complete = [], []
    for name in usage.inodes:
        p = envs / name
        if not KEY_RE.match(name) or name in protected or not p.is_dir() or p.is_symlink():
            continue
        (complete if is_complete(p) else leftovers).append(name)
    order = sorted(leftovers, key=lambda n: _last_used(envs / n)) + sorted(complete, key=lambda n: _last_used(envs / n))
    evicted: list[str] = []
    for name in order:
        if usage.total <= limit:
            break
        fd = try_flock(envs / f"{name}.lock")
        if fd is None:
            continue  # being built or opened right now
        try:
            # Marker first: a crash mid-delete leaves an "incomplete" dir, never a broken "complete" one.
            with contextlib.suppress(OSError):
                remove_env(envs / name)
        finally:
            os.close(fd)
        for ino in usage.inodes.get(name, []):
            owners = usage.owners.get(ino)
            if owners is None:
                continue
            owners.discard(name)
            if not owners:
                usage.total -= usage.sizes.pop(ino, 0)
                del usage.owners[ino]
        evicted.append(name)
        emit(f"Evicted environment {name}; environments now use {format_size(usage.total)} "
             f"of {format_size(limit)}.")
    return evicted
