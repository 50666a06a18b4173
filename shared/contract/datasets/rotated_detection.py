"""Rotated object detection, DOTA: ``images/{split}/NAME.png`` + ``labels/{split}/NAME.txt``, lines
``x1 y1 ... x4 y4 class_name difficult``, optional ``classes.txt`` (CONTRACT §1.2)."""

from __future__ import annotations

from shared.contract.datasets.common import outside, parse_num, polygon_area, read_classes_file
from shared.contract.datasets.context import Ctx, pair_labels, split_dirs
from shared.core.i18n import N_


def validate_rotated(ctx: Ctx) -> None:
    ctx.layout = "dota"
    root = ctx.root
    fixed: list[str] | None = None
    if (root / "classes.txt").is_file():
        try:
            fixed = [c for c in read_classes_file(root / "classes.txt") if c]
        except (OSError, UnicodeDecodeError) as exc:
            ctx.error("classes.txt", None, f"cannot be read as UTF-8 text: {exc}")
    known = set(fixed or ())
    splits = split_dirs(ctx, lab_root="labels", train_file="labels/train/",
                         expected="images/train/NAME.png + labels/train/NAME.txt")
    for split in splits:
        img_rel, lab_rel = f"images/{split}", f"labels/{split}"
        ctx.step(f"Checking {lab_rel}/")
        pairs = pair_labels(ctx, img_rel=img_rel, lab_rel=lab_rel, label_exts=(".txt",), what="label file")
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
                # DOTA v1.0 files start with 'imagesource:...' and 'gsd:...' lines.
                if not line or line.startswith(("imagesource:", "gsd:")):
                    continue
                where = f"line {n}"
                parts = line.split()
                if len(parts) != 10:
                    ctx.error(lab, where, "expected 10 fields 'x1 y1 x2 y2 x3 y3 x4 y4 class_name difficult', "
                              f"got {len(parts)}: {line[:80]!r}")
                    continue
                coords = [parse_num(p) for p in parts[:8]]
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
                if polygon_area(xs, ys) < 1:
                    ctx.warn(lab, where, "degenerate box (zero area)", group=lab_rel)
                elif outside(xs, ys, size):
                    ctx.warn(lab, where, "box extends outside its image", group=lab_rel,
                             detail=f" ({size[0]}x{size[1]})" if size else "")
                ctx.instances[name] += 1
        ctx.add_split(split, data=img_rel, label=lab_rel, images=[img for img, _ in pairs])
    ctx.class_names = fixed if fixed is not None else sorted(ctx.instances)
    if fixed is not None:
        for i, name in enumerate(fixed):
            if ctx.instances.get(name, 0) == 0:
                ctx.warn("classes.txt", f"line {i + 1}", f"class {name!r} has no boxes in any split")
