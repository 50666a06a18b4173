"""What every dataset format shares: the report and its issues, the limits, and small readers
(file walks, relative paths, numbers, polygons, class files). No format's rules live here."""

from __future__ import annotations

import math
import os
import posixpath
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shared.contract.names import APPLEDOUBLE_PREFIX, IMAGE_EXTS, JUNK_DIRS, JUNK_FILES
from shared.core.i18n import N_
from shared.records import TaskType

MAX_ERROR_DETAILS = 50
MAX_SIZE_SAMPLES = 2000
MAX_PREVIEW_SAMPLES = 200
# Coordinates may sit a pixel past the border (float rounding, inclusive
# pixel conventions); only boxes further out are reported.
OUTSIDE_TOLERANCE = 1.0


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTS and not name.startswith(APPLEDOUBLE_PREFIX)


def is_junk(name: str) -> bool:
    # OS junk and hidden entries (macOS resource forks, .DS_Store, .git) are never data.
    return name.startswith(".") or name in JUNK_DIRS or name in JUNK_FILES


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
            text = N_("{text} (and {n} more like it)").format(text=text, n=self.count - 1)
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


def walk_files(base: Path, *, images_only: bool) -> list[str]:
    """Files under ``base`` as sorted posix paths relative to it, junk skipped."""
    out: list[str] = []
    if not base.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not is_junk(d)]
        rel_dir = os.path.relpath(dirpath, base)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        for name in filenames:
            if is_junk(name) or (images_only and not is_image_name(name)):
                continue
            out.append(prefix + name)
    out.sort()
    return out


def walk_images(base: Path) -> list[str]:
    """Image files under ``base``, sorted, relative posix paths (shared with previews)."""
    return walk_files(base, images_only=True)


def join_rel(*parts: str) -> str:
    parts = tuple(p for p in parts if p and p != ".")
    return posixpath.join(*parts) if parts else "."


def safe_rel(path: str) -> str | None:
    """Normalised relative posix path, or None if it is absolute or climbs out."""
    p = path.replace("\\", "/").strip()
    if not p or p.startswith("/") or (len(p) > 1 and p[1] == ":"):
        return None
    norm = posixpath.normpath(p)
    if norm == ".." or norm.startswith("../"):
        return None
    return norm


def is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def parse_num(s: str) -> float | None:
    try:
        f = float(s)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def fmt_ids(ids: Iterable[Any], limit: int = 20) -> str:
    ids = sorted(ids, key=lambda x: (str(type(x)), x))
    text = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in ids[:limit])
    if len(ids) > limit:
        text = N_("{ids}, ... ({n} in all)").format(ids=text, n=len(ids))
    return text or N_("none")


def polygon_area(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    s = 0.0
    for i in range(n):
        j = (i + 1) % n
        s += xs[i] * ys[j] - xs[j] * ys[i]
    return abs(s) / 2.0


def outside(xs: Iterable[float], ys: Iterable[float], size: tuple[int, int] | None) -> bool:
    if size is None:
        return False
    w, h = size
    t = OUTSIDE_TOLERANCE
    return any(x < -t or x > w + t for x in xs) or any(y < -t or y > h + t for y in ys)


def read_classes_file(path: Path) -> list[str]:
    """Class names, one per line; trailing blank lines ignored (shared with previews)."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return [ln.strip() for ln in lines]
