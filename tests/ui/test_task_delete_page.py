"""The task page's Delete: off (with the role it needs, or "stop it first") for whoever may not, a dialog
that names what goes, a refusal shown in the dialog, and back to the task list once it is gone."""

from __future__ import annotations

from sqlmodel import select

from tests.support.people import OP
from tests.support.ui import make_dataset, make_model, make_task, open_page, signed_in


def _finished_task(db, ui_settings, tmp_path, status: str = "completed"):
    from shared.records import RunStatus, utcnow

    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    task, runs = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status=status)
    if status != "running":
        for run in runs:  # make_task leaves its second run running, as in a live task
            if not run.status.finished:
                run.status, run.finished_at = RunStatus.stopped, utcnow()
                db.add(run)
        db.commit()
    return task, runs


def test_delete_asks_first_then_goes_back_to_the_task_list(ui_settings, db, tmp_path):
    from shared.records import Run, Task

    task, _runs = _finished_task(db, ui_settings, tmp_path)
    run_dir = ui_settings.data_dir / "runs" / str(task.id)
    assert run_dir.is_dir()
    at = open_page("views/task.py", id=str(task.id))
    at.button(key="tk_delete").click()
    at.run()
    assert not at.exception, at.exception
    assert run_dir.is_dir(), "Delete only opens the dialog"
    said = " ".join(m.value for m in at.markdown)
    assert f"task #{task.id} lr sweep" in said and "runs (2: metrics, logs, weights)" in said
    at.button(key="tk_delete_yes").click()
    at.run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [f"Task #{task.id} deleted."]
    assert at.title[0].value == "Training tasks"
    assert any("No tasks yet" in i.value for i in at.info)
    task_id = task.id
    db.expire_all()
    assert db.get(Task, task_id) is None and not db.exec(select(Run).where(Run.task_id == task_id)).all()
    assert not run_dir.exists()


def test_the_button_names_the_role_or_says_stop_first(ui_settings, db, tmp_path):
    task, _runs = _finished_task(db, ui_settings, tmp_path)
    viewer = open_page("views/task.py", as_role="viewer", id=str(task.id))
    assert not viewer.exception, viewer.exception
    button = viewer.button(key="tk_delete")
    assert button.disabled and "Deleting this task needs the member role and owning it, or the admin role; you are " \
                               "a viewer" in button.help
    member = open_page("views/task.py", as_role="member", id=str(task.id))
    button = member.button(key="tk_delete")
    assert button.disabled and "needs owning it or the admin role; you are a member" in button.help
    owner, _token = signed_in("member")
    task.owner_id = owner.id
    db.add(task)
    db.commit()
    mine = open_page("views/task.py", as_role="member", id=str(task.id))
    assert not mine.button(key="tk_delete").disabled
    (tmp_path / "r").mkdir()
    running, _runs = _finished_task(db, ui_settings, tmp_path / "r", status="running")
    admin = open_page("views/task.py", id=str(running.id))
    button = admin.button(key="tk_delete")
    assert button.disabled and "Stop the task first" in button.help
    assert not admin.button(key="tk_stop").disabled


def test_a_refusal_shows_in_the_dialog_and_the_task_stays(ui_settings, db, tmp_path):
    from shared.records import Prediction, PredictionStatus, Task

    task, runs = _finished_task(db, ui_settings, tmp_path)
    pred = Prediction(task_id=task.id, run_id=runs[0].id, model_id=task.model_id, weights="best.pt",
                      path="predictions/1", status=PredictionStatus.running, owner_id=OP.id)
    db.add(pred)
    db.commit()
    at = open_page("views/task.py", id=str(task.id))
    at.button(key="tk_delete").click()
    at.run()
    at.button(key="tk_delete_yes").click()
    at.run()
    assert not at.exception, at.exception
    assert any(f"prediction {pred.id} made with task {task.id}'s weights is still running" in e.value
               for e in at.error)
    assert at.title[0].value == "lr sweep"
    db.expire_all()
    assert db.get(Task, task.id) is not None
