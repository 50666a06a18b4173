"""Dataset previews, reading side: where an image's labels are (COCO index, meta lines, per-image
label files, masks) and those labels normalised to ``Obj`` in image pixels, whatever the format."""

from __future__ import annotations

import json
import logging
import os
import posixpath
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from shared.contract.datasets import (
    DatasetReport,
    SplitInfo,
)
from shared.records import TaskType

log = logging.getLogger(__name__)


@dataclass
class Obj:
    """One label, normalised across formats, in original image pixels."""

    name: str
    class_index: int | None
    box: tuple[float, float, float, float] | None = None      # x, y, w, h
    polygons: list[list[float]] = field(default_factory=list)  # flat [x1, y1, x2, y2, ...]
    rle: dict | None = None
    text: str | None = None


def locate(report: DatasetReport, rel: str) -> tuple[str, SplitInfo] | None:
    """The split an image belongs to: the one with the longest matching data folder."""
    best: tuple[str, SplitInfo] | None = None
    best_len = -1
    for name, info in report.splits.items():
        data = info.data
        if data == ".":
            n = 0
        elif rel.startswith(data.rstrip("/") + "/"):
            n = len(data)
        else:
            continue
        if n > best_len:
            best, best_len = (name, info), n
    return best


def inner_path(info: SplitInfo, rel: str) -> str:
    return rel if info.data == "." else rel[len(info.data.rstrip("/")) + 1:]


def mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@dataclass
class _CocoIndex:
    cats: dict[Any, str]
    by_file: dict[str, list[dict]]
    sizes: dict[str, tuple[int, int]]
    order: list[str]


@lru_cache(maxsize=4)
def coco_index(path: str, _mtime_ns: int) -> _CocoIndex:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        log.warning("preview: cannot read %s: %s", path, exc)
        return _CocoIndex({}, {}, {}, [])
    if not isinstance(data, dict):
        return _CocoIndex({}, {}, {}, [])
    cats = {c.get("id"): str(c.get("name")) for c in data.get("categories") or [] if isinstance(c, dict)}
    files: dict[Any, str] = {}
    sizes: dict[str, tuple[int, int]] = {}
    order: list[str] = []
    for im in data.get("images") or []:
        if isinstance(im, dict) and isinstance(im.get("file_name"), str):
            name = posixpath.normpath(im["file_name"].replace("\\", "/"))
            files[im.get("id")] = name
            order.append(name)
            if isinstance(im.get("width"), int | float) and isinstance(im.get("height"), int | float):
                sizes[name] = (int(im["width"]), int(im["height"]))
    by_file: dict[str, list[dict]] = {}
    for a in data.get("annotations") or []:
        if isinstance(a, dict):
            try:
                name = files.get(a.get("image_id"))
            except TypeError:  # an unhashable image_id
                continue
            if name is not None:
                by_file.setdefault(name, []).append(a)
    return _CocoIndex(cats, by_file, sizes, order)


@lru_cache(maxsize=8)
def meta_index(path: str, _mtime_ns: int, data: str, tab: bool) -> tuple[dict[str, str], list[str]]:
    """(image rel path -> label text, order) of a meta/{split}.txt file."""
    labels: dict[str, str] = {}
    order: list[str] = []
    try:
        lines = Path(path).read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except OSError as exc:
        log.warning("preview: cannot read %s: %s", path, exc)
        return labels, order
    for line in lines:
        if not line.strip():
            continue
        if tab:
            img, _, value = line.partition("\t")
        else:
            pieces = line.strip().rsplit(None, 1)
            if len(pieces) != 2:
                continue
            img, value = pieces
        rel = posixpath.normpath(posixpath.join(data, img.strip().replace("\\", "/")))
        labels[rel] = value.strip() if not tab else value
        order.append(rel)
    return labels, order


def _class_index(report: DatasetReport, name: str) -> int | None:
    try:
        return report.class_names.index(name)
    except ValueError:
        return None


def _coco_objects(root: Path, report: DatasetReport, info: SplitInfo, rel: str) -> list[Obj]:
    label = root / info.label
    index = coco_index(str(label), mtime(label))
    names_sorted = [index.cats[k] for k in sorted(index.cats, key=str)] if index.cats else []
    out: list[Obj] = []
    for a in index.by_file.get(inner_path(info, rel), []):
        try:
            name = index.cats.get(a.get("category_id"), "?")
        except TypeError:
            name = "?"
        idx = _class_index(report, name)
        if idx is None and name in names_sorted:
            idx = names_sorted.index(name)
        obj = Obj(name=name, class_index=idx)
        bbox = a.get("bbox")
        if isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, int | float) for v in bbox):
            obj.box = tuple(float(v) for v in bbox)
        seg = a.get("segmentation")
        if isinstance(seg, list):
            obj.polygons = [p for p in seg if isinstance(p, list) and all(isinstance(v, int | float) for v in p)]
        elif isinstance(seg, dict):
            obj.rle = seg
        out.append(obj)
    return out


def _label_file(root: Path, info: SplitInfo, rel: str, prefixes: tuple[str, ...]) -> Path | None:
    inner = inner_path(info, rel)
    d, name = posixpath.split(inner)
    stem = os.path.splitext(name)[0]
    for prefix in prefixes:
        cand = root / info.label / d / f"{prefix}{stem}.txt"
        if cand.is_file():
            return cand
    return None


def _read_label_lines(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        return path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except OSError:
        return []


def _num(s: str) -> float | None:
    try:
        v = float(s)
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def _text_objects(root: Path, info: SplitInfo, rel: str) -> list[Obj]:
    out = []
    for line in _read_label_lines(_label_file(root, info, rel, ("", "gt_"))):
        parts = line.strip().split(",", 8)
        if len(parts) < 9:
            continue
        coords = [_num(p) for p in parts[:8]]
        if any(v is None for v in coords):
            continue
        text = parts[8].strip()
        out.append(Obj(name="text", class_index=None if text == "###" else 0, polygons=[coords], text=text))
    return out


def _dota_objects(root: Path, report: DatasetReport, info: SplitInfo, rel: str) -> list[Obj]:
    out = []
    for line in _read_label_lines(_label_file(root, info, rel, ("",))):
        parts = line.split()
        if len(parts) < 9:
            continue
        coords = [_num(p) for p in parts[:8]]
        if any(v is None for v in coords):
            continue
        out.append(Obj(name=parts[8], class_index=_class_index(report, parts[8]), polygons=[coords]))
    return out


def single_label(root: Path, report: DatasetReport, info: SplitInfo, rel: str) -> str | None:
    """Class name (classification) or transcript (text recognition) of one image."""
    if report.task_type is TaskType.text_recognition or info.label:
        label = root / info.label
        labels, _ = meta_index(str(label), mtime(label), info.data,
                                report.task_type is TaskType.text_recognition)
        value = labels.get(posixpath.normpath(rel))
        if value is None or report.task_type is TaskType.text_recognition:
            return value
        try:
            return report.class_names[int(value)]
        except (ValueError, IndexError):
            return value
    inner = inner_path(info, rel)
    return inner.split("/", 1)[0] if "/" in inner else None


def objects(root: Path, report: DatasetReport, info: SplitInfo, rel: str) -> list[Obj]:
    tt = report.task_type
    if tt in (TaskType.detection, TaskType.instance_segmentation):
        return _coco_objects(root, report, info, rel)
    if tt is TaskType.text_detection:
        return _text_objects(root, info, rel)
    if tt is TaskType.rotated_detection:
        return _dota_objects(root, report, info, rel)
    return []


def mask_path(root: Path, info: SplitInfo, rel: str) -> Path:
    return root / info.label / (os.path.splitext(inner_path(info, rel))[0] + ".png")


def label_source(root: Path, report: DatasetReport, info: SplitInfo | None, rel: str) -> Path | None:
    """The file the labels of ``rel`` come from (its mtime keys the thumbnail cache)."""
    if info is None or not info.label:
        return None
    tt = report.task_type
    if tt is TaskType.semantic_segmentation:
        return mask_path(root, info, rel)
    if tt is TaskType.text_detection:
        return _label_file(root, info, rel, ("", "gt_"))
    if tt is TaskType.rotated_detection:
        return _label_file(root, info, rel, ("",))
    return root / info.label
