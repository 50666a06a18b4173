"""Who may use what once the run has dropped to its own uid: the uid itself,
permission checks along a path, and handing the run's own tree to that uid."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def drop_uid(uid: int | None) -> int | None:
    """The uid the child switches to: only root can switch, and only when asked."""
    return uid if uid is not None and os.geteuid() == 0 else None


def _mode_allows(st: os.stat_result, uid: int, gid: int, need: int) -> bool:
    if st.st_uid == uid:
        shift = 6
    elif st.st_gid == gid:
        shift = 3
    else:
        shift = 0
    bits = (st.st_mode >> shift) & 7
    return bits & need == need


def blocked_for(path: Path, *, uid: int, gid: int, need: int, ancestors: bool = True) -> str | None:
    """Say which component stops ``uid`` from using ``path`` (None when nothing does).

    Walks both the path as written and its resolved form: a symlink in a
    world-readable place can point into root's 0700 home (a pyenv Python).
    ``ancestors=False`` checks ``path`` alone: for a source that root mounts
    (:mod:`runner.sandbox.stage`), the folders above it are never passed by ``uid``.
    """
    for candidate in dict.fromkeys([Path(os.path.abspath(path)), Path(os.path.realpath(path))]):
        parts = candidate.parts
        for i in range(1, len(parts) if ancestors else 1):
            d = Path(*parts[:i])
            try:
                st = os.stat(d)
            except OSError as exc:
                return f"{d} cannot be read ({exc.strerror})"
            if not _mode_allows(st, uid, gid, os.X_OK):
                return f"directory {d} (mode {stat.filemode(st.st_mode)}, owner {st.st_uid}) is not searchable"
        try:
            st = os.stat(candidate)
        except OSError as exc:
            return f"{candidate} cannot be read ({exc.strerror})"
        # A directory only needs to be searchable for a bind mount and for paths below it.
        if not _mode_allows(st, uid, gid, os.X_OK if stat.S_ISDIR(st.st_mode) else need):
            return f"{candidate} (mode {stat.filemode(st.st_mode)}, owner {st.st_uid}) is not accessible"
    return None


def chown_tree(root: Path, uid: int) -> None:
    # Only the run's own tree; symlinks are changed themselves, never followed.
    os.chown(root, uid, uid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)

