"""Sign-in, sessions, sign-up links, OIDC and the audit trail they leave, on a real database
(SQLite, and Postgres when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from shared.core.db import get_engine
from shared.core.errors import ConflictError, FieldError, SignInError
from shared.core.settings import Settings
from shared.records import AuditAction, Outcome, Role, SignInThrottle, SignupToken, User, utcnow
from shared.services import audit, auth, users

PW = "correct horse battery"


@pytest.fixture
def conf(tmp_path, db_url) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, signin_free_failures=3,
                    signin_first_delay_s=20, signin_max_delay_s=600)


@pytest.fixture
def db(conf) -> Iterator[Session]:
    with Session(get_engine(conf.database_url), expire_on_commit=False) as s:
        yield s


@pytest.fixture
def alice(db) -> User:
    return users.create_user(session=db, name="Alice", password=PW, role=Role.member, email="Alice@Example.com")


def test_hash_is_argon2_and_names_are_normalised(alice):
    assert alice.name == "alice" and alice.email == "alice@example.com"
    assert alice.password_hash.startswith("$argon2id$") and PW not in alice.password_hash
    assert users.verify_password(alice.password_hash, PW)
    assert not users.verify_password(alice.password_hash, PW + "!")
    assert not users.verify_password(None, PW)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"name": "a"}, "name"), ({"name": "bad name"}, "name"), ({"name": "-dash"}, "name"),
    ({"password": "short"}, "password"), ({"name": "longpassword1", "password": "LongPassword1"}, "password"),
    ({"email": "not-an-address"}, "email"),
])
def test_bad_fields_name_the_field(db, kwargs, field):
    args = {"name": "bob", "password": PW, **kwargs}
    with pytest.raises(FieldError) as err:
        users.create_user(session=db, **args)
    assert err.value.field == field


def test_taken_name_and_email(db, alice):
    with pytest.raises(FieldError, match="taken"):
        users.create_user(session=db, name="ALICE", password=PW)
    with pytest.raises(FieldError, match="belongs to another"):
        users.create_user(session=db, name="alice2", password=PW, email="alice@example.com")


def test_wrong_password_and_unknown_name_answer_the_same(db, conf, alice):
    answers = []
    for name, pw in (("alice", "wrong password!"), ("nobody", PW)):
        with pytest.raises(SignInError) as err:
            auth.sign_in(session=db, settings=conf, name=name, password=pw, client="10.0.0.1")
        answers.append(str(err.value))
    assert answers == [auth.WRONG, auth.WRONG]
    user, token = auth.sign_in(session=db, settings=conf, name="Alice", password=PW, client="10.0.0.1")
    assert user.id == alice.id and auth.resolve_session(session=db, settings=conf, token=token).id == alice.id
    events = audit.list_events(session=db, actions=[AuditAction.sign_in])
    assert [(e.user_name, e.outcome) for e in events] == [
        ("alice", Outcome.ok), ("nobody", Outcome.denied), ("alice", Outcome.denied)]
    assert events[2].user_id == alice.id and events[1].user_id is None and events[0].client == "10.0.0.1"


def _time_passes(db, key: str) -> None:
    """As if the wait on ``key`` were over (argon2 alone takes about a second here, so real waits would be long)."""
    row = db.get(SignInThrottle, key)
    row.blocked_until = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()


def test_repeated_failures_are_slowed_down_per_name(db, conf, alice):
    msgs = []
    for _ in range(conf.signin_free_failures):
        with pytest.raises(SignInError) as err:
            auth.sign_in(session=db, settings=conf, name="alice", password="wrong password!")
        msgs.append(err.value)
    assert [m.retry_after_s for m in msgs[:-1]] == [None] * (conf.signin_free_failures - 1)
    assert msgs[-1].retry_after_s == 20 and "wait 20 seconds" in str(msgs[-1])
    assert str(msgs[-1]).startswith(auth.WRONG)
    # Blocked now: even the right password is refused unchecked, with the wait told.
    with pytest.raises(SignInError, match=r"Too many failed sign-ins. Wait (19|20) seconds") as err:
        auth.sign_in(session=db, settings=conf, name="ALICE", password=PW)
    assert 15 < err.value.retry_after_s <= 20
    _time_passes(db, "user:alice")
    with pytest.raises(SignInError, match="wait 40 seconds"):  # the wait doubles
        auth.sign_in(session=db, settings=conf, name="alice", password="wrong again!!")
    _time_passes(db, "user:alice")
    auth.sign_in(session=db, settings=conf, name="alice", password=PW)
    # A success forgets the name's failures.
    with pytest.raises(SignInError) as err:
        auth.sign_in(session=db, settings=conf, name="alice", password="wrong password!")
    assert err.value.retry_after_s is None
    # Unknown names are held back the same way, so the wait tells nothing about who exists.
    for _ in range(conf.signin_free_failures):
        with pytest.raises(SignInError) as err:
            auth.sign_in(session=db, settings=conf, name="nobody", password="wrong password!")
    assert err.value.retry_after_s == 20


def test_failures_from_one_client_slow_it_down_across_names(db, conf, alice):
    for i in range(conf.signin_free_failures):
        with pytest.raises(SignInError):
            auth.sign_in(session=db, settings=conf, name=f"guess{i}", password="x" * 12, client="203.0.113.9")
    with pytest.raises(SignInError, match="Too many failed sign-ins"):
        auth.sign_in(session=db, settings=conf, name="alice", password=PW, client="203.0.113.9")
    # Another client is not held back by that one.
    auth.sign_in(session=db, settings=conf, name="alice", password=PW, client="198.51.100.7")


def test_token_tampering_and_expiry(db, conf, alice, tmp_path):
    token = auth.issue_token(conf, alice)
    assert auth.resolve_session(session=db, settings=conf, token=token).id == alice.id
    body, sig = token.rsplit(".", 1)
    # Flip the first character: the last one of a base64 signature carries padding
    # bits, so changing it can decode to the very same bytes (a flaky "forgery").
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    forged = auth.URLSafeTimedSerializer("another secret " * 3, salt=auth._SALT).dumps([alice.id, 0])  # noqa: SLF001
    for bad in (body + "." + flipped, forged, "", "garbage", token + "x"):
        assert auth.resolve_session(session=db, settings=conf, token=bad) is None, bad
    short = conf.model_copy(update={"session_hours": 1 / 3600})
    assert auth.resolve_session(session=db, settings=short, token=token) is not None
    time.sleep(2.1)
    assert auth.resolve_session(session=db, settings=short, token=token) is None
    assert auth.resolve_session(session=db, settings=conf, token=token) is not None


def test_secret_is_generated_once_private(conf):
    key = auth.secret_key(conf)
    mode = stat.S_IMODE(os.stat(conf.secret_key_file).st_mode)
    assert mode == 0o600 and len(key) >= 32
    auth._secret_from_file.cache_clear()  # noqa: SLF001 - a new process reads the same file
    assert auth.secret_key(conf) == key
    assert auth.secret_key(conf.model_copy(update={"secret_key": "x" * 40})) == "x" * 40


def test_disable_and_password_change_end_sessions(db, conf, alice):
    admin = users.create_user(session=db, name="root", password=PW, role=Role.admin)
    token = auth.issue_token(conf, alice)
    users.set_disabled(session=db, user_id=alice.id, disabled=True, actor=admin)
    assert auth.resolve_session(session=db, settings=conf, token=token) is None
    with pytest.raises(SignInError, match="disabled"):
        auth.sign_in(session=db, settings=conf, name="alice", password=PW)
    users.set_disabled(session=db, user_id=alice.id, disabled=False, actor=admin)
    assert auth.resolve_session(session=db, settings=conf, token=token) is None  # stays ended
    token = auth.issue_token(conf, users.get_user(session=db, user_id=alice.id))
    with pytest.raises(FieldError, match="current password"):
        users.change_password(session=db, user_id=alice.id, old_password="nope nope nope", new_password="x" * 12)
    users.change_password(session=db, user_id=alice.id, old_password=PW, new_password="a new long password")
    assert auth.resolve_session(session=db, settings=conf, token=token) is None
    auth.sign_in(session=db, settings=conf, name="alice", password="a new long password")
    kinds = [e.action for e in audit.list_events(session=db, user_name="root")]
    assert AuditAction.disable_user in kinds and AuditAction.enable_user in kinds


def test_the_last_admin_stays(db, alice):
    root = users.create_user(session=db, name="root", password=PW, role=Role.admin)
    with pytest.raises(ConflictError, match="only admin"):
        users.set_role(session=db, user_id=root.id, role=Role.member)
    with pytest.raises(ConflictError, match="only admin"):
        users.set_disabled(session=db, user_id=root.id, disabled=True)
    users.set_role(session=db, user_id=alice.id, role=Role.admin, actor=root)
    users.set_role(session=db, user_id=root.id, role=Role.viewer, actor=root)
    assert users.get_user(session=db, user_id=root.id).role == Role.viewer


def test_signup_link_works_once(db, conf):
    assert users.count_users(session=db) == 0
    token = auth.create_signup_link(session=db, settings=conf)
    assert auth.signup_role(session=db, token=token) == Role.admin
    assert token not in str(db.exec(select(SignupToken)).all())  # stored hashed only
    with pytest.raises(FieldError, match="password"):  # a typo does not burn the link
        auth.sign_up(session=db, settings=conf, token=token, name="root", password="short")
    user, session_token = auth.sign_up(session=db, settings=conf, token=token, name="root", password=PW)
    assert user.role == Role.admin
    assert auth.resolve_session(session=db, settings=conf, token=session_token).id == user.id
    assert auth.signup_role(session=db, token=token) is None
    with pytest.raises(SignInError, match="unknown, used or expired"):
        auth.sign_up(session=db, settings=conf, token=token, name="second", password=PW)
    assert users.count_users(session=db) == 1


def test_signup_link_expires(db, conf):
    token = auth.create_signup_link(session=db, settings=conf, role=Role.viewer)
    row = db.exec(select(SignupToken)).one()
    row.expires_at = row.expires_at - timedelta(hours=conf.signup_link_hours + 1)
    db.add(row)
    db.commit()
    with pytest.raises(SignInError, match="expired"):
        auth.sign_up(session=db, settings=conf, token=token, name="late", password=PW)


def test_oidc_first_sign_in_makes_the_person_with_the_rule_role(db, conf):
    conf = conf.model_copy(update={"oidc_admin_domains": ["ops.example.com"], "oidc_default_role": "member"})
    a = auth.user_from_oidc(session=db, settings=conf, claims={"email": "Ann@Ops.example.com", "name": "Ann Lee"})
    assert (a.name, a.email, a.role, a.password_hash) == ("ann-lee", "ann@ops.example.com", Role.admin, None)
    assert auth.user_from_oidc(session=db, settings=conf, claims={"email": "ann@ops.example.com"}).id == a.id
    b = auth.user_from_oidc(session=db, settings=conf, claims={"email": "ann.lee@else.org", "name": "Ann Lee"})
    assert (b.name, b.role) == ("ann-lee-2", Role.member)
    with pytest.raises(SignInError, match="no e-mail"):
        auth.user_from_oidc(session=db, settings=conf, claims={"name": "x"})
    with pytest.raises(SignInError, match="not verified"):
        auth.user_from_oidc(session=db, settings=conf, claims={"email": "c@else.org", "email_verified": False})
    # An OIDC-only person has no password to guess.
    with pytest.raises(SignInError, match="Wrong name or password"):
        auth.sign_in(session=db, settings=conf, name="ann-lee", password="")
    users.set_disabled(session=db, user_id=b.id, disabled=True)
    with pytest.raises(SignInError, match="disabled"):
        auth.user_from_oidc(session=db, settings=conf, claims={"email": "ann.lee@else.org"})


def test_audit_filters(db, conf, alice):
    auth.sign_in(session=db, settings=conf, name="alice", password=PW)
    with pytest.raises(SignInError):
        auth.sign_in(session=db, settings=conf, name="alice", password="wrong password!")
    first = audit.list_events(session=db)[-1].time
    assert [e.action for e in audit.list_events(session=db, outcome=Outcome.denied)] == [AuditAction.sign_in]
    assert len(audit.list_events(session=db, user_name="alice", actions=["sign_in"])) == 2
    assert audit.list_events(session=db, object_kind="user", object_id=alice.id)[0].action == AuditAction.create_user
    assert audit.list_events(session=db, since=first + timedelta(days=1)) == []
    assert len(audit.list_events(session=db, until=first + timedelta(days=1))) == 3


def test_the_first_admin_claims_data_from_before_people_existed(db):
    """Migration 0002 leaves old rows without an owner; the first admin created owns them, later people don't."""
    from shared.records import Dataset, TaskType, Visibility

    old = Dataset(name="from the last release", task_type=TaskType.detection, path="datasets/1")
    db.add(old)
    db.commit()
    assert old.owner_id is None and old.visibility == Visibility.team
    member = users.create_user(session=db, name="early", password=PW, role=Role.member)
    db.refresh(old)
    assert old.owner_id is None  # a member is not the first admin
    admin = users.create_user(session=db, name="root", password=PW, role=Role.admin)
    db.refresh(old)
    assert old.owner_id == admin.id and old.visibility == Visibility.team
    users.create_user(session=db, name="second", password=PW, role=Role.admin)
    db.refresh(old)
    assert old.owner_id == admin.id and member.id != admin.id
