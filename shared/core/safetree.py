"""Reading a tree that untrusted code wrote (a run's work dir, a prediction's
out dir) without ever following a link it planted.

Every step goes through directory file descriptors: a directory is opened with
``O_DIRECTORY|O_NOFOLLOW`` relative to its parent's fd, a file with
``O_NOFOLLOW|O_NONBLOCK`` relative to its directory's fd, and only what
``fstat`` calls a regular file is read. A path string is never re-resolved, so
a folder that user code swaps for a symlink while we walk (a running run) is
skipped, not followed. A FIFO is not opened for a blocking read either.

Names that are not UTF-8 come back from the OS with surrogate escapes; they are
shown (and stored in zips) as ``\\xNN`` text, and looked up by that text again.
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shared.core.errors import NotFoundError
from shared.core.i18n import N_

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
MAX_DEPTH = 64
CHUNK = 1024 * 1024


def display_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 become ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Entry:
    rel: str  # display form, '/'-separated
    parts: tuple[str, ...]  # the names as the OS has them (surrogate-escaped)
    size: int
    mtime: float


@dataclass
class Listing:
    files: list[Entry] = field(default_factory=list)
    skipped: int = 0  # links, special files, entries past the depth or count cap
    truncated: bool = False


def open_root(root: Path) -> int:
    """An fd on ``root``; NotFoundError when it is missing, not a folder, or a link."""
    try:
        return os.open(root, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise NotFoundError(N_("{root_name} was replaced by a link or a file; its files are not served"),
                                params={"root_name": root.name}) from None
        raise NotFoundError(N_("{root_name} does not exist"), params={"root_name": root.name}) from None


def walk(root: Path, *, max_entries: int = 1_000_000) -> Listing:
    """Every regular file under ``root``, sorted by name; links are never followed."""
    listing = Listing()
    fd = open_root(root)
    try:
        _walk_dir(fd, (), listing, max_entries)
    finally:
        os.close(fd)
    listing.files.sort(key=lambda e: e.rel)
    return listing


def _walk_dir(fd: int, parts: tuple[str, ...], listing: Listing, max_entries: int) -> None:
    with os.scandir(fd) as it:
        entries = [(e.name, e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False)) for e in it]
    for name, is_dir, is_file in sorted(entries):
        if len(listing.files) + listing.skipped >= max_entries:
            listing.truncated = True
            return
        if is_dir and len(parts) < MAX_DEPTH:
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:  # swapped for a link (ELOOP/ENOTDIR) or removed since the scan
                listing.skipped += 1
                continue
            try:
                _walk_dir(child, (*parts, name), listing, max_entries)
            finally:
                os.close(child)
        elif is_file:
            st = _stat_regular(fd, name)
            if st is None:
                listing.skipped += 1
                continue
            rel = "/".join(display_name(p) for p in (*parts, name))
            listing.files.append(Entry(rel, (*parts, name), st.st_size, st.st_mtime))
        else:
            listing.skipped += 1


def _stat_regular(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        return st if stat.S_ISREG(st.st_mode) else None
    finally:
        os.close(fd)


def _lookup(dir_fd: int, shown: str) -> str:
    """The OS name of the entry shown as ``shown`` (the name itself unless it was escaped)."""
    try:
        os.stat(shown, dir_fd=dir_fd, follow_symlinks=False)
        return shown
    except (OSError, ValueError, UnicodeEncodeError):
        pass
    with os.scandir(dir_fd) as it:
        for e in it:
            if display_name(e.name) == shown:
                return e.name
    raise FileNotFoundError(shown)


@contextmanager
def open_regular(root: Path, rel: str, *, parts: tuple[str, ...] | None = None
                 ) -> Iterator[tuple[int, os.stat_result, tuple[str, ...]]]:
    """An fd on the regular file ``rel`` (display form; or ``parts``, the OS
    names from a walk) under ``root``, reached through directory fds only, with
    its stat and its OS names; NotFoundError for anything else."""
    names = list(parts) if parts is not None else [p for p in rel.split("/") if p]
    if not names or any(p in (".", "..") or "/" in p for p in names):
        raise NotFoundError(N_("no file {rel!r}"), params={"rel": rel})
    find = (lambda _fd, name: name) if parts is not None else _lookup
    found: list[str] = []
    fds = [open_root(root)]
    try:
        for part in names[:-1]:
            found.append(find(fds[-1], part))
            fds.append(os.open(found[-1], _DIR_FLAGS, dir_fd=fds[-1]))
        found.append(find(fds[-1], names[-1]))
        fd = os.open(found[-1], _FILE_FLAGS, dir_fd=fds[-1])
    except OSError:
        raise NotFoundError(N_("no regular file {rel!r} (missing, or a link)"), params={"rel": rel}) from None
    finally:
        for d in fds:
            os.close(d)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotFoundError(N_("{rel!r} is not a regular file"), params={"rel": rel})
        yield fd, st, tuple(found)
    finally:
        os.close(fd)


def host_path(root: Path, rel: str) -> Path:
    """The path of the regular file shown as ``rel``, checked through fds. Only for a tree
    no user code writes any more (a finished run): a path can be swapped after the check."""
    with open_regular(root, rel) as (_fd, _st, names):
        return root.joinpath(*names)


def chunks(fd: int, limit: int) -> Iterator[bytes]:
    """At most ``limit`` bytes from ``fd`` (a file still being written stops at its size when opened)."""
    left = limit
    while left > 0:
        data = os.read(fd, min(CHUNK, left))
        if not data:
            return
        left -= len(data)
        yield data


def read_file(root: Path, rel: str, *, max_bytes: int | None = None) -> bytes:
    with open_regular(root, rel) as (fd, st, _names):
        cap = st.st_size if max_bytes is None else min(st.st_size, max_bytes)
        return b"".join(chunks(fd, cap))


def copy_into(root: Path, rel: str, dest: Path) -> int:
    """Copy one file to ``dest`` (a trusted path) as read through its fd; bytes copied."""
    n = 0
    with open_regular(root, rel) as (fd, st, _names), open(dest, "wb") as out:
        for data in chunks(fd, st.st_size):
            out.write(data)
            n += len(data)
    return n


def add_to_zip(zf: zipfile.ZipFile, root: Path, entry: Entry, arcname: str, *, budget: int | None) -> int:
    """Write one file into ``zf`` as read through its fd, capped at its size when
    opened and at ``budget``; the bytes written (0 when it vanished or was swapped)."""
    try:
        with open_regular(root, entry.rel, parts=entry.parts) as (fd, st, _names):
            cap = st.st_size if budget is None else min(st.st_size, budget)
            n = 0
            with zf.open(arcname, "w", force_zip64=True) as out:
                for data in chunks(fd, cap):
                    out.write(data)
                    n += len(data)
            return n
    except NotFoundError:
        return 0
