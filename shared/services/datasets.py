"""Dataset service: upload (safe extraction, format validation), listing and
the platform argument values a run receives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session, select

from shared.contract.archive import ArchiveLimits, safe_extract
from shared.contract.datasets import DatasetReport, platform_values, validate_dataset
from shared.core.errors import ConflictError, FieldError, NotFoundError
from shared.core.i18n import N_
from shared.core.settings import Settings
from shared.core.storage import remove_tree, store_upload, tree_size
from shared.records import Action, AuditAction, Dataset, ObjectKind, Task, TaskStatus, TaskType, User, Visibility
from shared.records.labels import term
from shared.services import access, audit

DATASET_MOUNT = "/dataset"


def parse_task_type(value: str | TaskType | None, *, field: str = "type") -> TaskType:
    if isinstance(value, TaskType):
        return value
    if value is None or value == "":
        return TaskType.other
    try:
        return TaskType(value.strip().lower().replace("-", "_").replace(" ", "_"))
    except ValueError:
        choices = ", ".join(t.value for t in TaskType)
        raise FieldError(field, N_("unknown task type {value!r}; choose one of: {choices}"),
                                params={"value": value, "choices": choices}) from None


def check_name(name: str | None, *, field: str = "name") -> str:
    name = (name or "").strip()
    if not name:
        raise FieldError(field, N_("a name is required"))
    if len(name) > 200:
        raise FieldError(field, N_("a name is at most 200 characters"))
    return name


def parse_visibility(value: str | Visibility | None, *, field: str = "visibility") -> Visibility:
    if value is None or value == "":
        return Visibility.team
    try:
        return Visibility(value.strip().lower() if isinstance(value, str) else value)
    except ValueError:
        raise FieldError(field, N_("{value}: use team (everyone signed in) or private (you and admins)"),
                         params={"value": repr(value)}) from None


def add_dataset(*, session: Session, settings: Settings, actor: User, zip_path: Path, name: str,
                task_type: str | TaskType, visibility: str | Visibility = Visibility.team,
                progress: Callable[[str, float], None] | None = None, display_name: str | None = None) -> Dataset:
    """Validate then store, owned by ``actor``. On any error nothing is left on disk or in the DB.
    ``display_name``: the zip's name as the user knows it, for the errors (a browser upload lands in a
    temp file)."""
    with audit.audited(session=session, user=actor, action=AuditAction.create, obj=Dataset,
                       detail=f"upload {name!r}") as note:
        access.require(actor, Action.create, Dataset)
        note["obj"] = ds = _add_dataset(session=session, settings=settings, actor=actor, zip_path=zip_path,
                                        name=name, task_type=task_type, visibility=visibility, progress=progress,
                                        display_name=display_name)
    return ds


def _add_dataset(*, session: Session, settings: Settings, actor: User, zip_path: Path, name: str,
                 task_type: str | TaskType, visibility: str | Visibility,
                 progress: Callable[[str, float], None] | None, display_name: str | None) -> Dataset:
    name = check_name(name)
    ttype = parse_task_type(task_type)
    vis = parse_visibility(visibility)
    def prepare(tmp: Path) -> tuple[Dataset, Path]:
        def on_bytes(done: int, total: int) -> None:
            if progress:
                progress(N_("extracting"), done / total if total else 1.0)

        result = safe_extract(zip_path=Path(zip_path), dest=tmp, limits=ArchiveLimits.from_settings(settings),
                              progress=on_bytes, display_name=display_name)
        if progress:
            progress(N_("validating"), 0.0)
        report = validate_dataset(root=result.root, task_type=ttype,
                                  progress=(lambda msg: progress(msg, 0.5)) if progress else None)
        ds = Dataset(name=name, task_type=ttype, path="", report=report.to_dict(),
                     images=report.images_total, size_bytes=result.bytes)
        return access.stamp_owner(ds, actor, vis), result.root

    ds = store_upload(session=session, data_dir=settings.data_dir, kind="datasets", prepare=prepare)
    if progress:
        progress(N_("done"), 1.0)
    return ds


def get_dataset(*, session: Session, dataset_id: int, actor: User | None = None) -> Dataset:
    """The dataset; with ``actor`` (pages, the CLI) one they may not see answers as missing."""
    if actor is not None:
        return access.get_visible(session=session, user=actor, model=Dataset, obj_id=dataset_id)
    ds = session.get(Dataset, dataset_id)
    if ds is None:
        raise NotFoundError(N_("dataset {dataset_id} does not exist"), params={"dataset_id": dataset_id})
    return ds


def list_datasets(*, session: Session, actor: User, task_type: TaskType | None = None) -> list[Dataset]:
    stmt = select(Dataset).where(access.visible_filter(actor, Dataset)).order_by(Dataset.id.desc())
    if task_type is not None:
        stmt = stmt.where(Dataset.task_type == task_type)
    return list(session.exec(stmt))


def dataset_report(ds: Dataset) -> DatasetReport:
    return DatasetReport.from_dict(ds.report)


def dataset_args(ds: Dataset, *, mount: str = DATASET_MOUNT) -> dict[str, str]:
    """The exact values each platform argument receives for this dataset."""
    return platform_values(report=dataset_report(ds), mount=mount)


def delete_dataset(*, session: Session, settings: Settings, actor: User, dataset_id: int) -> None:
    with audit.audited(session=session, user=actor, action=AuditAction.delete, obj=(ObjectKind.dataset, dataset_id)):
        ds = get_dataset(session=session, dataset_id=dataset_id, actor=actor)
        access.require(actor, Action.delete, ds)
        _delete_dataset(session=session, settings=settings, ds=ds)


def _delete_dataset(*, session: Session, settings: Settings, ds: Dataset) -> None:
    dataset_id = ds.id
    active = session.exec(select(Task).where(Task.dataset_id == dataset_id,
                                             Task.status.in_([TaskStatus.waiting, TaskStatus.running]))).first()
    if active is not None:
        raise ConflictError(N_("dataset {dataset_id} is used by task {active_id} ({active_status}); stop or finish "
                               "it first"),
                            params={"dataset_id": dataset_id, "active_id": active.id,
                                    "active_status": term(active.status)})
    used = session.exec(select(Task).where(Task.dataset_id == dataset_id)).first()
    if used is not None:
        raise ConflictError(N_("dataset {dataset_id} is referenced by task {used_id}; delete its tasks first"),
                            params={"dataset_id": dataset_id, "used_id": used.id})
    path = settings.path(ds.path) if ds.path else None
    session.delete(ds)
    session.commit()
    remove_tree(path)


def dataset_size(settings: Settings, ds: Dataset) -> int:
    return tree_size(settings.path(ds.path))
