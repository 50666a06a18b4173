"""Dataset previews: pages of images with captions, and thumbnails with the
labels drawn on them (boxes, polygons, RLE and semantic masks, rotated boxes,
text boxes, transcripts, class names).

Previews read a dataset that ``validate_dataset`` accepted, but labels may
still be odd (a warning, a file changed on disk): rendering never fails
because of a label; it draws what it can. Only a path outside the dataset or
a missing image is an error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import tempfile
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image

from shared.contract.datasets import (
    DatasetReport,
    walk_images,
)
from shared.contract.datasets.preview_draw import banner, draw_objects, draw_semantic, fit, placeholder
from shared.contract.datasets.preview_labels import (
    coco_index,
    inner_path,
    label_source,
    locate,
    mask_path,
    meta_index,
    mtime,
    objects,
    single_label,
)
from shared.core.errors import NotFoundError
from shared.core.i18n import N_
from shared.records import TaskType

log = logging.getLogger(__name__)

_RENDER_VERSION = "1"  # bump when drawing changes, so cached thumbnails are redrawn


@dataclass
class PreviewItem:
    path: str     # relative to the dataset root
    caption: str


@lru_cache(maxsize=16)
def _walk_cached(path: str, _mtime_ns: int) -> tuple[str, ...]:
    return tuple(walk_images(Path(path)))


def _split_images(root: Path, report: DatasetReport, split: str) -> list[str]:
    if split == "all" and split not in report.splits:
        return [r for r in _walk_cached(str(root), mtime(root))]
    info = report.splits.get(split)
    if info is None:
        raise NotFoundError(N_("split {split!r} is not in this dataset (splits: {splits})"),
                            params={"split": split, "splits": ', '.join(report.splits) or 'none'})
    tt = report.task_type
    label = root / info.label if info.label else None
    if tt in (TaskType.detection, TaskType.instance_segmentation) and label is not None:
        prefix = "" if info.data == "." else info.data.rstrip("/") + "/"
        return [prefix + name for name in coco_index(str(label), mtime(label)).order]
    if label is not None and (tt is TaskType.text_recognition
                              or (tt is TaskType.classification and info.label)):
        return list(meta_index(str(label), mtime(label), info.data, tt is TaskType.text_recognition)[1])
    data = root / info.data
    prefix = "" if info.data == "." else info.data.rstrip("/") + "/"
    names = _walk_cached(str(data), mtime(data))
    if tt is TaskType.classification:
        names = tuple(n for n in names if "/" in n)  # loose files outside class folders are unused
    return [prefix + n for n in names]


def _counts_text(names: list[str]) -> str:
    counts = Counter(names)
    return ", ".join(f"{n} ×{c}" if c > 1 else n for n, c in counts.most_common(6)) + (
        ", ..." if len(counts) > 6 else "")


def _caption(root: Path, report: DatasetReport, rel: str) -> str:
    base = posixpath.basename(rel)
    located = locate(report, rel)
    if located is None:
        return rel
    info = located[1]
    tt = report.task_type
    try:
        if tt is TaskType.other:
            return inner_path(info, rel)
        if tt in (TaskType.classification, TaskType.text_recognition):
            value = single_label(root, report, info, rel)
            if value is None:
                return f"{base} · no label"
            return f"{base} · “{value}”" if tt is TaskType.text_recognition else f"{base} · {value}"
        if tt is TaskType.semantic_segmentation:
            return base if mask_path(root, info, rel).is_file() else f"{base} · no mask"
        objs = objects(root, report, info, rel)
        if not objs:
            return f"{base} · no labels"
        if tt is TaskType.text_detection:
            texts = [o.text or "" for o in objs]
            shown = ", ".join(texts[:4]) + (", ..." if len(texts) > 4 else "")
            return f"{base} · {len(objs)} text box{'es' if len(objs) != 1 else ''}: {shown}"
        return f"{base} · {_counts_text([o.name for o in objs])}"
    except Exception as exc:  # noqa: BLE001 - a caption must never break a page
        log.warning("preview: caption of %s failed: %s", rel, exc)
        return base


def preview_items(*, root: Path, report: DatasetReport, split: str, offset: int, limit: int) -> list[PreviewItem]:
    """One page of a split's images with captions (class, transcript, object counts)."""
    root = Path(root)
    offset, limit = max(0, offset), max(0, limit)
    samples = report.samples.get(split)
    if samples is not None and offset + limit <= len(samples):
        paths = samples[offset:offset + limit]
    else:
        paths = _split_images(root, report, split)[offset:offset + limit]
    return [PreviewItem(path=p, caption=_caption(root, report, p)) for p in paths]


def _render(root: Path, report: DatasetReport, rel: str, path: Path, max_size: int) -> Image.Image:
    fitted = fit(path, max_size)
    if fitted is None:
        return placeholder(max_size, f"cannot read {posixpath.basename(rel)}")
    im, sx, sy = fitted
    located = locate(report, rel)
    tt = report.task_type
    if located is None or tt is TaskType.other:
        return im
    info = located[1]
    try:
        if tt is TaskType.semantic_segmentation:
            mask = mask_path(root, info, rel)
            return draw_semantic(im, mask, report) if mask.is_file() else im
        if tt is TaskType.classification:
            name = single_label(root, report, info, rel)
            return banner(im, name, below=False) if name else im
        if tt is TaskType.text_recognition:
            text = single_label(root, report, info, rel)
            return banner(im, text if text is not None else "", below=True) if text is not None else im
        objs = objects(root, report, info, rel)
        return draw_objects(im, objs, sx, sy, fill_polygons=tt is not TaskType.detection)
    except Exception as exc:  # noqa: BLE001 - a bad label file leaves the plain thumbnail
        log.warning("preview: cannot draw the labels of %s: %s", rel, exc)
        return im


def _resolve(root: Path, rel_path: str) -> Path:
    norm = posixpath.normpath(rel_path.replace("\\", "/"))
    if not norm or norm.startswith(("/", "../")) or norm in ("..", "."):
        raise NotFoundError(N_("{rel_path!r} is not a path inside the dataset"), params={"rel_path": rel_path})
    path = root / norm
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        raise NotFoundError(N_("{rel_path!r} is not a path inside the dataset"),
                            params={"rel_path": rel_path}) from None
    if not path.is_file():
        raise NotFoundError(N_("image {rel_path} does not exist in the dataset"), params={"rel_path": rel_path})
    return path


def render_preview(*, root: Path, report: DatasetReport, rel_path: str, max_size: int = 384,
                   cache_dir: Path | None = None) -> Path | Image.Image:
    """The image scaled to ``max_size`` with its labels drawn on it.

    With ``cache_dir`` the JPEG is cached there (keyed by path, size, and the
    image's and label file's mtimes) and its path is returned; otherwise the
    PIL image. Raises NotFoundError for a path outside the dataset or missing.
    """
    root = Path(root)
    path = _resolve(root, rel_path)
    if cache_dir is None:
        return _render(root, report, rel_path, path, max_size)
    located = locate(report, rel_path)
    label = label_source(root, report, located[1] if located else None, rel_path)
    st = path.stat()
    key = "|".join((_RENDER_VERSION, str(root.resolve()), report.task_type.value, rel_path, str(max_size),
                    str(st.st_mtime_ns), str(st.st_size), str(mtime(label) if label else 0)))
    cache_dir = Path(cache_dir)
    out = cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.jpg"
    if out.is_file():
        return out
    cache_dir.mkdir(parents=True, exist_ok=True)
    im = _render(root, report, rel_path, path, max_size)
    # Write then rename, so a concurrent reader never sees half a JPEG.
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            im.save(fh, format="JPEG", quality=88)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


__all__ = ["PreviewItem", "preview_items", "render_preview"]
