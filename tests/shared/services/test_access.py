"""The access rules as a table: role x action x own/other x team/private, and the list filter and
lookup that hide what a person may not see."""

from __future__ import annotations

import itertools

import pytest
from sqlmodel import Session, select

from shared.core.db import get_engine
from shared.core.errors import NotFoundError, PermissionDenied
from shared.records import Action, Dataset, ModelPackage, Prediction, Role, Task, TaskType, User, Visibility
from shared.services import access

A, V = Action, Visibility


def _expected(role: Role, action: Action, own: bool, vis: Visibility) -> bool:
    if role == Role.admin:
        return True
    visible = own or vis == V.team
    if action in (A.view, A.download):
        return visible
    if role == Role.viewer or action in (A.manage_users, A.set_limits, A.allow_network, A.view_audit):
        return False
    if action == A.create:
        return visible
    return own  # change, delete


def _person(role: Role, uid: int, disabled: bool = False) -> User:
    return User(id=uid, name=f"{role.value}{uid}", role=role, disabled=disabled)


CASES = list(itertools.product(Role, Action, (True, False), Visibility, (Dataset, ModelPackage, Task, Prediction)))


@pytest.mark.parametrize(("role", "action", "own", "vis", "kind"), CASES,
                         ids=[f"{r.value}-{a.value}-{'own' if o else 'other'}-{v.value}-{k.__name__}"
                              for r, a, o, v, k in CASES])
def test_rules_table(role, action, own, vis, kind):
    user = _person(role, 1)
    obj = kind(id=7, owner_id=1 if own else 2, visibility=vis)
    assert access.can(user, action, obj) is _expected(role, action, own, vis)
    if access.can(user, action, obj):
        access.require(user, action, obj)
    else:
        with pytest.raises(PermissionDenied) as err:
            access.require(user, action, obj)
        assert f"you are a {role.value}" in str(err.value)


@pytest.mark.parametrize(("role", "action", "allowed", "needs"), [
    (Role.viewer, A.create, False, "the member or admin role"),
    (Role.member, A.create, True, None),
    (Role.member, A.manage_users, False, "the admin role"),
    (Role.member, A.view_audit, False, "the admin role"),
    (Role.member, A.allow_network, False, "the admin role"),
    (Role.admin, A.manage_users, True, None),
])
def test_kind_and_platform_actions(role, action, allowed, needs):
    user = _person(role, 1)
    target = Task if action == A.create else None
    assert access.can(user, action, target) is allowed
    if needs:
        with pytest.raises(PermissionDenied, match=needs):
            access.require(user, action, target)


def test_nobody_and_disabled_people_may_do_nothing():
    obj = Dataset(id=1, owner_id=1, visibility=V.team)
    for user in (None, _person(Role.admin, 1, disabled=True)):
        assert not any(access.can(user, a, obj) for a in Action)
        with pytest.raises(PermissionDenied, match="sign in again"):
            access.require(user, A.view, obj)


def test_ownerless_records_are_team_records_only_admins_change():
    legacy = Task(id=3, owner_id=None)
    member = _person(Role.member, 1)
    assert access.can(member, A.view, legacy) and not access.can(member, A.change, legacy)
    with pytest.raises(PermissionDenied, match="owning it or the admin role; you are a member"):
        access.require(member, A.change, legacy)


def test_visible_filter_and_get_visible_on_a_real_db(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with Session(engine, expire_on_commit=False) as s:
        ann, bob, boss = (User(name=n, role=r) for n, r in (("ann", Role.member), ("bob", Role.viewer),
                                                              ("boss", Role.admin)))
        s.add_all([ann, bob, boss])
        s.commit()
        rows = {}
        for label, owner, vis in (("ann-team", ann, V.team), ("ann-private", ann, V.private),
                                  ("bob-private", bob, V.private), ("legacy", None, V.team)):
            d = access.stamp_owner(Dataset(name=label, task_type=TaskType.other, path=label), owner, vis)
            s.add(d)
            s.commit()
            rows[label] = d.id

        def names(user):
            return sorted(d.name for d in s.exec(select(Dataset).where(access.visible_filter(user, Dataset))))

        assert names(ann) == ["ann-private", "ann-team", "legacy"]
        assert names(bob) == ["ann-team", "bob-private", "legacy"]
        assert names(boss) == ["ann-private", "ann-team", "bob-private", "legacy"]
        assert names(None) == []
        assert access.get_visible(session=s, user=ann, model=Dataset, obj_id=rows["ann-private"]).name == "ann-private"
        missing = f"dataset {max(rows.values()) + 1} does not exist"
        with pytest.raises(NotFoundError) as gone:
            access.get_visible(session=s, user=bob, model=Dataset, obj_id=max(rows.values()) + 1)
        assert str(gone.value) == missing
        with pytest.raises(NotFoundError) as hidden:
            access.get_visible(session=s, user=bob, model=Dataset, obj_id=rows["ann-private"])
        assert str(hidden.value) == f"dataset {rows['ann-private']} does not exist"
