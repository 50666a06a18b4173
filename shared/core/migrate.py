"""Schema migrations with Alembic, run in-process.

Every process that opens the database (UI, workers, CLI) upgrades it to the
newest revision first, under a lock, so several starting at once is safe: a
file lock next to a SQLite file, a transaction-scoped advisory lock on
Postgres. A database made before migrations existed (the tables, no version
row) is stamped at the baseline, then upgraded.

Our version row lives in ``trainyard_alembic_version``: Optuna keeps its own
Alembic history in ``alembic_version`` in the same database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection, Engine

from shared.core.errors import MigrationError
from shared.core.i18n import N_

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "trainyard_alembic_version"
BASELINE = "0001"
# The tables of the baseline: their presence without a version row means "made by create_all".
BASELINE_TABLES = frozenset({"dataset", "model_package", "param_template", "task", "run", "metric_point",
                             "resource_sample", "prediction"})
# Optuna's RDBStorage shares the database; its tables are not ours to compare.
OPTUNA_TABLES = frozenset({"studies", "study_directions", "study_user_attributes", "study_system_attributes",
                           "trials", "trial_user_attributes", "trial_system_attributes", "trial_params",
                           "trial_values", "trial_intermediate_values", "trial_heartbeats", "version_info",
                           "alembic_version"})
_PG_LOCK_KEY = 7_472_616_996  # any fixed bigint; every Trainyard process takes the same one
LOCK_TIMEOUT_S = 600


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def head() -> str:
    head_rev = ScriptDirectory.from_config(config()).get_current_head()
    if head_rev is None:
        raise MigrationError(N_("no migrations found in {migrations_dir}"), params={"migrations_dir": MIGRATIONS_DIR})
    return head_rev


def known_revisions() -> set[str]:
    """Every revision this code has, to tell an older database from one made by a newer release."""
    return {s.revision for s in ScriptDirectory.from_config(config()).walk_revisions()}


def context_options() -> dict:
    """Options env.py hands to Alembic; shared with the schema comparison."""
    return {"version_table": VERSION_TABLE, "include_name": _include_name, "compare_type": True}


def _include_name(name, type_, _parent_names) -> bool:
    return not (type_ == "table" and (name == VERSION_TABLE or name in OPTUNA_TABLES))


def revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def current(settings) -> str | None:
    """The revision the settings' database is at (None: empty, missing, or made before migrations)."""
    url = sa.engine.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).exists():
        return None  # asking must not create the file (nor fail on a DATA_DIR not made yet)
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return revision_of(conn)
    finally:
        engine.dispose()


def upgrade(settings, revision: str = "head") -> str:
    """Bring the settings' database to ``revision``; returns the revision it is at."""
    from shared.core.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        return upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def upgrade_engine(engine: Engine, revision: str = "head") -> str:
    target = head() if revision == "head" else revision
    with engine.connect() as conn:
        if revision_of(conn) == target:
            return target  # the common start-up: nothing to do, no lock taken
    with _locked(engine) as conn:
        tables = set(sa.inspect(conn).get_table_names())
        cfg = config(conn)
        if VERSION_TABLE not in tables and tables & BASELINE_TABLES:
            missing = BASELINE_TABLES - tables
            if missing:
                raise MigrationError(
                    N_("the database has some of Trainyard's tables but not {missing}; it was not made by a "
                       "Trainyard release this one can upgrade. Restore a backup (docs/backup-and-upgrades.md) or "
                       "point DATABASE_URL at an empty database"),
                    params={"missing": ', '.join(sorted(missing))})
            command.stamp(cfg, BASELINE)  # made by create_all before migrations existed
        command.upgrade(cfg, target)
        return revision_of(conn) or target


def new_revision(settings, message: str) -> Path:
    """Write a new revision into migrations/versions: Alembic's autogenerated
    diff between an upgraded database and tables.py, to be read and edited."""
    from shared.core.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        upgrade_engine(engine)
        with engine.begin() as conn:
            script = command.revision(config(conn), message=message, autogenerate=True)
    finally:
        engine.dispose()
    return Path(script.path)


def differences(engine: Engine) -> list:
    """Alembic's diff between the database and ``shared/records/tables.py``; empty when they agree."""
    from sqlmodel import SQLModel

    from shared import records  # noqa: F401 - registers the tables

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts=context_options())
        return compare_metadata(ctx, SQLModel.metadata)


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other Trainyard process is migrating through."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        with engine.begin() as conn:
            # Released by the commit/rollback at the end of the block; DDL is transactional here.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            yield conn
        return
    db_file = engine.url.database if dialect == "sqlite" else None
    if not db_file or db_file == ":memory:":
        with engine.begin() as conn:  # private to this process: nobody to race
            yield conn
        return
    lock = FileLock(f"{db_file}.migrate.lock", timeout=LOCK_TIMEOUT_S)
    try:
        with lock, engine.connect() as conn:
            # Batch mode rebuilds a table (copy, drop, rename); with foreign keys enforced the drop fails.
            # The pragma only takes effect outside a transaction, and is restored for the pooled connection.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
            try:
                with conn.begin():
                    yield conn
                    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if problems:
                        raise MigrationError(N_("the migration left rows that break foreign keys: {problems}"),
                                             params={"problems": problems[:5]})
            finally:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
    except Timeout:
        raise MigrationError(N_("another process has held {lock_file} for {lock_timeout_s} s while migrating the "
                                "database; if none is running, delete that file"),
                             params={"lock_file": lock.lock_file, "lock_timeout_s": LOCK_TIMEOUT_S}) from None
