"""Weights: a run's work dir as a zip (written to disk in chunks, never built
in memory), single files from it, and the default weights file for prediction."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from sqlmodel import Session

from shared.core.errors import NotFoundError
from shared.core.settings import Settings
from shared.records import Action, AuditAction, ObjectKind, Run, Task, User
from shared.services import access, audit
from shared.services.tasks import get_run, get_task

WEIGHT_EXTS = (".pt", ".pth", ".ckpt", ".onnx", ".safetensors", ".pkl", ".bin", ".h5", ".weights")


def pick_run(*, session: Session, task: Task, run_id: int | None) -> Run:
    if run_id is not None:
        run = get_run(session=session, run_id=run_id)
        if run.task_id != task.id:
            raise NotFoundError(f"run {run_id} does not belong to task {task.id}")
        return run
    if task.best_run_id is None:
        raise NotFoundError(f"task {task.id} has no best run (status {task.status.value}); pass --run RID")
    return get_run(session=session, run_id=task.best_run_id)


def work_dir(settings: Settings, run: Run) -> Path:
    """The run's work dir, refused if user code swapped it for a link out of
    its workspace (everything under it was written by untrusted code)."""
    if not run.work_dir:
        raise NotFoundError(f"run {run.id} never started, so it has no work dir")
    path = settings.path(run.work_dir)
    workspace = path.parent
    if path.is_symlink() or not path.resolve().is_relative_to(workspace.resolve()):
        raise NotFoundError(f"run {run.id}'s work dir was replaced by a link; its files are not served")
    return path


def regular_files(root: Path) -> list[str]:
    """Relative paths of the regular files under root, never following links."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full) and os.path.isfile(full):
                out.append(os.path.relpath(full, root))
    return sorted(out)


def list_files(settings: Settings, run: Run) -> list[str]:
    root = work_dir(settings, run)
    if not root.is_dir():
        return []
    return regular_files(root)


def weight_files(settings: Settings, run: Run) -> list[str]:
    """Weights-like files, newest first (the sensible default is the first)."""
    root = work_dir(settings, run)
    files = [f for f in list_files(settings, run) if f.lower().endswith(WEIGHT_EXTS)]
    return sorted(files, key=lambda f: (root / f).stat().st_mtime, reverse=True)


def safe_file(settings: Settings, run: Run, rel: str) -> Path:
    root = work_dir(settings, run).resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file() or rel not in list_files(settings, run):
        raise NotFoundError(f"run {run.id} has no file {rel!r} in its work dir")
    return path


def write_weights_zip(*, session: Session, settings: Settings, actor: User, task_id: int, run_id: int | None,
                      dest: Path) -> tuple[Path, int]:
    """The run's work dir as a zip at ``dest``, for anyone who may see the task (viewers included)."""
    with audit.audited(session=session, user=actor, action=AuditAction.download, obj=(ObjectKind.task, task_id),
                       detail=f"weights of run {run_id or 'best'}"):
        task = get_task(session=session, task_id=task_id, actor=actor)
        access.require(actor, Action.download, task)
        return _write_zip(session=session, settings=settings, task=task, run_id=run_id, dest=dest)


def _write_zip(*, session: Session, settings: Settings, task: Task, run_id: int | None,
               dest: Path) -> tuple[Path, int]:
    run = pick_run(session=session, task=task, run_id=run_id)
    root = work_dir(settings, run)
    if not root.is_dir():
        raise NotFoundError(f"run {run.id}'s work dir is gone")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for rel in list_files(settings, run):
            zf.write(root / rel, arcname=f"task{task.id}-run{run.id}/{rel}")
    tmp.replace(dest)
    return dest, run.id
