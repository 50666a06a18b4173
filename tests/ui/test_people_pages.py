"""Pages as each role sees them (AppTest through the router): someone else's private task opened by
link reads exactly like a missing one, lists leave it out, and a viewer gets no task form but the
role it needs."""

from __future__ import annotations

from shared.records import Role, Visibility
from tests.support.people import person
from tests.support.ui import make_dataset, make_model, make_task, open_page, signed_in


def _private_task_of_someone_else(db, ui_settings, tmp_path):
    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    task, _runs = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="completed")
    other = person(db, "other", Role.member)
    task.owner_id, task.visibility = other.id, Visibility.private
    db.add(task)
    db.commit()
    return task


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_a_members_private_task_opened_by_link_reads_as_missing(ui_settings, db, tmp_path):
    task = _private_task_of_someone_else(db, ui_settings, tmp_path)
    at = open_page("views/task.py", as_role="member", id=str(task.id))
    assert not at.exception, at.exception
    assert _errors(at) == [f"task {task.id} does not exist"]
    assert not at.title
    missing = open_page("views/task.py", as_role="member", id=str(task.id + 1))
    assert _errors(missing) == [f"task {task.id + 1} does not exist"]
    # The task list leaves it out; its owner's and an admin's show it.
    listed = open_page("views/tasks.py", as_role="member")
    assert any("No tasks yet" in i.value for i in listed.info)
    admin = open_page("views/task.py", as_role="admin", id=str(task.id))
    assert not admin.error and admin.title[0].value == "lr sweep"


def test_a_team_task_shows_but_its_stop_button_names_the_role(ui_settings, db, tmp_path):
    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    owner, _ = signed_in("member")
    task, _runs = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="running")
    at = open_page("views/task.py", as_role="viewer", id=str(task.id))
    assert not at.exception, at.exception
    stop = at.button(key="tk_stop")
    assert stop.disabled and "the member role and owning it, or the admin role; you are a viewer" in stop.help
    task.owner_id = owner.id
    db.add(task)
    db.commit()
    mine = open_page("views/task.py", as_role="member", id=str(task.id))
    assert not mine.button(key="tk_stop").disabled


def test_a_viewer_gets_no_task_form_but_the_role_it_needs(ui_settings, db, tmp_path):
    make_dataset(db, ui_settings, tmp_path)
    make_model(db, ui_settings, tmp_path)
    at = open_page("views/task_new.py", as_role="viewer")
    assert not at.exception, at.exception
    assert [i.value for i in at.info] == ["Creating a task needs the member or admin role; you are a viewer. "
                                          "Ask an admin if you need more."]
    keys = {w.key for w in [*at.text_input, *at.button, *at.selectbox]}
    assert not {"tf_name", "tf_dataset", "tf_submit"} & keys
    member = open_page("views/task_new.py", as_role="member")
    assert not member.exception, member.exception
    assert {"tf_name", "tf_dataset", "tf_submit"} <= {w.key for w in [*member.text_input, *member.button,
                                                                      *member.selectbox]}
