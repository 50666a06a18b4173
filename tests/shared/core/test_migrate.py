"""Migrations: the previous release's database upgrades with every row intact,
several processes starting on one database at once is safe, and the
migrations match ``shared/records/tables.py`` exactly."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from shared.core import migrate
from shared.core.db import make_engine
from shared.core.errors import MigrationError
from shared.core.settings import Settings
from shared.records import (
    Dataset,
    Direction,
    MetricPoint,
    ModelPackage,
    ParamTemplate,
    Prediction,
    ResourceSample,
    Run,
    RunStatus,
    Task,
    TaskStatus,
    TaskType,
)
from tests.support.legacy_schema import JSON_COLUMNS, ROWS, make_legacy_db
from tests.support.paths import ROOT

MODELS = {"dataset": Dataset, "model_package": ModelPackage, "param_template": ParamTemplate, "task": Task,
          "run": Run, "metric_point": MetricPoint, "resource_sample": ResourceSample, "prediction": Prediction}


def _settings(tmp_path, url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=url)


def _same(expected, got) -> bool:
    if hasattr(got, "value") and not isinstance(got, (int, float)):
        got = got.name  # enums are stored by member name
    if hasattr(got, "tzinfo"):
        got = got.replace(tzinfo=UTC) if got.tzinfo is None else got.astimezone(UTC)
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    return expected == got


def test_previous_release_database_is_stamped_upgraded_and_keeps_every_row(tmp_path, db_url):
    make_legacy_db(db_url)
    s = _settings(tmp_path, db_url)
    assert migrate.current(s) is None  # tables, but no version row: made before migrations
    assert migrate.upgrade(s) == migrate.head()
    assert migrate.current(s) == migrate.head()
    engine = make_engine(db_url)
    try:
        assert migrate.differences(engine) == []
        with Session(engine) as session:
            for table, rows in ROWS.items():
                found = {r.id: r for r in session.exec(select(MODELS[table])).all()}
                assert sorted(found) == [r["id"] for r in rows], table
                for row in rows:
                    for col, want in row.items():
                        got = getattr(found[row["id"]], col)
                        assert _same(want, got), f"{table}.{col}: {want!r} became {got!r}"
            task = session.get(Task, 1)
            assert task.status == TaskStatus.completed and task.direction == Direction.maximize
            assert session.get(Run, 2).status == RunStatus.pruned
            # The app writes on: new rows get fresh ids next to the old ones.
            session.add(Dataset(name="more", task_type=TaskType.detection, path="datasets/2"))
            session.commit()
            assert sorted(d.id for d in session.exec(select(Dataset)).all()) == [1, 2]
        assert set(JSON_COLUMNS) <= {c for rows in ROWS.values() for r in rows for c in r}
    finally:
        engine.dispose()


def test_empty_database_gets_the_head_schema_and_a_second_upgrade_is_a_no_op(tmp_path, db_url):
    s = _settings(tmp_path, db_url)
    assert migrate.current(s) is None
    assert migrate.upgrade(s) == migrate.head()
    assert migrate.upgrade(s) == migrate.head()
    engine = make_engine(db_url)
    try:
        assert migrate.differences(engine) == []
        with engine.connect() as conn:
            assert conn.execute(sa.text(f"SELECT count(*) FROM {migrate.VERSION_TABLE}")).scalar() == 1
    finally:
        engine.dispose()


def test_the_schema_check_sees_a_table_the_migrations_lack(tmp_path):
    # The comparison the test above relies on must be able to fail: drop an index, add a column.
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(_settings(tmp_path, url))
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_task_status")
            conn.exec_driver_sql("ALTER TABLE run ADD COLUMN stray INTEGER")
        found = {(d[0], getattr(d[-1], "name", None)) for d in migrate.differences(engine)}
        assert found == {("add_index", "ix_task_status"), ("remove_column", "stray")}
    finally:
        engine.dispose()


def test_optuna_tables_are_the_ones_the_comparison_ignores(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'optuna.sqlite'}"
    optuna.create_study(storage=url, study_name="probe")  # makes every table Optuna uses
    engine = sa.create_engine(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) <= migrate.OPTUNA_TABLES
    finally:
        engine.dispose()


def test_a_partial_old_database_is_refused_with_the_missing_tables_named(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE dataset (id INTEGER PRIMARY KEY)")
    engine.dispose()
    with pytest.raises(MigrationError, match="but not metric_point, model_package, "):
        migrate.upgrade(_settings(tmp_path, url))


_UPGRADE = """
import sys
from shared.core.settings import Settings
from shared.core import migrate
print(migrate.upgrade(Settings(data_dir=sys.argv[1], database_url=sys.argv[2])))
"""


@pytest.mark.parametrize("legacy", [False, True], ids=["empty", "previous-release"])
def test_several_processes_starting_at_once_upgrade_once(tmp_path, db_url, legacy):
    if legacy:
        make_legacy_db(db_url)
    procs = [subprocess.Popen([sys.executable, "-c", _UPGRADE, str(tmp_path / "data"), db_url], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == migrate.head()
    engine = make_engine(db_url)
    try:
        assert migrate.differences(engine) == []
        with engine.connect() as conn:
            assert conn.execute(sa.text(f"SELECT count(*) FROM {migrate.VERSION_TABLE}")).scalar() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM run")).scalar() == (2 if legacy else 0)
    finally:
        engine.dispose()
