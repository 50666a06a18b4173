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


def store_upload(*, session, data_dir: Path, kind: str, prepare):
    """The one way an upload lands: ``prepare(tmp)`` validates into a fresh temp
    dir and returns ``(record, folder_to_keep)``; the record gets its id, the
    folder moves to ``DATA_DIR/<kind>/<id>`` and the row is committed. On any
    error the row is rolled back and nothing is left on disk."""
    tmp = incoming_dir(data_dir, kind)
    final: Path | None = None
    try:
        record, content = prepare(tmp)
        session.add(record)
        session.flush()
        final = data_dir / kind / str(record.id)
        remove_tree(final)  # a leftover of a crashed earlier attempt with the same id
        Path(content).rename(final)
        record.path = f"{kind}/{record.id}"
        session.commit()
        session.refresh(record)
        return record
    except BaseException:
        session.rollback()
        remove_tree(final)
        raise
    finally:
        remove_tree(tmp)
