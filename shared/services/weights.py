"""Weights: a run's work dir as a zip (written to disk in chunks, never built
in memory), single files from it, and the default weights file for prediction."""

from __future__ import annotations

import contextlib
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from shared.core import safetree
from shared.core.errors import NotFoundError, OutputError
from shared.core.i18n import N_
from shared.core.settings import Settings
from shared.records import Action, AuditAction, ObjectKind, Run, Task, User, utcnow
from shared.records.labels import term
from shared.services import access, audit
from shared.services.tasks import get_run, get_task

WEIGHT_EXTS = (".pt", ".pth", ".ckpt", ".onnx", ".safetensors", ".pkl", ".bin", ".h5", ".weights")


def pick_run(*, session: Session, task: Task, run_id: int | None) -> Run:
    if run_id is not None:
        run = get_run(session=session, run_id=run_id)
        if run.task_id != task.id:
            raise NotFoundError(N_("run {run_id} does not belong to task {task_id}"),
                                params={"run_id": run_id, "task_id": task.id})
        return run
    if task.best_run_id is None:
        raise NotFoundError(N_("task {task_id} has no best run (status {task_status}); pass --run RID"),
                            params={"task_id": task.id, "task_status": term(task.status)})
    return get_run(session=session, run_id=task.best_run_id)


def work_dir(settings: Settings, run: Run) -> Path:
    """The run's work dir, refused if user code swapped it for a link out of
    its workspace (everything under it was written by untrusted code)."""
    if not run.work_dir:
        raise NotFoundError(N_("run {run_id} never started, so it has no work dir"), params={"run_id": run.id})
    path = settings.path(run.work_dir)
    workspace = path.parent
    if path.is_symlink() or not path.resolve().is_relative_to(workspace.resolve()):
        raise NotFoundError(N_("run {run_id}'s work dir was replaced by a link; its files are not served"),
                            params={"run_id": run.id})
    return path


def regular_files(root: Path) -> list[str]:
    """Relative paths (display form) of the regular files under root, never following
    links; none when root is missing or was swapped for a link."""
    try:
        return [e.rel for e in safetree.walk(root).files]
    except NotFoundError:
        return []


def list_files(settings: Settings, run: Run) -> list[str]:
    root = work_dir(settings, run)
    if not root.is_dir():
        return []
    return [e.rel for e in safetree.walk(root, max_entries=_entry_cap(settings)).files]


def weight_files(settings: Settings, run: Run) -> list[str]:
    """Weights-like files, newest first (the sensible default is the first)."""
    root = work_dir(settings, run)
    if not root.is_dir():
        return []
    found = [e for e in safetree.walk(root, max_entries=_entry_cap(settings)).files
             if e.rel.lower().endswith(WEIGHT_EXTS)]
    return [e.rel for e in sorted(found, key=lambda e: e.mtime, reverse=True)]


def _entry_cap(settings: Settings) -> int:
    return settings.max_files or 1_000_000


def read_file(settings: Settings, run: Run, rel: str) -> bytes:
    """One file of the run's work dir, read through its fd (a link is never followed)."""
    try:
        return safetree.read_file(work_dir(settings, run), rel, max_bytes=settings.max_file_bytes)
    except NotFoundError:
        raise NotFoundError(N_("run {run_id} has no file {rel!r} in its work dir"),
                            params={"run_id": run.id, "rel": rel}) from None


def safe_file(settings: Settings, run: Run, rel: str) -> Path:
    """The host path of the regular file shown as ``rel``, checked through directory fds
    (for a finished run, whose files no user code changes any more)."""
    try:
        return safetree.host_path(work_dir(settings, run), rel)
    except NotFoundError:
        raise NotFoundError(N_("run {run_id} has no file {rel!r} in its work dir"),
                            params={"run_id": run.id, "rel": rel}) from None


@dataclass(frozen=True)
class WeightsZip:
    path: Path
    run_id: int
    partial: bool  # the run was still running: a snapshot of files that may be mid-write
    files: int
    skipped: int  # links and special files left out


PARTIAL_NOTE = "PARTIAL.txt"


def weights_zip_name(task_id: int, run_id: int) -> str:
    return f"task-{task_id}-run-{run_id}.zip"


def write_weights_zip(*, session: Session, settings: Settings, actor: User, task_id: int, run_id: int | None,
                      dest: Path | str) -> WeightsZip:
    """The run's work dir as a zip, for anyone who may see the task (viewers included); audited. Regular
    files only, each copied as read through its fd and capped at its size when opened; a running run gives
    a snapshot with a note. ``dest`` may be a folder (existing, or written with a trailing slash): the zip
    is then ``task-<id>-run-<n>.zip`` inside it. Written to a ``.part`` file and renamed, so a failure
    leaves nothing behind."""
    with audit.audited(session=session, user=actor, action=AuditAction.download, obj=(ObjectKind.task, task_id),
                       detail=f"weights of run {run_id or 'best'}"):
        task = get_task(session=session, task_id=task_id, actor=actor)
        access.require(actor, Action.download, task)
        return _write_zip(session=session, settings=settings, task=task, run_id=run_id, dest=dest)


def _write_zip(*, session: Session, settings: Settings, task: Task, run_id: int | None,
               dest: Path | str) -> WeightsZip:
    run = pick_run(session=session, task=task, run_id=run_id)
    root = work_dir(settings, run)
    if not root.is_dir():
        raise NotFoundError(N_("run {run_id}'s work dir is gone"), params={"run_id": run.id})
    partial = not run.status.finished
    listing = safetree.walk(root, max_entries=_entry_cap(settings))
    budget = settings.max_disk_bytes  # more than the run may write is not a work dir any more
    as_dir = str(dest).endswith(("/", os.sep))
    dest = Path(dest).expanduser()
    if as_dir or dest.is_dir():
        dest = dest / weights_zip_name(task.id, run.id)
    tmp = dest.with_name(dest.name + ".part")
    top = f"task{task.id}-run{run.id}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for entry in listing.files:
                n = safetree.add_to_zip(zf, root, entry, f"{top}/{entry.rel}", budget=budget)
                budget = None if budget is None else budget - n
            if partial:
                zf.writestr(f"{top}/{PARTIAL_NOTE}", partial_note(run, utcnow()))
        tmp.replace(dest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        reason = exc.strerror or str(exc)
        other = exc.filename if exc.filename not in (None, str(tmp), str(dest)) else None
        raise OutputError(N_("cannot write the weights zip {dest}: {other}{reason}; choose a folder you can write "
                             "to, e.g. -o ~/weights/"),
                          params={"dest": dest, "other": f"{other}: " if other else "", "reason": reason}) from None
    return WeightsZip(dest, run.id, partial, len(listing.files), listing.skipped)


def partial_note(run: Run, when: datetime) -> str:
    return (f"Run {run.id} was {run.status.value} when this zip was made ({when:%Y-%m-%d %H:%M:%S} UTC).\n"
            "It is a snapshot: train.py may have been writing some of these files, so a checkpoint here\n"
            "can be incomplete. Download again once the run has finished for its final weights.\n")
