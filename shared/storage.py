"""Moving validated uploads into DATA_DIR: a rejected upload leaves nothing."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path


def incoming_dir(data_dir: Path, kind: str) -> Path:
    """A fresh, not-yet-existing temp path on the same filesystem as the final one."""
    base = data_dir / kind / ".incoming"
    base.mkdir(parents=True, exist_ok=True)
    return base / uuid.uuid4().hex


def remove_tree(path: Path | None) -> None:
    if path is not None and path.exists():
        shutil.rmtree(path, ignore_errors=True)


def tree_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            continue
    return total
