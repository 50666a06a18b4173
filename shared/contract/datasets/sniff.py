"""Which task type an extracted dataset's layout looks like (CONTRACT §1.2).

Used when a dataset is rejected: if it fits another task type than the one
chosen, the error says which ("this looks like image classification
(sub-folders per class under train/)"). Only the layout is looked at, plus
the first lines of one label file where two formats share a layout; nothing
is validated here, ``validate.validate_dataset`` does that.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from shared.core.errors import Term
from shared.core.i18n import N_, _
from shared.records import TASK_TYPE_LABELS, TaskType

_PEEK_BYTES = 8 * 1024 * 1024  # enough of a COCO file to meet its first annotations
_SEGMENTATION_RE = re.compile(r'"segmentation"\s*:\s*(?:\[\s*[\[\d\-.]|\{)')


@dataclass(frozen=True)
class Sniffed:
    task_type: TaskType
    why: str  # the layout seen, in the user's terms

    def describe(self) -> Term:
        """"image classification (sub-folders ...)" in English; its label and layout translated once localized."""
        label = TASK_TYPE_LABELS[self.task_type]
        return Term(f"{label.lower()} ({self.why})",
                    # lower() mid-sentence, as the English value: a no-op for Chinese.
                    lambda: _("{type_label} ({layout})", type_label=_(label).lower(), layout=_(self.why)))


def sniff_task_type(root: Path) -> Sniffed | None:
    """The task type ``root``'s layout belongs to, or None when it matches none of the formats."""
    root = Path(root)
    if not root.is_dir():
        return None
    coco = root / "annotations" / "train.json"
    if coco.is_file():
        if _peek_has_segmentation(coco):
            return Sniffed(TaskType.instance_segmentation, N_("COCO annotations/train.json with segmentation polygons"))
        return Sniffed(TaskType.detection, N_("COCO annotations/train.json with boxes"))
    if (root / "masks" / "train").is_dir():
        return Sniffed(TaskType.semantic_segmentation, N_("images/ with PNG masks in masks/train/"))
    labels = root / "labels" / "train"
    if labels.is_dir():
        return _labels_kind(labels)
    meta = root / "meta" / "train.txt"
    if meta.is_file():
        line = _first_line(meta)
        if "\t" in line:
            return Sniffed(TaskType.text_recognition, N_("meta/train.txt lines 'path<TAB>transcript'"))
        if (root / "meta" / "classes.txt").is_file():
            return Sniffed(TaskType.classification, N_("meta/train.txt lines 'path class_index' + meta/classes.txt"))
    train = root / "train"
    if train.is_dir() and any(e.is_dir() and not e.name.startswith(".") for e in _entries(train)):
        return Sniffed(TaskType.classification, N_("sub-folders per class under train/"))
    return None


def _labels_kind(labels: Path) -> Sniffed | None:
    """ICDAR (x1,y1,...,x4,y4,transcript) and DOTA (x1 y1 ... x4 y4 class difficult) share labels/train/*.txt."""
    for entry in sorted(_entries(labels), key=lambda e: e.name)[:20]:
        if not entry.is_file() or not entry.name.endswith(".txt"):
            continue
        with open(entry, encoding="utf-8-sig", errors="replace") as fh:
            for raw in fh.readlines(64 * 1024):
                line = raw.strip()
                if not line:
                    continue
                if line.startswith(("imagesource:", "gsd:")) or len(line.split()) == 10:
                    return Sniffed(TaskType.rotated_detection,
                                   N_("DOTA labels/train/*.txt lines 'x1 y1 ... x4 y4 class difficult'"))
                if len(line.split(",", 8)) == 9:
                    return Sniffed(TaskType.text_detection,
                                   N_("ICDAR labels/train/*.txt lines 'x1,y1,...,x4,y4,transcript'"))
                break
    return None


def _peek_has_segmentation(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(_PEEK_BYTES).decode("utf-8", errors="replace")
    return bool(_SEGMENTATION_RE.search(head))


def _first_line(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for raw in fh.readlines(64 * 1024):
            if raw.strip():
                return raw.rstrip("\r\n")
    return ""


def _entries(path: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []
