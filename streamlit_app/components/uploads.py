"""Browser uploads land in a temporary file (copied in chunks, never held twice
in memory) so the services get a real path, as they do from the CLI; and the
fields every zip upload form starts with (source, file, name, task type, visibility)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import streamlit as st

from shared.core.i18n import N_, _
from shared.records import TASK_TYPE_LABELS, TaskType, Visibility
from streamlit_app.components.ownership import visibility_choice


@contextmanager
def upload_to_file(uploaded: BinaryIO, *, tmp_root: Path, suffix: str = ".zip") -> Iterator[Path]:
    """The upload as a file under ``tmp_root`` (same filesystem as the data dir), removed afterwards."""
    tmp_root.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_root, prefix="upload-", suffix=suffix)
    path = Path(name)
    try:
        with open(fd, "wb") as out:
            uploaded.seek(0)
            shutil.copyfileobj(uploaded, out, length=1024 * 1024)
        yield path
    finally:
        path.unlink(missing_ok=True)


UPLOAD = N_("Upload from this computer")
SERVER = N_("Import from the server")


def choose_source(key: str, settings) -> str:
    """Where the zip comes from; the server choice only exists when TRAINYARD_IMPORT_DIR is set."""
    if settings.import_dir is None:
        return UPLOAD
    return st.radio(_("Source"), [UPLOAD, SERVER], key=key, horizontal=True, format_func=_)


def upload_caption(settings) -> str:
    from shared.core.settings import format_size

    text = _("Up to {size} per file (TRAINYARD_MAX_UPLOAD).", size=format_size(settings.max_upload_bytes))
    if settings.import_dir is not None:
        text += " " + _("Files already on the server: put them in {folder} and import them.",
                        folder=settings.import_dir)
    return text


def pick_server_file(key: str, settings) -> str | None:
    """A zip from the import folder, chosen by name; None when there is none to choose."""
    from shared.core.errors import ImportDirError
    from shared.services.imports import list_import_files

    try:
        files = list_import_files(settings=settings)
    except ImportDirError as exc:
        st.error(exc.localized())
        return None
    if not files:
        st.info(_("No .zip files in {folder} on the server yet; copy one there, then reload.",
                  folder=settings.import_dir))
        return None
    labels = {f.name: f.label for f in files}
    return st.selectbox(_("File on the server"), list(labels), format_func=labels.get, key=key,
                        help=_("Zip files directly in {folder} (TRAINYARD_IMPORT_DIR)", folder=settings.import_dir))


def wrong_type(uploaded, *, exts: tuple[str, ...], what: str) -> bool:
    """Streamlit's own ``type=`` filter only explains itself in a tooltip, so the uploader takes any
    file and this says plainly, naming the file, when it is not one of ``exts``."""
    if uploaded is None or uploaded.name.lower().endswith(exts):
        return False
    kinds = _(" or ").join(exts)
    st.error(_("{name} is not a {kinds} file: upload {what} as a {kinds} archive.", name=uploaded.name, kinds=kinds,
               what=what), icon=":material/block:")
    return True


@dataclass(frozen=True)
class ZipChoice:
    """What the top of an upload form chose; ``chosen`` is None while there is no file to send."""

    source: str
    file: Any  # the browser's upload; None for a file on the server
    chosen: str | None  # the file's name (in the import folder for SERVER)
    bad_type: bool
    name: str  # as typed, else the file's name without its extension
    task_type: TaskType
    visibility: Visibility


def zip_fields(prefix: str, settings, *, label: str, what: str, hint: str = "") -> ZipChoice:
    """The zip's source and file, its name and task type, and who sees it; every key is ``prefix_...``."""
    source = choose_source(f"{prefix}_source", settings)
    bad_type = False
    if source == SERVER:
        chosen = pick_server_file(f"{prefix}_server_file", settings)
        file = None
    else:
        # Any file is taken and its extension checked here: the type= filter explains itself only in a tooltip.
        file = st.file_uploader(label, key=f"{prefix}_upload",
                                help=(hint + " " if hint else "") + upload_caption(settings))
        st.caption(upload_caption(settings))
        bad_type = wrong_type(file, exts=(".zip",), what=what)
        chosen = file.name if file else None
    default = chosen.rsplit(".", 1)[0] if chosen else ""
    c1, c2 = st.columns(2)
    name = c1.text_input(_("Name"), key=f"{prefix}_name", placeholder=default)
    ttype = c2.selectbox(_("Task type"), list(TaskType), format_func=lambda t: _(TASK_TYPE_LABELS[t]),
                         key=f"{prefix}_type")
    visibility = visibility_choice(f"{prefix}_visibility")
    return ZipChoice(source=source, file=file, chosen=chosen, bad_type=bad_type, name=name or default,
                     task_type=ttype, visibility=visibility)
