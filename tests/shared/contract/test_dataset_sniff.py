"""The layout sniffer: every format's example dataset is recognised as its own
task type, and a dataset uploaded under the wrong type says which it looks like."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples.make_dataset import make_dataset
from shared.contract.datasets import validate_dataset
from shared.contract.datasets.sniff import sniff_task_type
from shared.core.errors import DatasetFormatError
from shared.records import TaskType

T = TaskType
CASES = [
    # (made as, make_dataset options, sniffed, words of the reason)
    (T.classification, {}, T.classification, "sub-folders per class"),
    (T.classification, {"classification_layout": "meta"}, T.classification, "meta/classes.txt"),
    (T.detection, {}, T.detection, "COCO"),
    (T.instance_segmentation, {}, T.instance_segmentation, "segmentation polygons"),
    (T.semantic_segmentation, {}, T.semantic_segmentation, "masks"),
    (T.text_detection, {}, T.text_detection, "ICDAR"),
    (T.rotated_detection, {}, T.rotated_detection, "DOTA"),
    (T.text_recognition, {}, T.text_recognition, "TAB"),
]


@pytest.mark.parametrize(("made", "opts", "sniffed", "why"), CASES,
                         ids=[f"{c[0].value}-{c[1].get('classification_layout', 'default')}" for c in CASES])
def test_each_format_is_recognised(tmp_path, made, opts, sniffed, why):
    root = make_dataset(task_type=made, dest=tmp_path / "ds", n_train=4, n_val=2, image_size=32, **opts)
    got = sniff_task_type(root)
    assert got is not None and got.task_type == sniffed
    assert why in got.why


@pytest.mark.parametrize("layout", [{}, {"only": "images"}, {"only": "file"}])
def test_unknown_layouts_are_not_guessed(tmp_path, layout):
    root = tmp_path / "ds"
    root.mkdir()
    if layout.get("only") == "images":
        (root / "pics").mkdir()
        (root / "pics" / "a.jpg").write_bytes(b"x")
    elif layout.get("only") == "file":
        (root / "train").write_text("not a folder")
    assert sniff_task_type(root) is None
    assert sniff_task_type(tmp_path / "missing") is None


def test_wrong_task_type_names_the_one_it_looks_like(tmp_path):
    root = make_dataset(task_type=T.classification, dest=tmp_path / "ds", n_train=4, n_val=2, image_size=32)
    with pytest.raises(DatasetFormatError) as info:
        validate_dataset(root=root, task_type=T.detection)
    msg = info.value.message
    assert "does not match the object detection format (1 error)" in msg
    assert "looks like image classification (sub-folders per class under train/)" in msg
    assert 'choose the task type "Image classification"' in msg
    # The error itself is listed once, in the details, not repeated in the message.
    assert "annotations/train.json" not in msg
    assert len(info.value.details) == 1 and "annotations/train.json" in info.value.details[0]


def test_right_type_with_a_broken_file_gives_no_hint(tmp_path):
    root: Path = make_dataset(task_type=T.detection, dest=tmp_path / "ds", n_train=4, n_val=2, image_size=32)
    (root / "annotations" / "train.json").write_text("{not json")
    with pytest.raises(DatasetFormatError) as info:
        validate_dataset(root=root, task_type=T.detection)
    assert "looks like" not in info.value.message
    assert "Fix the files listed" in info.value.message
