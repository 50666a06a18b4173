"""The state one validation walk collects (errors, aggregated warnings, splits, classes, sizes),
and what several formats share: pairing images with per-image label files and reading them line
by line, 4-point polygons, and images listed in an annotation file."""

from __future__ import annotations

import json
import os
import posixpath
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from shared.contract.datasets.common import (
    MAX_ERROR_DETAILS,
    MAX_PREVIEW_SAMPLES,
    MAX_SIZE_SAMPLES,
    DatasetReport,
    Issue,
    SplitInfo,
    is_junk,
    join_rel,
    outside,
    parse_num,
    polygon_area,
    safe_rel,
    walk_files,
    walk_images,
)
from shared.contract.names import SPLITS
from shared.core.i18n import N_
from shared.records import TaskType

# The json module's own messages, which "invalid JSON: {error}" carries: listed here so that the catalog
# translates them like any other value (the English, from the standard library, is what is stored).
JSON_ERRORS = (N_("Expecting value"), N_("Expecting property name enclosed in double quotes"),
               N_("Expecting ',' delimiter"), N_("Expecting ':' delimiter"), N_("Extra data"),
               N_("Unterminated string starting at"), N_("Invalid control character at"),
               N_("Invalid \\escape"), N_("Invalid \\uXXXX escape"),
               N_("Illegal trailing comma before end of object"), N_("Illegal trailing comma before end of array"))


class Ctx:
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
            (e.name + "/" if e.is_dir() else e.name) for e in self.root.iterdir() if not is_junk(e.name)
        )
        if names:
            shown = ", ".join(names[:12]) if len(names) <= 12 else \
                N_("{names}, ... ({n} entries)").format(names=", ".join(names[:12]), n=len(names))
            held = N_("the dataset root holds: {names}").format(names=shown)
        else:
            held = N_("the dataset root is empty")
        self.error(file, None, N_("the train split is missing: expected {expected}; {held}").format(
            expected=expected, held=held))

    # images -------------------------------------------------------------
    def probe(self, rel: str, *, group: str) -> tuple[int, int] | None:
        """Size of an existing image from its header; unreadable -> warning, None."""
        try:
            with Image.open(self.root / rel) as im:
                size = im.size
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "unreadable"
            self.warn(rel, None, N_("image cannot be read; it is kept but training code may fail on it"),
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
            self.error(rel, None, N_("cannot be read: {error}").format(error=exc))
            return None
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.error(rel, N_("line {line}").format(line=line),
                       N_("is not UTF-8 text; save the {what} as UTF-8").format(what=what))
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
            self.error(rel, N_("line {line}, column {column}").format(line=exc.lineno, column=exc.colno),
                       N_("invalid JSON: {error}").format(error=exc.msg))
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


def resolve_listed(ctx: Ctx, path: str, bases: list[str]) -> tuple[str, str] | None:
    """(base, rel under root) of the first base the listed path exists under."""
    for base in bases:
        rel = join_rel(base, path)
        if (ctx.root / rel).is_file():
            return base, rel
    return None


def find_listed(ctx: Ctx, ann_rel: str, where: str, path: str, *, chosen: str | None,
                bases: list[str]) -> tuple[str, str] | None:
    """(base, rel under root) of an image that line ``where`` of ``ann_rel`` lists, or None with the error
    recorded. Once one line's image was found under a base (``chosen``), every other line must use it too."""
    rel_path = safe_rel(path)
    if rel_path is None:
        ctx.error(ann_rel, where,
                  N_("path {path} must be relative and stay inside the dataset").format(path=repr(path)))
        return None
    found = resolve_listed(ctx, rel_path, [chosen] if chosen else bases)
    if found is None:
        hint = f"{chosen}/" if chosen and chosen != "." else (
            N_("{folder} or the dataset root").format(folder=f"{bases[0]}/") if len(bases) > 1
            else N_("the dataset root"))
        ctx.error(ann_rel, where, N_("image {path} not found (paths are relative to {base})").format(
            path=repr(path), base=hint))
    return found


def warn_unlisted(ctx: Ctx, data: str, listed: set[str], ann_rel: str) -> None:
    """Images in the split's folder that ``ann_rel`` does not list (none to check when it lists from the root)."""
    if data == ".":
        return
    for name in walk_images(ctx.root / data):
        rel = f"{data}/{name}"
        if rel not in listed:
            ctx.warn(rel, None, N_("image is not listed in {file}; it is not used").format(file=ann_rel),
                     group=ann_rel)


def pair_labels(ctx: Ctx, *, img_rel: str, lab_rel: str, label_exts: tuple[str, ...],
                 prefixes: tuple[str, ...] = ("",), what: str) -> list[tuple[str, str | None]]:
    """Pair images/<split>/NAME.* with <lab_rel>/NAME<ext>; orphan labels are errors.

    Returns (image rel, label rel or None) in sorted image order.
    """
    root = ctx.root
    labels: dict[str, str] = {}
    label_files = [f for f in walk_files(root / lab_rel, images_only=False)
                   if os.path.splitext(f)[1].lower() in label_exts]
    for f in label_files:
        d, name = posixpath.split(f)
        stem = os.path.splitext(name)[0]
        for prefix in prefixes:
            if prefix and not stem.startswith(prefix):
                continue
            labels.setdefault(join_rel(d, stem[len(prefix):]), f)
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
            ctx.error(f"{lab_rel}/{f}", None, N_("{what} has no image: expected {path} with the same name").format(
                what=what, path=f"{img_rel}/{os.path.splitext(f)[0]}.<jpg|png|...>"))
    return pairs


def split_dirs(ctx: Ctx, *, lab_root: str, expected: str, train_file: str) -> list[str]:
    root = ctx.root
    found = [s for s in SPLITS if (root / "images" / s).is_dir() or (root / lab_root / s).is_dir()]
    if "train" not in found:
        ctx.missing_train(train_file, expected)
    out = []
    for split in found:
        if not (root / "images" / split).is_dir():
            ctx.error(f"{lab_root}/{split}/", None, N_("has no image folder: add {folder}").format(
                folder=f"images/{split}/"))
            continue
        out.append(split)
    return out


def label_lines(ctx: Ctx, pairs: list[tuple[str, str | None]], *, img_rel: str,
                lab_rel: str) -> Iterator[tuple[str, str, str, tuple[int, int] | None]]:
    """(label rel, ``line N``, the stripped line, the image's size) for each non-blank line of each
    image's label file, in ``pair_labels`` order; every image is probed, one with no label file warned of."""
    for img, lab in pairs:
        size = ctx.probe(img, group=img_rel)
        if lab is None:
            ctx.warn(img, None, N_("image has no label file in {folder}").format(folder=f"{lab_rel}/"),
                     group=img_rel)
            continue
        lines = ctx.read_lines(lab)
        for n, raw in enumerate(lines or (), 1):
            if line := raw.strip():
                yield lab, N_("line {line}").format(line=n), line, size


def quad(ctx: Ctx, lab: str, where: str, fields: list[str]) -> tuple[list[float], list[float]] | None:
    """The xs and ys of the 4-point polygon in ``fields[:8]``, or None with the first non-number reported."""
    coords = [parse_num(p) for p in fields[:8]]
    bad = next((k for k, v in enumerate(coords) if v is None), None)
    if bad is not None:
        ctx.error(lab, where, N_("non-numeric coordinate {value} (field {field})").format(
            value=repr(fields[bad].strip()), field=bad + 1))
        return None
    return coords[0::2], coords[1::2]


def check_quad(ctx: Ctx, lab: str, where: str, xs: list[float], ys: list[float], size: tuple[int, int] | None,
               *, group: str, what: str) -> None:
    """Warn of a polygon with no area, or one that leaves its image."""
    if polygon_area(xs, ys) < 1:
        ctx.warn(lab, where, N_("degenerate {what} (zero area)").format(what=what), group=group)
    elif outside(xs, ys, size):
        ctx.warn(lab, where, N_("{what} extends outside its image").format(what=what), group=group,
                 detail=f" ({size[0]}x{size[1]})" if size else "")
