"""Rotated object detection, DOTA: ``images/{split}/NAME.png`` + ``labels/{split}/NAME.txt``, lines
``x1 y1 ... x4 y4 class_name difficult``, optional ``classes.txt`` (CONTRACT §1.2)."""

from __future__ import annotations

from shared.contract.datasets.common import read_classes_file
from shared.contract.datasets.context import Ctx, check_quad, label_lines, pair_labels, quad, split_dirs
from shared.core.i18n import N_


def validate_rotated(ctx: Ctx) -> None:
    ctx.layout = "dota"
    root = ctx.root
    fixed: list[str] | None = None
    if (root / "classes.txt").is_file():
        try:
            fixed = [c for c in read_classes_file(root / "classes.txt") if c]
        except (OSError, UnicodeDecodeError) as exc:
            ctx.error("classes.txt", None, N_("cannot be read as UTF-8 text: {error}").format(error=exc))
    known = set(fixed or ())
    splits = split_dirs(ctx, lab_root="labels", train_file="labels/train/",
                         expected="images/train/NAME.png + labels/train/NAME.txt")
    for split in splits:
        img_rel, lab_rel = f"images/{split}", f"labels/{split}"
        ctx.step(N_("Checking {folder}").format(folder=f"{lab_rel}/"))
        pairs = pair_labels(ctx, img_rel=img_rel, lab_rel=lab_rel, label_exts=(".txt",), what=N_("label file"))
        for lab, where, line, size in label_lines(ctx, pairs, img_rel=img_rel, lab_rel=lab_rel):
            # DOTA v1.0 files start with 'imagesource:...' and 'gsd:...' lines.
            if line.startswith(("imagesource:", "gsd:")):
                continue
            parts = line.split()
            if len(parts) != 10:
                ctx.error(lab, where, N_("expected 10 fields {fields}, got {n}: {line}").format(
                    fields="'x1 y1 x2 y2 x3 y3 x4 y4 class_name difficult'", n=len(parts), line=repr(line[:80])))
                continue
            if (xy := quad(ctx, lab, where, parts)) is None:
                continue
            if parts[9] not in ("0", "1"):
                ctx.error(lab, where, N_("difficult flag must be 0 or 1, got {value}").format(value=repr(parts[9])))
                continue
            name = parts[8]
            if fixed is not None and name not in known:
                ctx.error(lab, where, N_("unknown class {name} (classes.txt: {classes})").format(
                    name=repr(name), classes=", ".join(fixed[:20])))
                continue
            check_quad(ctx, lab, where, *xy, size, group=lab_rel, what=N_("box"))
            ctx.instances[name] += 1
        ctx.add_split(split, data=img_rel, label=lab_rel, images=[img for img, _ in pairs])
    ctx.class_names = fixed if fixed is not None else sorted(ctx.instances)
    if fixed is not None:
        for i, name in enumerate(fixed):
            if ctx.instances.get(name, 0) == 0:
                ctx.warn("classes.txt", N_("line {line}").format(line=i + 1),
                         N_("class {name} has no boxes in any split").format(name=repr(name)))
