"""Removing a tree that untrusted code wrote (a task's run dirs, a prediction's
folder) without ever following a link it planted.

``shutil.rmtree`` is not enough here: it stops at the first folder user code
made unreadable or read-only (and, with ``ignore_errors``, says nothing about
what it left), and it recurses once per level, so a chain of folders a few
thousand deep (within a run's file-count limit) ends in a ``RecursionError``.

Every step goes through directory file descriptors opened ``O_NOFOLLOW``
relative to their parent's, as in :mod:`shared.core.safetree`: a link is
unlinked itself, never its target, and a folder swapped for a link is removed
as the link. A folder of ours that user code made read-only is made ours to
delete again through an ``O_PATH`` descriptor, so its mode is changed on that
very inode, never through a path. Past ``MAX_DEPTH`` levels a folder is moved
up to the top of the tree and emptied from there, so the descriptors held at
once stay bounded however deep the tree.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_DEPTH = 32


def remove_tree(path: Path, *, move_aside: bool = False) -> int:
    """Remove ``path`` (a folder, a file or a link) and everything under it; a missing path is fine.
    Returns how many entries are left because they could not be removed (another uid's files in a
    folder this process may not write, say): 0 when all is gone.

    ``move_aside``: first rename it to a hidden name beside it, so that whatever is left never sits
    under a name the platform uses again (SQLite hands a deleted row's id to the next row)."""
    try:
        parent = os.open(path.parent, _DIR_FLAGS)
    except FileNotFoundError:
        return 0
    try:
        name = path.name
        if move_aside:
            aside = f".deleted-{name}-{uuid.uuid4().hex[:12]}"
            try:
                os.rename(name, aside, src_dir_fd=parent, dst_dir_fd=parent)
                name = aside
            except FileNotFoundError:
                return 0
            except OSError:
                pass  # removed where it is, then
        return _remove_entry(parent, name)
    finally:
        os.close(parent)


def _remove_entry(dir_fd: int, name: str) -> int:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        return _unlink(dir_fd, name)
    fd = _open_dir(dir_fd, name, st)
    if fd is None:
        return _not_opened(dir_fd, name)
    try:
        left = _empty_from_top(fd)
    finally:
        os.close(fd)
    return left or _rmdir(dir_fd, name)


def _empty_from_top(top: int) -> int:
    """Empty the folder ``top``; folders past MAX_DEPTH are moved up under ``top`` and emptied in a
    further pass. Each pass lists ``top`` again, so the last pass's count is what is left."""
    while True:
        moved = [0]
        left = _empty(top, top, 0, moved)
        if not moved[0]:
            return left


def _empty(fd: int, top: int, depth: int, moved: list[int]) -> int:
    left = 0
    with os.scandir(fd) as it:
        entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    for name, is_dir in entries:
        if not is_dir:
            left += _unlink(fd, name)
            continue
        if depth >= MAX_DEPTH:
            try:
                os.rename(name, f".removing-{uuid.uuid4().hex}", src_dir_fd=fd, dst_dir_fd=top)
                moved[0] += 1
            except OSError:
                left += 1
            continue
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):  # swapped for a link or a file since the listing
            left += _unlink(fd, name)
            continue
        child = _open_dir(fd, name, st)
        if child is None:
            left += _not_opened(fd, name)
            continue
        try:
            below = _empty(child, top, depth + 1, moved)
        finally:
            os.close(child)
        left += below or _rmdir(fd, name)
    return left


def _open_dir(dir_fd: int, name: str, st: os.stat_result) -> int | None:
    """An fd on the folder ``name``, made searchable and writable first when it is ours and user code
    took those bits away; None when it cannot be opened (or is no longer a folder)."""
    if os.geteuid() != 0 and st.st_uid == os.geteuid() and st.st_mode & 0o700 != 0o700:
        _make_ours(dir_fd, name)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None


def _not_opened(dir_fd: int, name: str) -> int:
    """A folder that would not open: swapped for a link or a file since it was looked at (that entry
    goes, never a link's target), gone (nothing left), or really unreadable (one entry left)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return 0
    except OSError:
        return 1
    return 1 if stat.S_ISDIR(st.st_mode) else _unlink(dir_fd, name)


def _make_ours(dir_fd: int, name: str) -> None:
    # O_PATH needs no permission on the folder itself, and O_NOFOLLOW|O_DIRECTORY refuses a link;
    # chmod through /proc/self/fd changes the inode that fd holds, not whatever a path names now.
    with contextlib.suppress(OSError):
        pfd = os.open(name, _PATH_FLAGS, dir_fd=dir_fd)
        try:
            os.chmod(f"/proc/self/fd/{pfd}", 0o700)
        finally:
            os.close(pfd)


def _unlink(dir_fd: int, name: str) -> int:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return 0
    except OSError:
        return 1
    return 0


def _rmdir(dir_fd: int, name: str) -> int:
    try:
        os.rmdir(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return 0
    except OSError:
        return 1
    return 0
