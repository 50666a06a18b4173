"""A YOLO view of an accepted dataset: the layout Ultralytics and YOLOv5 read, with its ``data.yaml``.

The contract hands train.py the dataset as uploaded (COCO json, DOTA txt, class
folders); YOLO trainers want ``images/<split>`` beside ``labels/<split>`` of
normalised ``.txt`` files and a ``data.yaml`` naming them. A script that
declares ``--data-yaml`` gets that view, built here once per dataset:

* detection: ``cls cx cy w h`` from each COCO ``bbox``, clipped to its image;
* instance segmentation: ``cls x1 y1 x2 y2 ...``, the instance's polygons
  (several polygons of one instance joined into one outline, an RLE mask
  written as its box: a polygon needs contour tracing the platform does not do);
* rotated detection (DOTA): YOLO-OBB ``cls x1 y1 x2 y2 x3 y3 x4 y4``;
* classification: ``<split>/<class>/<image>``, the folders Ultralytics' classify trainer reads.

Class indexes follow the dataset's class order (the report's ``class_names``,
as ``--label-class`` gives them). Every coordinate is divided by its image's
width or height and kept within [0, 1], which YOLO loaders require. Crowd
regions (``iscrowd: 1``) are left out, as Ultralytics' own COCO converter does.
Images are hard links to the dataset's files (symbolic links, then copies, where
the file system refuses), so the view costs almost no space.

Pure files and no database: ``ensure_yolo_view`` builds it under the dataset's
own folder, atomically and under a lock, the first time a run asks for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import yaml
from PIL import Image

from shared.contract.datasets.common import DatasetReport, parse_num, safe_rel, walk_files, walk_images
from shared.contract.names import SPLITS
from shared.core.errors import DatasetFormatError
from shared.core.i18n import N_
from shared.records import TASK_TYPE_LABELS, TaskType

VIEW_DIR = ".trainyard-yolo"  # hidden: dataset walkers and previews skip it
DATA_YAML = "data.yaml"
_MARKER = ".complete"
# Raised when the conversion changes, so that views built by an older release are rebuilt.
VIEW_VERSION = 1

YOLO_TASK_TYPES: tuple[TaskType, ...] = (TaskType.detection, TaskType.instance_segmentation,
                                         TaskType.rotated_detection, TaskType.classification)


def has_yolo_view(task_type: TaskType | str) -> bool:
    return TaskType(task_type) in YOLO_TASK_TYPES


def no_view_error(task_type: TaskType | str) -> DatasetFormatError:
    """The error for a run that asks for the YOLO view of a dataset type that has none."""
    names = ", ".join(TASK_TYPE_LABELS[t].lower() for t in YOLO_TASK_TYPES)
    return DatasetFormatError(
        N_("train.py asks for --data-yaml (or DATA_YAML_PATH), but a {type} dataset has no YOLO view; there is "
           "one for {names}. Read the dataset from --data instead, or pick a dataset of one of those types."),
        params={"type": TASK_TYPE_LABELS[TaskType(task_type)].lower(), "names": names})


# --------------------------------------------------------------------------- numbers


def _unit(v: float) -> float:
    return min(max(v, 0.0), 1.0)


def _fmt(values: list[float]) -> str:
    return " ".join(f"{v:.6f}" for v in values)


def yolo_box(bbox: list[float], size: tuple[float, float]) -> list[float] | None:
    """COCO ``[x, y, w, h]`` in pixels -> normalised ``[cx, cy, w, h]`` of its part inside the
    image; None when nothing of it is inside (or it has no area)."""
    w_img, h_img = size
    x, y, w, h = bbox
    x1, y1 = max(x, 0.0), max(y, 0.0)
    x2, y2 = min(x + w, w_img), min(y + h, h_img)
    if x2 <= x1 or y2 <= y1:
        return None
    return [(x1 + x2) / 2 / w_img, (y1 + y2) / 2 / h_img, (x2 - x1) / w_img, (y2 - y1) / h_img]


def yolo_points(flat: list[float], size: tuple[float, float]) -> list[float]:
    """Pixel ``[x1, y1, x2, y2, ...]`` -> normalised, each within [0, 1]."""
    w_img, h_img = size
    return [_unit(v / (w_img if i % 2 == 0 else h_img)) for i, v in enumerate(flat)]


def _instance_points(ann: dict, size: tuple[float, float]) -> list[float] | None:
    seg = ann.get("segmentation")
    polys = [p for p in seg if isinstance(p, list) and len(p) >= 6] if isinstance(seg, list) else []
    if polys:
        return yolo_points([v for p in polys for v in p], size)
    x, y, w, h = ann["bbox"]  # an RLE mask, or no usable polygon: its box as a four-point outline
    if w <= 0 or h <= 0:
        return None
    return yolo_points([x, y, x + w, y, x + w, y + h, x, y + h], size)


# --------------------------------------------------------------------------- files


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
        return
    except OSError:
        pass
    try:
        os.symlink(os.path.relpath(src, dst.parent), dst)
    except OSError:
        shutil.copy2(src, dst)


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:  # the header only: nothing is decoded
        return im.size


def _write_labels(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _splits(report: DatasetReport) -> Iterator[tuple[str, str, str]]:
    for split in SPLITS:
        info = report.splits.get(split)
        if info is not None:
            yield split, info.data, info.label


# --------------------------------------------------------------------------- the formats


def _coco(root: Path, report: DatasetReport, dest: Path, *, instance: bool) -> None:
    index = {name: i for i, name in enumerate(report.class_names)}
    for split, data, label in _splits(report):
        doc = json.loads((root / label).read_text(encoding="utf-8-sig"))
        cls_of = {c["id"]: index[c["name"]] for c in doc["categories"] if c.get("name") in index}
        anns: dict[object, list[dict]] = defaultdict(list)
        for a in doc["annotations"]:
            anns[a["image_id"]].append(a)
        for im in doc["images"]:
            rel = safe_rel(im["file_name"]) or im["file_name"]  # the validator refused paths leaving the folder
            src = root / data / rel
            w, h = im.get("width"), im.get("height")
            size = (float(w), float(h)) if w and h else tuple(map(float, _image_size(src)))
            lines = []
            for a in anns.get(im["id"], []):
                if a.get("iscrowd") or a.get("category_id") not in cls_of:
                    continue
                coords = _instance_points(a, size) if instance else yolo_box(a["bbox"], size)
                if coords:
                    lines.append(f"{cls_of[a['category_id']]} {_fmt(coords)}")
            _link(src, dest / "images" / split / rel)
            _write_labels(dest / "labels" / split / (os.path.splitext(rel)[0] + ".txt"), lines)


def _dota(root: Path, report: DatasetReport, dest: Path) -> None:
    index = {name: i for i, name in enumerate(report.class_names)}
    for split, data, label in _splits(report):
        labels = {os.path.splitext(f)[0]: f for f in walk_files(root / label, images_only=False)
                  if f.lower().endswith(".txt")}
        for img in walk_images(root / data):
            src = root / data / img
            stem = os.path.splitext(img)[0]
            lines = []
            if stem in labels:
                size = tuple(map(float, _image_size(src)))
                for raw in (root / label / labels[stem]).read_text(encoding="utf-8-sig").splitlines():
                    parts = raw.split()
                    if len(parts) != 10 or parts[8] not in index:
                        continue  # the imagesource:/gsd: header lines
                    coords = [parse_num(p) for p in parts[:8]]
                    if None not in coords:
                        lines.append(f"{index[parts[8]]} {_fmt(yolo_points(coords, size))}")  # type: ignore[arg-type]
            _link(src, dest / "images" / split / img)
            _write_labels(dest / "labels" / split / (stem + ".txt"), lines)


def class_folders(names: list[str]) -> list[str]:
    """Folder names for the classes, in class order. Ultralytics (torchvision's
    ImageFolder) numbers classes by sorted folder name, so when the dataset's
    order is not the sorted one, folders get an index prefix ("07_cat") that
    keeps the numbering of --label-class."""
    safe = [n.replace("/", "_").replace("\\", "_").strip(".") or "_" for n in names]
    if safe == sorted(safe) and len(set(safe)) == len(safe):
        return safe
    width = len(str(len(safe) - 1))
    return [f"{i:0{width}d}_{n}" for i, n in enumerate(safe)]


def _classification(root: Path, report: DatasetReport, dest: Path) -> None:
    names = report.class_names
    folders = class_folders(names)
    for split, data, label in _splits(report):
        (dest / split).mkdir(parents=True, exist_ok=True)
        for folder in folders:  # every class folder, so that class indexes line up in every split
            (dest / split / folder).mkdir(exist_ok=True)
        if report.layout == "folders":
            for name, folder in zip(names, folders, strict=True):
                for img in walk_images(root / data / name):
                    _link(root / data / name / img, dest / split / folder / img)
            continue
        for raw in (root / label).read_text(encoding="utf-8-sig").splitlines():
            if not raw.strip():
                continue
            path, idx = raw.strip().rsplit(None, 1)
            rel = safe_rel(path) or path
            _link(root / data / rel, dest / split / folders[int(idx)] / rel)


def write_yolo_view(*, root: Path, report: DatasetReport, dest: Path) -> dict:
    """Write the YOLO layout of the dataset at ``root`` into ``dest``; return the
    ``data.yaml`` keys other than ``path`` (which depends on where runs see it)."""
    task_type = report.task_type
    if not has_yolo_view(task_type):
        raise no_view_error(task_type)
    dest.mkdir(parents=True, exist_ok=True)
    splits = [s for s in SPLITS if s in report.splits]
    if task_type == TaskType.classification:
        _classification(root, report, dest)
        keys = {s: s for s in splits}
    else:
        if task_type == TaskType.rotated_detection:
            _dota(root, report, dest)
        else:
            _coco(root, report, dest, instance=task_type == TaskType.instance_segmentation)
        keys = {s: f"images/{s}" for s in splits}
    # YOLO trainers require a val split: without one, they validate on train.
    keys.setdefault("val", keys["train"])
    return {**keys, "nc": len(report.class_names), "names": list(report.class_names)}


def data_yaml_text(keys: dict, *, path: str) -> str:
    doc = {"path": path, **keys}
    return ("# Written by Trainyard: the YOLO view of this dataset (read-only). Class indexes follow\n"
            "# --label-class; images are links to the dataset's own files.\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


def _is_current(view: Path) -> bool:
    try:
        return json.loads((view / _MARKER).read_text()).get("version") == VIEW_VERSION
    except (OSError, ValueError, AttributeError):
        return False


def ensure_yolo_view(*, root: Path, report: DatasetReport, path_inside: str) -> Path:
    """The host path of the dataset's ``data.yaml``, the view built first if needed.

    Built once per dataset, into a temp folder renamed into place, under a lock
    on a file beside it, so that runs starting together build it once and no
    run ever sees half a view. ``path_inside`` is where runs see the view's
    folder; the yaml is rewritten (atomically) if that changes.
    """
    root = Path(root)
    view = root / VIEW_DIR
    with open(root / f"{VIEW_DIR}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        keys_file = view / ".keys.json"
        if not _is_current(view):
            tmp = root / f"{VIEW_DIR}.tmp-{uuid.uuid4().hex[:8]}"
            try:
                keys = write_yolo_view(root=root, report=report, dest=tmp)
                (tmp / keys_file.name).write_text(json.dumps(keys, ensure_ascii=False), encoding="utf-8")
                (tmp / _MARKER).write_text(json.dumps({"version": VIEW_VERSION}))
                if view.is_dir() and not view.is_symlink():
                    shutil.rmtree(view)  # an older version's view, or one a crash left without its marker
                elif view.exists() or view.is_symlink():
                    view.unlink()
                os.rename(tmp, view)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        keys = json.loads(keys_file.read_text(encoding="utf-8"))
        text = data_yaml_text(keys, path=path_inside)
        target = view / DATA_YAML
        with contextlib.suppress(FileNotFoundError):
            if target.read_text(encoding="utf-8") == text:
                return target
        part = view / f".{DATA_YAML}.part"
        part.write_text(text, encoding="utf-8")
        os.replace(part, target)
        return target
