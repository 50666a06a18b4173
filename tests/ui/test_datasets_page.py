"""Datasets page: upload with progress and detailed errors, list, detail."""

from __future__ import annotations

import zipfile

from tests.support.pkgs import write_dataset
from tests.support.ui import frame, image_captions, make_dataset, open_page


def test_empty_list_invites_an_upload(ui_settings):
    at = open_page("views/datasets.py")
    assert not at.exception
    assert any("No datasets yet" in i.value for i in at.info)
    assert at.button(key="ds_add").disabled


def test_upload_a_valid_zip_shows_its_detail(ui_settings, tmp_path):
    z = write_dataset(tmp_path / "pets.zip", classes=("cat", "dog"), per_class=3)
    at = open_page("views/datasets.py")
    at.file_uploader(key="ds_upload").upload("pets.zip", z.read_bytes(), "application/zip")
    at.run()
    at.text_input(key="ds_name").set_value("pets")
    at.selectbox(key="ds_type").set_value(at.selectbox(key="ds_type").options[3])  # classification
    at.run()
    at.button(key="ds_add").click()
    at.run()
    assert not at.exception, at.exception
    assert any("Dataset 1 added: pets (12 images)" in s.value for s in at.success)
    assert at.header[0].value == "pets"
    # Overview: split sizes and the class chart; arguments table; preview grid with thumbnails.
    splits = frame(at, "split")
    assert dict(zip(splits["split"], splits["images"], strict=True)) == {"train": 6, "val": 6}
    args = frame(at, "argument")
    values = dict(zip(args["argument"], args["value"], strict=True))
    assert values["--label-class-count"] == "2"
    assert values["--data"].startswith("/dataset")
    assert len(image_captions(at)) == 6  # the train split, one page
    assert (ui_settings.data_dir / "cache" / "thumbs").is_dir()


def test_a_bad_zip_lists_every_problem_and_stores_nothing(ui_settings, tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:  # COCO layout with a broken json and no train images
        zf.writestr("d/annotations/train.json", "{not json")
    at = open_page("views/datasets.py")
    at.file_uploader(key="ds_upload").upload("bad.zip", bad.read_bytes(), "application/zip")
    at.run()
    at.selectbox(key="ds_type").set_value(at.selectbox(key="ds_type").options[0])  # detection
    at.run()
    at.button(key="ds_add").click()
    at.run()
    assert not at.exception, at.exception
    text = "\n".join(e.value for e in at.error)
    assert "nothing was stored" in text
    assert "train.json" in text  # the file is named
    assert not [p for p in (ui_settings.data_dir / "datasets").rglob("*") if p.is_file()]


def test_preview_pages_and_start_training_preselects_the_dataset(ui_settings, db, tmp_path):
    ds = make_dataset(db, ui_settings, tmp_path, per_class=8)
    at = open_page("views/datasets.py", id=str(ds.id))
    assert not at.exception, at.exception
    assert at.selectbox(key="ds_select").value == ds.id
    first = image_captions(at)
    assert len(first) == 12
    at.number_input(key=f"ds{ds.id}_preview_page").set_value(2)
    at.run()
    assert not at.exception
    assert image_captions(at) and image_captions(at) != first
    at.button(key="ds_train").click()
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["tf_dataset"] == ds.id
