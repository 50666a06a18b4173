"""saferemove as the platform runs it without root: folders user code made unreadable or read-only are
made deletable again (through the inode, never a path), and what another uid owns is counted as left,
not silently skipped. As root the removal runs in a forked child that dropped to an unprivileged uid."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from shared.core.saferemove import remove_tree

NOBODY = 65534


def _as_unprivileged(fn, *args) -> int:
    """``fn(*args)`` in this process when it is not root; as root, in a child that dropped to NOBODY."""
    if os.geteuid() != 0:
        return fn(*args)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(w, str(fn(*args)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    return int(out)


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


@pytest.fixture
def base():
    path = Path(tempfile.mkdtemp(prefix="trainyard-saferemove-", dir="/tmp"))
    os.chmod(path, 0o777)
    yield path
    remove_tree(path)


def test_folders_made_unreadable_or_read_only_are_removed(base):
    root = base / "7"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("x")
    (root / "c").mkdir()
    (root / "c" / "g").write_text("y")
    if os.geteuid() == 0:
        _chown_tree(root, NOBODY)
    os.chmod(root / "a" / "b", 0o500)  # read-only: its file cannot be unlinked as it is
    os.chmod(root / "a", 0)  # not even listable
    os.chmod(root / "c", 0o100)
    os.chmod(root, 0o500)
    assert _as_unprivileged(remove_tree, root) == 0
    assert not root.exists()


def test_what_another_uid_owns_is_counted_as_left(base):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a folder to another uid")
    root = base / "8"
    (root / "theirs").mkdir(parents=True)
    (root / "theirs" / "f").write_text("x")
    (root / "mine.txt").write_text("y")
    _chown_tree(root, NOBODY)
    os.chown(root / "theirs", 0, 0)
    os.chmod(root / "theirs", 0o755)  # root's folder: NOBODY may list it but not delete in it
    assert _as_unprivileged(remove_tree, root) == 1  # theirs/f (so theirs and the root stay too)
    assert (root / "theirs" / "f").is_file() and not (root / "mine.txt").exists()


def test_a_link_as_the_root_is_unlinked_itself(base):
    target = base / "target"
    target.mkdir()
    (target / "keep").write_text("k")
    os.symlink(target, base / "link")
    assert remove_tree(base / "link") == 0
    assert not (base / "link").is_symlink() and (target / "keep").read_text() == "k"
    assert stat.S_ISDIR(os.lstat(target).st_mode)
    assert remove_tree(base / "missing") == 0


def test_what_is_left_is_moved_aside_from_a_name_the_platform_reuses(base):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a folder to another uid")
    root = base / "9"
    (root / "theirs").mkdir(parents=True)
    (root / "theirs" / "f").write_text("x")
    _chown_tree(root, NOBODY)
    os.chown(root / "theirs", 0, 0)
    assert _as_unprivileged(lambda p: remove_tree(p, move_aside=True), root) == 1
    assert not root.exists()
    [aside] = [p for p in base.iterdir() if p.name.startswith(".deleted-9-")]
    assert (aside / "theirs" / "f").read_text() == "x"
