"""Text recognition: ``images/{split}/...`` + ``meta/{split}.txt``, lines
``relative/path.jpg<TAB>transcript`` (CONTRACT §1.2)."""

from __future__ import annotations

from collections import Counter

from shared.contract.datasets.context import Ctx, find_listed, warn_unlisted
from shared.contract.names import SPLITS
from shared.core.i18n import N_


def validate_text_recognition(ctx: Ctx) -> None:
    ctx.layout = "meta-tab"
    root = ctx.root
    found = [s for s in SPLITS if (root / "meta" / f"{s}.txt").is_file() or (root / "images" / s).is_dir()]
    if "train" not in found:
        ctx.missing_train("meta/train.txt", N_("{file} with lines {line} and the images under {folder}").format(
            file="meta/train.txt", line="'relative/path.jpg<TAB>transcript'", folder="images/train/"))
    chars: Counter[str] = Counter()
    for split in found:
        ann_rel, img_rel = f"meta/{split}.txt", f"images/{split}"
        if not (root / ann_rel).is_file():
            ctx.error(img_rel + "/", None, N_("has no label file: add {file}").format(file=ann_rel))
            continue
        ctx.step(N_("Reading {file}").format(file=ann_rel))
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
            where = N_("line {line}").format(line=n)
            parts = raw.split("\t")
            if len(parts) != 2:
                fields = "'relative/path.jpg<TAB>transcript'"
                if len(parts) == 1:
                    said = N_("expected 2 TAB-separated fields {fields}, got {n} (separate the path and the "
                              "transcript with one TAB, not spaces): {line}")
                else:
                    said = N_("expected 2 TAB-separated fields {fields}, got {n}: {line}")
                ctx.error(ann_rel, where, said.format(fields=fields, n=len(parts), line=repr(raw[:80])))
                continue
            path, text = parts[0].strip(), parts[1]
            found_at = find_listed(ctx, ann_rel, where, path, chosen=chosen, bases=bases)
            if found_at is None:
                continue
            chosen, full_rel = found_at
            ctx.probe(full_rel, group=ann_rel)
            if not text.strip():
                ctx.warn(ann_rel, where, N_("empty transcript"))
            chars.update(text)
            listed.add(full_rel)
            images.append(full_rel)
        data = chosen or bases[0]
        warn_unlisted(ctx, data, listed, ann_rel)
        ctx.add_split(split, data=data, label=ann_rel, images=images)
    # The "classes" of a recognition dataset are its characters: that is the
    # dictionary a CTC/attention head needs (--label-class, --label-class-count).
    ctx.class_names = sorted(chars)
    ctx.instances = chars
