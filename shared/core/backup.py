"""Backup and restore of one installation: the database and DATA_DIR in one
``.tar.gz`` (docs/backup-and-upgrades.md).

The database copy is consistent while the platform runs: SQLite through its
online backup API (a snapshot even while workers write; copying the file
could catch a half-written page or miss the WAL), Postgres with ``pg_dump``.
Files under DATA_DIR are copied as they are; stop the workers first for a copy
with no run halfway through.

Left out: the embedded Redis (queued jobs are rebuilt from the database by
reconcile), the uv download cache (fetched again when needed), half-finished
uploads and the live SQLite files (the snapshot stands in for them).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.core import migrate
from shared.core.errors import BackupError
from shared.core.i18n import N_
from shared.core.settings import Settings

MANIFEST = "trainyard-backup.json"
FORMAT = 1
SQLITE_MEMBER = "db/trainyard.sqlite"
POSTGRES_MEMBER = "db/postgres.sql"
# Top-level folders of DATA_DIR that are caches or live sockets, not data.
SKIP_TOP = frozenset({"redis", "cache"})


def _sqlite_path(settings: Settings) -> Path | None:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError(N_("the database is in memory; there is nothing on disk to back up"))
    return Path(url.database).resolve()


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """A URL pg_dump/psql understand, and the environment with the password
    (kept off the command line, where `ps` would show it)."""
    url = make_url(settings.database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(N_("{name} is not installed; it comes with the PostgreSQL client (apt-get install "
                             "postgresql-client), in the server's major version or newer"),
                          params={"name": name})
    return path


def _skip(data_dir: Path, db_file: Path | None):
    live = {db_file, *(db_file.with_name(db_file.name + s) for s in ("-wal", "-shm", "-journal",
                                                                     ".migrate.lock"))} if db_file else set()

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        rel = Path(info.name).relative_to("data")
        if rel.parts and (rel.parts[0] in SKIP_TOP or ".incoming" in rel.parts):
            return None
        if (data_dir / rel).resolve() in live:
            return None
        return info

    return keep


def backup(settings: Settings, dest: Path) -> Path:
    """Write the database and DATA_DIR into ``dest`` (a new ``.tar.gz``); returns its path."""
    dest = Path(dest)
    if dest.exists():
        raise BackupError(N_("{dest} already exists; give a new file name for the backup"), params={"dest": dest})
    dest.parent.mkdir(parents=True, exist_ok=True)
    db_file = _sqlite_path(settings)
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
                "database": "sqlite" if db_file else make_url(settings.database_url).get_backend_name(),
                "revision": migrate.current(settings), "data_dir": str(settings.data_dir)}
    partial = dest.with_name(dest.name + ".partial")
    try:
        with tempfile.TemporaryDirectory(prefix="trainyard-backup-") as tmp, tarfile.open(partial, "w:gz") as tar:
            blob = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(blob), int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(blob))
            if db_file:
                snapshot = Path(tmp) / "db.sqlite"
                _sqlite_copy(db_file, snapshot)
                tar.add(snapshot, SQLITE_MEMBER)
            else:
                dump = Path(tmp) / "db.sql"
                url, env = _libpq(settings)
                _run([_tool("pg_dump"), "--no-owner", "--no-privileges", "--file", str(dump), url], env, "pg_dump")
                tar.add(dump, POSTGRES_MEMBER)
            if settings.data_dir.is_dir():
                tar.add(settings.data_dir, "data", filter=_skip(settings.data_dir, db_file))
        partial.rename(dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def restore(settings: Settings, archive: Path) -> dict:
    """Put a backup back into an empty DATA_DIR and an empty database, then
    upgrade the schema to this release. Returns the backup's manifest."""
    archive = Path(archive)
    if settings.data_dir.exists() and any(settings.data_dir.iterdir()):
        raise BackupError(N_("DATA_DIR {data_dir} is not empty; restore into a new folder (set DATA_DIR to it) so "
                             "nothing there is overwritten"),
                          params={"data_dir": settings.data_dir})
    try:
        tar = tarfile.open(archive, "r:gz")
    except (OSError, tarfile.TarError) as err:
        raise BackupError(N_("{archive} is not a Trainyard backup ({err})"), params={"archive": archive,
                                                                                     "err": err}) from None
    with tar:
        manifest = _manifest(tar, archive)
        db_file = _sqlite_path(settings)
        kind = "sqlite" if db_file else make_url(settings.database_url).get_backend_name()
        if manifest.get("database") != kind:
            raise BackupError(N_("{archive} holds a {database} database but DATABASE_URL is {kind}; restore it "
                                 "into the same kind of database"),
                              params={"archive": archive.name, "database": manifest.get('database'), "kind": kind})
        with tempfile.TemporaryDirectory(prefix="trainyard-restore-") as tmp:
            member = SQLITE_MEMBER if db_file else POSTGRES_MEMBER
            tar.extract(member, tmp, filter="data")
            if db_file:
                if db_file.exists() and db_file.stat().st_size > 0:
                    raise BackupError(N_("the database file {db_file} exists; move it away or point DATABASE_URL "
                                         "at a new file"),
                                      params={"db_file": db_file})
                db_file.parent.mkdir(parents=True, exist_ok=True)
                _sqlite_copy(Path(tmp) / member, db_file)
            else:
                _require_empty_postgres(settings)
                url, env = _libpq(settings)
                _run([_tool("psql"), "--quiet", "--no-psqlrc", "--single-transaction", "--set", "ON_ERROR_STOP=1",
                      "--file", str(Path(tmp) / member), url], env, "psql")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        members = [m for m in tar.getmembers() if m.name.startswith("data/")]
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=settings.data_dir.parent) as tmp:
            # The "data" filter refuses links out of the tree, absolute names and device files.
            tar.extractall(tmp, members=members, filter="data")
            for entry in (Path(tmp) / "data").iterdir() if (Path(tmp) / "data").is_dir() else ():
                entry.rename(settings.data_dir / entry.name)
    migrate.upgrade(settings)
    return manifest


def _manifest(tar: tarfile.TarFile, archive: Path) -> dict:
    try:
        fh = tar.extractfile(MANIFEST)
        manifest = json.loads(fh.read()) if fh else None
    except (KeyError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(N_("{archive} has no {manifest} of format {format}; it is not a backup this release made"),
                          params={"archive": archive.name, "manifest": MANIFEST, "format": FORMAT})
    return manifest


def _sqlite_copy(src: Path, dst: Path) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    except sqlite3.Error as err:
        raise BackupError(N_("copying the SQLite database {src} failed: {err}"), params={"src": src,
                                                                                         "err": err}) from None
    finally:
        target.close()
        source.close()


def _require_empty_postgres(settings: Settings) -> None:
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise BackupError(N_("the database at DATABASE_URL already has tables ({tables}); restore into a new, "
                             "empty database (createdb)"),
                          params={"tables": ', '.join(sorted(tables)[:5])})


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(N_("{what} failed with exit code {code}: {stderr}"),
                          params={"what": what, "code": proc.returncode,
                                  "stderr": proc.stderr.strip()[-2000:]})
