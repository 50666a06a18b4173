"""Dataset format validation for the eight task types (CONTRACT §1.2).

``validate_dataset`` takes an already extracted dataset root and either
returns a ``DatasetReport`` (splits, classes, counts, sampled image sizes,
warnings) or raises ``DatasetFormatError`` listing every error with the file
and the line or JSON path it was found at.

Errors stop an upload: a missing train split, a referenced image that does
not exist, unparsable JSON, an unknown category id, a line with the wrong
number of fields, a class index out of range, a mask without its image,
non-numeric coordinates. Warnings are kept on the report and the upload is
accepted: images without labels, boxes outside their image, degenerate boxes,
empty classes, unreadable images. Identical warnings are aggregated into one
``Issue`` with a count, so 10k unlabeled images make one line, not 10k.

Images are only opened for their header (size), never decoded, so a large
dataset validates in seconds; segmentation masks are decoded because their
pixel values are the labels.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from pathlib import Path

from shared.contract.datasets.classification import validate_classification
from shared.contract.datasets.coco import validate_coco
from shared.contract.datasets.common import DatasetReport, join_rel
from shared.contract.datasets.context import Ctx
from shared.contract.datasets.other import validate_other
from shared.contract.datasets.rotated_detection import validate_rotated
from shared.contract.datasets.semantic_segmentation import validate_semantic
from shared.contract.datasets.sniff import sniff_task_type
from shared.contract.datasets.text_detection import validate_text_detection
from shared.contract.datasets.text_recognition import validate_text_recognition
from shared.contract.names import (
    DATA_FLAG,
    LABEL_CLASS_COUNT_FLAG,
    LABEL_CLASS_FLAG,
    SPLIT_DATA_FLAGS,
    SPLIT_LABEL_FLAGS,
    SPLITS,
)
from shared.core.errors import DatasetFormatError, Msg
from shared.core.i18n import N_
from shared.records import TASK_TYPE_LABELS, TaskType
from shared.records.labels import task_type_term

_VALIDATORS: dict[TaskType, Callable[[Ctx], None]] = {
    TaskType.detection: lambda ctx: validate_coco(ctx, instance=False),
    TaskType.instance_segmentation: lambda ctx: validate_coco(ctx, instance=True),
    TaskType.classification: validate_classification,
    TaskType.semantic_segmentation: validate_semantic,
    TaskType.text_detection: validate_text_detection,
    TaskType.text_recognition: validate_text_recognition,
    TaskType.rotated_detection: validate_rotated,
    TaskType.other: validate_other,
}


def validate_dataset(*, root: Path, task_type: TaskType | str,
                     progress: Callable[[str], None] | None = None) -> DatasetReport:
    """Check an extracted dataset against its task type's format (CONTRACT §1.2).

    Raises ``DatasetFormatError``: its message sums up, its ``details`` list
    every error ("file where: message"), capped at MAX_ERROR_DETAILS.
    """
    task_type = TaskType(task_type)
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(N_("dataset root {root} is not a folder"), params={"root": root})
    ctx = Ctx(root, task_type, progress)
    _VALIDATORS[task_type](ctx)
    train = ctx.splits.get("train")
    if train is not None and train.images == 0 and not ctx.error_count:
        # Name the file that lists the images, or else the folder that should hold them.
        where_file = train.label if train.label.endswith((".json", ".txt")) else join_rel(train.data) + "/"
        ctx.error(where_file, None, N_("the train split has no images"))
    if ctx.error_count:
        details = [str(issue) for issue in ctx.errors]
        if ctx.error_count > len(ctx.errors):
            details.append(N_("and {n} more errors").format(n=ctx.error_count - len(ctx.errors)))
        label = task_type_term(task_type)
        n = ctx.error_count
        # Each error is in ``details`` once; the message only sums up (a page shows both).
        params = {"label": label, "n": n}
        sniffed = sniff_task_type(root)
        if sniffed is not None and sniffed.task_type != task_type:
            params.update(looks_like=sniffed.describe(), type_label=Msg(TASK_TYPE_LABELS[sniffed.task_type]))
            if n == 1:
                raise DatasetFormatError(N_("The dataset does not match the {label} format (1 error). It looks like "
                                            "{looks_like}: choose the task type \"{type_label}\" and upload it "
                                            "again, or fix the files listed."), details=details, params=params)
            raise DatasetFormatError(N_("The dataset does not match the {label} format ({n} errors). It looks like "
                                        "{looks_like}: choose the task type \"{type_label}\" and upload it again, "
                                        "or fix the files listed."), details=details, params=params)
        if n == 1:
            raise DatasetFormatError(N_("The dataset does not match the {label} format (1 error). Fix the files "
                                        "listed and upload the zip again."), details=details, params=params)
        raise DatasetFormatError(N_("The dataset does not match the {label} format ({n} errors). Fix the files "
                                    "listed and upload the zip again."), details=details, params=params)
    ctx.step(N_("Done"))
    return ctx.report()


def platform_values(*, report: DatasetReport, mount: str) -> dict[str, str]:
    """The value of each dataset flag of CONTRACT §2.3 when the dataset root is
    visible at ``mount`` in the sandbox. Splits that do not exist get ""."""
    base = mount.rstrip("/") or "/"

    def at(rel: str) -> str:
        if not rel:
            return ""
        return base if rel == "." else posixpath.join(base, rel)

    values = {DATA_FLAG: mount}
    for split in SPLITS:
        info = report.splits.get(split)
        values[SPLIT_DATA_FLAGS[split]] = at(info.data) if info else ""
    for split in SPLITS:
        info = report.splits.get(split)
        values[SPLIT_LABEL_FLAGS[split]] = at(info.label) if info else ""
    values[LABEL_CLASS_FLAG] = json.dumps(report.class_map(), ensure_ascii=False)
    values[LABEL_CLASS_COUNT_FLAG] = str(len(report.class_names))
    return values
