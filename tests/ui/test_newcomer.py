"""The UI as a newcomer meets it: metric names before the first run, uploads
explained in the user's terms, delete that asks first, no emoji."""

from __future__ import annotations

import re
from pathlib import Path

from examples.make_dataset import make_dataset as make_example_dataset
from shared.records import DeployStatus, PredictionStatus, RunStatus, TaskStatus
from tests.support.people import OP
from tests.support.pkgs import write_package
from tests.support.ui import ROOT, frame, make_dataset, make_model, make_task, open_page

CODE = "found in the code"


# --------------------------------------------------------------------------- metric names


def test_form_offers_the_code_s_metric_names_before_any_run(ui_settings, db, tmp_path):
    make_dataset(db, ui_settings, tmp_path)
    make_model(db, ui_settings, tmp_path)  # train.py prints "epoch: {e}, loss: {..}, score: {..}"; no runs yet
    at = open_page("views/task_new.py")
    assert not at.exception, at.exception
    picker = at.multiselect(key="tf_metrics")
    assert picker.options == [f"epoch · {CODE}", f"loss · {CODE}", f"score · {CODE}"]
    picker.set_value(["loss", "score"])  # the raw names are what the task stores
    at.run()
    assert not at.exception, at.exception
    assert at.multiselect(key="tf_metrics").value == ["loss", "score"]


def test_model_page_lists_the_metric_names_and_unread_forms(ui_settings, db, tmp_path):
    from shared.services.models import add_model

    train = ('import argparse\np = argparse.ArgumentParser()\np.add_argument("--work-dir")\np.add_argument("--data")\n'
             'a = p.parse_args()\nprint(f"loss: {1}, top1: {2}")\nprint(f"f1={3}")\n')
    model = add_model(actor=OP, session=db, settings=ui_settings,
                      zip_path=write_package(tmp_path / "m.zip", train=train), name="m", task_type="classification")
    at = open_page("views/models.py", id=str(model.id))
    assert not at.exception, at.exception
    names = frame(at, "metric")
    assert names["metric"].tolist() == ["loss", "top1"]
    assert set(names["seen"]) == {CODE}
    assert any("train.py line 7: 'f1' is printed as 'f1=value'" in w.value for w in at.warning)


def test_a_model_stored_before_names_were_kept_reads_them_from_its_files(ui_settings, db, tmp_path):
    from shared.services.models import code_metric_names

    model = make_model(db, ui_settings, tmp_path)
    model.report = {k: v for k, v in model.report.items() if k != "metric_names"}
    db.add(model)
    db.commit()
    assert code_metric_names(settings=ui_settings, model=model).names == ["epoch", "loss", "score"]


def test_a_task_without_chosen_metrics_charts_every_printed_one(ui_settings, db, tmp_path):
    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    task, _runs = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="completed")
    task.metrics, task.eval_metric = [], None  # as `runner task create` without --metrics makes it
    db.add(task)
    db.commit()
    at = open_page("views/task.py", id=str(task.id))
    assert not at.exception, at.exception
    assert not any("No metrics chosen" in c.value for c in at.caption)
    charted = {m.group(1) for el in at.get("plotly_chart")
               if (m := re.search(rf"tk{task.id}_chart_(\w+)", el.proto.id))}
    assert charted == {"loss", "score", "lr"}  # the runs printed epoch too: it is the x axis, not a chart


# --------------------------------------------------------------------------- uploads


def _upload(at, key: str, name: str, data: bytes) -> None:
    at.file_uploader(key=key).upload(name, data, "application/octet-stream")
    at.run()


def test_a_wrong_file_type_is_refused_visibly_naming_the_file(ui_settings):
    at = open_page("views/datasets.py")
    _upload(at, "ds_upload", "notes.txt", b"hello")
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["notes.txt is not a .zip file: upload the dataset as a .zip archive."]
    assert at.button(key="ds_add").disabled
    at = open_page("views/models.py")
    _upload(at, "md_upload", "model.tar.gz", b"\x1f\x8b")
    assert "model.tar.gz is not a .zip file" in at.error[0].value
    assert at.button(key="md_add").disabled


def test_a_fake_zip_is_named_as_uploaded(ui_settings):
    for page, key, button in (("datasets", "ds_upload", "ds_add"), ("models", "md_upload", "md_add")):
        at = open_page(f"views/{page}.py")
        _upload(at, key, "my data.zip", b"this is not a zip")
        at.button(key=button).click()
        at.run()
        assert not at.exception, at.exception
        text = "\n".join(e.value for e in at.error)
        assert "my data.zip is not a zip archive" in text, text
        assert "upload-" not in text  # never the temporary file's name


def test_a_classification_zip_uploaded_as_detection_says_what_it_looks_like(ui_settings, tmp_path):
    z = make_example_dataset(task_type="classification", dest=tmp_path / "shapes.zip", n_train=4, n_val=2,
                             image_size=32, as_zip=True)
    at = open_page("views/datasets.py")
    _upload(at, "ds_upload", "shapes.zip", Path(z).read_bytes())
    assert at.selectbox(key="ds_type").value.value == "detection"  # the default a newcomer keeps
    at.button(key="ds_add").click()
    at.run()
    assert not at.exception, at.exception
    assert len(at.error) == 1
    text = at.error[0].value
    assert "looks like image classification (sub-folders per class under train/)" in text
    assert 'choose the task type "Image classification"' in text
    assert text.count("the train split is missing") == 1  # each error once


# --------------------------------------------------------------------------- delete asks first


def test_dataset_delete_asks_and_cancel_keeps_it(ui_settings, db, tmp_path):
    ds = make_dataset(db, ui_settings, tmp_path)
    at = open_page("views/datasets.py", id=str(ds.id))
    at.button(key="ds_delete").click()
    at.run()
    assert any(f"dataset #{ds.id} shapes" in m.value for m in at.markdown)
    at.button(key="ds_delete_no").click()
    at.run()
    assert not at.exception, at.exception
    assert ui_settings.path(ds.path).exists()
    assert not any(b.key == "ds_delete_yes" for b in at.button)  # the dialog is closed
    at.button(key="ds_delete").click()
    at.run()
    at.button(key="ds_delete_yes").click()
    at.run()
    assert not at.exception, at.exception
    assert not ui_settings.path(ds.path).exists()
    assert any("No datasets yet" in i.value for i in at.info)


# --------------------------------------------------------------------------- chrome


def test_the_task_page_is_not_a_menu_entry(ui_settings):
    app = (ROOT / "streamlit_app" / "app.py").read_text()
    assert re.search(r'st\.Page\("views/task\.py"[^\n]*visibility="hidden"', app)  # one line; the title is _("Task")
    at = open_page("views/task.py", id="999")  # still routable: the task list's links open it
    assert "task 999 does not exist" in at.error[0].value


_EMOJI = re.compile("[\U0001F000-\U0001FAFF\uFE0F\u26AA\u26AB\u2B1B\u2B1C\u2B50\u2B55\u2795-\u2797]")


def test_no_emoji_in_the_ui():
    """Emoji show as boxes without an emoji font; statuses use Material icons and coloured text."""
    found = [f"{p.relative_to(ROOT)}:{n}" for p in sorted((ROOT / "streamlit_app").rglob("*.py"))
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if _EMOJI.search(line)]
    assert not found, found


def test_status_cells_are_plain_text_coloured_by_status():
    import pandas as pd

    from streamlit_app.components.badges import status_cell, styled

    for enum in (DeployStatus, TaskStatus, RunStatus, PredictionStatus):
        for s in enum:
            assert status_cell(s) == s.value.replace("_", " ")
    html = styled(pd.DataFrame({"status": ["failed", "completed", "timed out"]})).to_html()
    assert "#ff4b4b" in html and "#21c354" in html and "#ffa421" in html

