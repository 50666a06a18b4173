"""Object detection and instance segmentation: COCO json, ``annotations/{split}.json`` +
``images/{split}/`` (CONTRACT §1.2)."""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

from shared.contract.datasets.common import fmt_ids, is_num, outside, safe_rel, walk_images
from shared.contract.datasets.context import Ctx
from shared.contract.datasets.instance_segmentation import check_segmentation
from shared.contract.names import SPLITS
from shared.core.i18n import N_


def _coco_hint(root: Path) -> str:
    ann_dir = root / "annotations"
    if not ann_dir.is_dir():
        return ""
    others = sorted(p.name for p in ann_dir.glob("*.json") if p.stem not in SPLITS)
    if not others:
        return ""
    return " " + N_("(annotations/ holds {names}: name the files train.json, val.json, test.json)").format(
        names=", ".join(others[:5]))


def validate_coco(ctx: Ctx, *, instance: bool) -> None:
    ctx.layout = "coco"
    root = ctx.root
    found = [s for s in SPLITS
             if (root / "annotations" / f"{s}.json").is_file() or (root / "images" / s).is_dir()]
    if "train" not in found:
        ctx.missing_train("annotations/train.json",
                          N_("{annotations} and {images}").format(annotations="annotations/train.json",
                                                                  images="images/train/") + _coco_hint(root))
    ref_cats: dict[int, str] | None = None
    ref_file = ""
    for split in found:
        ann_rel, img_rel = f"annotations/{split}.json", f"images/{split}"
        if not (root / ann_rel).is_file():
            ctx.error(img_rel + "/", None,
                      N_("has no annotation file: add {file}").format(file=ann_rel) + _coco_hint(root))
            continue
        if not (root / img_rel).is_dir():
            ctx.error(ann_rel, None, N_("its image folder {folder} is missing").format(folder=f"{img_rel}/"))
            continue
        ctx.step(N_("Reading {file}").format(file=ann_rel))
        data = ctx.load_json(ann_rel)
        if data is None:
            continue
        cats = _coco_split(ctx, data, split=split, ann_rel=ann_rel, img_rel=img_rel, instance=instance)
        if cats is None:
            continue
        if ref_cats is None:
            ref_cats, ref_file = cats, ann_rel
            continue
        for i, (cid, name) in enumerate(cats.items()):
            if cid not in ref_cats:
                ctx.error(ann_rel, f"categories[{i}].id",
                          N_("category id {id} ({name}) is not a category of {file}; every split must use the "
                             "train split's categories").format(id=cid, name=repr(name), file=ref_file))
            elif ref_cats[cid] != name:
                ctx.error(ann_rel, f"categories[{i}].name",
                          N_("category id {id} is named {name} here but {other} in {file}").format(
                              id=cid, name=repr(name), other=repr(ref_cats[cid]), file=ref_file))
    if ref_cats:
        ctx.class_names = [ref_cats[k] for k in sorted(ref_cats)]
        for i, cid in enumerate(ref_cats):
            name = ref_cats[cid]
            if ctx.instances.get(name, 0) == 0:
                ctx.warn(ref_file, f"categories[{i}]",
                         N_("class {name} has no annotations in any split").format(name=repr(name)))


def _coco_split(ctx: Ctx, data: Any, *, split: str, ann_rel: str, img_rel: str,
                instance: bool) -> dict[int, str] | None:
    """Check one COCO file; returns its categories (id -> name) or None when unusable."""
    errors_before = ctx.error_count
    if not isinstance(data, dict):
        ctx.error(ann_rel, None, N_("the top level must be a JSON object with images, annotations, categories"))
        return None
    lists: dict[str, list] = {}
    for key in ("images", "annotations", "categories"):
        value = data.get(key)
        if value is None:
            ctx.error(ann_rel, key, N_("missing: a COCO file needs the key {key} (a list)").format(key=repr(key)))
        elif not isinstance(value, list):
            ctx.error(ann_rel, key, N_("must be a list, not {type}").format(type=type(value).__name__))
        else:
            lists[key] = value
    if len(lists) < 3:
        return None

    # categories ----------------------------------------------------------
    cats: dict[int, str] = {}
    names_seen: dict[str, int] = {}
    for i, c in enumerate(lists["categories"]):
        where = f"categories[{i}]"
        if not isinstance(c, dict):
            ctx.error(ann_rel, where, N_("must be an object with 'id' and 'name'"))
            continue
        cid, name = c.get("id"), c.get("name")
        if not isinstance(cid, int) or isinstance(cid, bool):
            ctx.error(ann_rel, where + ".id", N_("category id must be an integer, got {value}").format(value=repr(cid)))
            continue
        if not isinstance(name, str) or not name.strip():
            ctx.error(ann_rel, where + ".name",
                      N_("category name must be a non-empty string, got {value}").format(value=repr(name)))
            continue
        if cid in cats:
            ctx.error(ann_rel, where + ".id", N_("category id {id} is used twice").format(id=cid))
            continue
        if name in names_seen:
            ctx.error(ann_rel, where + ".name",
                      N_("category name {name} is used twice (also {other})").format(
                          name=repr(name), other=f"categories[{names_seen[name]}]"))
            continue
        cats[cid] = name
        names_seen[name] = i
    if not cats and not ctx.error_count > errors_before:
        ctx.error(ann_rel, "categories", N_("is empty: list at least one category"))

    # images --------------------------------------------------------------
    root = ctx.root
    images: dict[Any, tuple[int, str, tuple[int, int] | None]] = {}  # id -> (index, rel, size)
    broken_images: set[Any] = set()
    on_disk_listed: set[str] = set()
    ordered: list[str] = []
    n_images = len(lists["images"])
    for i, im in enumerate(lists["images"]):
        if i and i % 2000 == 0:
            ctx.step(N_("{file}: checked {done}/{total} images").format(file=ann_rel, done=i, total=n_images))
        where = f"images[{i}]"
        if not isinstance(im, dict):
            ctx.error(ann_rel, where, N_("must be an object with 'id', 'file_name', 'width', 'height'"))
            continue
        iid, fname = im.get("id"), im.get("file_name")
        if not isinstance(iid, int | str) or isinstance(iid, bool):
            ctx.error(ann_rel, where + ".id", N_("image id must be an integer, got {value}").format(value=repr(iid)))
            continue
        if iid in images:
            ctx.error(ann_rel, where + ".id", N_("image id {id} is used twice (also {other})").format(
                id=repr(iid), other=f"images[{images[iid][0]}]"))
            continue
        broken_images.add(iid)
        if not isinstance(fname, str):
            ctx.error(ann_rel, where + ".file_name", N_("must be a string, got {value}").format(value=repr(fname)))
            continue
        rel = safe_rel(fname)
        if rel is None:
            ctx.error(ann_rel, where + ".file_name",
                      N_("{path} must be a path relative to {folder} that stays inside it").format(
                          path=repr(fname), folder=f"{img_rel}/"))
            continue
        full_rel = f"{img_rel}/{rel}"
        if not (root / full_rel).is_file():
            ctx.error(ann_rel, where + ".file_name", N_("image {file} not found (file names are relative to "
                                                        "{folder})").format(file=full_rel, folder=f"{img_rel}/"))
            continue
        on_disk_listed.add(rel)
        ordered.append(full_rel)
        actual = ctx.probe(full_rel, group=img_rel)
        jw, jh = im.get("width"), im.get("height")
        size = actual
        if jw is None or jh is None:
            ctx.warn(ann_rel, where, N_("width/height missing; the sizes read from the image files are used"),
                     group=ann_rel)
        elif not (is_num(jw) and is_num(jh) and jw > 0 and jh > 0):
            ctx.error(ann_rel, where + ".width", N_("width/height must be positive numbers, got {values}").format(
                values=f"{jw!r}, {jh!r}"))
        else:
            size = (int(jw), int(jh))
            if actual is not None and actual != size:
                ctx.warn(ann_rel, where, N_("width/height differ from the image file's size"), group=ann_rel,
                         detail=" " + N_("({json_size} in the JSON, {file_size} in {file})").format(
                             json_size=f"{jw}x{jh}", file_size=f"{actual[0]}x{actual[1]}", file=full_rel))
        broken_images.discard(iid)
        images[iid] = (i, full_rel, size)

    # annotations ---------------------------------------------------------
    ann_ids: dict[Any, int] = {}
    annotated: set[Any] = set()
    split_counts: Counter[str] = Counter()
    known = fmt_ids(cats)
    for i, a in enumerate(lists["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(a, dict):
            ctx.error(ann_rel, where, N_("must be an object with id, image_id, category_id, bbox"))
            continue
        aid = a.get("id")
        if aid is None or isinstance(aid, bool) or not isinstance(aid, int | str):
            ctx.error(ann_rel, where + ".id",
                      N_("annotation id must be an integer, got {value}").format(value=repr(aid)))
        elif aid in ann_ids:
            ctx.error(ann_rel, where + ".id",
                      N_("annotation id {id} is used twice (also {other})").format(
                          id=repr(aid), other=f"annotations[{ann_ids[aid]}]"))
        else:
            ann_ids[aid] = i
        iid = a.get("image_id")
        hashable = isinstance(iid, int | str) and not isinstance(iid, bool)
        img = images.get(iid) if hashable else None
        if img is None:
            # Annotations of an image whose own entry is already an error add nothing.
            if not hashable or iid not in broken_images:
                ctx.error(ann_rel, where + ".image_id",
                          N_("unknown image id {id} (not in images)").format(id=repr(iid)))
            continue
        cid = a.get("category_id")
        if not isinstance(cid, int) or isinstance(cid, bool) or cid not in cats:
            ctx.error(ann_rel, where + ".category_id", N_("unknown category id {id} (known: {known})").format(
                id=repr(cid), known=known))
            continue
        size = img[2]
        bbox = a.get("bbox")
        if bbox is None:
            ctx.error(ann_rel, where + ".bbox", N_("missing: every annotation needs bbox [x, y, w, h]"))
            continue
        if not isinstance(bbox, list) or len(bbox) != 4:
            ctx.error(ann_rel, where + ".bbox", N_("must be [x, y, w, h] (4 numbers), got {value}").format(
                value=json.dumps(bbox)[:80]))
            continue
        bad = next((k for k, v in enumerate(bbox) if not is_num(v)), None)
        if bad is not None:
            ctx.error(ann_rel, f"{where}.bbox[{bad}]",
                      N_("non-numeric coordinate {value}").format(value=repr(bbox[bad])))
            continue
        x, y, w, h = bbox
        if w <= 0 or h <= 0:
            ctx.warn(ann_rel, where + ".bbox", N_("degenerate box (width or height <= 0)"),
                     detail=f": {bbox}")
        elif outside((x, x + w), (y, y + h), size):
            ctx.warn(ann_rel, where + ".bbox", N_("box extends outside its image"),
                     detail=": " + N_("{bbox} in a {size} image").format(bbox=bbox, size=f"{size[0]}x{size[1]}")
                     if size else "")
        if instance and not check_segmentation(ctx, a.get("segmentation"), ann_rel=ann_rel,
                                               where=where + ".segmentation", size=size):
            continue
        annotated.add(iid)
        split_counts[cats[cid]] += 1

    # images without labels / files nobody lists ---------------------------
    for iid, (i, _rel, _size) in images.items():
        if iid not in annotated:
            ctx.warn(ann_rel, f"images[{i}]", N_("image has no annotations"))
    for rel in walk_images(root / img_rel):
        if rel not in on_disk_listed:
            ctx.warn(f"{img_rel}/{rel}", None, N_("image is not listed in {file}; it is not used").format(file=ann_rel),
                     group=img_rel)

    if ctx.error_count == errors_before:
        # The file is also indexed by pycocotools, as the user's training code will do.
        try:
            from pycocotools.coco import COCO

            coco = COCO()
            coco.dataset = data
            with contextlib.redirect_stdout(io.StringIO()):
                coco.createIndex()
        except Exception as exc:  # noqa: BLE001 - any failure here is the file's fault
            ctx.error(ann_rel, None, N_("pycocotools cannot index this file: {error}").format(
                error=f"{type(exc).__name__}: {exc}"))
    ctx.instances.update(split_counts)
    ctx.add_split(split, data=img_rel, label=ann_rel, images=ordered)
    return cats
