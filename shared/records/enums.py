"""Every status and kind as a str Enum, shared by the DB, the runner and the UI
(no raw status strings anywhere else)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

from shared.core.i18n import N_


def utcnow() -> datetime:
    return datetime.now(UTC)


class IndexStrategy(str, Enum):
    """uv's ``--index-strategy`` values (a setting, validated at start-up)."""

    first_index = "first-index"
    unsafe_first_match = "unsafe-first-match"
    unsafe_best_match = "unsafe-best-match"


class DeployStatus(str, Enum):
    waiting = "waiting"
    deploying = "deploying"
    deployed = "deployed"
    failed = "failed"


class TaskStatus(str, Enum):
    waiting = "waiting"
    running = "running"
    completed = "completed"
    failed = "failed"
    stopped = "stopped"
    timed_out = "timed_out"

    @property
    def finished(self) -> bool:
        return self in (TaskStatus.completed, TaskStatus.failed, TaskStatus.stopped, TaskStatus.timed_out)


class RunStatus(str, Enum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    pruned = "pruned"
    stopped = "stopped"
    timed_out = "timed_out"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.queued, RunStatus.running)


class PredictionStatus(str, Enum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"


class JobKind(str, Enum):
    """What an RQ job does; the first part of its id (see ``shared.core.queue.job_id``)."""

    run = "run"
    deploy = "deploy"
    predict = "predict"


class JobState(str, Enum):
    """RQ's own job states (the values of ``rq.job.JobStatus``), read back from Redis."""

    created = "created"
    queued = "queued"
    started = "started"
    deferred = "deferred"
    scheduled = "scheduled"
    finished = "finished"
    failed = "failed"
    stopped = "stopped"
    canceled = "canceled"
    rate_limited = "rate_limited"
    ready_to_enqueue = "ready_to_enqueue"

    @property
    def active(self) -> bool:
        """Waiting for a worker or on one now: enqueueing the same id again would run it twice."""
        return self in (JobState.queued, JobState.started, JobState.deferred, JobState.scheduled,
                        JobState.rate_limited, JobState.ready_to_enqueue)


class TrialOutcome(str, Enum):
    """How a run's Optuna trial is told to end (``search.tell``)."""

    complete = "complete"
    pruned = "pruned"
    failed = "fail"


class OutputMatch(str, Enum):
    """Whether predict.py wrote an output image for one input (kept in ``Prediction.outputs``)."""

    ok = "ok"
    missing = "missing"


class Direction(str, Enum):
    maximize = "max"
    minimize = "min"


class Sampler(str, Enum):
    auto = "auto"  # chosen per task from its searched parameters and budget (shared.services.search)
    gp = "gp"
    tpe = "tpe"
    random = "random"
    grid = "grid"


class Pruner(str, Enum):
    median = "median"
    successive_halving = "successive_halving"
    hyperband = "hyperband"


class ScoreMode(str, Enum):
    final = "final"
    best = "best"


class TaskType(str, Enum):
    detection = "detection"
    semantic_segmentation = "semantic_segmentation"
    instance_segmentation = "instance_segmentation"
    classification = "classification"
    text_detection = "text_detection"
    text_recognition = "text_recognition"
    rotated_detection = "rotated_detection"
    other = "other"


# English msgids: shown through ``_(TASK_TYPE_LABELS[t])`` where a person reads them.
TASK_TYPE_LABELS: dict[TaskType, str] = {
    TaskType.detection: N_("Object detection"),
    TaskType.semantic_segmentation: N_("Semantic segmentation"),
    TaskType.instance_segmentation: N_("Instance segmentation"),
    TaskType.classification: N_("Image classification"),
    TaskType.text_detection: N_("Text detection"),
    TaskType.text_recognition: N_("Text recognition"),
    TaskType.rotated_detection: N_("Rotated object detection"),
    TaskType.other: N_("Other"),
}


class Role(str, Enum):
    """What a person may do (shared/services/access.py holds the rules)."""

    admin = "admin"  # everything, people and limits included
    member = "member"  # creates datasets, models, tasks, predictions; changes only their own
    viewer = "viewer"  # reads and downloads only


class Visibility(str, Enum):
    team = "team"  # every signed-in person sees it
    private = "private"  # its owner and admins only


class Action(str, Enum):
    """What a person asks to do, checked by ``access.can``."""

    view = "view"
    download = "download"
    create = "create"
    change = "change"  # edit, stop, rerun, change visibility
    delete = "delete"
    manage_users = "manage_users"
    set_limits = "set_limits"  # per-task sandbox limits beyond the defaults
    allow_network = "allow_network"  # a model's training/prediction may reach the network
    view_audit = "view_audit"


class AuditAction(str, Enum):
    """What the audit log records: every ``Action`` (same value) plus the account events."""

    view = "view"
    download = "download"
    create = "create"
    change = "change"
    delete = "delete"
    manage_users = "manage_users"
    set_limits = "set_limits"
    allow_network = "allow_network"
    view_audit = "view_audit"
    sign_in = "sign_in"
    sign_out = "sign_out"
    sign_up = "sign_up"
    change_password = "change_password"
    create_user = "create_user"
    set_role = "set_role"
    disable_user = "disable_user"
    enable_user = "enable_user"
    signup_link = "signup_link"


class Outcome(str, Enum):
    ok = "ok"
    denied = "denied"  # refused: wrong password, missing role, throttled
    failed = "failed"  # allowed but it broke


class ObjectKind(str, Enum):
    """The kinds of record an audit event or a permission check is about."""

    dataset = "dataset"
    model = "model"
    task = "task"
    prediction = "prediction"
    user = "user"
