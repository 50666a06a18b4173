"""Semantic segmentation: ``images/{split}/NAME.jpg`` + single-channel ``masks/{split}/NAME.png``
(pixel value = class index, 255 = ignore) and ``classes.txt`` (CONTRACT §1.2). Masks are decoded,
in threads, since their pixel values are the labels."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from shared.contract.datasets.common import read_classes_file, walk_files
from shared.contract.datasets.context import Ctx, pair_labels, split_dirs
from shared.core.i18n import N_

_MASK_WORKERS = max(1, min(8, os.cpu_count() or 1))


_MASK_MODES = ("L", "P", "1", "I", "I;16", "I;16L", "I;16B")


def _read_mask(path: Path) -> tuple[tuple[int, int], np.ndarray] | str:
    """(size, present pixel values) of a mask, or an error message."""
    try:
        with Image.open(path) as im:
            if im.mode not in _MASK_MODES:
                return N_("mask must be a single-channel PNG (PIL mode L or P: pixel value = class index), "
                          "got mode {mode}").format(mode=im.mode)
            arr = np.asarray(im)
            size = im.size
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the mask is unreadable
        return N_("mask cannot be read: {error}").format(error=f"{type(exc).__name__}: {exc}")
    if arr.dtype == np.bool_ or arr.dtype == np.uint8:
        present = np.flatnonzero(np.bincount(arr.ravel().astype(np.uint8), minlength=256))
    else:
        present = np.unique(arr)
    return size, present


def validate_semantic(ctx: Ctx) -> None:
    ctx.layout = "masks"
    root = ctx.root
    classes: list[str] | None = None
    if not (root / "classes.txt").is_file():
        ctx.error("classes.txt", None, N_("missing: list the class names there, one per line (line 1 = pixel value 0)"))
    else:
        try:
            classes = read_classes_file(root / "classes.txt")
        except (OSError, UnicodeDecodeError) as exc:
            ctx.error("classes.txt", None, N_("cannot be read as UTF-8 text: {error}").format(error=exc))
        else:
            seen: dict[str, int] = {}
            for n, name in enumerate(classes, 1):
                if not name:
                    ctx.error("classes.txt", N_("line {line}").format(line=n), N_(
                        "empty class name (the line number is the pixel value, so blank lines are not allowed)"))
                elif name in seen:
                    ctx.error("classes.txt", N_("line {line}").format(line=n), N_(
                        "class {name} is listed twice (also line {line})").format(name=repr(name), line=seen[name]))
                else:
                    seen[name] = n
            if not classes:
                ctx.error("classes.txt", None, N_("is empty: list the class names, one per line"))
            ctx.class_names = classes
    splits = split_dirs(ctx, lab_root="masks", train_file="masks/train/",
                         expected="images/train/NAME.jpg + masks/train/NAME.png")
    n_classes = len(classes) if classes is not None else None
    for split in splits:
        img_rel, mask_rel = f"images/{split}", f"masks/{split}"
        ctx.step(N_("Pairing {images} with {masks}").format(images=f"{img_rel}/", masks=f"{mask_rel}/"))
        for f in walk_files(root / mask_rel, images_only=True):
            if not f.lower().endswith(".png"):
                ctx.error(f"{mask_rel}/{f}", None, N_("masks must be PNG files (JPEG compression changes pixel "
                                                      "values, i.e. the labels)"))
        pairs = pair_labels(ctx, img_rel=img_rel, lab_rel=mask_rel, label_exts=(".png",), what=N_("mask"))
        labelled = [(img, mask) for img, mask in pairs if mask is not None]
        for img, mask in pairs:
            if mask is None:
                ctx.warn(img, None, N_("image has no mask in {folder}").format(folder=f"{mask_rel}/"), group=img_rel)
        with ThreadPoolExecutor(max_workers=_MASK_WORKERS) as pool:
            results = pool.map(lambda p: _read_mask(root / p[1]), labelled)
            for k, ((img, mask), res) in enumerate(zip(labelled, results, strict=True)):
                if k and k % 500 == 0:
                    ctx.step(N_("{folder}: checked {done}/{total} masks").format(
                        folder=mask_rel, done=k, total=len(labelled)))
                size = ctx.probe(img, group=img_rel)
                if isinstance(res, str):
                    ctx.error(mask, None, res)
                    continue
                msize, present = res
                if size is not None and msize != size:
                    ctx.error(mask, None, N_("mask is {mask_size} but its image {image} is {size}; a mask must have "
                                             "its image's size").format(mask_size=f"{msize[0]}x{msize[1]}",
                                                                        image=img, size=f"{size[0]}x{size[1]}"))
                if n_classes is not None:
                    bad = [int(v) for v in present if v != 255 and not 0 <= v < n_classes]
                    if bad:
                        ctx.error(mask, None, N_("pixel values {values} are not classes: classes.txt has {n} classes "
                                                 "({range}) and 255 means ignore").format(
                            values=bad[:10], n=n_classes, range=f"0..{n_classes - 1}"))
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
            ctx.warn("classes.txt", N_("line {line}").format(line=i + 1),
                     N_("class {name} appears in no mask").format(name=repr(name)))
