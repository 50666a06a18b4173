"""The task form for an MM-style train.py: a picker of the package's config files
for the positional config (required, refused at its field when empty), one text
line for several-value overrides, a switch, and no --local_rank row."""

from __future__ import annotations

from tests.runner.cli.test_task_framework_args import CONFIGS, MM_TRAIN
from tests.support.people import OP
from tests.support.pkgs import write_package
from tests.support.ui import error_under, make_dataset, open_page


def _mm_model(db, settings, tmp_path):
    from shared.records import DeployStatus
    from shared.services.models import add_model

    z = write_package(tmp_path / "mm.zip", train=MM_TRAIN, extra=CONFIGS)
    model = add_model(actor=OP, session=db, settings=settings, zip_path=z, name="mm", task_type="classification")
    model.status = DeployStatus.deployed  # as the deploy job records it
    db.add(model)
    db.commit()
    return model


def test_config_picker_required_config_and_argument_shapes(ui_settings, ui_redis, db, tmp_path):
    from shared.services.tasks import get_task

    make_dataset(db, ui_settings, tmp_path)
    _mm_model(db, ui_settings, tmp_path)
    at = open_page("views/task_new.py")
    assert not at.exception, at.exception
    at.text_input(key="tf_name").set_value("mm")
    picker = at.selectbox(key="tf_p_config")
    assert picker.options == ["configs/data.yaml", "configs/main.py", "configs/meta.json", "configs/_base_/data.py"]
    assert picker.value is None
    assert at.text_input(key="tf_p_resume").value == "false"
    assert "switch" in at.text_input(key="tf_p_resume").label
    assert "several" in at.text_input(key="tf_p_cfg-options").label
    assert not {"tf_p_local_rank", "tf_p_local-rank"} & {w.key for w in at.text_input}

    at.button(key="tf_submit").click()
    at.run()
    assert not at.exception, at.exception
    assert "requires the positional argument 'config'" in (error_under(at, "tf_p_config") or "")

    at.selectbox(key="tf_p_config").set_value("configs/main.py")
    at.text_input(key="tf_p_cfg-options").set_value("custom_imports.imports=[a,b] 'name=two words'")
    at.text_input(key="tf_p_resume").set_value("true")
    at.button(key="tf_submit").click()
    at.run()
    assert not at.exception, at.exception
    task = get_task(session=db, task_id=int(at.query_params["id"]))
    assert task.params == {
        "config": {"value": "configs/main.py", "search": False},
        "cfg-options": {"value": ["custom_imports.imports=[a,b]", "name=two words"], "search": False},
        "resume": {"value": True, "search": False},
    }
