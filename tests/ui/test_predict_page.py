"""The predict page through AppTest: completed tasks only, each refusal shown
at its field before anything is stored, and a real prediction through the
in-process worker shown as input | output with its history entry."""

from __future__ import annotations

from pathlib import Path

from rq import Queue
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from shared.core.queue import PREDICT_QUEUE
from shared.records import Prediction, PredictionStatus
from tests.flow.test_predictions import png, train_task
from tests.support.people import OP
from tests.support.ui import app_test, error_under, image_captions, make_dataset, make_model, make_task

PAGE = Path(__file__).resolve().parents[2] / "streamlit_app" / "views" / "predict.py"


def open_page() -> AppTest:
    at = app_test(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def click_predict(at: AppTest) -> None:
    at.button(key="pr_go").click()
    at.run()
    assert not at.exception, at.exception


def test_without_a_completed_task_the_page_says_what_to_do(ui_settings):
    at = open_page()
    assert any("No completed task yet" in i.value for i in at.info)


def test_completed_task_is_offered_and_bad_uploads_are_refused_at_their_field(ui_settings, db, tmp_path):
    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    done, runs = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="completed")
    make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="running")
    at = open_page()
    pick = at.selectbox(key="pr_task")
    assert pick.options == [f"#{done.id} lr sweep · model quadratic · dataset shapes"]
    assert pick.value == done.id
    assert at.selectbox(key=f"pr_run_{done.id}").value == runs[0].id  # the best run; the running one is not offered
    assert at.selectbox(key=f"pr_w_{runs[0].id}").value == "best.pt"

    click_predict(at)
    assert "no images were uploaded" in (error_under(at, "pr_images") or "")

    at.file_uploader(key="pr_images").set_value([("good.png", png(), "image/png"),
                                                 ("notes.txt", b"hello", "text/plain"),
                                                 ("fake.jpg", b"not a jpeg", "image/jpeg")])
    at.slider(key="pr_conf").set_value(0.6)
    click_predict(at)
    err = error_under(at, "pr_images") or ""
    assert "notes.txt" in err and "fake.jpg" in err and "good.png" not in err
    assert at.slider(key="pr_conf").value == 0.6  # choices stay put after a refusal
    assert db.exec(select(Prediction)).all() == []

    # The run loses its weights file: the page says so at the field, and Predict is refused there.
    (ui_settings.path(runs[0].work_dir) / "best.pt").unlink()
    at.run()
    assert any("has no weights file" in w.value for w in at.warning)
    at.file_uploader(key="pr_images").set_value([("good.png", png(), "image/png")])
    click_predict(at)
    assert "no weights file" in (error_under(at, f"pr_w_{runs[0].id}") or "")
    assert db.exec(select(Prediction)).all() == []


def test_a_prediction_runs_and_shows_input_and_output_side_by_side(settings, ctx, session, burst, tmp_path):
    task = train_task(session=session, settings=settings, ctx=ctx, burst=burst, tmp_path=tmp_path)
    at = open_page()
    at.file_uploader(key="pr_images").set_value([("red.png", png((250, 0, 0)), "image/png"),
                                                 ("blue.png", png((0, 0, 250)), "image/png")])
    at.slider(key="pr_conf").set_value(0.4)
    click_predict(at)
    [pred] = session.exec(select(Prediction)).all()
    assert (pred.task_id, pred.weights, pred.confidence, pred.status) == (task.id, "best.pt", 0.4,
                                                                         PredictionStatus.queued)
    assert Queue(PREDICT_QUEUE, connection=ctx.redis).count == 1
    assert at.query_params["prediction"] == str(pred.id)
    assert any("No worker is running" in w.value for w in at.warning)  # the live area while it waits

    burst()
    at.run()
    assert not at.exception, at.exception
    session.expire_all()
    assert session.get(Prediction, pred.id).status == PredictionStatus.completed
    captions = image_captions(at)
    assert captions.count("blue.png") == 2 and captions.count("red.png") == 2  # input and output each
    assert at.get("download_button")  # the outputs zip and the log
    assert at.button(key=f"pr_hist_open_{pred.id}").disabled  # the one on view, listed in the history
    assert not at.warning


def _predict_through_page(settings, ctx, session, burst, tmp_path, predict_py: str, names: list[str]) -> AppTest:
    from tests.flow.test_predictions import train_task

    train_task(session=session, settings=settings, ctx=ctx, burst=burst, tmp_path=tmp_path, predict=predict_py)
    at = open_page()
    at.file_uploader(key="pr_images").set_value([(n, png(), "image/png") for n in names])
    click_predict(at)
    burst()
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_failed_prediction_leads_with_its_reason_and_log(settings, ctx, session, burst, tmp_path):
    from tests.flow.test_predictions import CRASHING_PREDICT

    at = _predict_through_page(settings, ctx, session, burst, tmp_path, CRASHING_PREDICT, ["x.png"])
    [err] = at.error
    assert err.value.startswith("**Prediction failed:** exit code 1: RuntimeError: checkpoint has the wrong shape")
    log = [h.proto.body for h in at.get("html")]
    assert any("checkpoint has the wrong shape" in body and 'class="e"' in body for body in log)  # stderr marked
    assert [w.value for w in at.warning] == ["predict.py wrote no image for x.png"]  # the gallery row
    assert image_captions(at) == ["x.png"]  # the input is still shown


def test_missing_renamed_and_extra_outputs_are_flagged(settings, ctx, session, burst, tmp_path):
    from tests.flow.test_predictions import PARTIAL_PREDICT

    at = _predict_through_page(settings, ctx, session, burst, tmp_path, PARTIAL_PREDICT, ["a.png", "b.png", "c.png"])
    warnings = [w.value for w in at.warning]
    assert "1 of 3 inputs have no output image" in warnings[0] and "predict.py wrote no image for c.png" in warnings[0]
    assert any("summary.txt" in i.value for i in at.info)
    assert image_captions(at) == ["a.png", "a.png", "b.png", "b.jpg (saved as b.jpg)", "c.png"]
    at.toggle(key=next(t.key for t in at.toggle)).set_value(True)
    at.run()
    assert image_captions(at) == ["b.png", "b.jpg (saved as b.jpg)", "c.png"]


def test_choices_are_remembered_across_pages(ui_settings, db, tmp_path):
    from tests.support.ui import APP

    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    first, _ = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="completed")
    second, _ = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="completed")
    at = app_test(APP)
    at.run()
    at.switch_page("views/predict.py")
    at.run()
    assert at.selectbox(key="pr_task").options[0].startswith(f"#{second.id} ")  # newest first
    at.selectbox(key="pr_task").set_value(first.id)
    at.slider(key="pr_conf").set_value(0.7)
    at.run()
    at.switch_page("views/home.py")
    at.run()
    at.switch_page("views/predict.py")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="pr_task").value == first.id
    assert at.slider(key="pr_conf").value == 0.7


def test_a_shared_link_opens_the_prediction_on_its_task(ui_settings, db, tmp_path):
    from shared.services.predictions import Upload, create_prediction

    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    first, _ = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="completed")
    make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="completed")
    pred = create_prediction(session=db, settings=ui_settings, task_id=first.id, uploads=[Upload("q.png", png())],
                             actor=OP)
    at = app_test(PAGE)
    at.query_params["prediction"] = str(pred.id)
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="pr_task").value == first.id
    assert any(f"prediction #{pred.id}" in m.value and "queued" in m.value for m in at.markdown)
    # No Redis in this test: the live area says so instead of failing.
    assert any("Redis is not reachable" in w.value for w in at.warning)
