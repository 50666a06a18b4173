"""Dataset previews: pages of images with captions, and thumbnails with the
labels drawn on them (boxes, polygons, RLE and semantic masks, rotated boxes,
text boxes, transcripts, class names).

Previews read a dataset that ``validate_dataset`` accepted, but labels may
still be odd (a warning, a file changed on disk): rendering never fails
because of a label; it draws what it can. Only a path outside the dataset or
a missing image is an error.
"""

from __future__ import annotations

import colorsys
import hashlib
import json
import logging
import os
import posixpath
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from shared.contract.datasets.formats import (
    DatasetReport,
    SplitInfo,
    rle_counts,
    walk_images,
)
from shared.core.errors import NotFoundError
from shared.records import TaskType

log = logging.getLogger(__name__)

_RENDER_VERSION = "1"  # bump when drawing changes, so cached thumbnails are redrawn
_BACKGROUND_NAMES = {"background", "bg", "_background_", "__background__", "unlabeled", "unlabelled"}
_OVERLAY_ALPHA = 0.45


@dataclass
class PreviewItem:
    path: str     # relative to the dataset root
    caption: str


@dataclass
class _Obj:
    """One label, normalised across formats, in original image pixels."""

    name: str
    class_index: int | None
    box: tuple[float, float, float, float] | None = None      # x, y, w, h
    polygons: list[list[float]] = field(default_factory=list)  # flat [x1, y1, x2, y2, ...]
    rle: dict | None = None
    text: str | None = None


# --------------------------------------------------------------------------- locating labels


def _locate(report: DatasetReport, rel: str) -> tuple[str, SplitInfo] | None:
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


def _inner(info: SplitInfo, rel: str) -> str:
    return rel if info.data == "." else rel[len(info.data.rstrip("/")) + 1:]


def _mtime(path: Path) -> int:
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
def _coco_index(path: str, _mtime_ns: int) -> _CocoIndex:
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
def _meta_index(path: str, _mtime_ns: int, data: str, tab: bool) -> tuple[dict[str, str], list[str]]:
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


def _coco_objects(root: Path, report: DatasetReport, info: SplitInfo, rel: str) -> list[_Obj]:
    label = root / info.label
    index = _coco_index(str(label), _mtime(label))
    names_sorted = [index.cats[k] for k in sorted(index.cats, key=str)] if index.cats else []
    out: list[_Obj] = []
    for a in index.by_file.get(_inner(info, rel), []):
        try:
            name = index.cats.get(a.get("category_id"), "?")
        except TypeError:
            name = "?"
        idx = _class_index(report, name)
        if idx is None and name in names_sorted:
            idx = names_sorted.index(name)
        obj = _Obj(name=name, class_index=idx)
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
    inner = _inner(info, rel)
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


def _text_objects(root: Path, info: SplitInfo, rel: str) -> list[_Obj]:
    out = []
    for line in _read_label_lines(_label_file(root, info, rel, ("", "gt_"))):
        parts = line.strip().split(",", 8)
        if len(parts) < 9:
            continue
        coords = [_num(p) for p in parts[:8]]
        if any(v is None for v in coords):
            continue
        text = parts[8].strip()
        out.append(_Obj(name="text", class_index=None if text == "###" else 0, polygons=[coords], text=text))
    return out


def _dota_objects(root: Path, report: DatasetReport, info: SplitInfo, rel: str) -> list[_Obj]:
    out = []
    for line in _read_label_lines(_label_file(root, info, rel, ("",))):
        parts = line.split()
        if len(parts) < 9:
            continue
        coords = [_num(p) for p in parts[:8]]
        if any(v is None for v in coords):
            continue
        out.append(_Obj(name=parts[8], class_index=_class_index(report, parts[8]), polygons=[coords]))
    return out


def _single_label(root: Path, report: DatasetReport, info: SplitInfo, rel: str) -> str | None:
    """Class name (classification) or transcript (text recognition) of one image."""
    if report.task_type is TaskType.text_recognition or info.label:
        label = root / info.label
        labels, _ = _meta_index(str(label), _mtime(label), info.data,
                                report.task_type is TaskType.text_recognition)
        value = labels.get(posixpath.normpath(rel))
        if value is None or report.task_type is TaskType.text_recognition:
            return value
        try:
            return report.class_names[int(value)]
        except (ValueError, IndexError):
            return value
    inner = _inner(info, rel)
    return inner.split("/", 1)[0] if "/" in inner else None


def _objects(root: Path, report: DatasetReport, info: SplitInfo, rel: str) -> list[_Obj]:
    tt = report.task_type
    if tt in (TaskType.detection, TaskType.instance_segmentation):
        return _coco_objects(root, report, info, rel)
    if tt is TaskType.text_detection:
        return _text_objects(root, info, rel)
    if tt is TaskType.rotated_detection:
        return _dota_objects(root, report, info, rel)
    return []


def _mask_path(root: Path, info: SplitInfo, rel: str) -> Path:
    return root / info.label / (os.path.splitext(_inner(info, rel))[0] + ".png")


def _label_source(root: Path, report: DatasetReport, info: SplitInfo | None, rel: str) -> Path | None:
    """The file the labels of ``rel`` come from (its mtime keys the thumbnail cache)."""
    if info is None or not info.label:
        return None
    tt = report.task_type
    if tt is TaskType.semantic_segmentation:
        return _mask_path(root, info, rel)
    if tt is TaskType.text_detection:
        return _label_file(root, info, rel, ("", "gt_"))
    if tt is TaskType.rotated_detection:
        return _label_file(root, info, rel, ("",))
    return root / info.label


# --------------------------------------------------------------------------- preview pages


@lru_cache(maxsize=16)
def _walk_cached(path: str, _mtime_ns: int) -> tuple[str, ...]:
    return tuple(walk_images(Path(path)))


def _split_images(root: Path, report: DatasetReport, split: str) -> list[str]:
    if split == "all" and split not in report.splits:
        return [r for r in _walk_cached(str(root), _mtime(root))]
    info = report.splits.get(split)
    if info is None:
        raise NotFoundError(f"split {split!r} is not in this dataset (splits: "
                            f"{', '.join(report.splits) or 'none'})")
    tt = report.task_type
    label = root / info.label if info.label else None
    if tt in (TaskType.detection, TaskType.instance_segmentation) and label is not None:
        prefix = "" if info.data == "." else info.data.rstrip("/") + "/"
        return [prefix + name for name in _coco_index(str(label), _mtime(label)).order]
    if label is not None and (tt is TaskType.text_recognition
                              or (tt is TaskType.classification and info.label)):
        return list(_meta_index(str(label), _mtime(label), info.data, tt is TaskType.text_recognition)[1])
    data = root / info.data
    prefix = "" if info.data == "." else info.data.rstrip("/") + "/"
    names = _walk_cached(str(data), _mtime(data))
    if tt is TaskType.classification:
        names = tuple(n for n in names if "/" in n)  # loose files outside class folders are unused
    return [prefix + n for n in names]


def _counts_text(names: list[str]) -> str:
    counts = Counter(names)
    return ", ".join(f"{n} ×{c}" if c > 1 else n for n, c in counts.most_common(6)) + (
        ", ..." if len(counts) > 6 else "")


def _caption(root: Path, report: DatasetReport, rel: str) -> str:
    base = posixpath.basename(rel)
    located = _locate(report, rel)
    if located is None:
        return rel
    info = located[1]
    tt = report.task_type
    try:
        if tt is TaskType.other:
            return _inner(info, rel)
        if tt in (TaskType.classification, TaskType.text_recognition):
            value = _single_label(root, report, info, rel)
            if value is None:
                return f"{base} · no label"
            return f"{base} · “{value}”" if tt is TaskType.text_recognition else f"{base} · {value}"
        if tt is TaskType.semantic_segmentation:
            return base if _mask_path(root, info, rel).is_file() else f"{base} · no mask"
        objs = _objects(root, report, info, rel)
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


# --------------------------------------------------------------------------- drawing


def _colour(index: int | None) -> tuple[int, int, int]:
    if index is None:
        return (160, 160, 160)
    # Golden-ratio hue steps keep neighbouring class indexes far apart in colour.
    h = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font only
        return ImageFont.load_default()


def _tag(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, colour: tuple[int, int, int],
         font: Any, bounds: tuple[int, int]) -> None:
    """A filled label box with text, kept inside the image."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = right - left + 4, bottom - top + 4
    x = min(max(0, xy[0]), max(0, bounds[0] - tw))
    y = xy[1] - th
    if y < 0:
        y = min(max(0, xy[1]), max(0, bounds[1] - th))
    draw.rectangle((x, y, x + tw, y + th), fill=colour)
    ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
    draw.text((x + 2 - left, y + 2 - top), text, font=font, fill=ink)


def _scaled(flat: list[float], sx: float, sy: float) -> list[tuple[float, float]]:
    return [(flat[i] * sx, flat[i + 1] * sy) for i in range(0, len(flat) - 1, 2)]


def _decode_rle(seg: dict) -> np.ndarray | None:
    """The mask of a COCO RLE, or None when it is malformed (checked before
    pycocotools sees it: its decoder overruns on counts that do not add up)."""
    from pycocotools import mask as mask_utils

    size = seg.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        return None
    h, w = size
    counts = seg.get("counts")
    try:
        runs = rle_counts(counts)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if sum(runs) != h * w:
        return None
    if isinstance(counts, list):
        rle = mask_utils.frPyObjects(seg, h, w)
    else:
        rle = {"size": [h, w], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    with warnings.catch_warnings():
        # pycocotools' decode trips numpy 2's __array__(copy=...) deprecation; harmless.
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(rle)


def _draw_objects(im: Image.Image, objs: list[_Obj], sx: float, sy: float, *, fill_polygons: bool) -> Image.Image:
    size = im.size
    width = max(1, round(max(size) / 160))
    font = _font(max(10, round(max(size) / 30)))
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    odraw = ImageDraw.Draw(overlay)
    tags: list[tuple[tuple[float, float], str, tuple[int, int, int]]] = []
    for obj in objs:
        colour = _colour(obj.class_index)
        try:
            if obj.rle is not None:
                mask = _decode_rle(obj.rle)
                if mask is not None:
                    m = Image.fromarray((mask > 0).astype(np.uint8) * 255, "L").resize(size, Image.Resampling.NEAREST)
                    overlay.paste((*colour, 110), mask=m)
            anchor: tuple[float, float] | None = None
            for flat in obj.polygons:
                pts = _scaled(flat, sx, sy)
                if len(pts) < 2:
                    continue
                if fill_polygons and len(pts) >= 3:
                    odraw.polygon(pts, fill=(*colour, 90))
                odraw.line([*pts, pts[0]], fill=(*colour, 255), width=width)
                top_left = min(pts, key=lambda p: (p[1], p[0]))
                anchor = anchor or top_left
            if obj.box is not None:
                x, y, w, h = obj.box
                rect = (x * sx, y * sy, (x + w) * sx, (y + h) * sy)
                odraw.rectangle((min(rect[0], rect[2]), min(rect[1], rect[3]),
                                 max(rect[0], rect[2]), max(rect[1], rect[3])),
                                outline=(*colour, 255), width=width)
                anchor = (rect[0], rect[1])
            if anchor is not None:
                text = obj.text if obj.text is not None else obj.name
                tags.append((anchor, text, colour))
        except Exception as exc:  # noqa: BLE001 - one bad label must not hide the others
            log.warning("preview: cannot draw a label: %s", exc)
    out = Image.alpha_composite(im.convert("RGBA"), overlay).convert("RGB")
    draw = ImageDraw.Draw(out)
    for anchor, text, colour in tags:
        try:
            _tag(draw, anchor, text[:40], colour, font, size)
        except Exception as exc:  # noqa: BLE001
            log.warning("preview: cannot draw a tag: %s", exc)
    return out


def _draw_semantic(im: Image.Image, mask_path: Path, report: DatasetReport) -> Image.Image:
    with Image.open(mask_path) as m:
        arr = np.asarray(m)
    if arr.ndim == 3:  # not a valid mask, but show its first channel rather than nothing
        arr = arr[..., 0]
    arr = arr.astype(np.int64)
    n = len(report.class_names)
    valid = (arr >= 0) & (arr < min(n, 255)) if n else (arr >= 0) & (arr < 255)
    if n and report.class_names[0].strip().lower() in _BACKGROUND_NAMES:
        valid &= arr != 0  # tinting every background pixel would hide the image
    idx = np.where(valid, arr, 255).astype(np.uint8)
    small = np.asarray(Image.fromarray(idx, "L").resize(im.size, Image.Resampling.NEAREST))
    palette = np.array([_colour(i) for i in range(256)], dtype=np.float32)
    base = np.asarray(im.convert("RGB")).astype(np.float32)
    sel = small != 255
    base[sel] = base[sel] * (1 - _OVERLAY_ALPHA) + palette[small[sel]] * _OVERLAY_ALPHA
    out = Image.fromarray(base.clip(0, 255).astype(np.uint8), "RGB")
    present = sorted(int(v) for v in np.unique(small[sel]))
    if present:
        draw = ImageDraw.Draw(out)
        font = _font(max(10, round(max(out.size) / 30)))
        y = 2
        for v in present[:12]:
            name = report.class_names[v] if v < n else str(v)
            left, top, right, bottom = draw.textbbox((0, 0), name, font=font)
            _tag(draw, (2, y + bottom - top + 4), name, _colour(v), font, out.size)
            y += bottom - top + 6
    return out


def _banner(im: Image.Image, text: str, *, below: bool) -> Image.Image:
    """The label as a strip: below the image (transcripts) or over its top (class names)."""
    font = _font(max(12, round(max(im.size) / 22)))
    probe = ImageDraw.Draw(im)
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    strip_h = bottom - top + 10
    if below:
        out = Image.new("RGB", (im.width, im.height + strip_h), (255, 255, 255))
        out.paste(im, (0, 0))
        draw = ImageDraw.Draw(out)
        draw.text(((im.width - (right - left)) / 2 - left, im.height + 5 - top), text, font=font, fill=(0, 0, 0))
        return out
    out = im.convert("RGBA")
    bar = Image.new("RGBA", out.size, (0, 0, 0, 0))
    ImageDraw.Draw(bar).rectangle((0, 0, out.width, strip_h), fill=(0, 0, 0, 150))
    out = Image.alpha_composite(out, bar).convert("RGB")
    ImageDraw.Draw(out).text((6 - left, 5 - top), text, font=font, fill=(255, 255, 255))
    return out


def _placeholder(max_size: int, text: str) -> Image.Image:
    im = Image.new("RGB", (max_size, max(48, max_size // 2)), (230, 230, 230))
    draw = ImageDraw.Draw(im)
    font = _font(max(10, max_size // 28))
    draw.text((8, 8), text[:80], font=font, fill=(150, 0, 0))
    return im


def _fit(path: Path, max_size: int) -> tuple[Image.Image, float, float] | None:
    """The image scaled so its longer side is ``max_size``, and the x/y scale factors."""
    try:
        with Image.open(path) as src:
            orig = src.size
            src.draft("RGB", (max_size, max_size))  # JPEG: decode at a reduced scale, much faster
            im = src.convert("RGB")
    except Exception as exc:  # noqa: BLE001 - an unreadable image becomes a placeholder
        log.warning("preview: cannot read %s: %s", path, exc)
        return None
    scale = max_size / max(orig)
    new = (max(1, round(orig[0] * scale)), max(1, round(orig[1] * scale)))
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
    im = im.resize(new, resample)
    return im, new[0] / orig[0], new[1] / orig[1]


def _render(root: Path, report: DatasetReport, rel: str, path: Path, max_size: int) -> Image.Image:
    fitted = _fit(path, max_size)
    if fitted is None:
        return _placeholder(max_size, f"cannot read {posixpath.basename(rel)}")
    im, sx, sy = fitted
    located = _locate(report, rel)
    tt = report.task_type
    if located is None or tt is TaskType.other:
        return im
    info = located[1]
    try:
        if tt is TaskType.semantic_segmentation:
            mask = _mask_path(root, info, rel)
            return _draw_semantic(im, mask, report) if mask.is_file() else im
        if tt is TaskType.classification:
            name = _single_label(root, report, info, rel)
            return _banner(im, name, below=False) if name else im
        if tt is TaskType.text_recognition:
            text = _single_label(root, report, info, rel)
            return _banner(im, text if text is not None else "", below=True) if text is not None else im
        objs = _objects(root, report, info, rel)
        return _draw_objects(im, objs, sx, sy, fill_polygons=tt is not TaskType.detection)
    except Exception as exc:  # noqa: BLE001 - a bad label file leaves the plain thumbnail
        log.warning("preview: cannot draw the labels of %s: %s", rel, exc)
        return im


def _resolve(root: Path, rel_path: str) -> Path:
    norm = posixpath.normpath(rel_path.replace("\\", "/"))
    if not norm or norm.startswith(("/", "../")) or norm in ("..", "."):
        raise NotFoundError(f"{rel_path!r} is not a path inside the dataset")
    path = root / norm
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        raise NotFoundError(f"{rel_path!r} is not a path inside the dataset") from None
    if not path.is_file():
        raise NotFoundError(f"image {rel_path} does not exist in the dataset")
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
    located = _locate(report, rel_path)
    label = _label_source(root, report, located[1] if located else None, rel_path)
    st = path.stat()
    key = "|".join((_RENDER_VERSION, str(root.resolve()), report.task_type.value, rel_path, str(max_size),
                    str(st.st_mtime_ns), str(st.st_size), str(_mtime(label) if label else 0)))
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
