"""Image classification: class sub-folders ``{split}/{class_name}/*.jpg``, or annotation files
``meta/{split}.txt`` + ``meta/classes.txt`` (CONTRACT §1.2)."""

from __future__ import annotations

from shared.contract.datasets.common import is_image_name, is_junk, walk_images
from shared.contract.datasets.context import Ctx, find_listed, resolve_listed, warn_unlisted
from shared.contract.names import SPLITS
from shared.core.i18n import N_


def validate_classification(ctx: Ctx) -> None:
    root = ctx.root
    if (root / "meta" / "train.txt").is_file() or (root / "meta" / "classes.txt").is_file():
        _classification_meta(ctx)
    elif (root / "train").is_dir():
        _classification_folders(ctx)
    else:
        ctx.missing_train("train/", N_("{folders} (sub-folder format) or {files} (annotation-file format)").format(
            folders="train/<class_name>/*.jpg", files="meta/train.txt + meta/classes.txt"))


def _classification_folders(ctx: Ctx) -> None:
    ctx.layout = "folders"
    root = ctx.root
    classes = sorted(e.name for e in (root / "train").iterdir() if e.is_dir() and not is_junk(e.name))
    if not classes:
        ctx.error("train/", None, N_("has no class sub-folders: put the images in {folder}").format(
            folder="train/<class_name>/"))
    ctx.class_names = classes
    known = set(classes)
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            continue
        ctx.step(N_("Scanning {folder}").format(folder=f"{split}/"))
        images: list[str] = []
        for entry in sorted(split_dir.iterdir(), key=lambda e: e.name):
            if is_junk(entry.name):
                continue
            rel = f"{split}/{entry.name}"
            if entry.is_file():
                if is_image_name(entry.name):
                    ctx.warn(rel, None, N_("image is not inside a class folder; it is not used"), group=split)
                continue
            if entry.name not in known:
                if classes:
                    ctx.error(rel + "/", None, N_("class {name} is not a class of train/ (train classes: "
                                                  "{classes})").format(name=repr(entry.name),
                                                                       classes=", ".join(classes[:20])))
                continue
            for name in walk_images(entry):
                img_rel = f"{rel}/{name}"
                ctx.probe(img_rel, group=split)
                images.append(img_rel)
                ctx.instances[entry.name] += 1
        ctx.add_split(split, data=split, label="", images=images)
    for name in classes:
        if ctx.instances.get(name, 0) == 0:
            ctx.warn(f"train/{name}/", None, N_("class {name} has no images").format(name=repr(name)))


def _classification_meta(ctx: Ctx) -> None:
    ctx.layout = "meta"
    root = ctx.root
    classes_rel = "meta/classes.txt"
    classes: list[str] | None = None
    if not (root / classes_rel).is_file():
        ctx.error(classes_rel, None, N_("missing: list the class names there, one per line (line 1 = class index 0)"))
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
                    ctx.error(classes_rel, N_("line {line}").format(line=n), N_(
                        "empty class name (class indexes follow line numbers, so blank lines are not allowed)"))
                elif name in seen:
                    ctx.error(classes_rel, N_("line {line}").format(line=n), N_(
                        "class {name} is listed twice (also line {line})").format(name=repr(name), line=seen[name]))
                else:
                    seen[name] = n
                classes.append(name)
            if not classes:
                ctx.error(classes_rel, None, N_("is empty: list the class names, one per line"))
            ctx.class_names = classes
    if not (root / "meta" / "train.txt").is_file():
        ctx.missing_train("meta/train.txt", N_("{file} with lines {line}").format(
            file="meta/train.txt", line="'relative/path.jpg <class_index>'"))
    for split in SPLITS:
        ann_rel = f"meta/{split}.txt"
        if not (root / ann_rel).is_file():
            continue
        ctx.step(N_("Reading {file}").format(file=ann_rel))
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
            where = N_("line {line}").format(line=n)
            parts = line.split()
            spaced = line.rsplit(None, 1)
            if len(parts) == 2:
                path, idx_text = parts
            elif len(parts) > 2 and resolve_listed(ctx, spaced[0], bases) is not None:
                # A path with spaces is fine as long as it exists.
                path, idx_text = spaced
            else:
                ctx.error(ann_rel, where, N_("expected 2 fields {fields}, got {n}: {line}").format(
                    fields="'relative/path.jpg <class_index>'", n=len(parts), line=repr(line[:80])))
                continue
            try:
                idx = int(idx_text)
            except ValueError:
                ctx.error(ann_rel, where, N_("class index {value} is not an integer").format(value=repr(idx_text)))
                continue
            if classes is not None and not 0 <= idx < len(classes):
                ctx.error(ann_rel, where, N_("class index {index} out of range: {file} has {n} classes "
                                             "({range})").format(index=idx, file=classes_rel, n=len(classes),
                                                                 range=f"0..{len(classes) - 1}"))
                continue
            found = find_listed(ctx, ann_rel, where, path, chosen=chosen, bases=bases)
            if found is None:
                continue
            chosen, full_rel = found
            ctx.probe(full_rel, group=ann_rel)
            listed.add(full_rel)
            images.append(full_rel)
            if classes is not None:
                ctx.instances[classes[idx]] += 1
        data = chosen or bases[0]
        warn_unlisted(ctx, data, listed, ann_rel)
        ctx.add_split(split, data=data, label=ann_rel, images=images)
    for i, name in enumerate(ctx.class_names):
        if name and ctx.instances.get(name, 0) == 0:
            ctx.warn(classes_rel, N_("line {line}").format(line=i + 1),
                     N_("class {name} has no images in any split").format(name=repr(name)))
