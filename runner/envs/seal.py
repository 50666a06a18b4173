"""The end of a build: what the env may hold, and making it the platform's.

An install script writes into the env as the sandbox's uid. Before the env is
marked complete, every entry is checked (without following any link): a
setuid/setgid file, a device node, fifo or socket, or a link that resolves
outside the env fails the build and is named. Then the whole tree becomes
root's (when the worker is root) and read-only, so no later run, nor another
install, can change what runs in it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from runner.safefs import read_head
from shared.core.i18n import N_

# Whole sentences (catalog templates), so that a failed deploy's reason reads back translated.
_SPECIAL = ((stat.S_ISCHR, N_("{path} is a character device node")),
            (stat.S_ISBLK, N_("{path} is a block device node")),
            (stat.S_ISFIFO, N_("{path} is a fifo")),
            (stat.S_ISSOCK, N_("{path} is a unix socket")))
_MAX_NAMED = 10
_FINGERPRINT_HEAD = 1024 * 1024


class EnvRefused(Exception):
    """The env holds something no run may be given; ``problems`` name the files."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def interpreter_fingerprint(path: Path) -> dict[str, str]:
    """What decides which interpreter runs: bin/python* (link targets, or a file's
    size, mtime, inode and the hash of its first MiB) and pyvenv.cfg. Never reads a
    file whole: the script may have left a sparse file of many GiB there."""
    out: dict[str, str] = {}
    for p in sorted([*Path(path).glob("bin/python*"), Path(path) / "pyvenv.cfg"]):
        try:
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[p.name] = "link:" + os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                head = read_head(p.parent, p.name, _FINGERPRINT_HEAD)
                out[p.name] = (f"file:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:"
                               f"{hashlib.sha256(head).hexdigest()}")
            else:
                out[p.name] = f"special:{stat.filemode(st.st_mode)}"
        except OSError:
            out[p.name] = "unreadable"
    return out


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root + "/")


def check_env(path: Path, *, interpreters: set[str]) -> None:
    """Raise :class:`EnvRefused` naming what in the env no run may be given.

    ``interpreters`` are the real paths a venv's bin/python may link to (the
    configured base interpreter); every other link must stay inside the env.
    """
    root = os.path.realpath(path)
    problems: list[str] = []
    for dirpath, dirnames, filenames, dirfd in os.fwalk(path, follow_symlinks=False):
        for name in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), path)
            try:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except OSError:
                continue
            mode = st.st_mode
            if stat.S_ISLNK(mode):
                real = os.path.realpath(os.path.join(dirpath, name))
                if not _inside(real, root) and real not in interpreters:
                    problems.append(N_("{path} is a link to {target}, outside the environment").format(
                        path=rel, target=os.readlink(name, dir_fd=dirfd)))
            elif stat.S_ISREG(mode) and mode & (stat.S_ISUID | stat.S_ISGID):
                said = N_("{path} is setuid ({mode})") if mode & stat.S_ISUID else N_("{path} is setgid ({mode})")
                problems.append(said.format(path=rel, mode=stat.filemode(mode)))
            else:
                for test, said in _SPECIAL:
                    if test(mode):
                        problems.append(said.format(path=rel))
            if len(problems) >= _MAX_NAMED:
                raise EnvRefused(problems)
    if problems:
        raise EnvRefused(problems)


def lock_down(path: Path) -> None:
    """chown -R root (when the worker is root) and chmod -R a-w, links never followed.

    Runs after :func:`check_env`, when no process of the install is left: nothing
    can swap an entry for a link between the check and the change.
    """
    as_root = os.geteuid() == 0

    def fix(name: str | Path, dir_fd: int | None) -> None:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if as_root:
            os.chown(name, 0, 0, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(name, stat.S_IMODE(st.st_mode) & ~0o222 & ~(stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX),
                     dir_fd=dir_fd)

    for _dirpath, dirnames, filenames, dirfd in os.fwalk(path, follow_symlinks=False):
        for name in dirnames + filenames:
            fix(name, dirfd)
    fix(path, None)
