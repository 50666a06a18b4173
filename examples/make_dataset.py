"""Small synthetic datasets, valid for each of the eight task types.

Coloured shapes (circle, square, triangle) on a noisy background, rendered
digits for the text tasks, rotated bars and blocks for DOTA. A tiny CNN
learns the classification set in seconds, which makes them good fixtures for
tests, demos and the benchmark.

    python -m examples.make_dataset --type classification --out cls.zip --n-train 60
    python -m examples.make_dataset --type detection --out det/            # a folder

A ``.zip`` is laid out like a real upload: its first level is one folder.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from shared.contract.names import SPLITS
from shared.records import TaskType

SHAPES = ("circle", "square", "triangle")
DOTA_CLASSES = ("bar", "block")
CLASSIFICATION_LAYOUTS = ("folders", "meta")
_ZIP_DATE = (2024, 1, 1, 0, 0, 0)  # fixed, so the same seed gives byte-identical zips


# --------------------------------------------------------------------------- drawing


def _background(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    base = rng.integers(10, 70, size=3)
    noise = rng.integers(-25, 26, size=(h, w, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(130, 256, size=3))


def _shape_points(kind: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if kind == "circle":
        n, start = 24, 0.0
    elif kind == "square":
        n, start = 4, math.pi / 4  # corners on the diagonals: an axis-aligned square
        r *= math.sqrt(2) * 0.85
    else:
        n, start = 3, -math.pi / 2 + angle
    return [(cx + r * math.cos(start + 2 * math.pi * k / n), cy + r * math.sin(start + 2 * math.pi * k / n))
            for k in range(n)]


def _place(rng: np.random.Generator, size: int, count: int, r_lo: float, r_hi: float
           ) -> list[tuple[float, float, float]]:
    """Up to ``count`` non-overlapping (cx, cy, r) discs inside a size x size image."""
    placed: list[tuple[float, float, float]] = []
    for _ in range(count * 30):
        if len(placed) == count:
            break
        r = float(rng.uniform(r_lo, r_hi)) * size
        cx = float(rng.uniform(r + 1, size - r - 1))
        cy = float(rng.uniform(r + 1, size - r - 1))
        if all(math.hypot(cx - x, cy - y) > r + q + 2 for x, y, q in placed):
            placed.append((cx, cy, r))
    return placed


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=max(8, size))
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def _bbox(points: list[tuple[float, float]], size: tuple[int, int]) -> list[float]:
    xs = [min(max(x, 0.0), size[0]) for x, _ in points]
    ys = [min(max(y, 0.0), size[1]) for _, y in points]
    return [round(min(xs), 2), round(min(ys), 2), round(max(xs) - min(xs), 2), round(max(ys) - min(ys), 2)]


def _counts(n_train: int, n_val: int, n_test: int) -> dict[str, int]:
    return {s: n for s, n in zip(SPLITS, (n_train, n_val, n_test), strict=True) if n > 0}


# --------------------------------------------------------------------------- writers


def _classification(root: Path, rng: np.random.Generator, counts: dict[str, int], size: int,
                    layout: str) -> None:
    if layout == "meta":
        (root / "meta").mkdir(parents=True)
        (root / "meta" / "classes.txt").write_text("\n".join(SHAPES) + "\n")
    for split, n in counts.items():
        lines = []
        for i in range(n):
            cls = i % len(SHAPES)
            img = _background(rng, size, size)
            cx, cy = (size / 2 + rng.uniform(-0.1, 0.1, 2) * size).tolist()
            r = float(rng.uniform(0.22, 0.36)) * size
            pts = _shape_points(SHAPES[cls], cx, cy, r, float(rng.uniform(0, 6.3)))
            ImageDraw.Draw(img).polygon(pts, fill=_colour(rng))
            rel = f"{SHAPES[cls]}/img_{i:04d}.png"
            out = root / split / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            img.save(out)
            lines.append(f"{rel} {cls}")
        for cls in SHAPES:  # every class folder exists, even when a tiny split has no image of it
            (root / split / cls).mkdir(parents=True, exist_ok=True)
        if layout == "meta":
            (root / "meta" / f"{split}.txt").write_text("\n".join(lines) + "\n")


def _coco(root: Path, rng: np.random.Generator, counts: dict[str, int], size: int, *, instance: bool) -> None:
    (root / "annotations").mkdir(parents=True)
    categories = [{"id": k + 1, "name": name, "supercategory": "shape"} for k, name in enumerate(SHAPES)]
    ann_id = 1
    for split, n in counts.items():
        (root / "images" / split).mkdir(parents=True)
        images, anns = [], []
        for i in range(n):
            img = _background(rng, size, size)
            draw = ImageDraw.Draw(img)
            name = f"img_{i:04d}.jpg"
            for k, (cx, cy, r) in enumerate(_place(rng, size, int(rng.integers(1, 4)), 0.1, 0.2)):
                cls = (i + k) % len(SHAPES)
                pts = _shape_points(SHAPES[cls], cx, cy, r, float(rng.uniform(0, 6.3)))
                draw.polygon(pts, fill=_colour(rng))
                ann = {"id": ann_id, "image_id": i + 1, "category_id": cls + 1,
                       "bbox": _bbox(pts, (size, size)), "iscrowd": 0}
                flat = [round(v, 2) for p in pts for v in p]
                xs, ys = flat[0::2], flat[1::2]
                ann["area"] = round(abs(sum(xs[j] * ys[j - 1] - xs[j - 1] * ys[j] for j in range(len(xs)))) / 2, 2)
                if instance:
                    ann["segmentation"] = [flat]
                anns.append(ann)
                ann_id += 1
            img.save(root / "images" / split / name, quality=95)
            images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
        doc = {"images": images, "annotations": anns, "categories": categories}
        (root / "annotations" / f"{split}.json").write_text(json.dumps(doc, indent=1))


def _semantic(root: Path, rng: np.random.Generator, counts: dict[str, int], size: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("\n".join(("background",) + SHAPES) + "\n")
    for split, n in counts.items():
        (root / "images" / split).mkdir(parents=True)
        (root / "masks" / split).mkdir(parents=True)
        for i in range(n):
            img = _background(rng, size, size)
            mask = Image.new("L", (size, size), 0)
            draw, mdraw = ImageDraw.Draw(img), ImageDraw.Draw(mask)
            for k, (cx, cy, r) in enumerate(_place(rng, size, int(rng.integers(1, 4)), 0.12, 0.22)):
                cls = (i + k) % len(SHAPES)
                pts = _shape_points(SHAPES[cls], cx, cy, r, float(rng.uniform(0, 6.3)))
                draw.polygon(pts, fill=_colour(rng))
                mdraw.polygon(pts, fill=cls + 1)
            img.save(root / "images" / split / f"img_{i:04d}.jpg", quality=95)
            mask.save(root / "masks" / split / f"img_{i:04d}.png")


def _digits(rng: np.random.Generator, lo: int, hi: int) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, size=int(rng.integers(lo, hi + 1))))


def _text_detection(root: Path, rng: np.random.Generator, counts: dict[str, int], size: int) -> None:
    font = _font(max(10, size // 5))
    for split, n in counts.items():
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(n):
            img = _background(rng, size, size)
            draw = ImageDraw.Draw(img)
            lines = []
            rows = 2
            for row in range(int(rng.integers(1, rows + 1))):
                text = _digits(rng, 2, 4)
                left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
                tw, th = right - left, bottom - top
                x = float(rng.uniform(1, max(2, size - tw - 2)))
                y = row * size / rows + float(rng.uniform(1, max(2, size / rows - th - 2)))
                draw.text((x - left, y - top), text, font=font, fill=_colour(rng))
                x0, y0, x1, y1 = int(x) - 1, int(y) - 1, math.ceil(x + tw) + 1, math.ceil(y + th) + 1
                x0, y0, x1, y1 = max(0, x0), max(0, y0), min(size - 1, x1), min(size - 1, y1)
                lines.append(f"{x0},{y0},{x1},{y0},{x1},{y1},{x0},{y1},{text}")
            img.save(root / "images" / split / f"img_{i:04d}.jpg", quality=95)
            (root / "labels" / split / f"img_{i:04d}.txt").write_text("\n".join(lines) + "\n")


def _text_recognition(root: Path, rng: np.random.Generator, counts: dict[str, int], size: int) -> None:
    w, h = size * 2, max(16, size // 2)
    font = _font(int(h * 0.6))
    (root / "meta").mkdir(parents=True)
    for split, n in counts.items():
        (root / "images" / split).mkdir(parents=True)
        lines = []
        for i in range(n):
            img = _background(rng, w, h)
            draw = ImageDraw.Draw(img)
            text = _digits(rng, 3, 5)
            left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
            x = float(rng.uniform(1, max(2, w - (right - left) - 2)))
            draw.text((x - left, (h - (bottom - top)) / 2 - top), text, font=font, fill=_colour(rng))
            name = f"img_{i:04d}.png"
            img.save(root / "images" / split / name)
            lines.append(f"{name}\t{text}")
        (root / "meta" / f"{split}.txt").write_text("\n".join(lines) + "\n")


def _rotated(root: Path, rng: np.random.Generator, counts: dict[str, int], size: int) -> None:
    for split, n in counts.items():
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(n):
            img = _background(rng, size, size)
            draw = ImageDraw.Draw(img)
            lines = ["imagesource:synthetic", "gsd:1.0"]
            for k, (cx, cy, r) in enumerate(_place(rng, size, int(rng.integers(1, 4)), 0.14, 0.22)):
                cls = DOTA_CLASSES[(i + k) % len(DOTA_CLASSES)]
                # Half-diagonal = r keeps every corner inside the placed disc.
                ratio = 3.0 if cls == "bar" else 1.0
                hw, hh = r * ratio / math.hypot(ratio, 1), r / math.hypot(ratio, 1)
                a = float(rng.uniform(0, math.pi))
                ca, sa = math.cos(a), math.sin(a)
                pts = [(cx + dx * ca - dy * sa, cy + dx * sa + dy * ca)
                       for dx, dy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))]
                draw.polygon(pts, fill=_colour(rng))
                lines.append(" ".join(f"{v:.1f}" for p in pts for v in p) + f" {cls} 0")
            img.save(root / "images" / split / f"img_{i:04d}.png")
            (root / "labels" / split / f"img_{i:04d}.txt").write_text("\n".join(lines) + "\n")


def _other(root: Path, rng: np.random.Generator, counts: dict[str, int], size: int) -> None:
    # A YOLO-style tree: a typical dataset the platform does not parse but a custom model can use.
    root.mkdir(parents=True, exist_ok=True)
    for split, n in counts.items():
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(n):
            img = _background(rng, size, size)
            draw = ImageDraw.Draw(img)
            lines = []
            for k, (cx, cy, r) in enumerate(_place(rng, size, int(rng.integers(1, 3)), 0.1, 0.2)):
                cls = (i + k) % len(SHAPES)
                draw.polygon(_shape_points(SHAPES[cls], cx, cy, r, 0.0), fill=_colour(rng))
                lines.append(f"{cls} {cx / size:.5f} {cy / size:.5f} {2 * r / size:.5f} {2 * r / size:.5f}")
            img.save(root / "images" / split / f"img_{i:04d}.jpg", quality=95)
            (root / "labels" / split / f"img_{i:04d}.txt").write_text("\n".join(lines) + "\n")
    names = "\n".join(f"  {k}: {n}" for k, n in enumerate(SHAPES))
    splits = "".join(f"{s}: images/{s}\n" for s in counts)
    (root / "data.yaml").write_text(f"path: .\n{splits}names:\n{names}\n")
    (root / "README.txt").write_text("YOLO-format shapes; labels are 'class cx cy w h', normalised.\n")


_WRITERS: dict[TaskType, Callable[..., None]] = {
    TaskType.detection: lambda root, rng, c, s: _coco(root, rng, c, s, instance=False),
    TaskType.instance_segmentation: lambda root, rng, c, s: _coco(root, rng, c, s, instance=True),
    TaskType.semantic_segmentation: _semantic,
    TaskType.text_detection: _text_detection,
    TaskType.text_recognition: _text_recognition,
    TaskType.rotated_detection: _rotated,
    TaskType.other: _other,
}


# --------------------------------------------------------------------------- entry points


def _zip_folder(folder: Path, zip_path: Path, top: str) -> None:
    tmp = zip_path.with_name(zip_path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            name = f"{top}/{rel}" + ("/" if path.is_dir() else "")
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            if path.is_dir():
                info.external_attr = 0o40755 << 16
                zf.writestr(info, b"")
            else:
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    tmp.replace(zip_path)


def make_dataset(*, task_type: TaskType | str, dest: Path, n_train: int = 24, n_val: int = 8, n_test: int = 0,
                 seed: int = 0, image_size: int = 64, as_zip: bool = False,
                 classification_layout: str = "folders") -> Path:
    """Write a small valid dataset of ``task_type``; returns the folder, or the zip when ``as_zip``.

    ``classification_layout`` picks the classification format: "folders"
    (train/<class>/*.png) or "meta" (meta/train.txt + meta/classes.txt).
    """
    task_type = TaskType(task_type)
    dest = Path(dest)
    if n_train < 1 or n_val < 0 or n_test < 0:
        raise ValueError("n_train must be at least 1 and n_val, n_test at least 0")
    if image_size < 32:
        raise ValueError("image_size must be at least 32 pixels")
    if classification_layout not in CLASSIFICATION_LAYOUTS:
        raise ValueError(f"classification_layout must be one of {', '.join(CLASSIFICATION_LAYOUTS)}")
    if not as_zip and dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty")
    rng = np.random.default_rng(seed)
    counts = _counts(n_train, n_val, n_test)

    def write(root: Path) -> None:
        if task_type is TaskType.classification:
            _classification(root, rng, counts, image_size, classification_layout)
        else:
            _WRITERS[task_type](root, rng, counts, image_size)

    if not as_zip:
        write(dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    top = dest.stem if dest.suffix.lower() == ".zip" else dest.name
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".make_dataset-") as tmp:
        folder = Path(tmp) / top
        write(folder)
        _zip_folder(folder, dest, top)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.make_dataset", description=__doc__.split("\n")[0])
    parser.add_argument("--type", required=True, choices=[t.value for t in TaskType], help="task type")
    parser.add_argument("--out", required=True, type=Path, help="a .zip file, or a folder to create")
    parser.add_argument("--n-train", type=int, default=24)
    parser.add_argument("--n-val", type=int, default=8)
    parser.add_argument("--n-test", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--layout", choices=CLASSIFICATION_LAYOUTS, default="folders",
                        help="classification only: class sub-folders or meta/*.txt files")
    parser.add_argument("--force", action="store_true", help="replace an existing output folder")
    args = parser.parse_args(argv)
    as_zip = args.out.suffix.lower() == ".zip"
    if args.force and args.out.is_dir() and not as_zip:
        shutil.rmtree(args.out)
    try:
        out = make_dataset(task_type=args.type, dest=args.out, n_train=args.n_train, n_val=args.n_val,
                           n_test=args.n_test, seed=args.seed, image_size=args.image_size, as_zip=as_zip,
                           classification_layout=args.layout)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
