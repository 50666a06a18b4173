"""Task type "other": only the images are indexed, in their real folder hierarchy; labels are not
parsed (CONTRACT §1, §1.1)."""

from __future__ import annotations

from shared.contract.datasets.common import MAX_PREVIEW_SAMPLES, SplitInfo, walk_images
from shared.contract.datasets.context import Ctx
from shared.contract.names import IMAGE_EXTS, SPLITS
from shared.core.i18n import N_

_OTHER_LABEL_CANDIDATES = ("labels/{s}", "annotations/{s}.json", "masks/{s}", "meta/{s}.txt")


def validate_other(ctx: Ctx) -> None:
    ctx.layout = "files"
    root = ctx.root
    ctx.step(N_("Indexing images"))
    all_images = walk_images(root)
    if not all_images:
        ctx.error(N_("(dataset root)"), None,
                  N_("no image files found; images must be {exts} (any letter case)").format(
                      exts=", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTS))))
        return
    for k, rel in enumerate(all_images):
        if k and k % 5000 == 0:
            ctx.step(N_("Checked {done}/{total} images").format(done=k, total=len(all_images)))
        ctx.probe(rel, group="(dataset root)")
    for split in SPLITS:
        data = next((c for c in (split, f"images/{split}") if (root / c).is_dir()), None)
        if data is None:
            continue
        label = next((c.format(s=split) for c in _OTHER_LABEL_CANDIDATES
                      if (root / c.format(s=split)).exists()), "")
        prefix = data + "/"
        images = [r for r in all_images if r.startswith(prefix)]
        ctx.splits[split] = SplitInfo(name=split, images=len(images), data=data, label=label)
        ctx.samples[split] = images[:MAX_PREVIEW_SAMPLES]
    if not ctx.splits:
        ctx.samples["all"] = all_images[:MAX_PREVIEW_SAMPLES]
    ctx.images_total = len(all_images)
