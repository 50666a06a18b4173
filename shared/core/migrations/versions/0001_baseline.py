"""Baseline: the schema of the first release (shared/models.py at 89fd60f,
shared/records/tables.py since). A database made before migrations existed has
exactly these tables and is stamped at this revision instead of running it.

Types are written out, not imported from the live code, so that this revision
keeps meaning what it meant when later revisions change the tables; enums are
stored by member name (SQLAlchemy's default), native types on Postgres.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TASK_TYPE = ("detection", "semantic_segmentation", "instance_segmentation", "classification", "text_detection",
             "text_recognition", "rotated_detection", "other")


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _str(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(), nullable=nullable)


def _int(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _enum(name: str, type_name: str, values: tuple[str, ...]) -> sa.Column:
    # create_type=False: the types are created once, up front (two tables share tasktype).
    return sa.Column(name, sa.Enum(*values, name=type_name, create_type=False), nullable=False)


ENUMS = {
    "tasktype": TASK_TYPE,
    "deploystatus": ("waiting", "deploying", "deployed", "failed"),
    "direction": ("maximize", "minimize"),
    "scoremode": ("final", "best"),
    "sampler": ("tpe", "random", "grid"),
    "taskstatus": ("waiting", "running", "completed", "failed", "stopped", "timed_out"),
    "runstatus": ("queued", "running", "completed", "failed", "pruned", "stopped", "timed_out", "cancelled"),
    "predictionstatus": ("queued", "running", "completed", "failed"),
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for type_name, values in ENUMS.items():
            sa.Enum(*values, name=type_name).create(bind, checkfirst=True)

    op.create_table(
        "dataset",
        _int("id"), _str("name"), _enum("task_type", "tasktype", TASK_TYPE), _str("path"),
        sa.Column("report", sa.JSON(), nullable=True), _int("images"), _int("size_bytes"), _when("created_at", False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dataset_name", "dataset", ["name"])

    op.create_table(
        "model_package",
        _int("id"), _str("name"), _enum("task_type", "tasktype", TASK_TYPE), _str("path"),
        _enum("status", "deploystatus", ENUMS["deploystatus"]), sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True), _str("env_key", True), _str("install_log", True),
        sa.Column("freeze", sa.JSON(), nullable=True), sa.Column("network", sa.Boolean(), nullable=False),
        _when("created_at", False), _when("deploy_started_at"), _when("deployed_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_package_name", "model_package", ["name"])

    op.create_table(
        "param_template",
        _int("id"), _int("model_id"), _str("name"), sa.Column("values", sa.JSON(), nullable=True),
        _when("created_at", False),
        sa.ForeignKeyConstraint(["model_id"], ["model_package.id"]), sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_param_template_model_id", "param_template", ["model_id"])

    op.create_table(
        "task",
        _int("id"), _str("name"), _int("model_id"), _int("dataset_id"), _int("epochs"), _int("n_runs"),
        _int("time_limit_s", True), sa.Column("metrics", sa.JSON(), nullable=True), _str("eval_metric", True),
        _enum("direction", "direction", ENUMS["direction"]), _enum("score_mode", "scoremode", ENUMS["scoremode"]),
        sa.Column("params", sa.JSON(), nullable=True), _enum("sampler", "sampler", ENUMS["sampler"]),
        sa.Column("prune", sa.Boolean(), nullable=False), _int("max_parallel"), _int("seed", True),
        sa.Column("limits", sa.JSON(), nullable=True), _enum("status", "taskstatus", ENUMS["taskstatus"]),
        sa.Column("reason", sa.Text(), nullable=True), sa.Column("stop_requested", sa.Boolean(), nullable=False),
        _int("best_run_id", True), _when("created_at", False), _when("started_at"), _when("finished_at"),
        _when("deadline"),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"]),
        sa.ForeignKeyConstraint(["model_id"], ["model_package.id"]), sa.PrimaryKeyConstraint("id"),
    )
    for col in ("created_at", "dataset_id", "model_id", "name", "status"):
        op.create_index(f"ix_task_{col}", "task", [col])

    op.create_table(
        "run",
        _int("id"), _int("task_id"), _int("index"), _int("trial_number", True),
        _enum("status", "runstatus", ENUMS["runstatus"]), sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True), sa.Column("score_missing", sa.Boolean(), nullable=False),
        _int("exit_code", True), sa.Column("reason", sa.Text(), nullable=True), _str("work_dir", True),
        _str("log_path", True), _str("device", True), _str("worker", True), _int("attempt"), _str("job_id", True),
        _int("lines"), _int("log_bytes_dropped"), sa.Column("metric_names", sa.JSON(), nullable=True),
        sa.Column("last_unparsed", sa.Text(), nullable=True), _when("created_at", False), _when("started_at"),
        _when("finished_at"), _when("heartbeat_at"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]), sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_run_status", "run", ["status"])
    op.create_index("ix_run_task_id", "run", ["task_id"])

    op.create_table(
        "metric_point",
        _int("id"), _int("run_id"), _str("name"), _int("seq"), sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]), sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_metric_run_name_seq", "metric_point", ["run_id", "name", "seq"])

    op.create_table(
        "prediction",
        _int("id"), _int("task_id"), _int("run_id"), _int("model_id"), _str("weights"),
        sa.Column("confidence", sa.Float(), nullable=False),
        _enum("status", "predictionstatus", ENUMS["predictionstatus"]), sa.Column("reason", sa.Text(), nullable=True),
        _str("path"), sa.Column("images", sa.JSON(), nullable=True), sa.Column("outputs", sa.JSON(), nullable=True),
        _when("created_at", False), _when("started_at"), _when("finished_at"),
        sa.ForeignKeyConstraint(["model_id"], ["model_package.id"]), sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]), sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_prediction_model_id", "prediction", ["model_id"])
    op.create_index("ix_prediction_task_id", "prediction", ["task_id"])

    op.create_table(
        "resource_sample",
        _int("id"), _int("run_id"), sa.Column("t", sa.Float(), nullable=False),
        sa.Column("cpu_percent", sa.Float(), nullable=False), _int("rss_bytes"),
        sa.Column("gpu_util", sa.Float(), nullable=True), _int("gpu_mem_bytes", True),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]), sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_resource_sample_run_id", "resource_sample", ["run_id"])


def downgrade() -> None:
    for table in ("resource_sample", "prediction", "metric_point", "run", "task", "param_template", "model_package",
                  "dataset"):
        op.drop_table(table)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for type_name, values in ENUMS.items():
            sa.Enum(*values, name=type_name).drop(bind, checkfirst=True)
