"""Dataset validation for the eight task types: generated datasets pass,
broken ones are rejected naming the file and line/JSON path, warnings are
kept and aggregated, and the platform flags get the right values."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from examples.make_dataset import make_dataset
from shared.contract.datasets import (
    MAX_ERROR_DETAILS,
    DatasetReport,
    Issue,
    platform_values,
    validate_dataset,
)
from shared.core.errors import DatasetFormatError
from shared.records import TaskType

REPO = Path(__file__).resolve().parents[4]
SHAPES = ["circle", "square", "triangle"]
N_TRAIN, N_VAL, SIZE = 6, 3, 48

T = TaskType


def make(tmp_path: Path, task_type: TaskType, **kw) -> Path:
    kw.setdefault("n_train", N_TRAIN)
    kw.setdefault("n_val", N_VAL)
    kw.setdefault("image_size", SIZE)
    return make_dataset(task_type=task_type, dest=tmp_path / "ds", **kw)


def rejected(root: Path, task_type: TaskType) -> DatasetFormatError:
    with pytest.raises(DatasetFormatError) as info:
        validate_dataset(root=root, task_type=task_type)
    return info.value


# --------------------------------------------------------------------------- mutation helpers


def edit_json(rel: str, fn: Callable[[dict], None]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        doc = json.loads((root / rel).read_text())
        fn(doc)
        (root / rel).write_text(json.dumps(doc))
    return mutate


def edit_lines(rel: str, fn: Callable[[list[str]], None]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        lines = (root / rel).read_text().splitlines()
        fn(lines)
        (root / rel).write_text("\n".join(lines) + "\n")
    return mutate


def write(rel: str, content: str | bytes) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (root / rel).write_bytes(content)
        else:
            (root / rel).write_text(content)
    return mutate


def remove(*rels: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        for rel in rels:
            p = root / rel
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return mutate


def save_mask(rel: str, arr: np.ndarray, mode: str | None = None) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        Image.fromarray(arr, mode).save(root / rel)
    return mutate


def chain(*fns: Callable[[Path], None]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        for fn in fns:
            fn(root)
    return mutate


def set_line(index: int, text: str) -> Callable[[list[str]], None]:
    def fn(lines: list[str]) -> None:
        lines[index] = text
    return fn


def setitem(path: tuple, value) -> Callable[[dict], None]:
    def fn(doc: dict) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return fn


def delitem(path: tuple) -> Callable[[dict], None]:
    def fn(doc: dict) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return fn


# --------------------------------------------------------------------------- valid datasets

VALID = [
    # task type, generator options, class names (None: checked separately), data of train, label of train
    (T.detection, {}, SHAPES, "images/train", "annotations/train.json"),
    (T.instance_segmentation, {}, SHAPES, "images/train", "annotations/train.json"),
    (T.semantic_segmentation, {}, ["background", *SHAPES], "images/train", "masks/train"),
    (T.classification, {}, SHAPES, "train", ""),
    (T.classification, {"classification_layout": "meta"}, SHAPES, "train", "meta/train.txt"),
    (T.text_detection, {}, ["text"], "images/train", "labels/train"),
    (T.text_recognition, {}, None, "images/train", "meta/train.txt"),
    (T.rotated_detection, {}, ["bar", "block"], "images/train", "labels/train"),
    (T.other, {}, [], "images/train", "labels/train"),
]


@pytest.mark.parametrize(("task_type", "opts", "classes", "data", "label"), VALID,
                         ids=[f"{v[0].value}-{v[1].get('classification_layout', '')}" for v in VALID])
def test_generated_dataset_validates(tmp_path, task_type, opts, classes, data, label):
    root = make(tmp_path, task_type, n_test=2, **opts)
    steps: list[str] = []
    report = validate_dataset(root=root, task_type=task_type, progress=steps.append)

    assert report.task_type is task_type
    assert set(report.splits) == {"train", "val", "test"}
    assert [report.splits[s].images for s in ("train", "val", "test")] == [N_TRAIN, N_VAL, 2]
    assert report.splits["train"].data == data
    assert report.splits["train"].label == label
    assert report.splits["val"].data == data.replace("train", "val")
    assert report.images_total == N_TRAIN + N_VAL + 2
    assert len(report.image_sizes) == report.images_total
    assert len(report.samples["train"]) == N_TRAIN
    assert all((root / p).is_file() for p in report.samples["train"])
    assert report.warnings == [], [str(w) for w in report.warnings]
    assert steps and steps[-1] == "Done"
    if classes is None:  # text recognition: the classes are the characters seen
        assert report.class_names and all(c.isdigit() for c in report.class_names)
        assert report.class_names == sorted(report.class_names)
    else:
        assert report.class_names == classes
    if task_type is T.other:
        assert report.instances_per_class == {}
    else:
        assert set(report.instances_per_class) == set(report.class_names)
        assert all(n > 0 for n in report.instances_per_class.values())
    if task_type is T.classification:
        assert sum(report.instances_per_class.values()) == report.images_total
    if task_type is not T.text_recognition:
        assert {s for s in report.image_sizes} == {(SIZE, SIZE)}


def test_report_round_trips_through_json(tmp_path):
    root = make(tmp_path, T.detection)
    edit_json("annotations/train.json", setitem(("annotations", 0, "bbox"), [40, 40, 30, 30]))(root)
    report = validate_dataset(root=root, task_type=T.detection)
    assert report.warnings
    again = DatasetReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report
    assert again.class_map() == {"0": "circle", "1": "square", "2": "triangle"}


# --------------------------------------------------------------------------- errors

BAD_JSON = '{\n "images": [\n  {"id": 1,,}\n ]\n}'

BROKEN = [
    # id, task type, generator options, mutation, substrings the error must contain
    ("det-bad-json", T.detection, {}, write("annotations/train.json", BAD_JSON),
     ["annotations/train.json line 3, column 12: invalid JSON: Expecting property name"]),
    ("det-unknown-category", T.detection, {},
     edit_json("annotations/train.json", setitem(("annotations", 0, "category_id"), 99)),
     ["annotations/train.json annotations[0].category_id: unknown category id 99 (known: 1, 2, 3)"]),
    ("det-missing-image", T.detection, {}, remove("images/train/img_0000.jpg"),
     ["annotations/train.json images[0].file_name: image images/train/img_0000.jpg not found"]),
    ("det-non-numeric-bbox", T.detection, {},
     edit_json("annotations/val.json", setitem(("annotations", 1, "bbox", 2), "wide")),
     ["annotations/val.json annotations[1].bbox[2]: non-numeric coordinate 'wide'"]),
    ("det-unknown-image", T.detection, {},
     edit_json("annotations/train.json", setitem(("annotations", 2, "image_id"), 777)),
     ["annotations/train.json annotations[2].image_id: unknown image id 777"]),
    ("det-missing-train", T.detection, {}, remove("annotations/train.json", "images/train"),
     ["annotations/train.json: the train split is missing", "the dataset root holds: annotations/, images/"]),
    ("det-images-without-json", T.detection, {}, remove("annotations/val.json"),
     ["images/val/: has no annotation file: add annotations/val.json"]),
    ("det-val-category-conflict", T.detection, {},
     edit_json("annotations/val.json", setitem(("categories", 1, "name"), "rectangle")),
     ["annotations/val.json categories[1].name: category id 2 is named 'rectangle' here but 'square'"]),
    ("det-duplicate-annotation-id", T.detection, {},
     edit_json("annotations/train.json", setitem(("annotations", 1, "id"), 1)),
     ["annotations/train.json annotations[1].id: annotation id 1 is used twice (also annotations[0])"]),
    ("det-missing-key", T.detection, {}, edit_json("annotations/train.json", delitem(("categories",))),
     ["annotations/train.json categories: missing"]),
    ("ins-non-numeric-polygon", T.instance_segmentation, {},
     edit_json("annotations/train.json", setitem(("annotations", 0, "segmentation", 0, 3), None)),
     ["annotations/train.json annotations[0].segmentation[0][3]: non-numeric coordinate None"]),
    ("ins-rle-wrong-total", T.instance_segmentation, {},
     edit_json("annotations/train.json",
               setitem(("annotations", 0, "segmentation"), {"size": [SIZE, SIZE], "counts": [10, 20]})),
     ["annotations[0].segmentation.counts: RLE runs cover 30 pixels but size [48, 48] has 2304"]),
    ("ins-rle-bad-string", T.instance_segmentation, {},
     edit_json("annotations/train.json",
               setitem(("annotations", 0, "segmentation"), {"size": [SIZE, SIZE], "counts": "ab~"})),
     ["annotations[0].segmentation.counts: invalid RLE counts: invalid character '~'"]),
    ("ins-missing-segmentation", T.instance_segmentation, {},
     edit_json("annotations/val.json", delitem(("annotations", 0, "segmentation"))),
     ["annotations/val.json annotations[0].segmentation: missing"]),
    ("cls-unknown-val-class", T.classification, {},
     chain(write("val/zebra/z.png", b""), lambda root: shutil.copy(root / "train/circle/img_0000.png",
                                                                  root / "val/zebra/z.png")),
     ["val/zebra/: class 'zebra' is not a class of train/"]),
    ("cls-missing-train", T.classification, {}, remove("train"),
     ["train/: the train split is missing", "the dataset root holds: val/"]),
    ("cls-meta-field-count", T.classification, {"classification_layout": "meta"},
     edit_lines("meta/train.txt", lambda lines: lines.append("lonely_line")),
     ["meta/train.txt line 7: expected 2 fields 'relative/path.jpg <class_index>', got 1"]),
    ("cls-meta-index-range", T.classification, {"classification_layout": "meta"},
     edit_lines("meta/train.txt", set_line(0, "circle/img_0000.png 5")),
     ["meta/train.txt line 1: class index 5 out of range: meta/classes.txt has 3 classes (0..2)"]),
    ("cls-meta-not-int", T.classification, {"classification_layout": "meta"},
     edit_lines("meta/val.txt", set_line(1, "square/img_0001.png dog")),
     ["meta/val.txt line 2: class index 'dog' is not an integer"]),
    ("cls-meta-missing-image", T.classification, {"classification_layout": "meta"},
     edit_lines("meta/train.txt", set_line(1, "circle/nope.png 0")),
     ["meta/train.txt line 2: image 'circle/nope.png' not found"]),
    ("cls-meta-missing-classes", T.classification, {"classification_layout": "meta"},
     remove("meta/classes.txt"), ["meta/classes.txt: missing"]),
    ("sem-value-out-of-range", T.semantic_segmentation, {},
     save_mask("masks/train/img_0000.png", np.full((SIZE, SIZE), 9, np.uint8)),
     ["masks/train/img_0000.png: pixel values [9] are not classes: classes.txt has 4 classes (0..3)"]),
    ("sem-mask-size", T.semantic_segmentation, {},
     save_mask("masks/train/img_0001.png", np.zeros((20, 30), np.uint8)),
     ["masks/train/img_0001.png: mask is 30x20 but its image images/train/img_0001.jpg is 48x48"]),
    ("sem-mask-without-image", T.semantic_segmentation, {}, remove("images/val/img_0002.jpg"),
     ["masks/val/img_0002.png: mask has no image: expected images/val/img_0002.<jpg|png|...>"]),
    ("sem-rgb-mask", T.semantic_segmentation, {},
     save_mask("masks/train/img_0002.png", np.zeros((SIZE, SIZE, 3), np.uint8)),
     ["masks/train/img_0002.png: mask must be a single-channel PNG", "got mode RGB"]),
    ("sem-jpeg-mask", T.semantic_segmentation, {}, write("masks/train/img_0003.jpg", b"x"),
     ["masks/train/img_0003.jpg: masks must be PNG files"]),
    ("sem-missing-classes", T.semantic_segmentation, {}, remove("classes.txt"), ["classes.txt: missing"]),
    ("td-field-count", T.text_detection, {}, write("labels/train/img_0000.txt", "1,2,3,4,5,6,7,8\n"),
     ["labels/train/img_0000.txt line 1: expected 9 fields 'x1,y1,x2,y2,x3,y3,x4,y4,transcript', got 8"]),
    ("td-non-numeric", T.text_detection, {},
     write("labels/val/img_0001.txt", "1,2,3,4,5,6,7,8,ok\n1,2,x,4,5,6,7,8,bad\n"),
     ["labels/val/img_0001.txt line 2: non-numeric coordinate 'x' (field 3)"]),
    ("td-label-without-image", T.text_detection, {}, write("labels/train/ghost.txt", "1,1,9,1,9,9,1,9,a\n"),
     ["labels/train/ghost.txt: label file has no image"]),
    ("tr-space-not-tab", T.text_recognition, {}, edit_lines("meta/train.txt", set_line(0, "img_0000.png 123")),
     ["meta/train.txt line 1: expected 2 TAB-separated fields", "got 1 (separate the path and the transcript"]),
    ("tr-missing-image", T.text_recognition, {}, edit_lines("meta/train.txt", set_line(1, "missing.png\t42")),
     ["meta/train.txt line 2: image 'missing.png' not found (paths are relative to images/train/"]),
    ("tr-missing-train", T.text_recognition, {}, remove("meta/train.txt", "images/train"),
     ["meta/train.txt: the train split is missing"]),
    ("dota-field-count", T.rotated_detection, {},
     edit_lines("labels/train/img_0000.txt", set_line(2, "1 1 9 1 9 9 1 9 bar")),
     ["labels/train/img_0000.txt line 3: expected 10 fields", "got 9"]),
    ("dota-non-numeric", T.rotated_detection, {},
     edit_lines("labels/val/img_0001.txt", set_line(2, "1 1 nine 1 9 9 1 9 bar 0")),
     ["labels/val/img_0001.txt line 3: non-numeric coordinate 'nine' (field 3)"]),
    ("dota-unknown-class", T.rotated_detection, {},
     chain(write("classes.txt", "bar\nblock\n"),
           edit_lines("labels/train/img_0002.txt", set_line(2, "1 1 9 1 9 9 1 9 plane 0"))),
     ["labels/train/img_0002.txt line 3: unknown class 'plane' (classes.txt: bar, block)"]),
    ("dota-difficult", T.rotated_detection, {},
     edit_lines("labels/train/img_0000.txt", set_line(2, "1 1 9 1 9 9 1 9 bar hard")),
     ["labels/train/img_0000.txt line 3: difficult flag must be 0 or 1"]),
    ("dota-empty-train", T.rotated_detection, {}, chain(remove("images/train", "labels/train"),
                                                        write("images/train/readme.txt", "x")),
     ["images/train/: the train split has no images"]),
    ("other-no-images", T.other, {}, remove("images"), ["(dataset root): no image files found"]),
    ("other-only-junk", T.other, {},
     chain(remove("images"), write("__MACOSX/images/._img.jpg", b"x"), write(".cache/img.png", b"x")),
     ["(dataset root): no image files found"]),
]


@pytest.mark.parametrize(("case", "task_type", "opts", "mutate", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_dataset_is_rejected(tmp_path, case, task_type, opts, mutate, expected):
    root = make(tmp_path, task_type, **opts)
    mutate(root)
    err = rejected(root, task_type)
    text = str(err)
    for piece in expected:
        assert piece in text, f"{piece!r} not in:\n{text}"
    assert err.details, "every error is listed in details"
    assert expected[0] in err.details[0] or any(expected[0] in d for d in err.details)
    assert "Fix the files listed" in err.message


def test_every_task_type_has_two_broken_variants():
    per_type: dict[TaskType, int] = {}
    for _, task_type, *_ in BROKEN:
        per_type[task_type] = per_type.get(task_type, 0) + 1
    assert set(per_type) == set(TaskType)
    assert min(per_type.values()) >= 2


def test_errors_are_capped_with_a_count(tmp_path):
    root = make(tmp_path, T.text_recognition)
    (root / "meta" / "train.txt").write_text("".join(f"missing_{i}.png\t1\n" for i in range(60)))
    err = rejected(root, T.text_recognition)
    assert len(err.details) == MAX_ERROR_DETAILS + 1
    assert err.details[-1] == f"and {60 - MAX_ERROR_DETAILS} more errors"
    assert "(60 errors)" in err.message
    assert err.details[0].startswith("meta/train.txt line 1: image 'missing_0.png' not found")


def test_root_that_is_not_a_folder(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(DatasetFormatError, match="is not a folder"):
        validate_dataset(root=f, task_type=T.other)


# --------------------------------------------------------------------------- warnings


def _empty_image_annotations(doc: dict) -> None:
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] != 2]


def _extra_category(doc: dict) -> None:
    doc["categories"].append({"id": 4, "name": "hexagon"})


def _rle_and_degenerate(doc: dict) -> None:
    doc["annotations"][0]["segmentation"] = [[1, 1, 2, 2]]
    # A valid uncompressed RLE (background 100 px, then 50 px foreground) is no warning.
    doc["annotations"][1]["segmentation"] = {"size": [SIZE, SIZE], "counts": [100, 50, SIZE * SIZE - 150]}


def _corrupt_png(rel: str) -> Callable[[Path], None]:
    return write(rel, b"\x89PNG\r\n\x1a\n not really a png")


WARNED = [
    ("det", T.detection, {},
     chain(edit_json("annotations/train.json", setitem(("annotations", 0, "bbox"), [40, 40, 30, 30])),
           edit_json("annotations/train.json", _empty_image_annotations),
           edit_json("annotations/train.json", _extra_category),
           edit_json("annotations/train.json", setitem(("annotations", 3, "bbox"), [5, 5, 0, 4]))),
     ["annotations/train.json annotations[0].bbox: box extends outside its image: [40, 40, 30, 30] in a 48x48",
      "annotations/train.json images[1]: image has no annotations",
      "annotations/train.json categories[3]: class 'hexagon' has no annotations in any split",
      "annotations/train.json annotations[3].bbox: degenerate box (width or height <= 0)"]),
    ("det-unlisted-file", T.detection, {}, lambda root: shutil.copy(root / "images/train/img_0000.jpg",
                                                                   root / "images/train/extra.jpg"),
     ["images/train/extra.jpg: image is not listed in annotations/train.json; it is not used"]),
    ("ins", T.instance_segmentation, {}, edit_json("annotations/train.json", _rle_and_degenerate),
     ["annotations/train.json annotations[0].segmentation[0]: degenerate polygon"]),
    ("cls", T.classification, {},
     chain(_corrupt_png("train/circle/broken.png"), lambda root: (root / "train/hexagon").mkdir()),
     ["train/circle/broken.png: image cannot be read", "train/hexagon/: class 'hexagon' has no images"]),
    ("cls-meta", T.classification, {"classification_layout": "meta"},
     chain(edit_lines("meta/classes.txt", lambda lines: lines.append("hexagon")),
           edit_lines("meta/train.txt", lambda lines: lines.pop())),
     ["meta/classes.txt line 4: class 'hexagon' has no images in any split",
      "train/triangle/img_0005.png: image is not listed in meta/train.txt"]),
    ("sem", T.semantic_segmentation, {},
     chain(remove("masks/train/img_0000.png", "masks/train/img_0001.png", "masks/train/img_0002.png"),
           edit_lines("classes.txt", lambda lines: lines.append("hexagon"))),
     ["images/train/img_0000.jpg: image has no mask in masks/train/ (and 2 more like it)",
      "classes.txt line 5: class 'hexagon' appears in no mask"]),
    ("td", T.text_detection, {},
     chain(remove("labels/train/img_0001.txt"), write("labels/train/img_0000.txt", "40,40,90,40,90,60,40,60,77\n")),
     ["images/train/img_0001.jpg: image has no label file in labels/train/",
      "labels/train/img_0000.txt line 1: text box extends outside its image (48x48)"]),
    ("tr", T.text_recognition, {},
     chain(edit_lines("meta/train.txt", lambda lines: lines.pop()),
           edit_lines("meta/val.txt", set_line(0, "img_0000.png\t "))),
     ["images/train/img_0005.png: image is not listed in meta/train.txt; it is not used",
      "meta/val.txt line 1: empty transcript"]),
    ("dota", T.rotated_detection, {},
     edit_lines("labels/train/img_0000.txt", lambda lines: lines.extend(
         ["5 5 5 5 5 5 5 5 bar 0", "40 40 60 40 60 60 40 60 block 1"])),
     ["labels/train/img_0000.txt line", "degenerate box (zero area)", "box extends outside its image (48x48)"]),
    ("other", T.other, {}, _corrupt_png("images/train/broken.png"),
     ["images/train/broken.png: image cannot be read"]),
]


@pytest.mark.parametrize(("case", "task_type", "opts", "mutate", "expected"), WARNED, ids=[w[0] for w in WARNED])
def test_warnings_are_kept_and_the_dataset_accepted(tmp_path, case, task_type, opts, mutate, expected):
    root = make(tmp_path, task_type, **opts)
    mutate(root)
    report = validate_dataset(root=root, task_type=task_type)
    text = "\n".join(str(w) for w in report.warnings)
    for piece in expected:
        assert piece in text, f"{piece!r} not in:\n{text}"
    assert "train" in report.splits


def test_identical_warnings_are_aggregated(tmp_path):
    root = make(tmp_path, T.detection)

    def all_outside(doc: dict) -> None:
        for a in doc["annotations"]:
            a["bbox"] = [40, 40, 30, 30]

    edit_json("annotations/train.json", all_outside)(root)
    n = len(json.loads((root / "annotations/train.json").read_text())["annotations"])
    report = validate_dataset(root=root, task_type=T.detection)
    outside = [w for w in report.warnings if "outside" in w.message]
    assert len(outside) == 1
    assert outside[0].count == n
    assert outside[0].where == "annotations[0].bbox"
    assert str(outside[0]).endswith(f"(and {n - 1} more like it)")


@pytest.mark.parametrize(("issue", "text"), [
    (Issue("a.json", "annotations[3].category_id", "unknown category id 7 (known: 1, 2)"),
     "a.json annotations[3].category_id: unknown category id 7 (known: 1, 2)"),
    (Issue("meta/train.txt", "line 12", "bad", count=3), "meta/train.txt line 12: bad (and 2 more like it)"),
    (Issue("classes.txt", None, "missing"), "classes.txt: missing"),
])
def test_issue_text(issue, text):
    assert str(issue) == text


# --------------------------------------------------------------------------- format details


def test_icdar_gt_prefixed_label_files_are_paired(tmp_path):
    root = make(tmp_path, T.text_detection)
    for p in sorted((root / "labels/train").iterdir()):
        p.rename(p.with_name("gt_" + p.name))
    report = validate_dataset(root=root, task_type=T.text_detection)
    assert report.warnings == []
    assert report.instances_per_class["text"] > 0


def test_icdar_transcript_with_commas_and_dont_care(tmp_path):
    root = make(tmp_path, T.text_detection)
    (root / "labels/train/img_0000.txt").write_text(
        "\ufeff1,1,20,1,20,10,1,10,a,b,c\n2,12,20,12,20,20,2,20,###\n")
    report = validate_dataset(root=root, task_type=T.text_detection)
    assert report.warnings == []


def test_palette_masks_and_ignore_value_are_accepted(tmp_path):
    root = make(tmp_path, T.semantic_segmentation)
    arr = np.zeros((SIZE, SIZE), np.uint8)
    arr[:5] = 255
    arr[10:20, 10:20] = 3
    im = Image.fromarray(arr, "L").convert("P")
    im.save(root / "masks/train/img_0000.png")
    report = validate_dataset(root=root, task_type=T.semantic_segmentation)
    assert report.warnings == []


def test_classification_meta_paths_relative_to_root(tmp_path):
    root = make(tmp_path, T.classification, classification_layout="meta")
    for split in ("train", "val"):
        edit_lines(f"meta/{split}.txt", lambda lines, s=split: lines.__setitem__(
            slice(None), [f"{s}/{ln}" for ln in lines]))(root)
    report = validate_dataset(root=root, task_type=T.classification)
    assert report.splits["train"].data == "."
    assert report.samples["train"][0] == "train/circle/img_0000.png"
    values = platform_values(report=report, mount="/dataset")
    assert values["--train-data"] == "/dataset"
    assert values["--train-label"] == "/dataset/meta/train.txt"


def test_dota_header_lines_and_classes_file(tmp_path):
    root = make(tmp_path, T.rotated_detection)
    (root / "classes.txt").write_text("plane\nbar\nblock\n")
    report = validate_dataset(root=root, task_type=T.rotated_detection)
    assert report.class_names == ["plane", "bar", "block"]
    assert [str(w) for w in report.warnings] == ["classes.txt line 1: class 'plane' has no boxes in any split"]


def test_other_keeps_hierarchy_without_splits(tmp_path):
    root = tmp_path / "ds"
    for rel in ("photos/2023/a.JPG", "photos/b.png", "scans/c.TIFF", "notes/readme.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".txt"):
            (root / rel).write_text("x")
        else:
            Image.new("RGB", (20, 10)).save(root / rel, format="PNG")
    report = validate_dataset(root=root, task_type=T.other)
    assert report.splits == {}
    assert report.images_total == 3
    assert report.samples == {"all": ["photos/2023/a.JPG", "photos/b.png", "scans/c.TIFF"]}
    assert report.image_sizes == [(20, 10)] * 3
    values = platform_values(report=report, mount="/dataset")
    assert values["--data"] == "/dataset"
    assert all(values[f"--{s}-{k}"] == "" for s in ("train", "val", "test") for k in ("data", "label"))
    assert values["--label-class"] == "{}" and values["--label-class-count"] == "0"


# --------------------------------------------------------------------------- platform values


@pytest.mark.parametrize("task_type", list(TaskType))
def test_platform_values_train_and_val_only(tmp_path, task_type):
    root = make(tmp_path, task_type)
    report = validate_dataset(root=root, task_type=task_type)
    values = platform_values(report=report, mount="/dataset")
    assert list(values) == ["--data", "--train-data", "--val-data", "--test-data", "--train-label",
                            "--val-label", "--test-label", "--label-class", "--label-class-count"]
    assert values["--data"] == "/dataset"
    assert values["--test-data"] == "" and values["--test-label"] == ""
    assert values["--train-data"].startswith("/dataset/")
    assert values["--val-data"].startswith("/dataset/")
    for flag in ("--train-data", "--val-data", "--train-label", "--val-label"):
        if values[flag]:
            assert (root / values[flag].removeprefix("/dataset/")).exists(), flag
    assert json.loads(values["--label-class"]) == report.class_map()
    assert values["--label-class-count"] == str(len(report.class_names))


def test_platform_values_detection_exact(tmp_path):
    report = validate_dataset(root=make(tmp_path, T.detection), task_type=T.detection)
    assert platform_values(report=report, mount="/root/dataset/") == {
        "--data": "/root/dataset/",
        "--train-data": "/root/dataset/images/train",
        "--val-data": "/root/dataset/images/val",
        "--test-data": "",
        "--train-label": "/root/dataset/annotations/train.json",
        "--val-label": "/root/dataset/annotations/val.json",
        "--test-label": "",
        "--label-class": '{"0": "circle", "1": "square", "2": "triangle"}',
        "--label-class-count": "3",
    }


# --------------------------------------------------------------------------- generator


def test_cli_writes_a_zip_with_one_top_folder(tmp_path):
    out = tmp_path / "cls.zip"
    proc = subprocess.run([sys.executable, "-m", "examples.make_dataset", "--type", "classification",
                           "--out", str(out), "--n-train", "6", "--n-val", "3", "--image-size", "32"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert {n.split("/", 1)[0] for n in names} == {"cls"}
        zf.extractall(tmp_path / "x")
    report = validate_dataset(root=tmp_path / "x" / "cls", task_type=T.classification)
    assert report.splits["train"].images == 6


def test_cli_rejects_bad_arguments(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "examples.make_dataset", "--type", "detection",
                           "--out", str(tmp_path / "d"), "--n-train", "0"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "n_train must be at least 1" in proc.stderr


def test_zip_is_reproducible(tmp_path):
    a = make_dataset(task_type=T.detection, dest=tmp_path / "a" / "det.zip", n_train=3, n_val=1, as_zip=True)
    b = make_dataset(task_type=T.detection, dest=tmp_path / "b" / "det.zip", n_train=3, n_val=1, as_zip=True)
    assert a.read_bytes() == b.read_bytes()
    c = make_dataset(task_type=T.detection, dest=tmp_path / "c" / "det.zip", n_train=3, n_val=1, as_zip=True,
                     seed=1)
    assert c.read_bytes() != a.read_bytes()


def test_generator_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        make(tmp_path, T.detection)
