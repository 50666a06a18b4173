"""Every status and kind as a str Enum, shared by the DB, the runner and the UI
(no raw status strings anywhere else)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum


def utcnow() -> datetime:
    return datetime.now(UTC)


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


TASK_TYPE_LABELS: dict[TaskType, str] = {
    TaskType.detection: "Object detection",
    TaskType.semantic_segmentation: "Semantic segmentation",
    TaskType.instance_segmentation: "Instance segmentation",
    TaskType.classification: "Image classification",
    TaskType.text_detection: "Text detection",
    TaskType.text_recognition: "Text recognition",
    TaskType.rotated_detection: "Rotated object detection",
    TaskType.other: "Other",
}
