"""The eight dataset/model task types of the contract (CONTRACT §1)."""

from __future__ import annotations

from enum import Enum


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
