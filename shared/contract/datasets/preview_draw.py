"""Dataset previews, drawing side: thumbnails with boxes, polygons, RLE and semantic masks, tags
and banners drawn on them. Drawing never fails because of a label; it draws what it can."""

from __future__ import annotations

import colorsys
import logging
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from shared.contract.datasets import (
    DatasetReport,
    rle_counts,
)
from shared.contract.datasets.preview_labels import Obj

log = logging.getLogger(__name__)

_BACKGROUND_NAMES = {"background", "bg", "_background_", "__background__", "unlabeled", "unlabelled"}
_OVERLAY_ALPHA = 0.45


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


def draw_objects(im: Image.Image, objs: list[Obj], sx: float, sy: float, *, fill_polygons: bool) -> Image.Image:
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


def draw_semantic(im: Image.Image, mask_path: Path, report: DatasetReport) -> Image.Image:
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


def banner(im: Image.Image, text: str, *, below: bool) -> Image.Image:
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


def placeholder(max_size: int, text: str) -> Image.Image:
    im = Image.new("RGB", (max_size, max(48, max_size // 2)), (230, 230, 230))
    draw = ImageDraw.Draw(im)
    font = _font(max(10, max_size // 28))
    draw.text((8, 8), text[:80], font=font, fill=(150, 0, 0))
    return im


def fit(path: Path, max_size: int) -> tuple[Image.Image, float, float] | None:
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
