"""Text detection, ICDAR-2015 style: ``images/{split}/NAME.jpg`` + ``labels/{split}/NAME.txt`` (or
``gt_NAME.txt``), lines ``x1,y1,...,x4,y4,transcript`` with ``###`` for don't care (CONTRACT §1.2)."""

from __future__ import annotations

from shared.contract.datasets.context import Ctx, check_quad, label_lines, pair_labels, quad, split_dirs
from shared.core.i18n import N_


def validate_text_detection(ctx: Ctx) -> None:
    ctx.layout = "icdar2015"
    ctx.class_names = ["text"]
    splits = split_dirs(ctx, lab_root="labels", train_file="labels/train/",
                         expected="images/train/NAME.jpg + labels/train/NAME.txt")
    for split in splits:
        img_rel, lab_rel = f"images/{split}", f"labels/{split}"
        ctx.step(N_("Checking {folder}").format(folder=f"{lab_rel}/"))
        # gt_NAME.txt is how the ICDAR-2015 download names its label files.
        pairs = pair_labels(ctx, img_rel=img_rel, lab_rel=lab_rel, label_exts=(".txt",),
                             prefixes=("", "gt_"), what=N_("label file"))
        for lab, where, line, size in label_lines(ctx, pairs, img_rel=img_rel, lab_rel=lab_rel):
            parts = line.split(",", 8)
            if len(parts) < 9:
                ctx.error(lab, where, N_("expected 9 fields {fields}, got {n}: {line}").format(
                    fields="'x1,y1,x2,y2,x3,y3,x4,y4,transcript'", n=len(parts), line=repr(line[:80])))
                continue
            if (xy := quad(ctx, lab, where, parts)) is None:
                continue
            check_quad(ctx, lab, where, *xy, size, group=lab_rel, what=N_("text box"))
            if parts[8].strip() != "###":
                ctx.instances["text"] += 1
        ctx.add_split(split, data=img_rel, label=lab_rel, images=[img for img, _ in pairs])
