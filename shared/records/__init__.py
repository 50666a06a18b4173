"""The records: SQLModel tables and every status and kind enum.

Import from here (``from shared.records import Task, TaskStatus``); the modules
below are split by concern only."""

from __future__ import annotations

from shared.records.enums import (  # noqa: F401 - re-exported
    TASK_TYPE_LABELS,
    Action,
    AuditAction,
    DeployStatus,
    Direction,
    IndexStrategy,
    JobKind,
    JobState,
    ObjectKind,
    Outcome,
    OutputMatch,
    PredictionStatus,
    Pruner,
    Role,
    RunStatus,
    Sampler,
    ScoreMode,
    TaskStatus,
    TaskType,
    TrialOutcome,
    Visibility,
    utcnow,
)
from shared.records.tables import (  # noqa: F401 - re-exported
    AuditEvent,
    Dataset,
    MetricPoint,
    ModelPackage,
    NanFloat,
    ParamTemplate,
    Prediction,
    ResourceSample,
    Run,
    SignInThrottle,
    SignupToken,
    StoreMark,
    Task,
    User,
)
