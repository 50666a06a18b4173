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

import contextlib
import io
import json
import math
import os
import posixpath
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shared.contract.datasets.sniff import sniff_task_type
from shared.core.errors import DatasetFormatError
from shared.records import TASK_TYPE_LABELS, TaskType

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
SPLITS = ("train", "val", "test")

MAX_ERROR_DETAILS = 50
MAX_SIZE_SAMPLES = 2000
MAX_PREVIEW_SAMPLES = 200
# Coordinates may sit a pixel past the border (float rounding, inclusive
# pixel conventions); only boxes further out are reported.
_OUTSIDE_TOLERANCE = 1.0
_MASK_WORKERS = max(1, min(8, os.cpu_count() or 1))

# Platform flags of CONTRACT §2.3 that carry dataset values.
PLATFORM_FLAGS = (
    "--data", "--train-data", "--val-data", "--test-data",
    "--train-label", "--val-label", "--test-label",
    "--label-class", "--label-class-count",
)


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTS and not name.startswith("._")


def _is_junk(name: str) -> bool:
    # OS junk and hidden entries (macOS resource forks, .DS_Store, .git) are never data.
    return name.startswith(".") or name in ("__MACOSX", "Thumbs.db", "desktop.ini")


# --------------------------------------------------------------------------- records


@dataclass
class Issue:
    """One problem, located: ``file`` relative to the dataset root, ``where`` a
    line ("line 12") or JSON path ("annotations[3].category_id")."""

    file: str
    where: str | None
    message: str
    count: int = 1

    def __str__(self) -> str:
        head = self.file + (f" {self.where}" if self.where else "")
        text = f"{head}: {self.message}"
        if self.count > 1:
            text += f" (and {self.count - 1} more like it)"
        return text


@dataclass
class SplitInfo:
    name: str
    images: int
    data: str   # relative to the dataset root; "." is the root itself
    label: str  # relative to the dataset root; "" when the format has no label file/folder


@dataclass
class DatasetReport:
    task_type: TaskType
    splits: dict[str, SplitInfo]
    class_names: list[str]
    instances_per_class: dict[str, int]
    image_sizes: list[tuple[int, int]]
    warnings: list[Issue]
    images_total: int
    samples: dict[str, list[str]]
    # Which variant of the task type's format was found ("coco", "folders",
    # "meta", "masks", "icdar2015", "meta-tab", "dota", "files").
    layout: str = ""

    def class_map(self) -> dict[str, str]:
        return {str(i): name for i, name in enumerate(self.class_names)}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["task_type"] = self.task_type.value
        d["image_sizes"] = [list(s) for s in self.image_sizes]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DatasetReport:
        return cls(
            task_type=TaskType(d["task_type"]),
            splits={k: SplitInfo(**v) for k, v in d.get("splits", {}).items()},
            class_names=list(d.get("class_names", [])),
            instances_per_class={k: int(v) for k, v in d.get("instances_per_class", {}).items()},
            image_sizes=[(int(w), int(h)) for w, h in d.get("image_sizes", [])],
            warnings=[Issue(**w) for w in d.get("warnings", [])],
            images_total=int(d.get("images_total", 0)),
            samples={k: list(v) for k, v in d.get("samples", {}).items()},
            layout=d.get("layout", ""),
        )


# --------------------------------------------------------------------------- helpers


def _walk_files(base: Path, *, images_only: bool) -> list[str]:
    """Files under ``base`` as sorted posix paths relative to it, junk skipped."""
    out: list[str] = []
    if not base.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not _is_junk(d)]
        rel_dir = os.path.relpath(dirpath, base)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        for name in filenames:
            if _is_junk(name) or (images_only and not is_image_name(name)):
                continue
            out.append(prefix + name)
    out.sort()
    return out


def walk_images(base: Path) -> list[str]:
    """Image files under ``base``, sorted, relative posix paths (shared with previews)."""
    return _walk_files(base, images_only=True)


def _join(*parts: str) -> str:
    parts = tuple(p for p in parts if p and p != ".")
    return posixpath.join(*parts) if parts else "."


def _safe_rel(path: str) -> str | None:
    """Normalised relative posix path, or None if it is absolute or climbs out."""
    p = path.replace("\\", "/").strip()
    if not p or p.startswith("/") or (len(p) > 1 and p[1] == ":"):
        return None
    norm = posixpath.normpath(p)
    if norm == ".." or norm.startswith("../"):
        return None
    return norm


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _parse_num(s: str) -> float | None:
    try:
        f = float(s)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _fmt_ids(ids: Iterable[Any], limit: int = 20) -> str:
    ids = sorted(ids, key=lambda x: (str(type(x)), x))
    text = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in ids[:limit])
    if len(ids) > limit:
        text += f", ... ({len(ids)} in all)"
    return text or "none"


def _polygon_area(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    s = 0.0
    for i in range(n):
        j = (i + 1) % n
        s += xs[i] * ys[j] - xs[j] * ys[i]
    return abs(s) / 2.0


def rle_counts(counts: str | bytes | list) -> list[int]:
    """The run lengths of a COCO RLE, compressed (string) or not (list).

    pycocotools' C decoder writes past its buffer when the runs add up to more
    than height*width, so every RLE is checked with this pure-Python reading
    before it is handed to ``pycocotools.mask``. Raises ValueError when malformed.
    """
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise ValueError("counts must be non-negative integers")
        return counts
    s = counts.decode("ascii") if isinstance(counts, bytes) else counts
    if not isinstance(s, str):
        raise ValueError("counts must be a string or a list of integers")
    out: list[int] = []
    p = 0
    n = len(s)
    while p < n:
        x = 0
        k = 0
        more = True
        while more:
            if p >= n:
                raise ValueError("compressed counts end in the middle of a number")
            c = ord(s[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"invalid character {s[p]!r} in compressed counts")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        if x < 0:
            raise ValueError("compressed counts decode to a negative run")
        out.append(x)
    return out


def read_classes_file(path: Path) -> list[str]:
    """Class names, one per line; trailing blank lines ignored (shared with previews)."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return [ln.strip() for ln in lines]


# --------------------------------------------------------------------------- context


class _Ctx:
    """Collects issues and statistics while one validator walks the dataset."""

    def __init__(self, root: Path, task_type: TaskType, progress: Callable[[str], None] | None) -> None:
        self.root = root
        self.task_type = task_type
        self._progress = progress
        self.errors: list[Issue] = []
        self.error_count = 0
        self._warnings: dict[tuple[str, str], Issue] = {}
        self.splits: dict[str, SplitInfo] = {}
        self.class_names: list[str] = []
        self.instances: Counter[str] = Counter()
        self.sizes: list[tuple[int, int]] = []
        self.samples: dict[str, list[str]] = {}
        self.images_total = 0
        self.layout = ""

    # issues -------------------------------------------------------------
    def error(self, file: str, where: str | None, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERROR_DETAILS:
            self.errors.append(Issue(file, where, message))

    def warn(self, file: str, where: str | None, message: str, *, group: str | None = None,
             detail: str = "") -> None:
        """Warnings with the same ``message`` in the same ``group`` (default: the
        file) are one Issue with a count; the first one's place and detail are kept."""
        key = (group or file, message)
        existing = self._warnings.get(key)
        if existing is not None:
            existing.count += 1
        else:
            self._warnings[key] = Issue(file, where, message + detail)

    @property
    def warnings(self) -> list[Issue]:
        return list(self._warnings.values())

    def step(self, message: str) -> None:
        if self._progress is not None:
            self._progress(message)

    def missing_train(self, file: str, expected: str) -> None:
        names = sorted(
            (e.name + "/" if e.is_dir() else e.name) for e in self.root.iterdir() if not _is_junk(e.name)
        )
        if names:
            shown = ", ".join(names[:12]) + (f", ... ({len(names)} entries)" if len(names) > 12 else "")
            held = f"the dataset root holds: {shown}"
        else:
            held = "the dataset root is empty"
        self.error(file, None, f"the train split is missing: expected {expected}; {held}")

    # images -------------------------------------------------------------
    def probe(self, rel: str, *, group: str) -> tuple[int, int] | None:
        """Size of an existing image from its header; unreadable -> warning, None."""
        try:
            with Image.open(self.root / rel) as im:
                size = im.size
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "unreadable"
            self.warn(rel, None, "image cannot be read; it is kept but training code may fail on it",
                      group=group, detail=f" ({type(exc).__name__}: {exc})")
            return None
        self.sizes.append(size)
        return size

    def add_split(self, name: str, *, data: str, label: str, images: list[str]) -> None:
        self.splits[name] = SplitInfo(name=name, images=len(images), data=data, label=label)
        self.samples[name] = images[:MAX_PREVIEW_SAMPLES]
        self.images_total += len(images)

    # text files ---------------------------------------------------------
    def read_text(self, rel: str, *, what: str = "file") -> str | None:
        """The file as UTF-8 text, or None with the error recorded (file and line named)."""
        try:
            raw = (self.root / rel).read_bytes()
        except OSError as exc:
            self.error(rel, None, f"cannot be read: {exc}")
            return None
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.error(rel, f"line {line}", f"is not UTF-8 text; save the {what} as UTF-8")
            return None

    def read_lines(self, rel: str) -> list[str] | None:
        text = self.read_text(rel)
        return None if text is None else text.splitlines()

    def load_json(self, rel: str) -> Any | None:
        text = self.read_text(rel, what="JSON")
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            self.error(rel, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")
            return None

    def report(self) -> DatasetReport:
        sizes = self.sizes
        if len(sizes) > MAX_SIZE_SAMPLES:
            step = len(sizes) / MAX_SIZE_SAMPLES
            sizes = [sizes[int(i * step)] for i in range(MAX_SIZE_SAMPLES)]
        return DatasetReport(
            task_type=self.task_type,
            splits=self.splits,
            class_names=list(self.class_names),
            instances_per_class={name: int(self.instances.get(name, 0)) for name in self.class_names},
            image_sizes=list(sizes),
            warnings=self.warnings,
            images_total=self.images_total,
            samples=self.samples,
            layout=self.layout,
        )


def _outside(xs: Iterable[float], ys: Iterable[float], size: tuple[int, int] | None) -> bool:
    if size is None:
        return False
    w, h = size
    t = _OUTSIDE_TOLERANCE
    return any(x < -t or x > w + t for x in xs) or any(y < -t or y > h + t for y in ys)


# --------------------------------------------------------------------------- COCO


def _coco_hint(root: Path) -> str:
    ann_dir = root / "annotations"
    if not ann_dir.is_dir():
        return ""
    others = sorted(p.name for p in ann_dir.glob("*.json") if p.stem not in SPLITS)
    if not others:
        return ""
    return f" (annotations/ holds {', '.join(others[:5])}: name the files train.json, val.json, test.json)"


def _validate_coco(ctx: _Ctx, *, instance: bool) -> None:
    ctx.layout = "coco"
    root = ctx.root
    found = [s for s in SPLITS
             if (root / "annotations" / f"{s}.json").is_file() or (root / "images" / s).is_dir()]
    if "train" not in found:
        ctx.missing_train("annotations/train.json",
                          "annotations/train.json and images/train/" + _coco_hint(root))
    ref_cats: dict[int, str] | None = None
    ref_file = ""
    for split in found:
        ann_rel, img_rel = f"annotations/{split}.json", f"images/{split}"
        if not (root / ann_rel).is_file():
            ctx.error(img_rel + "/", None, f"has no annotation file: add {ann_rel}{_coco_hint(root)}")
            continue
        if not (root / img_rel).is_dir():
            ctx.error(ann_rel, None, f"its image folder {img_rel}/ is missing")
            continue
        ctx.step(f"Reading {ann_rel}")
        data = ctx.load_json(ann_rel)
        if data is None:
            continue
        cats = _coco_split(ctx, data, split=split, ann_rel=ann_rel, img_rel=img_rel, instance=instance)
        if cats is None:
            continue
        if ref_cats is None:
            ref_cats, ref_file = cats, ann_rel
            continue
        for i, (cid, name) in enumerate(cats.items()):
            if cid not in ref_cats:
                ctx.error(ann_rel, f"categories[{i}].id",
                          f"category id {cid} ({name!r}) is not a category of {ref_file}; "
                          "every split must use the train split's categories")
            elif ref_cats[cid] != name:
                ctx.error(ann_rel, f"categories[{i}].name",
                          f"category id {cid} is named {name!r} here but {ref_cats[cid]!r} in {ref_file}")
    if ref_cats:
        ctx.class_names = [ref_cats[k] for k in sorted(ref_cats)]
        for i, cid in enumerate(ref_cats):
            name = ref_cats[cid]
            if ctx.instances.get(name, 0) == 0:
                ctx.warn(ref_file, f"categories[{i}]", f"class {name!r} has no annotations in any split")


def _coco_split(ctx: _Ctx, data: Any, *, split: str, ann_rel: str, img_rel: str,
                instance: bool) -> dict[int, str] | None:
    """Check one COCO file; returns its categories (id -> name) or None when unusable."""
    errors_before = ctx.error_count
    if not isinstance(data, dict):
        ctx.error(ann_rel, None, "the top level must be a JSON object with images, annotations, categories")
        return None
    lists: dict[str, list] = {}
    for key in ("images", "annotations", "categories"):
        value = data.get(key)
        if value is None:
            ctx.error(ann_rel, key, f"missing: a COCO file needs the key {key!r} (a list)")
        elif not isinstance(value, list):
            ctx.error(ann_rel, key, f"must be a list, not {type(value).__name__}")
        else:
            lists[key] = value
    if len(lists) < 3:
        return None

    # categories ----------------------------------------------------------
    cats: dict[int, str] = {}
    names_seen: dict[str, int] = {}
    for i, c in enumerate(lists["categories"]):
        where = f"categories[{i}]"
        if not isinstance(c, dict):
            ctx.error(ann_rel, where, "must be an object with 'id' and 'name'")
            continue
        cid, name = c.get("id"), c.get("name")
        if not isinstance(cid, int) or isinstance(cid, bool):
            ctx.error(ann_rel, where + ".id", f"category id must be an integer, got {cid!r}")
            continue
        if not isinstance(name, str) or not name.strip():
            ctx.error(ann_rel, where + ".name", f"category name must be a non-empty string, got {name!r}")
            continue
        if cid in cats:
            ctx.error(ann_rel, where + ".id", f"category id {cid} is used twice")
            continue
        if name in names_seen:
            ctx.error(ann_rel, where + ".name",
                      f"category name {name!r} is used twice (also categories[{names_seen[name]}])")
            continue
        cats[cid] = name
        names_seen[name] = i
    if not cats and not ctx.error_count > errors_before:
        ctx.error(ann_rel, "categories", "is empty: list at least one category")

    # images --------------------------------------------------------------
    root = ctx.root
    images: dict[Any, tuple[int, str, tuple[int, int] | None]] = {}  # id -> (index, rel, size)
    broken_images: set[Any] = set()
    on_disk_listed: set[str] = set()
    ordered: list[str] = []
    n_images = len(lists["images"])
    for i, im in enumerate(lists["images"]):
        if i and i % 2000 == 0:
            ctx.step(f"{ann_rel}: checked {i}/{n_images} images")
        where = f"images[{i}]"
        if not isinstance(im, dict):
            ctx.error(ann_rel, where, "must be an object with 'id', 'file_name', 'width', 'height'")
            continue
        iid, fname = im.get("id"), im.get("file_name")
        if not isinstance(iid, int | str) or isinstance(iid, bool):
            ctx.error(ann_rel, where + ".id", f"image id must be an integer, got {iid!r}")
            continue
        if iid in images:
            ctx.error(ann_rel, where + ".id", f"image id {iid!r} is used twice (also images[{images[iid][0]}])")
            continue
        broken_images.add(iid)
        if not isinstance(fname, str):
            ctx.error(ann_rel, where + ".file_name", f"must be a string, got {fname!r}")
            continue
        rel = _safe_rel(fname)
        if rel is None:
            ctx.error(ann_rel, where + ".file_name",
                      f"{fname!r} must be a path relative to {img_rel}/ that stays inside it")
            continue
        full_rel = f"{img_rel}/{rel}"
        if not (root / full_rel).is_file():
            ctx.error(ann_rel, where + ".file_name", f"image {full_rel} not found (file names are "
                      f"relative to {img_rel}/)")
            continue
        on_disk_listed.add(rel)
        ordered.append(full_rel)
        actual = ctx.probe(full_rel, group=img_rel)
        jw, jh = im.get("width"), im.get("height")
        size = actual
        if jw is None or jh is None:
            ctx.warn(ann_rel, where, "width/height missing; the sizes read from the image files are used",
                     group=ann_rel)
        elif not (_is_num(jw) and _is_num(jh) and jw > 0 and jh > 0):
            ctx.error(ann_rel, where + ".width", f"width/height must be positive numbers, got {jw!r}, {jh!r}")
        else:
            size = (int(jw), int(jh))
            if actual is not None and actual != size:
                ctx.warn(ann_rel, where, "width/height differ from the image file's size", group=ann_rel,
                         detail=f" ({jw}x{jh} in the JSON, {actual[0]}x{actual[1]} in {full_rel})")
        broken_images.discard(iid)
        images[iid] = (i, full_rel, size)

    # annotations ---------------------------------------------------------
    ann_ids: dict[Any, int] = {}
    annotated: set[Any] = set()
    split_counts: Counter[str] = Counter()
    known = _fmt_ids(cats)
    for i, a in enumerate(lists["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(a, dict):
            ctx.error(ann_rel, where, "must be an object with id, image_id, category_id, bbox")
            continue
        aid = a.get("id")
        if aid is None or isinstance(aid, bool) or not isinstance(aid, int | str):
            ctx.error(ann_rel, where + ".id", f"annotation id must be an integer, got {aid!r}")
        elif aid in ann_ids:
            ctx.error(ann_rel, where + ".id",
                      f"annotation id {aid!r} is used twice (also annotations[{ann_ids[aid]}])")
        else:
            ann_ids[aid] = i
        iid = a.get("image_id")
        hashable = isinstance(iid, int | str) and not isinstance(iid, bool)
        img = images.get(iid) if hashable else None
        if img is None:
            # Annotations of an image whose own entry is already an error add nothing.
            if not hashable or iid not in broken_images:
                ctx.error(ann_rel, where + ".image_id", f"unknown image id {iid!r} (not in images)")
            continue
        cid = a.get("category_id")
        if not isinstance(cid, int) or isinstance(cid, bool) or cid not in cats:
            ctx.error(ann_rel, where + ".category_id", f"unknown category id {cid!r} (known: {known})")
            continue
        size = img[2]
        bbox = a.get("bbox")
        if bbox is None:
            ctx.error(ann_rel, where + ".bbox", "missing: every annotation needs bbox [x, y, w, h]")
            continue
        if not isinstance(bbox, list) or len(bbox) != 4:
            ctx.error(ann_rel, where + ".bbox", f"must be [x, y, w, h] (4 numbers), got {json.dumps(bbox)[:80]}")
            continue
        bad = next((k for k, v in enumerate(bbox) if not _is_num(v)), None)
        if bad is not None:
            ctx.error(ann_rel, f"{where}.bbox[{bad}]", f"non-numeric coordinate {bbox[bad]!r}")
            continue
        x, y, w, h = bbox
        if w <= 0 or h <= 0:
            ctx.warn(ann_rel, where + ".bbox", "degenerate box (width or height <= 0)",
                     detail=f": {bbox}")
        elif _outside((x, x + w), (y, y + h), size):
            ctx.warn(ann_rel, where + ".bbox", "box extends outside its image",
                     detail=f": {bbox} in a {size[0]}x{size[1]} image" if size else "")
        if instance and not _coco_segmentation(ctx, a.get("segmentation"), ann_rel=ann_rel,
                                               where=where + ".segmentation", size=size):
            continue
        annotated.add(iid)
        split_counts[cats[cid]] += 1

    # images without labels / files nobody lists ---------------------------
    for iid, (i, _rel, _size) in images.items():
        if iid not in annotated:
            ctx.warn(ann_rel, f"images[{i}]", "image has no annotations")
    for rel in walk_images(root / img_rel):
        if rel not in on_disk_listed:
            ctx.warn(f"{img_rel}/{rel}", None, f"image is not listed in {ann_rel}; it is not used",
                     group=img_rel)

    if ctx.error_count == errors_before:
        # The file is also indexed by pycocotools, as the user's training code will do.
        try:
            from pycocotools.coco import COCO

            coco = COCO()
            coco.dataset = data
            with contextlib.redirect_stdout(io.StringIO()):
                coco.createIndex()
        except Exception as exc:  # noqa: BLE001 - any failure here is the file's fault
            ctx.error(ann_rel, None, f"pycocotools cannot index this file: {type(exc).__name__}: {exc}")
    ctx.instances.update(split_counts)
    ctx.add_split(split, data=img_rel, label=ann_rel, images=ordered)
    return cats


def _coco_segmentation(ctx: _Ctx, seg: Any, *, ann_rel: str, where: str,
                       size: tuple[int, int] | None) -> bool:
    """Check an instance mask (polygons or RLE); False when it is an error."""
    if seg is None:
        ctx.error(ann_rel, where, "missing: instance segmentation needs polygons or an RLE mask")
        return False
    if isinstance(seg, list):
        if not seg:
            ctx.warn(ann_rel, where, "empty segmentation (no polygon)")
            return True
        ok = True
        for j, poly in enumerate(seg):
            pw = f"{where}[{j}]"
            if not isinstance(poly, list):
                ctx.error(ann_rel, pw, "a polygon must be a list [x1, y1, x2, y2, ...]")
                ok = False
                continue
            bad = next((k for k, v in enumerate(poly) if not _is_num(v)), None)
            if bad is not None:
                ctx.error(ann_rel, f"{pw}[{bad}]", f"non-numeric coordinate {poly[bad]!r}")
                ok = False
                continue
            if len(poly) % 2:
                ctx.error(ann_rel, pw, f"a polygon needs x, y pairs; it has {len(poly)} numbers")
                ok = False
                continue
            xs, ys = poly[0::2], poly[1::2]
            if len(poly) < 6 or _polygon_area(xs, ys) <= 0:
                ctx.warn(ann_rel, pw, "degenerate polygon (fewer than 3 points or zero area)")
            elif _outside(xs, ys, size):
                ctx.warn(ann_rel, pw, "polygon extends outside its image")
        return ok
    if isinstance(seg, dict):
        rle_size, counts = seg.get("size"), seg.get("counts")
        if (not isinstance(rle_size, list) or len(rle_size) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in rle_size)):
            ctx.error(ann_rel, where + ".size", f"RLE size must be [height, width], got {rle_size!r}")
            return False
        h, w = rle_size
        if size is not None and (w, h) != tuple(size):
            ctx.error(ann_rel, where + ".size",
                      f"RLE size [{h}, {w}] does not match its {size[0]}x{size[1]} image ([height, width])")
            return False
        try:
            runs = rle_counts(counts)
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            ctx.error(ann_rel, where + ".counts", f"invalid RLE counts: {exc}")
            return False
        if sum(runs) != h * w:
            ctx.error(ann_rel, where + ".counts",
                      f"RLE runs cover {sum(runs)} pixels but size [{h}, {w}] has {h * w}")
            return False
        if sum(runs[1::2]) == 0:
            ctx.warn(ann_rel, where, "empty RLE mask (no foreground pixel)")
        return True
    ctx.error(ann_rel, where, f"must be a list of polygons or an RLE object, got {type(seg).__name__}")
    return False


# --------------------------------------------------------------------------- classification


def _validate_classification(ctx: _Ctx) -> None:
    root = ctx.root
    if (root / "meta" / "train.txt").is_file() or (root / "meta" / "classes.txt").is_file():
        _classification_meta(ctx)
    elif (root / "train").is_dir():
        _classification_folders(ctx)
    else:
        ctx.missing_train("train/", "train/<class_name>/*.jpg (sub-folder format) or "
                          "meta/train.txt + meta/classes.txt (annotation-file format)")


def _classification_folders(ctx: _Ctx) -> None:
    ctx.layout = "folders"
    root = ctx.root
    classes = sorted(e.name for e in (root / "train").iterdir() if e.is_dir() and not _is_junk(e.name))
    if not classes:
        ctx.error("train/", None, "has no class sub-folders: put the images in train/<class_name>/")
    ctx.class_names = classes
    known = set(classes)
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            continue
        ctx.step(f"Scanning {split}/")
        images: list[str] = []
        for entry in sorted(split_dir.iterdir(), key=lambda e: e.name):
            if _is_junk(entry.name):
                continue
            rel = f"{split}/{entry.name}"
            if entry.is_file():
                if is_image_name(entry.name):
                    ctx.warn(rel, None, "image is not inside a class folder; it is not used", group=split)
                continue
            if entry.name not in known:
                if classes:
                    ctx.error(rel + "/", None, f"class {entry.name!r} is not a class of train/ "
                              f"(train classes: {', '.join(classes[:20])})")
                continue
            for name in walk_images(entry):
                img_rel = f"{rel}/{name}"
                ctx.probe(img_rel, group=split)
                images.append(img_rel)
                ctx.instances[entry.name] += 1
        ctx.add_split(split, data=split, label="", images=images)
    for name in classes:
        if ctx.instances.get(name, 0) == 0:
            ctx.warn(f"train/{name}/", None, f"class {name!r} has no images")


def _resolve_listed(ctx: _Ctx, path: str, bases: list[str]) -> tuple[str, str] | None:
    """(base, rel under root) of the first base the listed path exists under."""
    for base in bases:
        rel = _join(base, path)
        if (ctx.root / rel).is_file():
            return base, rel
    return None


def _classification_meta(ctx: _Ctx) -> None:
    ctx.layout = "meta"
    root = ctx.root
    classes_rel = "meta/classes.txt"
    classes: list[str] | None = None
    if not (root / classes_rel).is_file():
        ctx.error(classes_rel, None, "missing: list the class names there, one per line "
                  "(line 1 = class index 0)")
    else:
        lines = ctx.read_lines(classes_rel)
        if lines is not None:
            while lines and not lines[-1].strip():
                lines.pop()
            classes = []
            seen: dict[str, int] = {}
            for n, raw in enumerate(lines, 1):
                name = raw.strip()
                if not name:
                    ctx.error(classes_rel, f"line {n}", "empty class name (class indexes follow line numbers, "
                              "so blank lines are not allowed)")
                elif name in seen:
                    ctx.error(classes_rel, f"line {n}", f"class {name!r} is listed twice (also line {seen[name]})")
                else:
                    seen[name] = n
                classes.append(name)
            if not classes:
                ctx.error(classes_rel, None, "is empty: list the class names, one per line")
            ctx.class_names = classes
    if not (root / "meta" / "train.txt").is_file():
        ctx.missing_train("meta/train.txt", "meta/train.txt with lines 'relative/path.jpg <class_index>'")
    for split in SPLITS:
        ann_rel = f"meta/{split}.txt"
        if not (root / ann_rel).is_file():
            continue
        ctx.step(f"Reading {ann_rel}")
        lines = ctx.read_lines(ann_rel)
        if lines is None:
            continue
        bases = [split, "."] if (root / split).is_dir() else ["."]
        chosen: str | None = None
        listed: set[str] = set()
        images: list[str] = []
        for n, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line:
                continue
            where = f"line {n}"
            parts = line.split()
            spaced = line.rsplit(None, 1)
            if len(parts) == 2:
                path, idx_text = parts
            elif len(parts) > 2 and _resolve_listed(ctx, spaced[0], bases) is not None:
                # A path with spaces is fine as long as it exists.
                path, idx_text = spaced
            else:
                ctx.error(ann_rel, where, f"expected 2 fields 'relative/path.jpg <class_index>', "
                          f"got {len(parts)}: {line[:80]!r}")
                continue
            try:
                idx = int(idx_text)
            except ValueError:
                ctx.error(ann_rel, where, f"class index {idx_text!r} is not an integer")
                continue
            if classes is not None and not 0 <= idx < len(classes):
                ctx.error(ann_rel, where, f"class index {idx} out of range: {classes_rel} has "
                          f"{len(classes)} classes (0..{len(classes) - 1})")
                continue
            rel_path = _safe_rel(path)
            if rel_path is None:
                ctx.error(ann_rel, where, f"path {path!r} must be relative and stay inside the dataset")
                continue
            found = _resolve_listed(ctx, rel_path, [chosen] if chosen else bases)
            if found is None:
                hint = f"relative to {chosen}/" if chosen and chosen != "." else "relative to " + (
                    f"{split}/ or the dataset root" if len(bases) > 1 else "the dataset root")
                ctx.error(ann_rel, where, f"image {path!r} not found (paths are {hint})")
                continue
            chosen, full_rel = found
            ctx.probe(full_rel, group=ann_rel)
            listed.add(full_rel)
            images.append(full_rel)
            if classes is not None:
                ctx.instances[classes[idx]] += 1
        data = chosen or bases[0]
        if data != ".":
            for name in walk_images(root / data):
                rel = f"{data}/{name}"
                if rel not in listed:
                    ctx.warn(rel, None, f"image is not listed in {ann_rel}; it is not used", group=ann_rel)
        ctx.add_split(split, data=data, label=ann_rel, images=images)
    for i, name in enumerate(ctx.class_names):
        if name and ctx.instances.get(name, 0) == 0:
            ctx.warn(classes_rel, f"line {i + 1}", f"class {name!r} has no images in any split")


# --------------------------------------------------------------------------- per-image label files


def _pair_labels(ctx: _Ctx, *, img_rel: str, lab_rel: str, label_exts: tuple[str, ...],
                 prefixes: tuple[str, ...] = ("",), what: str) -> list[tuple[str, str | None]]:
    """Pair images/<split>/NAME.* with <lab_rel>/NAME<ext>; orphan labels are errors.

    Returns (image rel, label rel or None) in sorted image order.
    """
    root = ctx.root
    labels: dict[str, str] = {}
    label_files = [f for f in _walk_files(root / lab_rel, images_only=False)
                   if os.path.splitext(f)[1].lower() in label_exts]
    for f in label_files:
        d, name = posixpath.split(f)
        stem = os.path.splitext(name)[0]
        for prefix in prefixes:
            if prefix and not stem.startswith(prefix):
                continue
            labels.setdefault(_join(d, stem[len(prefix):]), f)
    used: set[str] = set()
    pairs: list[tuple[str, str | None]] = []
    for img in walk_images(root / img_rel):
        key = os.path.splitext(img)[0]
        lab = labels.get(key)
        if lab is not None:
            used.add(lab)
        pairs.append((f"{img_rel}/{img}", f"{lab_rel}/{lab}" if lab else None))
    for f in label_files:
        if f not in used:
            ctx.error(f"{lab_rel}/{f}", None, f"{what} has no image: expected {img_rel}/"
                      f"{os.path.splitext(f)[0]}.<jpg|png|...> with the same name")
    return pairs


def _split_dirs(ctx: _Ctx, *, lab_root: str, expected: str, train_file: str) -> list[str]:
    root = ctx.root
    found = [s for s in SPLITS if (root / "images" / s).is_dir() or (root / lab_root / s).is_dir()]
    if "train" not in found:
        ctx.missing_train(train_file, expected)
    out = []
    for split in found:
        if not (root / "images" / split).is_dir():
            ctx.error(f"{lab_root}/{split}/", None, f"has no image folder: add images/{split}/")
            continue
        out.append(split)
    return out


# --------------------------------------------------------------------------- semantic segmentation


_MASK_MODES = ("L", "P", "1", "I", "I;16", "I;16L", "I;16B")


def _read_mask(path: Path) -> tuple[tuple[int, int], np.ndarray] | str:
    """(size, present pixel values) of a mask, or an error message."""
    try:
        with Image.open(path) as im:
            if im.mode not in _MASK_MODES:
                return (f"mask must be a single-channel PNG (PIL mode L or P: pixel value = class index), "
                        f"got mode {im.mode}")
            arr = np.asarray(im)
            size = im.size
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the mask is unreadable
        return f"mask cannot be read: {type(exc).__name__}: {exc}"
    if arr.dtype == np.bool_ or arr.dtype == np.uint8:
        present = np.flatnonzero(np.bincount(arr.ravel().astype(np.uint8), minlength=256))
    else:
        present = np.unique(arr)
    return size, present


def _validate_semantic(ctx: _Ctx) -> None:
    ctx.layout = "masks"
    root = ctx.root
    classes: list[str] | None = None
    if not (root / "classes.txt").is_file():
        ctx.error("classes.txt", None, "missing: list the class names there, one per line "
                  "(line 1 = pixel value 0)")
    else:
        try:
            classes = read_classes_file(root / "classes.txt")
        except (OSError, UnicodeDecodeError) as exc:
            ctx.error("classes.txt", None, f"cannot be read as UTF-8 text: {exc}")
        else:
            seen: dict[str, int] = {}
            for n, name in enumerate(classes, 1):
                if not name:
                    ctx.error("classes.txt", f"line {n}", "empty class name (the line number is the pixel "
                              "value, so blank lines are not allowed)")
                elif name in seen:
                    ctx.error("classes.txt", f"line {n}", f"class {name!r} is listed twice (also line {seen[name]})")
                else:
                    seen[name] = n
            if not classes:
                ctx.error("classes.txt", None, "is empty: list the class names, one per line")
            ctx.class_names = classes
    splits = _split_dirs(ctx, lab_root="masks", train_file="masks/train/",
                         expected="images/train/NAME.jpg + masks/train/NAME.png")
    n_classes = len(classes) if classes is not None else None
    for split in splits:
        img_rel, mask_rel = f"images/{split}", f"masks/{split}"
        ctx.step(f"Pairing {img_rel}/ with {mask_rel}/")
        for f in _walk_files(root / mask_rel, images_only=True):
            if not f.lower().endswith(".png"):
                ctx.error(f"{mask_rel}/{f}", None, "masks must be PNG files (JPEG compression changes "
                          "pixel values, i.e. the labels)")
        pairs = _pair_labels(ctx, img_rel=img_rel, lab_rel=mask_rel, label_exts=(".png",), what="mask")
        labelled = [(img, mask) for img, mask in pairs if mask is not None]
        for img, mask in pairs:
            if mask is None:
                ctx.warn(img, None, f"image has no mask in {mask_rel}/", group=img_rel)
        with ThreadPoolExecutor(max_workers=_MASK_WORKERS) as pool:
            results = pool.map(lambda p: _read_mask(root / p[1]), labelled)
            for k, ((img, mask), res) in enumerate(zip(labelled, results, strict=True)):
                if k and k % 500 == 0:
                    ctx.step(f"{mask_rel}: checked {k}/{len(labelled)} masks")
                size = ctx.probe(img, group=img_rel)
                if isinstance(res, str):
                    ctx.error(mask, None, res)
                    continue
                msize, present = res
                if size is not None and msize != size:
                    ctx.error(mask, None, f"mask is {msize[0]}x{msize[1]} but its image {img} is "
                              f"{size[0]}x{size[1]}; a mask must have its image's size")
                if n_classes is not None:
                    bad = [int(v) for v in present if v != 255 and not 0 <= v < n_classes]
                    if bad:
                        ctx.error(mask, None, f"pixel values {bad[:10]} are not classes: classes.txt has "
                                  f"{n_classes} classes (0..{n_classes - 1}) and 255 means ignore")
                        continue
                    for v in present:
                        if v != 255:
                            ctx.instances[classes[int(v)]] += 1
        for img, mask in pairs:
            if mask is None:
                ctx.probe(img, group=img_rel)
        ctx.add_split(split, data=img_rel, label=mask_rel, images=[img for img, _ in pairs])
    for i, name in enumerate(ctx.class_names):
        if name and ctx.instances.get(name, 0) == 0:
            ctx.warn("classes.txt", f"line {i + 1}", f"class {name!r} appears in no mask")


# --------------------------------------------------------------------------- text detection


def _validate_text_detection(ctx: _Ctx) -> None:
    ctx.layout = "icdar2015"
    ctx.class_names = ["text"]
    splits = _split_dirs(ctx, lab_root="labels", train_file="labels/train/",
                         expected="images/train/NAME.jpg + labels/train/NAME.txt")
    for split in splits:
        img_rel, lab_rel = f"images/{split}", f"labels/{split}"
        ctx.step(f"Checking {lab_rel}/")
        # gt_NAME.txt is how the ICDAR-2015 download names its label files.
        pairs = _pair_labels(ctx, img_rel=img_rel, lab_rel=lab_rel, label_exts=(".txt",),
                             prefixes=("", "gt_"), what="label file")
        for img, lab in pairs:
            size = ctx.probe(img, group=img_rel)
            if lab is None:
                ctx.warn(img, None, f"image has no label file in {lab_rel}/", group=img_rel)
                continue
            lines = ctx.read_lines(lab)
            if lines is None:
                continue
            for n, raw in enumerate(lines, 1):
                line = raw.strip()
                if not line:
                    continue
                where = f"line {n}"
                parts = line.split(",", 8)
                if len(parts) < 9:
                    ctx.error(lab, where, f"expected 9 fields 'x1,y1,x2,y2,x3,y3,x4,y4,transcript', "
                              f"got {len(parts)}: {line[:80]!r}")
                    continue
                coords = [_parse_num(p) for p in parts[:8]]
                bad = next((k for k, v in enumerate(coords) if v is None), None)
                if bad is not None:
                    ctx.error(lab, where, f"non-numeric coordinate {parts[bad].strip()!r} (field {bad + 1})")
                    continue
                xs, ys = coords[0::2], coords[1::2]
                if _polygon_area(xs, ys) < 1:
                    ctx.warn(lab, where, "degenerate text box (zero area)", group=lab_rel)
                elif _outside(xs, ys, size):
                    ctx.warn(lab, where, "text box extends outside its image", group=lab_rel,
                             detail=f" ({size[0]}x{size[1]})" if size else "")
                if parts[8].strip() != "###":
                    ctx.instances["text"] += 1
        ctx.add_split(split, data=img_rel, label=lab_rel, images=[img for img, _ in pairs])


# --------------------------------------------------------------------------- rotated detection (DOTA)


def _validate_rotated(ctx: _Ctx) -> None:
    ctx.layout = "dota"
    root = ctx.root
    fixed: list[str] | None = None
    if (root / "classes.txt").is_file():
        try:
            fixed = [c for c in read_classes_file(root / "classes.txt") if c]
        except (OSError, UnicodeDecodeError) as exc:
            ctx.error("classes.txt", None, f"cannot be read as UTF-8 text: {exc}")
    known = set(fixed or ())
    splits = _split_dirs(ctx, lab_root="labels", train_file="labels/train/",
                         expected="images/train/NAME.png + labels/train/NAME.txt")
    for split in splits:
        img_rel, lab_rel = f"images/{split}", f"labels/{split}"
        ctx.step(f"Checking {lab_rel}/")
        pairs = _pair_labels(ctx, img_rel=img_rel, lab_rel=lab_rel, label_exts=(".txt",), what="label file")
        for img, lab in pairs:
            size = ctx.probe(img, group=img_rel)
            if lab is None:
                ctx.warn(img, None, f"image has no label file in {lab_rel}/", group=img_rel)
                continue
            lines = ctx.read_lines(lab)
            if lines is None:
                continue
            for n, raw in enumerate(lines, 1):
                line = raw.strip()
                # DOTA v1.0 files start with 'imagesource:...' and 'gsd:...' lines.
                if not line or line.startswith(("imagesource:", "gsd:")):
                    continue
                where = f"line {n}"
                parts = line.split()
                if len(parts) != 10:
                    ctx.error(lab, where, "expected 10 fields 'x1 y1 x2 y2 x3 y3 x4 y4 class_name difficult', "
                              f"got {len(parts)}: {line[:80]!r}")
                    continue
                coords = [_parse_num(p) for p in parts[:8]]
                bad = next((k for k, v in enumerate(coords) if v is None), None)
                if bad is not None:
                    ctx.error(lab, where, f"non-numeric coordinate {parts[bad]!r} (field {bad + 1})")
                    continue
                if parts[9] not in ("0", "1"):
                    ctx.error(lab, where, f"difficult flag must be 0 or 1, got {parts[9]!r}")
                    continue
                name = parts[8]
                if fixed is not None and name not in known:
                    ctx.error(lab, where, f"unknown class {name!r} (classes.txt: {', '.join(fixed[:20])})")
                    continue
                xs, ys = coords[0::2], coords[1::2]
                if _polygon_area(xs, ys) < 1:
                    ctx.warn(lab, where, "degenerate box (zero area)", group=lab_rel)
                elif _outside(xs, ys, size):
                    ctx.warn(lab, where, "box extends outside its image", group=lab_rel,
                             detail=f" ({size[0]}x{size[1]})" if size else "")
                ctx.instances[name] += 1
        ctx.add_split(split, data=img_rel, label=lab_rel, images=[img for img, _ in pairs])
    ctx.class_names = fixed if fixed is not None else sorted(ctx.instances)
    if fixed is not None:
        for i, name in enumerate(fixed):
            if ctx.instances.get(name, 0) == 0:
                ctx.warn("classes.txt", f"line {i + 1}", f"class {name!r} has no boxes in any split")


# --------------------------------------------------------------------------- text recognition


def _validate_text_recognition(ctx: _Ctx) -> None:
    ctx.layout = "meta-tab"
    root = ctx.root
    found = [s for s in SPLITS if (root / "meta" / f"{s}.txt").is_file() or (root / "images" / s).is_dir()]
    if "train" not in found:
        ctx.missing_train("meta/train.txt", "meta/train.txt with lines 'relative/path.jpg<TAB>transcript' "
                          "and the images under images/train/")
    chars: Counter[str] = Counter()
    for split in found:
        ann_rel, img_rel = f"meta/{split}.txt", f"images/{split}"
        if not (root / ann_rel).is_file():
            ctx.error(img_rel + "/", None, f"has no label file: add {ann_rel}")
            continue
        ctx.step(f"Reading {ann_rel}")
        lines = ctx.read_lines(ann_rel)
        if lines is None:
            continue
        bases = [img_rel, "."] if (root / img_rel).is_dir() else ["."]
        chosen: str | None = None
        listed: set[str] = set()
        images: list[str] = []
        for n, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            where = f"line {n}"
            parts = raw.split("\t")
            if len(parts) != 2:
                hint = " (separate the path and the transcript with one TAB, not spaces)" if len(parts) == 1 else ""
                ctx.error(ann_rel, where, f"expected 2 TAB-separated fields 'relative/path.jpg<TAB>transcript', "
                          f"got {len(parts)}{hint}: {raw[:80]!r}")
                continue
            path, text = parts[0].strip(), parts[1]
            rel_path = _safe_rel(path)
            if rel_path is None:
                ctx.error(ann_rel, where, f"path {path!r} must be relative and stay inside the dataset")
                continue
            found_at = _resolve_listed(ctx, rel_path, [chosen] if chosen else bases)
            if found_at is None:
                hint = f"{chosen}/" if chosen and chosen != "." else (
                    f"{img_rel}/ or the dataset root" if len(bases) > 1 else "the dataset root")
                ctx.error(ann_rel, where, f"image {path!r} not found (paths are relative to {hint})")
                continue
            chosen, full_rel = found_at
            ctx.probe(full_rel, group=ann_rel)
            if not text.strip():
                ctx.warn(ann_rel, where, "empty transcript")
            chars.update(text)
            listed.add(full_rel)
            images.append(full_rel)
        data = chosen or bases[0]
        if data != ".":
            for name in walk_images(root / data):
                rel = f"{data}/{name}"
                if rel not in listed:
                    ctx.warn(rel, None, f"image is not listed in {ann_rel}; it is not used", group=ann_rel)
        ctx.add_split(split, data=data, label=ann_rel, images=images)
    # The "classes" of a recognition dataset are its characters: that is the
    # dictionary a CTC/attention head needs (--label-class, --label-class-count).
    ctx.class_names = sorted(chars)
    ctx.instances = chars


# --------------------------------------------------------------------------- other


_OTHER_LABEL_CANDIDATES = ("labels/{s}", "annotations/{s}.json", "masks/{s}", "meta/{s}.txt")


def _validate_other(ctx: _Ctx) -> None:
    ctx.layout = "files"
    root = ctx.root
    ctx.step("Indexing images")
    all_images = walk_images(root)
    if not all_images:
        ctx.error("(dataset root)", None, "no image files found; images must be "
                  f"{', '.join(sorted(e.lstrip('.') for e in IMAGE_EXTS))} (any letter case)")
        return
    for k, rel in enumerate(all_images):
        if k and k % 5000 == 0:
            ctx.step(f"Checked {k}/{len(all_images)} images")
        ctx.probe(rel, group="(dataset root)")
    for split in SPLITS:
        data = next((c for c in (split, f"images/{split}") if (root / c).is_dir()), None)
        if data is None:
            continue
        label = next((c.format(s=split) for c in _OTHER_LABEL_CANDIDATES
                      if (root / c.format(s=split)).exists()), "")
        prefix = data + "/"
        images = [r for r in all_images if r.startswith(prefix)]
        ctx.splits[split] = SplitInfo(name=split, images=len(images), data=data, label=label)
        ctx.samples[split] = images[:MAX_PREVIEW_SAMPLES]
    if not ctx.splits:
        ctx.samples["all"] = all_images[:MAX_PREVIEW_SAMPLES]
    ctx.images_total = len(all_images)


# --------------------------------------------------------------------------- entry points


_VALIDATORS: dict[TaskType, Callable[[_Ctx], None]] = {
    TaskType.detection: lambda ctx: _validate_coco(ctx, instance=False),
    TaskType.instance_segmentation: lambda ctx: _validate_coco(ctx, instance=True),
    TaskType.classification: _validate_classification,
    TaskType.semantic_segmentation: _validate_semantic,
    TaskType.text_detection: _validate_text_detection,
    TaskType.text_recognition: _validate_text_recognition,
    TaskType.rotated_detection: _validate_rotated,
    TaskType.other: _validate_other,
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
        raise DatasetFormatError(f"dataset root {root} is not a folder")
    ctx = _Ctx(root, task_type, progress)
    _VALIDATORS[task_type](ctx)
    train = ctx.splits.get("train")
    if train is not None and train.images == 0 and not ctx.error_count:
        # Name the file that lists the images, or else the folder that should hold them.
        where_file = train.label if train.label.endswith((".json", ".txt")) else _join(train.data) + "/"
        ctx.error(where_file, None, "the train split has no images")
    if ctx.error_count:
        details = [str(issue) for issue in ctx.errors]
        if ctx.error_count > len(ctx.errors):
            details.append(f"and {ctx.error_count - len(ctx.errors)} more errors")
        label = TASK_TYPE_LABELS[task_type].lower()
        n = ctx.error_count
        # Each error is in ``details`` once; the message only sums up (a page shows both).
        message = f"The dataset does not match the {label} format ({n} error{'s' if n != 1 else ''})."
        sniffed = sniff_task_type(root)
        if sniffed is not None and sniffed.task_type != task_type:
            message += (f" It looks like {sniffed.describe()}: choose the task type "
                        f"\"{TASK_TYPE_LABELS[sniffed.task_type]}\" and upload it again, or fix the files listed.")
        else:
            message += " Fix the files listed and upload the zip again."
        raise DatasetFormatError(message, details=details)
    ctx.step("Done")
    return ctx.report()


def platform_values(*, report: DatasetReport, mount: str) -> dict[str, str]:
    """The value of each dataset flag of CONTRACT §2.3 when the dataset root is
    visible at ``mount`` in the sandbox. Splits that do not exist get ""."""
    base = mount.rstrip("/") or "/"

    def at(rel: str) -> str:
        if not rel:
            return ""
        return base if rel == "." else posixpath.join(base, rel)

    values = {"--data": mount}
    for split in SPLITS:
        info = report.splits.get(split)
        values[f"--{split}-data"] = at(info.data) if info else ""
    for split in SPLITS:
        info = report.splits.get(split)
        values[f"--{split}-label"] = at(info.label) if info else ""
    values["--label-class"] = json.dumps(report.class_map(), ensure_ascii=False)
    values["--label-class-count"] = str(len(report.class_names))
    return values


__all__ = [
    "IMAGE_EXTS", "PLATFORM_FLAGS", "SPLITS", "DatasetReport", "Issue", "SplitInfo",
    "is_image_name", "platform_values", "read_classes_file", "rle_counts", "validate_dataset",
    "walk_images",
]
