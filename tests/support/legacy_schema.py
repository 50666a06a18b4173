"""A database as the release before migrations left it: the DDL that release's
``create_all`` emitted (``git show 89fd60f:shared/models.py``, dumped from SQLite
and from ``pg_dump -s``) and one row per table, written in that release's
storage forms (enum member names, JSON text, SQLAlchemy's SQLite datetimes)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import sqlalchemy as sa

SQLITE_DDL = """
CREATE TABLE dataset (id INTEGER NOT NULL, name VARCHAR NOT NULL, task_type VARCHAR(21) NOT NULL,
  path VARCHAR NOT NULL, report JSON, images INTEGER NOT NULL, size_bytes INTEGER NOT NULL,
  created_at DATETIME NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_dataset_name ON dataset (name);
CREATE TABLE model_package (id INTEGER NOT NULL, name VARCHAR NOT NULL, task_type VARCHAR(21) NOT NULL,
  path VARCHAR NOT NULL, status VARCHAR(9) NOT NULL, reason TEXT, report JSON, env_key VARCHAR,
  install_log VARCHAR, freeze JSON, network BOOLEAN NOT NULL, created_at DATETIME NOT NULL,
  deploy_started_at DATETIME, deployed_at DATETIME, PRIMARY KEY (id));
CREATE INDEX ix_model_package_name ON model_package (name);
CREATE TABLE param_template (id INTEGER NOT NULL, model_id INTEGER NOT NULL, name VARCHAR NOT NULL,
  "values" JSON, created_at DATETIME NOT NULL, PRIMARY KEY (id),
  FOREIGN KEY(model_id) REFERENCES model_package (id));
CREATE INDEX ix_param_template_model_id ON param_template (model_id);
CREATE TABLE task (id INTEGER NOT NULL, name VARCHAR NOT NULL, model_id INTEGER NOT NULL,
  dataset_id INTEGER NOT NULL, epochs INTEGER NOT NULL, n_runs INTEGER NOT NULL, time_limit_s INTEGER,
  metrics JSON, eval_metric VARCHAR, direction VARCHAR(8) NOT NULL, score_mode VARCHAR(5) NOT NULL,
  params JSON, sampler VARCHAR(6) NOT NULL, prune BOOLEAN NOT NULL, max_parallel INTEGER NOT NULL,
  seed INTEGER, limits JSON, status VARCHAR(9) NOT NULL, reason TEXT, stop_requested BOOLEAN NOT NULL,
  best_run_id INTEGER, created_at DATETIME NOT NULL, started_at DATETIME, finished_at DATETIME,
  deadline DATETIME, PRIMARY KEY (id), FOREIGN KEY(model_id) REFERENCES model_package (id),
  FOREIGN KEY(dataset_id) REFERENCES dataset (id));
CREATE INDEX ix_task_name ON task (name);
CREATE INDEX ix_task_status ON task (status);
CREATE INDEX ix_task_model_id ON task (model_id);
CREATE INDEX ix_task_created_at ON task (created_at);
CREATE INDEX ix_task_dataset_id ON task (dataset_id);
CREATE TABLE run (id INTEGER NOT NULL, task_id INTEGER NOT NULL, "index" INTEGER NOT NULL,
  trial_number INTEGER, status VARCHAR(9) NOT NULL, params JSON, score FLOAT, score_missing BOOLEAN NOT NULL,
  exit_code INTEGER, reason TEXT, work_dir VARCHAR, log_path VARCHAR, device VARCHAR, worker VARCHAR,
  attempt INTEGER NOT NULL, job_id VARCHAR, lines INTEGER NOT NULL, log_bytes_dropped INTEGER NOT NULL,
  metric_names JSON, last_unparsed TEXT, created_at DATETIME NOT NULL, started_at DATETIME,
  finished_at DATETIME, heartbeat_at DATETIME, PRIMARY KEY (id), FOREIGN KEY(task_id) REFERENCES task (id));
CREATE INDEX ix_run_task_id ON run (task_id);
CREATE INDEX ix_run_status ON run (status);
CREATE TABLE metric_point (id INTEGER NOT NULL, run_id INTEGER NOT NULL, name VARCHAR NOT NULL,
  seq INTEGER NOT NULL, value FLOAT, PRIMARY KEY (id), FOREIGN KEY(run_id) REFERENCES run (id));
CREATE INDEX ix_metric_run_name_seq ON metric_point (run_id, name, seq);
CREATE TABLE resource_sample (id INTEGER NOT NULL, run_id INTEGER NOT NULL, t FLOAT NOT NULL,
  cpu_percent FLOAT NOT NULL, rss_bytes INTEGER NOT NULL, gpu_util FLOAT, gpu_mem_bytes INTEGER,
  PRIMARY KEY (id), FOREIGN KEY(run_id) REFERENCES run (id));
CREATE INDEX ix_resource_sample_run_id ON resource_sample (run_id);
CREATE TABLE prediction (id INTEGER NOT NULL, task_id INTEGER NOT NULL, run_id INTEGER NOT NULL,
  model_id INTEGER NOT NULL, weights VARCHAR NOT NULL, confidence FLOAT NOT NULL, status VARCHAR(9) NOT NULL,
  reason TEXT, path VARCHAR NOT NULL, images JSON, outputs JSON, created_at DATETIME NOT NULL,
  started_at DATETIME, finished_at DATETIME, PRIMARY KEY (id), FOREIGN KEY(task_id) REFERENCES task (id),
  FOREIGN KEY(run_id) REFERENCES run (id), FOREIGN KEY(model_id) REFERENCES model_package (id));
CREATE INDEX ix_prediction_model_id ON prediction (model_id);
CREATE INDEX ix_prediction_task_id ON prediction (task_id);
"""

_PG_TYPES = """
CREATE TYPE deploystatus AS ENUM ('waiting', 'deploying', 'deployed', 'failed');
CREATE TYPE direction AS ENUM ('maximize', 'minimize');
CREATE TYPE predictionstatus AS ENUM ('queued', 'running', 'completed', 'failed');
CREATE TYPE runstatus AS ENUM ('queued', 'running', 'completed', 'failed', 'pruned', 'stopped', 'timed_out',
  'cancelled');
CREATE TYPE sampler AS ENUM ('tpe', 'random', 'grid');
CREATE TYPE scoremode AS ENUM ('final', 'best');
CREATE TYPE taskstatus AS ENUM ('waiting', 'running', 'completed', 'failed', 'stopped', 'timed_out');
CREATE TYPE tasktype AS ENUM ('detection', 'semantic_segmentation', 'instance_segmentation', 'classification',
  'text_detection', 'text_recognition', 'rotated_detection', 'other');
"""


def _postgres_ddl() -> str:
    # The same tables as pg_dump showed them: serial ids, native enums, timestamptz, double precision.
    ddl = SQLITE_DDL.replace("(id INTEGER NOT NULL,", "(id SERIAL NOT NULL,").replace(" freeze JSON", ' "freeze" JSON')
    for table_col, enum in (("dataset.task_type", "tasktype"), ("model_package.task_type", "tasktype"),
                            ("model_package.status", "deploystatus"), ("task.direction", "direction"),
                            ("task.score_mode", "scoremode"), ("task.sampler", "sampler"),
                            ("task.status", "taskstatus"), ("run.status", "runstatus"),
                            ("prediction.status", "predictionstatus")):
        table, col = table_col.split(".")
        head, rest = ddl.split(f"CREATE TABLE {table} (", 1)
        body, tail = rest.split(";", 1)
        width = {"task_type": 21, "status": 9, "direction": 8, "score_mode": 5, "sampler": 6}[col]
        body = body.replace(f"{col} VARCHAR({width}) NOT NULL", f"{col} {enum} NOT NULL", 1)
        ddl = f"{head}CREATE TABLE {table} ({body};{tail}"
    ddl = ddl.replace("DATETIME", "TIMESTAMP WITH TIME ZONE").replace("FLOAT", "DOUBLE PRECISION")
    return _PG_TYPES + ddl


def _t(minute: int) -> datetime:
    return datetime(2025, 5, 1, 10, minute, 7, 123456, tzinfo=UTC)


ROWS: dict[str, list[dict]] = {
    "dataset": [dict(id=1, name="shapes", task_type="classification", path="datasets/1", report={"splits": [4]},
                     images=4, size_bytes=2048, created_at=_t(0))],
    "model_package": [dict(id=1, name="tiny-cnn", task_type="classification", path="models/1", status="deployed",
                           reason=None, report={"params": ["lr"]}, env_key="abc123", install_log="models/1/log",
                           freeze=["numpy==2.0.0"], network=False, created_at=_t(1), deploy_started_at=_t(2),
                           deployed_at=_t(3))],
    "param_template": [dict(id=1, model_id=1, name="fast", values={"lr": 0.1}, created_at=_t(4))],
    "task": [dict(id=1, name="first", model_id=1, dataset_id=1, epochs=3, n_runs=2, time_limit_s=600,
                  metrics=["loss", "accuracy"], eval_metric="accuracy", direction="maximize", score_mode="best",
                  params={"lr": {"range": [0.001, 0.1], "log": True}}, sampler="tpe", prune=True, max_parallel=1,
                  seed=7, limits={"memory_limit": 1024}, status="completed", reason=None, stop_requested=False,
                  best_run_id=1, created_at=_t(5), started_at=_t(6), finished_at=_t(9), deadline=None)],
    "run": [dict(id=1, task_id=1, index=0, trial_number=0, status="completed", params={"lr": 0.01}, score=0.875,
                 score_missing=False, exit_code=0, reason=None, work_dir="runs/1", log_path="runs/1/log.txt",
                 device="cpu", worker="w-1", attempt=1, job_id="run-1", lines=12, log_bytes_dropped=0,
                 metric_names=["loss", "accuracy"], last_unparsed="warming up", created_at=_t(6), started_at=_t(6),
                 finished_at=_t(8), heartbeat_at=_t(8)),
            dict(id=2, task_id=1, index=1, trial_number=1, status="pruned", params={"lr": 0.09}, score=None,
                 score_missing=True, exit_code=None, reason="pruned at epoch 1", work_dir="runs/2", log_path=None,
                 device="cpu", worker="w-1", attempt=1, job_id="run-2", lines=3, log_bytes_dropped=5,
                 metric_names=["loss"], last_unparsed=None, created_at=_t(6), started_at=_t(7), finished_at=_t(8),
                 heartbeat_at=None)],
    "metric_point": [dict(id=1, run_id=1, name="loss", seq=0, value=0.5),
                     dict(id=2, run_id=1, name="accuracy", seq=0, value=0.875),
                     dict(id=3, run_id=2, name="loss", seq=0, value=math.nan)],
    "resource_sample": [dict(id=1, run_id=1, t=1.5, cpu_percent=97.0, rss_bytes=123456789, gpu_util=None,
                             gpu_mem_bytes=None)],
    "prediction": [dict(id=1, task_id=1, run_id=1, model_id=1, weights="best.pt", confidence=0.25,
                        status="completed", reason=None, path="predictions/1", images=["a.png"],
                        outputs={"a.png": "ok"}, created_at=_t(10), started_at=_t(10), finished_at=_t(11))],
}
JSON_COLUMNS = {"report", "freeze", "values", "metrics", "params", "limits", "metric_names", "images", "outputs"}


def _stored(value, dialect: str):
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, datetime) and dialect == "sqlite":
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite form
    if isinstance(value, float) and math.isnan(value) and dialect == "sqlite":
        return None  # SQLite turns NaN into NULL; the release read it back as nan
    return value


def make_legacy_db(url: str) -> None:
    """Create the previous release's tables and rows at ``url`` (an empty database)."""
    engine = sa.create_engine(url)
    dialect = engine.dialect.name
    ddl = SQLITE_DDL if dialect == "sqlite" else _postgres_ddl()
    with engine.begin() as conn:
        for statement in ddl.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
        for table, rows in ROWS.items():
            for row in rows:
                cols = ", ".join(f'"{c}"' for c in row)
                marks = ", ".join(f":{c}" for c in row)
                conn.execute(sa.text(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})'),
                             {c: _stored(v, dialect) for c, v in row.items()})
        if dialect == "postgresql":
            for table in ROWS:  # explicit ids leave the sequences behind; the release's rows came from them
                conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM \"{table}\"))")
    engine.dispose()
