"""Models page (upload, deploy status, parameters, templates, delete) and the
home page's Load examples."""

from __future__ import annotations

import zipfile

from tests.support.people import OP
from tests.support.pkgs import write_package
from tests.support.ui import APP, app_test, frame, make_dataset, make_model, make_task, open_page


def test_navigation_lists_every_page_and_home_renders(ui_settings):
    at = app_test(APP).run()
    assert not at.exception, at.exception
    assert at.title[0].value == ":material/train: Trainyard"  # a Material icon: no emoji font needed
    assert at.button(key="home_load_examples")
    for page in ("datasets", "models", "task_new", "tasks", "task"):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, at.exception)


def test_deployed_model_detail(ui_settings, db, tmp_path):
    model = make_model(db, ui_settings, tmp_path)
    at = open_page("views/models.py")
    assert not at.exception, at.exception
    assert at.header[0].value == "quadratic"
    assert "deployed" in frame(at, "uploaded")["status"].iloc[0]
    user, platform = [df.value for df in at.dataframe if "nargs/action" in df.value.columns][:2]
    assert {"x", "k", "opt", "sleep", "fail"} <= set(user["name"])
    assert "sgd, adam" in user.loc[user["name"] == "opt", "choices"].iloc[0]
    assert any("--work-dir" in f for f in platform["flags"])
    codes = [c.value for c in at.code]
    assert any("numpy>=1.23" in c for c in codes)          # requirements
    assert any("numpy==2.1.0" in c for c in codes)         # freeze
    assert any("train.py" in c for c in codes)             # file tree
    assert any("environment abc built" in c for c in codes)  # deploy log
    assert any("12s" in m.value for m in at.markdown)      # deploy elapsed
    assert model.id == int(at.query_params["id"])


def test_waiting_and_failed_models(ui_settings, db, tmp_path):
    from shared.records import DeployStatus

    waiting = make_model(db, ui_settings, tmp_path, name="w", deployed=False)
    at = open_page("views/models.py", id=str(waiting.id))
    assert not at.exception, at.exception
    assert any("queued for a worker" in m.value for m in at.markdown)
    waiting.status, waiting.reason = DeployStatus.failed, "pip could not find torch==99"
    db.add(waiting)
    db.commit()
    at.run()
    assert not at.exception, at.exception
    assert any("pip could not find torch==99" in e.value for e in at.error)


def test_upload_rejected_package_lists_the_problem(ui_settings, tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("pkg/train.py", "print('hi')\n")
    at = open_page("views/models.py")
    at.file_uploader(key="md_upload").upload("bad.zip", bad.read_bytes(), "application/zip")
    at.run()
    at.button(key="md_add").click()
    at.run()
    assert not at.exception, at.exception
    text = "\n".join(e.value for e in at.error)
    assert "nothing was stored" in text and "predict.py" in text
    assert not [p for p in (ui_settings.data_dir / "models").rglob("*") if p.is_file()]


def test_upload_enqueues_the_deploy_and_warns_about_network(ui_settings, ui_redis, tmp_path):
    z = write_package(tmp_path / "m.zip")
    at = open_page("views/models.py")
    at.file_uploader(key="md_upload").upload("m.zip", z.read_bytes(), "application/zip")
    at.checkbox(key="md_network").check()
    at.run()
    assert any("internet" in w.value for w in at.warning)
    at.button(key="md_add").click()
    at.run()
    assert not at.exception, at.exception
    assert at.header[0].value == "m"
    assert ui_redis.llen("rq:queue:deploy") == 1
    assert any("internet" in w.value for w in at.warning)  # network on: warned on the detail too


def test_delete_refused_while_a_task_uses_the_model(ui_settings, db, tmp_path):
    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="running")
    at = open_page("views/models.py", id=str(model.id))
    at.button(key="md_delete").click()
    at.run()
    at.button(key="md_delete_yes").click()  # the dialog asks first
    at.run()
    assert not at.exception, at.exception
    assert any("is used by task" in e.value for e in at.error)
    assert ui_settings.path(model.path).exists()


def test_delete_an_unused_model(ui_settings, db, tmp_path):
    model = make_model(db, ui_settings, tmp_path)
    at = open_page("views/models.py", id=str(model.id))
    at.button(key="md_delete").click()
    at.run()
    assert not at.exception, at.exception
    assert ui_settings.path(model.path).exists(), "Delete only opens the dialog"
    assert any(f"model #{model.id} quadratic" in m.value for m in at.markdown)
    at.button(key="md_delete_yes").click()
    at.run()
    assert not at.exception, at.exception
    assert not ui_settings.path(model.path).exists()
    assert any("No models yet" in i.value for i in at.info)


def test_templates_create_validate_edit_delete(ui_settings, db, tmp_path):
    from shared.services.models import list_templates

    model = make_model(db, ui_settings, tmp_path)
    at = open_page("views/models.py", id=str(model.id))
    suffix = f"{model.id}_None"
    at.text_input(key=f"md_tpl_name_{suffix}").set_value("fast")
    at.text_input(key=f"md_tpl_v_{suffix}_k").set_value("many")
    at.button(key=f"md_tpl_save_{suffix}").click()
    at.run()
    assert not at.exception, at.exception
    assert any("not an integer" in e.value for e in at.error)
    assert not list_templates(session=db, model_id=model.id, actor=OP)
    at.text_input(key=f"md_tpl_v_{suffix}_k").set_value("[2, 8]")
    at.button(key=f"md_tpl_save_{suffix}").click()
    at.run()
    assert not at.exception, at.exception
    [tpl] = list_templates(session=db, model_id=model.id, actor=OP)
    assert tpl.name == "fast" and tpl.values["k"]["range"] == [2, 8]
    at.selectbox(key=f"md{model.id}_tpl_pick").set_value(tpl.id)
    at.run()
    assert at.text_input(key=f"md_tpl_v_{model.id}_{tpl.id}_k").value == "[2, 8]"
    at.button(key=f"md_tpl_delete_{model.id}_{tpl.id}").click()
    at.run()
    at.button(key=f"md_tpl_delete_{model.id}_{tpl.id}_yes").click()
    at.run()
    assert not at.exception, at.exception
    assert not list_templates(session=db, model_id=model.id, actor=OP)


def test_redeploy_marks_and_enqueues(ui_settings, ui_redis, db, tmp_path):
    from shared.records import DeployStatus
    from shared.services.models import get_model

    model = make_model(db, ui_settings, tmp_path)
    at = open_page("views/models.py", id=str(model.id))
    at.button(key="md_redeploy").click()
    at.run()
    assert not at.exception, at.exception
    db.expire_all()
    assert get_model(session=db, model_id=model.id).status == DeployStatus.waiting
    assert ui_redis.llen("rq:queue:deploy") == 1


def test_redeploy_while_a_deploy_is_queued_is_refused_with_the_reason(ui_settings, ui_redis, db, tmp_path):
    from shared.core.queue import enqueue_deploy
    from shared.records import DeployStatus
    from shared.services.models import get_model, redeploy_model

    model = make_model(db, ui_settings, tmp_path)
    # The row says deployed but a deploy job is still queued (the moment a deploy ends, or a second
    # deploy the reconciler just queued): the button is live, and the service refuses with the reason.
    enqueue_deploy(model.id, connection=ui_redis)
    at = open_page("views/models.py", id=str(model.id))
    at.button(key="md_redeploy").click()
    at.run()
    assert not at.exception, at.exception
    assert any(f"model {model.id}'s deploy job is still queued" in e.value for e in at.error)
    assert ui_redis.llen("rq:queue:deploy") == 1
    db.expire_all()
    assert get_model(session=db, model_id=model.id).status == DeployStatus.deployed
    # Someone else redeploys while this page still shows "deployed": the click adds no second job,
    # and the page now shows the queued deploy with the button off.
    ui_redis.flushdb()
    redeploy_model(session=db, connection=ui_redis, model_id=model.id, actor=OP)
    at.button(key="md_redeploy").click()
    at.run()
    assert not at.exception, at.exception
    assert at.button(key="md_redeploy").disabled
    assert ui_redis.llen("rq:queue:deploy") == 1


def test_load_examples(ui_settings, ui_redis, db):
    from shared.services.datasets import list_datasets
    from shared.services.models import list_models

    at = app_test(APP, timeout=120).run()
    at.button(key="home_load_examples").click()
    at.run()
    assert not at.exception, at.exception
    assert any("Examples loaded" in s.value for s in at.success)
    assert sorted(d.task_type.value for d in list_datasets(session=db, actor=OP)) == ["classification", "detection"]
    assert len(list_models(session=db, actor=OP)) == 2
    assert ui_redis.llen("rq:queue:deploy") == 2
    # The counters count what was just loaded (they were drawn before it, so the page reruns).
    assert [(m.label, m.value) for m in at.metric] == [("Datasets", "2"), ("Models", "2")]


def test_load_examples_without_redis_says_so(ui_settings, db):
    from shared.services.datasets import list_datasets

    at = app_test(APP).run()
    at.button(key="home_load_examples").click()
    at.run()
    assert not at.exception, at.exception
    assert any("Redis is not reachable" in e.value for e in at.error)
    assert not list_datasets(session=db, actor=OP)
