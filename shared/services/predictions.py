"""Prediction service: validate the request and the uploaded images before
anything runs, then record a queued Prediction for the ``run_prediction`` job."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis import Redis
from sqlmodel import Session, select

from shared.contract.names import IMAGE_EXTS, JUNK_DIRS
from shared.core import safetree
from shared.core.errors import FieldError, NotFoundError
from shared.core.i18n import N_
from shared.core.queue import enqueue_prediction, worker_count
from shared.core.settings import Settings, format_size
from shared.core.storage import store_upload
from shared.records import (
    Action,
    AuditAction,
    ObjectKind,
    OutputMatch,
    Prediction,
    PredictionStatus,
    Run,
    RunStatus,
    Task,
    TaskStatus,
    User,
    Visibility,
    utcnow,
)
from shared.records.labels import term
from shared.services import access, audit
from shared.services.datasets import parse_visibility
from shared.services.tasks import get_task
from shared.services.weights import pick_run, safe_file, weight_files


@dataclass
class Upload:
    name: str
    data: bytes


def _check_image(name: str, data: bytes, max_bytes: int | None) -> str | None:
    """None when fine, else why this file is refused."""
    import io

    from PIL import Image, UnidentifiedImageError

    if not name.lower().endswith(IMAGE_EXTS):
        return f"{name}: not an image file (allowed: {', '.join(IMAGE_EXTS)})"
    if max_bytes is not None and len(data) > max_bytes:
        return f"{name}: {format_size(len(data))} is over the image size limit of {format_size(max_bytes)}"
    if not data:
        return f"{name}: the file is empty"
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"{name}: not a readable image ({exc.__class__.__name__})"
    return None


def expand_uploads(uploads: Iterable[Upload], *, max_files: int = 10_000) -> list[Upload]:
    """Zips of images are opened in memory, entry by entry (junk and folders skipped)."""
    import io

    out: list[Upload] = []
    for up in uploads:
        if up.name.lower().endswith(".zip"):
            try:
                zf = zipfile.ZipFile(io.BytesIO(up.data))
            except zipfile.BadZipFile:
                out.append(Upload(up.name, b""))  # reported as not an image below
                continue
            for info in zf.infolist():
                base = Path(info.filename).name
                if info.is_dir() or base.startswith(".") or any(d in info.filename for d in JUNK_DIRS):
                    continue
                if info.file_size > 512 * 1024**2:
                    out.append(Upload(base, b"\0" * 0))
                    continue
                out.append(Upload(base, zf.read(info)))
                if len(out) > max_files:
                    raise FieldError("images", N_("more than {max_files} images in one prediction"),
                                               params={"max_files": max_files})
        else:
            out.append(up)
    return out


def prediction_source(*, session: Session, settings: Settings, actor: User, task_id: int, run_id: int | None,
                      weights: str | None) -> tuple[Task, Run, str]:
    task = get_task(session=session, task_id=task_id, actor=actor)
    if task.status != TaskStatus.completed and run_id is None and task.best_run_id is None:
        raise FieldError("task", N_("task {task_id} is {task_status}; pick a completed task"),
                                 params={"task_id": task.id, "task_status": term(task.status)})
    run = pick_run(session=session, task=task, run_id=run_id)
    if run.status not in (RunStatus.completed, RunStatus.stopped, RunStatus.timed_out, RunStatus.pruned):
        raise FieldError("run", N_("run {run_id} is {run_status}; pick a run that finished training"),
                                params={"run_id": run.id, "run_status": term(run.status)})
    if weights:
        safe_file(settings, run, weights)
    else:
        found = weight_files(settings, run)
        if not found:
            raise FieldError("weights", N_("run {run_id} of task {task_id} has no weights file "
                                           "(.pt/.pth/.ckpt/.onnx/.safetensors) in its work dir; pick another run, "
                                           "or choose a file explicitly"),
                                        params={"run_id": run.id, "task_id": task.id})
        weights = found[0]
    return task, run, weights


def create_prediction(*, session: Session, settings: Settings, actor: User, task_id: int, run_id: int | None = None,
                      weights: str | None = None, uploads: list[Upload], confidence: float = 0.25,
                      visibility: str | Visibility = Visibility.team) -> Prediction:
    """A queued prediction owned by ``actor`` (members and admins) with a task they may see."""
    with audit.audited(session=session, user=actor, action=AuditAction.create, obj=Prediction,
                       detail=f"prediction with task {task_id}") as note:
        access.require(actor, Action.create, Prediction)
        note["obj"] = pred = _create(session=session, settings=settings, actor=actor, task_id=task_id, run_id=run_id,
                                     weights=weights, uploads=uploads, confidence=confidence,
                                     visibility=parse_visibility(visibility))
    return pred


def _create(*, session: Session, settings: Settings, actor: User, task_id: int, run_id: int | None,
            weights: str | None, uploads: list[Upload], confidence: float, visibility: Visibility) -> Prediction:
    if not 0.0 <= confidence <= 1.0:
        raise FieldError("confidence", N_("{confidence} is outside 0..1"), params={"confidence": confidence})
    task, run, weights = prediction_source(session=session, settings=settings, actor=actor, task_id=task_id,
                                           run_id=run_id, weights=weights)
    files = expand_uploads(uploads)
    if not files:
        raise FieldError("images", N_("no images were uploaded; add at least one image (or a zip of images)"))
    problems = [p for up in files if (p := _check_image(up.name, up.data, settings.max_image_bytes))]
    if problems:
        # Each problem is a line about one file (its name, what is wrong); only the frame is translated.
        if len(problems) > 20:
            raise FieldError("images", N_("refused: {problems}; and {more} more"),
                             params={"problems": "; ".join(problems[:20]), "more": len(problems) - 20})
        raise FieldError("images", N_("refused: {problems}"), params={"problems": "; ".join(problems)})
    names = [Path(up.name).name for up in files]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FieldError("images", N_("two uploads share the file name {names}; rename one"),
                                   params={"names": ', '.join(dupes)})
    def prepare(tmp: Path) -> tuple[Prediction, Path]:
        (tmp / "in").mkdir(parents=True)
        for up in files:
            (tmp / "in" / Path(up.name).name).write_bytes(up.data)
        return access.stamp_owner(Prediction(task_id=task.id, run_id=run.id, model_id=task.model_id,
                                             weights=weights, confidence=confidence, path="", images=sorted(names),
                                             status=PredictionStatus.queued), actor, visibility), tmp

    return store_upload(session=session, data_dir=settings.data_dir, kind="predictions", prepare=prepare)


def queue_prediction(*, connection: Redis, prediction_id: int) -> str:
    """Enqueue the prediction's job (a no-op when it is already queued or running)."""
    return enqueue_prediction(prediction_id, connection=connection)


def connected_workers(*, connection: Redis) -> int:
    """Workers connected now; with none, a queued prediction waits for ``python -m runner up``."""
    return worker_count(connection=connection)


def get_prediction(*, session: Session, prediction_id: int, actor: User | None = None) -> Prediction:
    """The prediction; with ``actor`` (pages, the CLI) one they may not see answers as missing."""
    if actor is not None:
        return access.get_visible(session=session, user=actor, model=Prediction, obj_id=prediction_id)
    pred = session.get(Prediction, prediction_id)
    if pred is None:
        raise NotFoundError(N_("prediction {prediction_id} does not exist"), params={"prediction_id": prediction_id})
    return pred


def history(*, session: Session, actor: User, model_id: int | None = None, limit: int = 50) -> list[Prediction]:
    stmt = (select(Prediction).where(access.visible_filter(actor, Prediction))
            .order_by(Prediction.id.desc()).limit(limit))
    if model_id is not None:
        stmt = stmt.where(Prediction.model_id == model_id)
    return list(session.exec(stmt))


def input_dir(settings: Settings, pred: Prediction) -> Path:
    return settings.path(pred.path) / "in"


def output_dir(settings: Settings, pred: Prediction) -> Path:
    return settings.path(pred.path) / "work" / "out"


def match_outputs(*, inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    """Per input: the output of the same name (or, failing that, the same stem)."""
    by_name = set(outputs)
    by_stem: dict[str, str] = {}
    for o in outputs:
        by_stem.setdefault(Path(o).stem, o)
    per: dict[str, Any] = {}
    used: set[str] = set()
    for name in inputs:
        if name in by_name:
            per[name] = {"output": name, "status": OutputMatch.ok.value}
            used.add(name)
        elif Path(name).stem in by_stem:
            out = by_stem[Path(name).stem]
            per[name] = {"output": out, "status": OutputMatch.ok.value, "note": f"saved as {out}"}
            used.add(out)
        else:
            per[name] = {"output": None, "status": OutputMatch.missing.value,
                         "note": f"predict.py wrote no image for {name}"}
    extra = sorted(set(outputs) - used)
    return {"images": per, "extra": extra}


def safe_output_dir(settings: Settings, pred: Prediction) -> Path | None:
    """The out dir, or None when predict.py swapped it for a link out of its work dir."""
    out = output_dir(settings, pred)
    if out.is_symlink() or not out.is_dir() or not out.resolve().is_relative_to(out.parent.resolve()):
        return None
    return out


def outputs_zip(settings: Settings, pred: Prediction, dest: Path) -> Path:
    """predict.py's outputs as a zip: regular files only, read through directory fds."""
    out = safe_output_dir(settings, pred)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        if out is not None:
            try:
                listing = safetree.walk(out)
            except NotFoundError:  # swapped for a link since the check
                listing = safetree.Listing()
            budget = settings.max_disk_bytes
            for entry in listing.files:
                n = safetree.add_to_zip(zf, out, entry, f"prediction{pred.id}/{entry.rel}", budget=budget)
                budget = None if budget is None else budget - n
    return dest


def output_bytes(settings: Settings, pred: Prediction, rel: str) -> bytes | None:
    """One output file, read through its fd; None when it is gone, a link or not a file."""
    out = safe_output_dir(settings, pred)
    if out is None:
        return None
    try:
        return safetree.read_file(out, rel, max_bytes=settings.max_image_bytes)
    except NotFoundError:
        return None
def download_outputs(*, session: Session, settings: Settings, actor: User, prediction_id: int, dest: Path) -> Path:
    """The prediction's outputs as a zip at ``dest``, for anyone who may see it (viewers included); audited."""
    with audit.audited(session=session, user=actor, action=AuditAction.download,
                       obj=(ObjectKind.prediction, prediction_id), detail="outputs zip"):
        pred = get_prediction(session=session, prediction_id=prediction_id, actor=actor)
        access.require(actor, Action.download, pred)
        return outputs_zip(settings, pred, dest)


def mark(session: Session, pred: Prediction, status: PredictionStatus, reason: str | None = None) -> None:
    pred.status = status
    pred.reason = reason
    if status == PredictionStatus.running:
        pred.started_at = utcnow()
    elif status in (PredictionStatus.completed, PredictionStatus.failed):
        pred.finished_at = utcnow()
    session.add(pred)
    session.commit()
