"""SQLModel tables. The DB is the source of truth: Redis only carries work.
Paths stored here are relative to DATA_DIR."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Float, Index, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from shared.records.enums import (
    AuditAction,
    DeployStatus,
    Direction,
    ObjectKind,
    Outcome,
    PredictionStatus,
    Pruner,
    Role,
    RunStatus,
    Sampler,
    ScoreMode,
    TaskStatus,
    TaskType,
    Visibility,
    utcnow,
)


class User(SQLModel, table=True):
    # "user" is reserved in Postgres; a plain name keeps hand-written SQL simple.
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    email: str | None = Field(default=None, index=True, unique=True)  # lower case; OIDC users are matched on it
    password_hash: str | None = None  # argon2; None for people who sign in through OIDC only
    role: Role = Role.member
    disabled: bool = False
    language: str | None = None
    # Part of every session token: bumped on a password change or disable, which ends every open session.
    session_version: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    last_sign_in_at: datetime | None = None


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    time: datetime = Field(default_factory=utcnow, index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    user_name: str = ""  # as typed on a failed sign-in, so unknown names are on record too
    action: AuditAction = Field(index=True)
    object_kind: ObjectKind | None = None
    object_id: int | None = None
    outcome: Outcome = Outcome.ok
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    client: str | None = None  # the browser's address, when known


class SignupToken(SQLModel, table=True):
    """A one-time sign-up link; only the SHA-256 of the token is kept."""

    __tablename__ = "signup_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True)
    role: Role = Role.member
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    used_by_id: int | None = Field(default=None, foreign_key="app_user.id")


class SignInThrottle(SQLModel, table=True):
    """Failed sign-ins per typed name (``user:<name>``) and per client (``client:<address>``)."""

    __tablename__ = "sign_in_throttle"
    key: str = Field(primary_key=True)
    failures: int = 0
    last_failure_at: datetime = Field(default_factory=utcnow)
    blocked_until: datetime | None = None


class StoreMark(SQLModel, table=True):
    """The shared store's identity: ``up`` writes the same id into DATA_DIR/.trainyard-store, so a worker
    joining from another host can tell that its DATA_DIR is this platform's store and not a local folder."""

    __tablename__ = "store_mark"
    id: int | None = Field(default=None, primary_key=True)
    store_id: str
    created_at: datetime = Field(default_factory=utcnow)


class Dataset(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    task_type: TaskType
    path: str  # relative to DATA_DIR
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    images: int = 0
    size_bytes: int = 0
    # Who made it (None: made before sign-in existed, so only admins change it) and who may see it.
    owner_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    visibility: Visibility = Visibility.team
    created_at: datetime = Field(default_factory=utcnow)


class ModelPackage(SQLModel, table=True):
    __tablename__ = "model_package"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    task_type: TaskType = TaskType.other
    path: str  # relative to DATA_DIR
    status: DeployStatus = DeployStatus.waiting
    reason: str | None = Field(default=None, sa_column=Column(Text))
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    env_key: str | None = None
    install_log: str | None = None  # relative to DATA_DIR
    freeze: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    network: bool = False  # per-model opt-in: training/prediction get network
    # Per-model opt-in: a run with several GPUs starts `torchrun --nproc-per-node N train.py ...`.
    distributed: bool = False
    # Who made it (None: made before sign-in existed, so only admins change it) and who may see it.
    owner_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    visibility: Visibility = Visibility.team
    created_at: datetime = Field(default_factory=utcnow)
    deploy_started_at: datetime | None = None
    deployed_at: datetime | None = None


class ParamTemplate(SQLModel, table=True):
    __tablename__ = "param_template"
    id: int | None = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="model_package.id", index=True)
    name: str
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)


class Task(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    model_id: int = Field(foreign_key="model_package.id", index=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    epochs: int = 1
    n_runs: int = 1
    time_limit_s: int | None = None
    metrics: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    eval_metric: str | None = None
    direction: Direction = Direction.maximize
    score_mode: ScoreMode = ScoreMode.final
    # name -> {"value": v} or {"range": [a, b], "log": bool} or {"choices": [...]}, plus "search"
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    sampler: Sampler = Sampler.auto
    # What ``sampler`` resolved to (auto -> gp or tpe) and why, set when the task is created.
    sampler_used: Sampler | None = None
    sampler_reason: str | None = Field(default=None, sa_column=Column(Text))
    prune: bool = True
    pruner: Pruner = Pruner.median
    rank_pruned: bool = False  # may a pruned run's partial score be the task's best? (off: never)
    warm_start_task_id: int | None = Field(default=None, foreign_key="task.id")  # its finished runs seed the search
    max_parallel: int = 1
    # GPUs each run gets; a run waits for a worker with that many free GPUs (1: one GPU, or CPU on a CPU worker).
    gpus_per_run: int = 1
    seed: int | None = None
    limits: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))  # per-task overrides of sandbox limits
    status: TaskStatus = Field(default=TaskStatus.waiting, index=True)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    stop_requested: bool = False
    best_run_id: int | None = None
    # Who made it (None: made before sign-in existed, so only admins change it) and who may see it.
    owner_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    visibility: Visibility = Visibility.team
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline: datetime | None = None


class Run(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    index: int = 0  # 0-based position within the task
    trial_number: int | None = None
    status: RunStatus = Field(default=RunStatus.queued, index=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    score: float | None = None
    score_missing: bool = False  # the evaluation metric was never printed
    exit_code: int | None = None
    reason: str | None = Field(default=None, sa_column=Column(Text))
    work_dir: str | None = None  # relative to DATA_DIR
    log_path: str | None = None  # relative to DATA_DIR
    device: str | None = None
    worker: str | None = None
    attempt: int = 0
    job_id: str | None = None
    lines: int = 0
    log_bytes_dropped: int = 0
    metric_names: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    last_unparsed: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None


class NanFloat(TypeDecorator):
    """SQLite stores NaN as NULL; read NULL back as nan so every reader sees
    the value the run printed (Postgres keeps NaN natively)."""

    impl = Float
    cache_ok = True

    def process_result_value(self, value, dialect):
        return math.nan if value is None else value


class MetricPoint(SQLModel, table=True):
    __tablename__ = "metric_point"
    __table_args__ = (Index("ix_metric_run_name_seq", "run_id", "name", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    name: str
    seq: int  # index of the metrics line in the run's output (the x axis fallback)
    value: float = Field(sa_column=Column(NanFloat, nullable=True))


class ResourceSample(SQLModel, table=True):
    __tablename__ = "resource_sample"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    t: float  # seconds since the run started
    cpu_percent: float
    rss_bytes: int
    gpu_util: float | None = None
    gpu_mem_bytes: int | None = None


class Prediction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    run_id: int = Field(foreign_key="run.id")
    model_id: int = Field(foreign_key="model_package.id", index=True)
    weights: str  # relative to the run's work dir
    confidence: float = 0.25
    status: PredictionStatus = PredictionStatus.queued
    reason: str | None = Field(default=None, sa_column=Column(Text))
    path: str  # relative to DATA_DIR: predictions/<id>
    images: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    outputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))  # per-image status
    # Who made it (None: made before sign-in existed, so only admins change it) and who may see it.
    owner_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    visibility: Visibility = Visibility.team
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
