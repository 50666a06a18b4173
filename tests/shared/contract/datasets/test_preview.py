"""Previews: pages of captioned images, and thumbnails with labels drawn on
them for every task type; caching; bad labels never break rendering."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from examples.make_dataset import make_dataset
from shared.contract.datasets import DatasetReport, validate_dataset
from shared.contract.datasets.preview import PreviewItem, preview_items, render_preview
from shared.core.errors import NotFoundError
from shared.records import TaskType

T = TaskType
SIZE = 48


def build(tmp_path: Path, task_type: TaskType, **kw) -> tuple[Path, DatasetReport]:
    root = make_dataset(task_type=task_type, dest=tmp_path / "ds", n_train=kw.pop("n_train", 5), n_val=2,
                        image_size=SIZE, **kw)
    return root, validate_dataset(root=root, task_type=task_type)


def plain(root: Path, report: DatasetReport, rel: str, max_size: int = 384) -> Image.Image:
    """The same thumbnail with no label drawn: the report read as task type 'other'."""
    bare = dataclasses.replace(report, task_type=T.other)
    return render_preview(root=root, report=bare, rel_path=rel, max_size=max_size)


def differs(a: Image.Image, b: Image.Image) -> bool:
    if a.size != b.size:
        return True
    return bool(np.any(np.asarray(a, dtype=np.int16) != np.asarray(b, dtype=np.int16)))


CAPTIONS = [
    (T.detection, {}, r"img_0000.jpg · "),
    (T.instance_segmentation, {}, r"img_0000.jpg · "),
    (T.semantic_segmentation, {}, "img_0000.jpg"),
    (T.classification, {}, "img_0000.png · circle"),
    (T.classification, {"classification_layout": "meta"}, "img_0000.png · circle"),
    (T.text_detection, {}, "img_0000.jpg · "),
    (T.text_recognition, {}, "img_0000.png · “"),
    (T.rotated_detection, {}, "img_0000.png · "),
    (T.other, {}, "img_0000.jpg"),
]


@pytest.mark.parametrize(("task_type", "opts", "caption"), CAPTIONS,
                         ids=[f"{c[0].value}-{c[1].get('classification_layout', '')}" for c in CAPTIONS])
def test_preview_draws_labels_for_every_task_type(tmp_path, task_type, opts, caption):
    root, report = build(tmp_path, task_type, **opts)
    items = preview_items(root=root, report=report, split="train", offset=0, limit=3)
    assert len(items) == 3
    assert all(isinstance(i, PreviewItem) and (root / i.path).is_file() for i in items)
    assert items[0].caption.startswith(caption), items[0].caption
    assert items[0].path == report.samples["train"][0]

    im = render_preview(root=root, report=report, rel_path=items[0].path, max_size=192)
    assert isinstance(im, Image.Image)
    assert max(im.size) >= 192 and im.mode == "RGB"
    bare = plain(root, report, items[0].path, max_size=192)
    if task_type is T.other:
        assert not differs(im, bare)
    else:
        assert differs(im, bare), "labels must be drawn on the thumbnail"
    if task_type is T.text_recognition:
        assert im.height > bare.height  # the transcript is a strip under the image


def test_detection_caption_counts_objects(tmp_path):
    root, report = build(tmp_path, T.detection)
    doc = json.loads((root / "annotations/train.json").read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    names = sorted(cats[a["category_id"]] for a in doc["annotations"] if a["image_id"] == 1)
    item = preview_items(root=root, report=report, split="train", offset=0, limit=1)[0]
    for name in set(names):
        assert name in item.caption


def test_paging_goes_past_the_stored_samples(tmp_path):
    root, report = build(tmp_path, T.rotated_detection, n_train=7)
    short = dataclasses.replace(report, samples={"train": report.samples["train"][:2]})
    page = preview_items(root=root, report=short, split="train", offset=4, limit=10)
    assert [i.path for i in page] == report.samples["train"][4:7]
    assert preview_items(root=root, report=report, split="val", offset=0, limit=5)[0].path.startswith("images/val/")
    assert preview_items(root=root, report=report, split="train", offset=50, limit=5) == []
    with pytest.raises(NotFoundError, match="split 'test' is not in this dataset"):
        preview_items(root=root, report=short, split="test", offset=0, limit=5)


def test_other_without_splits_pages_all_images(tmp_path):
    root = tmp_path / "ds"
    for i in range(4):
        (root / f"d{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (30, 20), (i * 40, 0, 0)).save(root / f"d{i % 2}/x{i}.png")
    report = validate_dataset(root=root, task_type=T.other)
    items = preview_items(root=root, report=report, split="all", offset=1, limit=2)
    assert [i.path for i in items] == ["d0/x2.png", "d1/x1.png"]


def test_cache_is_reused_and_invalidated_by_label_changes(tmp_path):
    root, report = build(tmp_path, T.detection)
    cache = tmp_path / "cache"
    rel = report.samples["train"][0]
    first = render_preview(root=root, report=report, rel_path=rel, max_size=128, cache_dir=cache)
    assert isinstance(first, Path) and first.parent == cache
    with Image.open(first) as im:
        assert im.format == "JPEG" and max(im.size) == 128
    stamp = first.stat().st_mtime_ns
    again = render_preview(root=root, report=report, rel_path=rel, max_size=128, cache_dir=cache)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert render_preview(root=root, report=report, rel_path=rel, max_size=64, cache_dir=cache) != first
    label = root / "annotations/train.json"
    st = label.stat()
    os.utime(label, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert render_preview(root=root, report=report, rel_path=rel, max_size=128, cache_dir=cache) != first
    assert not list(cache.glob("*.part"))


def _garbage(rel: str, data: bytes = b"\x00\xff garbage, not a label") -> callable:
    def mutate(root: Path) -> None:
        (root / rel).write_bytes(data)
    return mutate


BAD_LABELS = [
    (T.detection, _garbage("annotations/train.json")),
    (T.detection, _garbage("annotations/train.json", b'{"images": 3, "annotations": {"a": 1}}')),
    (T.instance_segmentation, _garbage("annotations/train.json", json.dumps({
        "images": [{"id": 1, "file_name": "img_0000.jpg"}],
        "categories": [{"id": 1, "name": "circle"}],
        "annotations": [
            # runs adding up to more than h*w: pycocotools would write past its buffer
            {"image_id": 1, "category_id": 1, "segmentation": {"size": [SIZE, SIZE], "counts": [0, 10**7]}},
            {"image_id": 1, "category_id": 7, "bbox": ["a", 1, 2, 3], "segmentation": [[1, "x", 3]]},
            {"image_id": [1], "category_id": {}, "bbox": [1, 1, 10, 10]},
        ]}).encode())),
    (T.semantic_segmentation, _garbage("masks/train/img_0000.png")),
    (T.classification, _garbage("meta/train.txt")),
    (T.text_detection, _garbage("labels/train/img_0000.txt", b"1,2,x\n\xff\xfe,,,,,,,,\n1,1,1,1,1,1,1,1,ok\n")),
    (T.text_recognition, _garbage("meta/train.txt")),
    (T.rotated_detection, _garbage("labels/train/img_0000.txt", b"1 2 3\nnan nan a b c d e f g 0\n")),
]


@pytest.mark.parametrize(("task_type", "mutate"), BAD_LABELS, ids=[f"{b[0].value}-{i}" for i, b in
                                                                   enumerate(BAD_LABELS)])
def test_bad_labels_never_break_rendering(tmp_path, task_type, mutate):
    opts = {"classification_layout": "meta"} if task_type is T.classification else {}
    root, report = build(tmp_path, task_type, **opts)
    mutate(root)  # after validation: the labels changed on disk
    rel = report.samples["train"][0]
    im = render_preview(root=root, report=report, rel_path=rel, max_size=96)
    assert isinstance(im, Image.Image) and max(im.size) >= 96
    assert preview_items(root=root, report=report, split="train", offset=0, limit=2)


def test_rle_masks_are_drawn(tmp_path):
    from pycocotools import mask as mask_utils

    root, report = build(tmp_path, T.instance_segmentation)
    m = np.zeros((SIZE, SIZE), np.uint8)
    m[4:20, 24:44] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    doc = json.loads((root / "annotations/train.json").read_text())
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] != 1]
    doc["annotations"].append({"id": 999, "image_id": 1, "category_id": 2, "bbox": [24, 4, 20, 16],
                               "iscrowd": 1, "segmentation": {"size": [SIZE, SIZE],
                                                              "counts": rle["counts"].decode()}})
    (root / "annotations/train.json").write_text(json.dumps(doc))
    report = validate_dataset(root=root, task_type=T.instance_segmentation)
    rel = "images/train/img_0000.jpg"
    im = np.asarray(render_preview(root=root, report=report, rel_path=rel, max_size=SIZE * 4), np.int16)
    bare = np.asarray(plain(root, report, rel, max_size=SIZE * 4), np.int16)
    changed = np.any(im != bare, axis=2)
    # The inside of the RLE region (away from the box outline and its tag) is tinted ...
    assert changed[12 * 4:18 * 4, 28 * 4:40 * 4].mean() > 0.9
    # ... and the far corner, with no label, is untouched.
    assert not changed[40 * 4:, :10 * 4].any()


def test_semantic_overlay_follows_the_mask(tmp_path):
    root, report = build(tmp_path, T.semantic_segmentation)
    rel = "images/train/img_0000.jpg"
    mask = np.asarray(Image.open(root / "masks/train/img_0000.png"))
    im = np.asarray(render_preview(root=root, report=report, rel_path=rel, max_size=SIZE), np.int16)
    bare = np.asarray(plain(root, report, rel, max_size=SIZE), np.int16)
    changed = np.any(im != bare, axis=2)
    # Away from the legend in the top-left corner, exactly the labelled pixels are tinted
    # (class 0 is "background" and is not tinted).
    rows = slice(SIZE // 2, SIZE)
    assert np.array_equal(changed[rows], mask[rows] > 0)


def test_unreadable_image_gives_a_placeholder(tmp_path):
    root, report = build(tmp_path, T.classification)
    rel = report.samples["train"][0]
    (root / rel).write_bytes(b"not an image")
    im = render_preview(root=root, report=report, rel_path=rel, max_size=200)
    assert isinstance(im, Image.Image) and im.width == 200


@pytest.mark.parametrize("rel", ["../outside.png", "/etc/passwd", "images/train/../../../x.png",
                                 "images/train/nope.jpg", "."])
def test_paths_outside_or_missing_are_refused(tmp_path, rel):
    root, report = build(tmp_path, T.detection)
    (tmp_path / "outside.png").write_bytes(b"x")
    with pytest.raises(NotFoundError):
        render_preview(root=root, report=report, rel_path=rel)
