"""Ownership and visibility through the services, on a real DB: what each role may see, create, stop,
delete and download, what a refusal says, and that each attempt is on the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from shared.core.errors import FieldError, NotFoundError, PermissionDenied
from shared.records import (
    AuditAction,
    AuditEvent,
    Outcome,
    Run,
    RunStatus,
    Task,
    TaskStatus,
    Visibility,
)
from shared.services import audit
from shared.services.datasets import add_dataset, delete_dataset, get_dataset, list_datasets
from shared.services.models import add_model, redeploy_model, save_template
from shared.services.task_list import TaskFilter, list_tasks
from shared.services.tasks import TaskIn, clone_task, create_task, get_task, request_stop, rerun_run
from shared.services.weights import write_weights_zip
from tests.support.pkgs import write_dataset, write_package


def _task(session, who, stock, *, visibility=Visibility.team, name="t") -> Task:
    ds, model = stock
    return create_task(session=session, actor=who, visibility=visibility,
                       task_in=TaskIn(name=name, model_id=model.id, dataset_id=ds.id, epochs=1))


def _events(session, action: AuditAction) -> list[tuple[str, str, str]]:
    rows = session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
    return [(e.user_name, e.outcome.value, e.detail) for e in rows]


def test_a_private_task_is_invisible_to_another_member_and_unstoppable(session, people, stock):
    alice, bob, root = people["alice"], people["bob"], people["root"]
    task = _task(session, alice, stock, visibility=Visibility.private)
    assert (task.owner_id, task.visibility) == (alice.id, Visibility.private)
    with pytest.raises(NotFoundError) as hidden:
        get_task(session=session, actor=bob, task_id=task.id)
    with pytest.raises(NotFoundError) as missing:
        get_task(session=session, actor=bob, task_id=task.id + 100)
    # Worded exactly like a missing id, so ids cannot be probed.
    assert str(hidden.value) == f"task {task.id} does not exist"
    assert str(missing.value) == f"task {task.id + 100} does not exist"
    assert list_tasks(session=session, actor=bob, flt=TaskFilter()) == ([], 0)
    with pytest.raises(NotFoundError):
        request_stop(session=session, actor=bob, task_id=task.id)
    with pytest.raises(NotFoundError):
        clone_task(session=session, actor=bob, task_id=task.id)
    assert get_task(session=session, task_id=task.id).stop_requested is False
    # Its owner and the admins see it.
    assert [r["id"] for r in list_tasks(session=session, actor=alice, flt=TaskFilter())[0]] == [task.id]
    assert get_task(session=session, actor=root, task_id=task.id).id == task.id


def test_a_team_task_is_seen_by_all_but_stopped_only_by_its_owner_or_an_admin(session, people, stock):
    alice, bob, val, root = people["alice"], people["bob"], people["val"], people["root"]
    first = _task(session, alice, stock)
    second = _task(session, alice, stock, name="t2")
    for who in (bob, val, root):
        assert {r["id"] for r in list_tasks(session=session, actor=who, flt=TaskFilter())[0]} == {first.id, second.id}
    with pytest.raises(PermissionDenied) as err:
        request_stop(session=session, actor=bob, task_id=first.id)
    assert str(err.value) == ("Changing this task needs owning it or the admin role; you are a member. "
                              "Ask an admin if you need more.")
    with pytest.raises(PermissionDenied, match="needs the member role and owning it, or the admin role; you are a"):
        request_stop(session=session, actor=val, task_id=first.id)
    with pytest.raises(PermissionDenied):
        clone_task(session=session, actor=bob, task_id=first.id)
    assert get_task(session=session, task_id=first.id).stop_requested is False
    assert request_stop(session=session, actor=alice, task_id=first.id).stop_requested
    assert request_stop(session=session, actor=root, task_id=second.id).stop_requested
    stops = [(who, outcome) for who, outcome, _ in _events(session, AuditAction.change)]
    assert stops == [("bob", "denied"), ("val", "denied"), ("alice", "ok"), ("root", "ok")]
    clone = clone_task(session=session, actor=alice, task_id=first.id)
    assert (clone.owner_id, clone.visibility) == (alice.id, Visibility.team)


def test_a_viewer_creates_nothing_and_the_refusal_names_the_role(session, settings, people, stock, tmp_path):
    val = people["val"]
    with pytest.raises(PermissionDenied) as err:
        _task(session, val, stock)
    assert str(err.value) == ("Creating a task needs the member or admin role; you are a viewer. "
                              "Ask an admin if you need more.")
    with pytest.raises(PermissionDenied, match="the member or admin role"):
        add_dataset(session=session, settings=settings, actor=val, zip_path=write_dataset(tmp_path / "v.zip"),
                    name="v", task_type="classification")
    assert session.exec(select(Task)).all() == []
    assert len(list_datasets(session=session, actor=val)) == 1  # only alice's
    made = _events(session, AuditAction.create)
    assert [(who, outcome) for who, outcome, _ in made] == [("alice", "ok"), ("alice", "ok"), ("val", "denied"),
                                                            ("val", "denied")]
    assert "you are a viewer" in made[2][2]


def test_a_member_cannot_delete_or_redeploy_anothers_but_an_admin_can(session, settings, people, stock, ctx):
    ds, model = stock
    bob, root = people["bob"], people["root"]
    with pytest.raises(PermissionDenied, match="Deleting this dataset needs owning it or the admin role"):
        delete_dataset(session=session, settings=settings, actor=bob, dataset_id=ds.id)
    with pytest.raises(PermissionDenied, match="Changing this model needs owning it"):
        redeploy_model(session=session, connection=ctx.redis, actor=bob, model_id=model.id)
    with pytest.raises(PermissionDenied):
        save_template(session=session, actor=bob, model_id=model.id, name="mine", values={"x": "0.3"})
    assert get_dataset(session=session, dataset_id=ds.id) is not None
    delete_dataset(session=session, settings=settings, actor=root, dataset_id=ds.id)
    with pytest.raises(NotFoundError):
        get_dataset(session=session, dataset_id=ds.id)
    deletes = audit.list_events(session=session, actions=[AuditAction.delete])
    assert [(e.user_name, e.outcome) for e in deletes] == [("root", Outcome.ok), ("bob", Outcome.denied)]


def test_network_access_is_the_admins_call(session, settings, people, tmp_path):
    with pytest.raises(PermissionDenied, match="Giving a model network access needs the admin role; you are a member"):
        add_model(session=session, settings=settings, actor=people["alice"], network=True,
                  zip_path=write_package(tmp_path / "n.zip"), name="n")
    model = add_model(session=session, settings=settings, actor=people["root"], network=True,
                      zip_path=write_package(tmp_path / "n.zip"), name="n")
    assert model.network and model.owner_id == people["root"].id


def test_the_limit_ceiling_binds_admins_too_and_an_open_one_binds_nobody(session, settings, people, stock):
    """Main's ceilings replace people2's admin-only raise: each TRAINYARD_<LIMIT> is both the default and the
    ceiling, so "above the default" is "above the ceiling", refused for everyone; where the operator set no
    ceiling (none) any member may choose, switching it off included."""
    ds, model = stock

    def make(who, cfg=settings, **limits):
        return create_task(session=session, actor=who, settings=cfg, task_in=TaskIn(
            name="l", model_id=model.id, dataset_id=ds.id, epochs=1, limits=limits))

    assert make(people["alice"], max_procs=settings.max_procs // 2).limits == {"max_procs": settings.max_procs // 2}
    for who in (people["alice"], people["root"]):
        with pytest.raises(FieldError, match="over the platform's ceiling"):
            make(who, max_procs=settings.max_procs * 2)
        with pytest.raises(FieldError, match="cannot be switched off"):
            make(who, max_procs="none")
    open_ended = settings.model_copy(update={"max_procs": None})
    assert make(people["alice"], open_ended, max_procs="none").limits == {"max_procs": None}
    assert make(people["alice"], open_ended, max_procs=10**6).limits == {"max_procs": 10**6}


def test_downloads_and_reruns(session, settings, people, stock, tmp_path):
    """A viewer downloads a team task's weights; a private one answers as missing; only the owner re-runs."""
    alice, bob, val = people["alice"], people["bob"], people["val"]
    task = _task(session, alice, stock)
    hidden = _task(session, alice, stock, visibility=Visibility.private, name="p")
    for t in (task, hidden):
        run = Run(task_id=t.id, index=0, status=RunStatus.failed, work_dir=f"runs/{t.id}/0/work", params={})
        session.add(run)
        session.commit()
        session.refresh(run)
        settings.path(run.work_dir).mkdir(parents=True)
        settings.path(run.work_dir).joinpath("best.pt").write_bytes(b"w")
        t.best_run_id, t.status = run.id, TaskStatus.failed
        t.finished_at = t.created_at + timedelta(seconds=1)
        session.add(t)
        session.commit()
    made = write_weights_zip(session=session, settings=settings, actor=val, task_id=task.id, run_id=None,
                             dest=tmp_path / "w.zip")
    assert made.path.is_file()
    with pytest.raises(NotFoundError, match=f"task {hidden.id} does not exist"):
        write_weights_zip(session=session, settings=settings, actor=bob, task_id=hidden.id, run_id=None,
                          dest=tmp_path / "x.zip")
    with pytest.raises(NotFoundError, match=f"run {hidden.best_run_id} does not exist"):
        rerun_run(session=session, actor=bob, run_id=hidden.best_run_id)
    with pytest.raises(PermissionDenied, match="Changing this task needs owning it"):
        rerun_run(session=session, actor=bob, run_id=task.best_run_id)
    assert rerun_run(session=session, actor=alice, run_id=task.best_run_id).status == RunStatus.queued
    downloads = audit.list_events(session=session, actions=[AuditAction.download])
    assert [(e.user_name, e.outcome) for e in downloads] == [("bob", Outcome.failed), ("val", Outcome.ok)]
