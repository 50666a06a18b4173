"""Deleting a task removes the run dirs its user code wrote without following what that code planted
there: links to a file, to a folder and to the run's own parent outside the task, a hard link to a host
file, folders it made unreadable, and a chain of folders deeper than any recursion would go. Every target
outside the task's tree is left exactly as it was."""

from __future__ import annotations

import os
import uuid

from shared.records import Run, RunStatus, Task, TaskStatus
from shared.services.task_delete import delete_task
from tests.support.people import OP
from tests.support.rows import task_with_run

DEPTH = 1500  # past Python's recursion limit and saferemove.MAX_DEPTH many times over


def _finished_task(session) -> tuple[Task, Run]:
    return task_with_run(session, task_status=TaskStatus.completed, run_status=RunStatus.completed,
                         log_path="runs/{task}/1/run.log")


def test_links_user_code_planted_in_a_run_dir_are_removed_never_followed(settings, session):
    task, run = _finished_task(session)
    token = f"host-secret-{uuid.uuid4().hex}"
    host = settings.data_dir / "host-only"
    (host / "sub").mkdir(parents=True)
    for f in (host / "secret.txt", host / "sub" / "inner.txt", host / "hard.txt"):
        f.write_text(token)
    other_run_dir = settings.data_dir / "runs" / "999"  # another task's files, beside this one's
    other_run_dir.mkdir(parents=True)
    (other_run_dir / "run.log").write_text(token)

    work = settings.path(run.work_dir)
    work.mkdir(parents=True)
    settings.path(run.log_path).write_text("o score: 1\n")
    os.symlink(host / "secret.txt", work / "file-link")
    os.symlink(host, work / "dir-link")
    os.symlink(settings.data_dir / "runs", work / "runs-link")
    os.symlink("../../../../999", work / "relative-link")
    os.link(host / "hard.txt", work / "hard-link")
    locked = work / "locked" / "inner"
    locked.mkdir(parents=True)
    (locked / "f").write_text("x")
    os.symlink(host / "sub", locked / "link-in-locked")
    os.chmod(locked, 0o500)
    os.chmod(work / "locked", 0)
    deep = work / "deep"
    deep.mkdir()
    fd = os.open(deep, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(DEPTH):  # created through fds: the path would pass PATH_MAX long before the end
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.symlink(host / "secret.txt", "bottom-link", dir_fd=fd)
    finally:
        os.close(fd)

    done = delete_task(session=session, settings=settings, actor=OP, task_id=task.id)

    assert done.left_on_disk == 0
    assert not (settings.data_dir / "runs" / str(task.id)).exists()
    assert sorted(p.name for p in host.iterdir()) == ["hard.txt", "secret.txt", "sub"]
    for f in (host / "secret.txt", host / "sub" / "inner.txt", host / "hard.txt"):
        assert f.read_text() == token, f
    assert (host / "hard.txt").stat().st_nlink == 1
    assert (other_run_dir / "run.log").read_text() == token
