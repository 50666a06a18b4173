"""People: create, list, change role, disable, change password; password hashing.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory
profile); no hashing of our own. Names are lower case so "Alice" and "alice" are
one person. Every change made by someone is written to the audit log here, next
to the change, so no caller can forget it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, update
from sqlmodel import Session, select

from shared.core.errors import ConflictError, FieldError, NotFoundError, PermissionDenied
from shared.core.i18n import N_
from shared.records import Action, AuditAction, Dataset, ModelPackage, Outcome, Prediction, Role, Task, User
from shared.services import access, audit

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
# argon2 reads the whole password: a megabyte-long one would be a cheap way to burn CPU.
MAX_PASSWORD = 1024

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("not a password anyone has")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. With no hash (an unknown name, an OIDC-only person) a dummy
    hash is checked all the same, so the answer takes as long and tells nothing."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def normalize_name(name: str) -> str:
    return (name or "").strip().lower()


def validate_name(name: str) -> str:
    clean = normalize_name(name)
    if not NAME_RE.match(clean):
        raise FieldError("name", N_("{name!r} is not a valid name: use 2 to 32 letters, digits, '.', '-' or '_', "
                                    "starting with a letter or digit (e.g. alice or j.doe)"),
                                 params={"name": name})
    return clean


def validate_email(email: str | None) -> str | None:
    clean = (email or "").strip().lower()
    if not clean:
        return None
    if not EMAIL_RE.match(clean) or len(clean) > 254:
        raise FieldError("email", N_("{email!r} is not an e-mail address; write it like alice@example.com"),
                                  params={"email": email})
    return clean


def validate_password(password: str, *, name: str | None = None) -> None:
    if len(password) < MIN_PASSWORD:
        raise FieldError("password", N_("use at least {min_password} characters (a few words make a good one)"),
                                     params={"min_password": MIN_PASSWORD})
    if len(password) > MAX_PASSWORD:
        raise FieldError("password", N_("use at most {max_password} characters"),
                                     params={"max_password": MAX_PASSWORD})
    if name and password.strip().lower() == name.lower():
        raise FieldError("password", N_("the password must not be the name"))


def count_users(*, session: Session) -> int:
    return session.exec(select(func.count()).select_from(User)).one()


def list_users(*, session: Session, include_disabled: bool = True) -> list[User]:
    q = select(User).order_by(User.name)
    if not include_disabled:
        q = q.where(User.disabled == False)  # noqa: E712 - SQL comparison
    return list(session.exec(q))


def get_user(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(N_("user {user_id} does not exist"), params={"user_id": user_id})
    return user


def find_user(*, session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name == normalize_name(name))).first()


def find_by_email(*, session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


OPERATOR = "operator"


def operator() -> User:
    """The built-in admin the CLI acts as while nobody has an account (a fresh install). It is never
    stored: what it makes has no owner, and the audit log names it "operator"."""
    return User(name=OPERATOR, role=Role.admin)


def acting_user(*, session: Session, name: str | None) -> User:
    """Who a CLI command acts as: the enabled person ``name``; with no name, the built-in operator, but
    only while no account exists at all. Once people exist every command names one (``--as``)."""
    if name:
        user = find_user(session=session, name=name)
        if user is None or user.disabled:
            raise PermissionDenied(N_("--as {name}: no enabled person has that name; "
                                      "`python -m runner --as ADMIN user list` shows who does"), params={"name": name})
        return user
    if count_users(session=session) == 0:
        return operator()
    raise PermissionDenied(N_("people have accounts now, so every command acts as one of them: add --as NAME "
                              "(or set TRAINYARD_AS=NAME) before the command, e.g. "
                              "`python -m runner --as alice task list`"))


def _require_admin(session: Session, actor: User | None, user: User | None, what: str, client: str | None) -> None:
    """People are managed by admins. ``actor`` None is the platform itself (a sign-up, an OIDC first sign-in)."""
    if actor is None or access.can(actor, Action.manage_users):
        return
    audit.record(session=session, user=actor, action=Action.manage_users, obj=user, outcome=Outcome.denied,
                 detail=what, client=client)
    access.require(actor, Action.manage_users)


def create_user(*, session: Session, name: str, role: Role | str = Role.member, password: str | None = None,
                email: str | None = None, language: str | None = None, actor: User | None = None,
                client: str | None = None) -> User:
    """A new person. ``password`` None makes an account that signs in through OIDC only."""
    _require_admin(session, actor, None, f"create {name}", client)
    clean = validate_name(name)
    mail = validate_email(email)
    role = Role(role)
    if password is not None:
        validate_password(password, name=clean)
    if find_user(session=session, name=clean) is not None:
        raise FieldError("name", N_("{clean!r} is taken; pick another name"), params={"clean": clean})
    if mail and find_by_email(session=session, email=mail) is not None:
        raise FieldError("email", N_("{mail} belongs to another person"), params={"mail": mail})
    first_admin = role == Role.admin and session.exec(select(User.id).where(User.role == Role.admin)).first() is None
    user = User(name=clean, email=mail, role=role, language=language,
                password_hash=hash_password(password) if password is not None else None)
    session.add(user)
    session.flush()
    if first_admin:
        _claim_unowned(session, user)
    session.commit()
    session.refresh(user)
    audit.record(session=session, user=actor, action=AuditAction.create_user, obj=user, client=client,
                 detail=f"{clean} as {role.value}")
    return user


def _claim_unowned(session: Session, admin: User) -> None:
    """Data from before people existed (migration 0002 left it without an owner, team-visible) belongs to
    the first admin, so someone can stop, delete and re-run it."""
    for table in (Dataset, ModelPackage, Task, Prediction):
        session.execute(update(table).where(table.owner_id.is_(None)).values(owner_id=admin.id))


def _other_active_admins(session: Session, user: User) -> int:
    q = select(func.count()).select_from(User).where(
        User.role == Role.admin, User.disabled == False, User.id != user.id)  # noqa: E712 - SQL comparison
    return session.exec(q).one()


def set_role(*, session: Session, user_id: int, role: Role | str, actor: User | None = None,
             client: str | None = None) -> User:
    user = get_user(session=session, user_id=user_id)
    _require_admin(session, actor, user, f"set role of {user.name}", client)
    role = Role(role)
    if user.role == Role.admin and role != Role.admin and not user.disabled \
            and _other_active_admins(session, user) == 0:
        raise ConflictError(N_("{user_name} is the only admin; make someone else admin first"),
                            params={"user_name": user.name})
    before = user.role
    user.role = role
    session.add(user)
    session.commit()
    audit.record(session=session, user=actor, action=AuditAction.set_role, obj=user, client=client,
                 detail=f"{user.name}: {before.value} -> {role.value}")
    return user


def set_disabled(*, session: Session, user_id: int, disabled: bool, actor: User | None = None,
                 client: str | None = None) -> User:
    """Disable (every open session of theirs ends at its next page load) or enable a person."""
    user = get_user(session=session, user_id=user_id)
    _require_admin(session, actor, user, f"{'disable' if disabled else 'enable'} {user.name}", client)
    if disabled and user.role == Role.admin and not user.disabled and _other_active_admins(session, user) == 0:
        raise ConflictError(N_("{user_name} is the only admin; make someone else admin before disabling them"),
                            params={"user_name": user.name})
    if user.disabled == disabled:
        return user
    user.disabled = disabled
    user.session_version += 1
    session.add(user)
    session.commit()
    audit.record(session=session, user=actor, obj=user, client=client, detail=user.name,
                 action=AuditAction.disable_user if disabled else AuditAction.enable_user)
    return user


def set_language(*, session: Session, user_id: int, language: str | None) -> User:
    """Remember the UI language a person chose (a ``shared.core.i18n.Language`` value; None forgets it)."""
    from shared.core.i18n import parse_language

    user = get_user(session=session, user_id=user_id)
    lang = parse_language(language) if language else None
    if language and lang is None:
        raise FieldError("language", N_("{language} is not a language of the UI; use en or zh-CN"),
                         params={"language": repr(language)})
    user.language = lang.value if lang else None
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def change_password(*, session: Session, user_id: int, new_password: str, old_password: str | None = None,
                    actor: User | None = None, client: str | None = None) -> User:
    """Set a new password; every other open session of the person ends. ``old_password`` is checked when
    given (a person changing their own); an admin resetting someone's passes None."""
    user = get_user(session=session, user_id=user_id)
    if actor is not None and actor.id != user.id:
        _require_admin(session, actor, user, f"set the password of {user.name}", client)
    if old_password is not None and not verify_password(user.password_hash, old_password):
        audit.record(session=session, user=actor or user, action=AuditAction.change_password, obj=user,
                     outcome=Outcome.denied, detail="the current password was wrong", client=client)
        raise FieldError("current password", N_("that is not your current password"))
    validate_password(new_password, name=user.name)
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    session.add(user)
    session.commit()
    audit.record(session=session, user=actor or user, action=AuditAction.change_password, obj=user,
                 client=client, detail=user.name)
    return user
