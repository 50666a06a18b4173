"""Import from the server: zips an operator put in TRAINYARD_IMPORT_DIR (too
large for a browser, or already on the machine) are added as datasets or model
packages through the same validation and storage as a browser upload.

The folder may be writable by others (a shared drop folder), so it is treated
like any user input: only regular files directly in it are offered, a link is
never followed, names are checked, and the chosen file is opened without
following links and copied before validation, so swapping it mid-way changes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from shared.core.errors import ImportDirError
from shared.core.i18n import N_
from shared.core.settings import Settings, format_size
from shared.core.storage import remove_tree
from shared.records import Action, AuditAction, Dataset, ModelPackage, TaskType, User, Visibility
from shared.services import access
from shared.services.datasets import add_dataset
from shared.services.models import add_model

# A plain file name: no separators, no leading dot or dash, printable, ends in .zip.
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 _.+=@,()\-]{0,250}\.zip$", re.IGNORECASE)


@dataclass(frozen=True)
class ImportFile:
    name: str
    size_bytes: int
    modified: datetime

    @property
    def label(self) -> str:
        return f"{self.name} ({format_size(self.size_bytes)}, {self.modified:%Y-%m-%d %H:%M})"


def _folder(settings: Settings) -> Path:
    folder = settings.import_dir
    if folder is None:
        raise ImportDirError(N_("importing from the server is off; set TRAINYARD_IMPORT_DIR to a folder on the "
                             "server and restart"))
    if not folder.is_dir():
        raise ImportDirError(N_("the import folder {folder} (TRAINYARD_IMPORT_DIR) does not exist or is not a "
                                "folder"), params={"folder": folder})
    return folder


def check_import_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ImportDirError(N_("{name!r} is not a file that can be imported: give the plain name of a .zip file "
                                "directly in the import folder (letters, digits, spaces and _ . - + = @ , ( ))"),
                             params={"name": name})
    return name


def list_import_files(*, settings: Settings) -> list[ImportFile]:
    """The zips directly in the import folder; links, folders and odd names are left out."""
    found = []
    with os.scandir(_folder(settings)) as entries:
        for entry in entries:
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False) or not _NAME_RE.match(entry.name):
                continue
            st = entry.stat(follow_symlinks=False)
            found.append(ImportFile(entry.name, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC)))
    return sorted(found, key=lambda f: f.name.lower())


def _copy_in(settings: Settings, name: str) -> Path:
    """Copy the named file into DATA_DIR/tmp (returns the copy's folder); the
    file is opened with O_NOFOLLOW relative to the import folder, and must be regular."""
    folder = _folder(settings)
    check_import_name(name)
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except FileNotFoundError:
            raise ImportDirError(N_("{name} is not in the import folder {folder} (any more); refresh the list"),
                                 params={"name": name, "folder": folder}) from None
        except OSError as err:
            raise ImportDirError(N_("{name} in the import folder cannot be opened ({reason}); only regular "
                                    "files are imported, never links"),
                                 params={"name": name, "reason": err.strerror}) from None
    finally:
        os.close(dir_fd)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ImportDirError(N_("{name} in the import folder is not a regular file"), params={"name": name})
    with os.fdopen(fd, "rb") as src:
        size = info.st_size
        limit = settings.max_upload_bytes
        if limit is not None and size > limit:
            raise ImportDirError(N_("{name} is {size}; uploads and imports are limited to {limit} "
                                    "(TRAINYARD_MAX_UPLOAD)"),
                                 params={"name": name, "size": format_size(size), "limit": format_size(limit)})
        work = settings.data_dir / "tmp" / f"import-{uuid.uuid4().hex}"
        work.mkdir(parents=True)
        try:
            with open(work / name, "xb") as out:
                shutil.copyfileobj(src, out, length=1024 * 1024)
        except BaseException:
            remove_tree(work)
            raise
    return work


def _may_create(session: Session, actor: User, kind: type[Dataset] | type[ModelPackage], file_name: str) -> None:
    """Refused (and audited) before the copy: a viewer's import should not cost a copy of a large zip."""
    access.require_audited(session=session, user=actor, action=Action.create, obj=kind, event=AuditAction.create,
                           detail=f"import {file_name!r}")


def import_dataset(*, session: Session, settings: Settings, actor: User, file_name: str, name: str | None = None,
                   task_type: str | TaskType, visibility: str | Visibility = Visibility.team,
                   progress: Callable[[str, float], None] | None = None) -> Dataset:
    """Validate and store, owned by ``actor``, as after an upload."""
    _may_create(session, actor, Dataset, file_name)
    work = _copy_in(settings, file_name)
    try:
        return add_dataset(session=session, settings=settings, actor=actor, zip_path=work / file_name,
                           name=name or file_name.rsplit(".", 1)[0], task_type=task_type, visibility=visibility,
                           progress=progress)
    finally:
        remove_tree(work)


def import_model(*, session: Session, settings: Settings, actor: User, file_name: str, name: str | None = None,
                 task_type: str | TaskType | None = None, network: bool = False, distributed: bool = False,
                 visibility: str | Visibility = Visibility.team) -> ModelPackage:
    """Validate and store, owned by ``actor``; the caller enqueues its deploy, as after an upload."""
    _may_create(session, actor, ModelPackage, file_name)
    if network:
        access.require_audited(session=session, user=actor, action=Action.allow_network, obj=None,
                               event=AuditAction.create, detail=f"import {file_name!r} with network access")
    work = _copy_in(settings, file_name)
    try:
        return add_model(session=session, settings=settings, actor=actor, zip_path=work / file_name,
                         name=name or file_name.rsplit(".", 1)[0], task_type=task_type, network=network,
                         distributed=distributed, visibility=visibility)
    finally:
        remove_tree(work)
