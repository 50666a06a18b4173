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


def wrong_type(uploaded, *, exts: tuple[str, ...], what: str) -> bool:
    """Streamlit's own ``type=`` filter only explains itself in a tooltip, so the uploader takes any
    file and this says plainly, naming the file, when it is not one of ``exts``."""
    if uploaded is None or uploaded.name.lower().endswith(exts):
        return False
    st.error(f"{uploaded.name} is not a {' or '.join(exts)} file: upload {what} as a {' or '.join(exts)} archive.",
             icon=":material/block:")
    return True
