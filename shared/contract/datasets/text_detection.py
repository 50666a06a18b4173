"""Text detection, ICDAR-2015 style: ``images/{split}/NAME.jpg`` + ``labels/{split}/NAME.txt`` (or
``gt_NAME.txt``), lines ``x1,y1,...,x4,y4,transcript`` with ``###`` for don't care (CONTRACT §1.2)."""

from __future__ import annotations

from shared.contract.datasets.common import outside, parse_num, polygon_area
from shared.contract.datasets.context import Ctx, pair_labels, split_dirs
from shared.core.i18n import N_


def validate_text_detection(ctx: Ctx) -> None:
    ctx.layout = "icdar2015"
    ctx.class_names = ["text"]
    splits = split_dirs(ctx, lab_root="labels", train_file="labels/train/",
                         expected="images/train/NAME.jpg + labels/train/NAME.txt")
    for split in splits:
        img_rel, lab_rel = f"images/{split}", f"labels/{split}"
        ctx.step(f"Checking {lab_rel}/")
        # gt_NAME.txt is how the ICDAR-2015 download names its label files.
        pairs = pair_labels(ctx, img_rel=img_rel, lab_rel=lab_rel, label_exts=(".txt",),
                             prefixes=("", "gt_"), what="label file")
        for img, lab in pairs:
            size = ctx.probe(img, group=img_rel)
            if lab is None:
                ctx.warn(img, None, N_("image has no label file in {folder}").format(folder=f"{lab_rel}/"),
                         group=img_rel)
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
                coords = [parse_num(p) for p in parts[:8]]
                bad = next((k for k, v in enumerate(coords) if v is None), None)
                if bad is not None:
                    ctx.error(lab, where, f"non-numeric coordinate {parts[bad].strip()!r} (field {bad + 1})")
                    continue
                xs, ys = coords[0::2], coords[1::2]
                if polygon_area(xs, ys) < 1:
                    ctx.warn(lab, where, "degenerate text box (zero area)", group=lab_rel)
                elif outside(xs, ys, size):
                    ctx.warn(lab, where, "text box extends outside its image", group=lab_rel,
                             detail=f" ({size[0]}x{size[1]})" if size else "")
                if parts[8].strip() != "###":
                    ctx.instances["text"] += 1
        ctx.add_split(split, data=img_rel, label=lab_rel, images=[img for img, _ in pairs])
