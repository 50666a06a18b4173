"""Backup and restore, round trip on SQLite: every row and file comes back in
a new DATA_DIR and database; caches and sockets stay behind."""

from __future__ import annotations

import os
import tarfile

import pytest
from sqlmodel import Session, select

from shared.core import migrate
from shared.core.backup import MANIFEST, backup, restore
from shared.core.db import make_engine
from shared.core.errors import BackupError
from shared.core.settings import Settings
from shared.records import Dataset, Task
from tests.support.legacy_schema import make_legacy_db


def _site(root) -> Settings:
    return Settings(data_dir=root / "data", database_url=f"sqlite:///{root / 'data' / 'trainyard.db'}")


def test_backup_then_restore_into_a_new_place_brings_back_rows_and_files(tmp_path):
    old = _site(tmp_path / "old")
    old.data_dir.mkdir(parents=True)
    make_legacy_db(old.database_url)
    migrate.upgrade(old)
    (old.data_dir / "datasets" / "1").mkdir(parents=True)
    (old.data_dir / "datasets" / "1" / "img.png").write_bytes(b"\x89PNG fake")
    env = old.data_dir / "envs" / "abc123"
    env.mkdir(parents=True)
    (env / "lib.py").write_text("x = 1\n")
    os.link(env / "lib.py", env / "hardlinked.py")  # uv hardlinks from its cache
    for skipped in ("redis/dump.rdb", "cache/uv/wheel.whl", "datasets/.incoming/abc/part.zip"):
        (old.data_dir / skipped).parent.mkdir(parents=True, exist_ok=True)
        (old.data_dir / skipped).write_text("not data")
    engine = make_engine(old.database_url)
    with Session(engine) as session:  # a write in the WAL, not yet checkpointed into the file
        session.add(Dataset(name="after-upgrade", task_type="detection", path="datasets/2"))
        session.commit()
        archive = backup(old, tmp_path / "backups" / "site.tar.gz")
    engine.dispose()

    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert MANIFEST in names and "db/trainyard.sqlite" in names
    assert not [n for n in names if n.startswith(("data/redis", "data/cache")) or ".incoming" in n
                or n.endswith(("trainyard.db", "-wal", "-shm"))]

    new = _site(tmp_path / "new")
    manifest = restore(new, archive)
    assert manifest["revision"] == migrate.head() == migrate.current(new)
    assert (new.data_dir / "datasets" / "1" / "img.png").read_bytes() == b"\x89PNG fake"
    restored_env = new.data_dir / "envs" / "abc123"
    assert (restored_env / "hardlinked.py").read_text() == "x = 1\n"
    assert os.stat(restored_env / "lib.py").st_ino == os.stat(restored_env / "hardlinked.py").st_ino
    assert not (new.data_dir / "redis").exists() and not (new.data_dir / "cache").exists()
    engine = make_engine(new.database_url)
    with Session(engine) as session:
        assert sorted(d.name for d in session.exec(select(Dataset)).all()) == ["after-upgrade", "shapes"]
        assert session.get(Task, 1).name == "first"
    engine.dispose()

    with pytest.raises(BackupError, match="is not empty"):
        restore(new, archive)  # never over an installation
    with pytest.raises(BackupError, match="already exists"):
        backup(old, archive)
