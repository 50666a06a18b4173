"""Browser uploads land in a temporary file (copied in chunks, never held twice
in memory) so the services get a real path, as they do from the CLI."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import streamlit as st


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


UPLOAD = "Upload from this computer"
SERVER = "Import from the server"


def choose_source(key: str, settings) -> str:
    """Where the zip comes from; the server choice only exists when TRAINYARD_IMPORT_DIR is set."""
    if settings.import_dir is None:
        return UPLOAD
    return st.radio("Source", [UPLOAD, SERVER], key=key, horizontal=True)


def upload_caption(settings) -> str:
    from shared.core.settings import format_size

    text = f"Up to {format_size(settings.max_upload_bytes)} per file (TRAINYARD_MAX_UPLOAD)."
    if settings.import_dir is not None:
        text += f" Files already on the server: put them in {settings.import_dir} and import them."
    return text


def pick_server_file(key: str, settings) -> str | None:
    """A zip from the import folder, chosen by name; None when there is none to choose."""
    from shared.core.errors import ImportDirError
    from shared.services.imports import list_import_files

    try:
        files = list_import_files(settings=settings)
    except ImportDirError as exc:
        st.error(str(exc))
        return None
    if not files:
        st.info(f"No .zip files in {settings.import_dir} on the server yet; copy one there, then reload.")
        return None
    labels = {f.name: f.label for f in files}
    return st.selectbox("File on the server", list(labels), format_func=labels.get, key=key,
                        help=f"Zip files directly in {settings.import_dir} (TRAINYARD_IMPORT_DIR)")


def wrong_type(uploaded, *, exts: tuple[str, ...], what: str) -> bool:
    """Streamlit's own ``type=`` filter only explains itself in a tooltip, so the uploader takes any
    file and this says plainly, naming the file, when it is not one of ``exts``."""
    if uploaded is None or uploaded.name.lower().endswith(exts):
        return False
    st.error(f"{uploaded.name} is not a {' or '.join(exts)} file: upload {what} as a {' or '.join(exts)} archive.",
             icon=":material/block:")
    return True
