"""Browser uploads land in a temporary file (copied in chunks, never held twice
in memory) so the services get a real path, as they do from the CLI."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


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
