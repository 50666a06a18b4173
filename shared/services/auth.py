"""Signing in: passwords (slowed down after repeated failures), session tokens,
one-time sign-up links, and people coming through OIDC (Streamlit's ``st.login``).

A session token is ``[user id, session version]`` signed with the platform's
secret and a timestamp (itsdangerous); it is checked on every page load, so a
disabled person or a changed password ends the session at the next one.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from shared.core.errors import FieldError, Msg, SignInError
from shared.core.i18n import N_
from shared.core.settings import Settings
from shared.records import AuditAction, Outcome, Role, SignInThrottle, SignupToken, User, utcnow
from shared.services import audit, users

WRONG = Msg(N_("Wrong name or password."))
_SALT = "trainyard.session"


# --- the secret ---------------------------------------------------------------------------------------------------
def secret_key(settings: Settings) -> str:
    """TRAINYARD_SECRET_KEY, or the one generated once into DATA_DIR/secret_key (mode 0600)."""
    return settings.secret_key or _secret_from_file(settings.secret_key_file)


@lru_cache(maxsize=8)
def _secret_from_file(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole to a private temp file, then linked into place: two processes starting at once
        # cannot both win, and neither reads a half-written key.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    key = path.read_text().strip()
    if len(key) < 32:
        raise SignInError(N_("{path} holds a secret shorter than 32 characters; delete it (a new one is made at "
                             "the next start, which signs everyone out) or set TRAINYARD_SECRET_KEY"),
                          params={"path": path})
    return key


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(settings), salt=_SALT)


# --- session tokens -----------------------------------------------------------------------------------------------
def issue_token(settings: Settings, user: User) -> str:
    return _serializer(settings).dumps([user.id, user.session_version])


def resolve_session(*, session: Session, settings: Settings, token: str | None) -> User | None:
    """The person a token signs in, or None: tampered, expired, unknown, disabled, or ended by a
    password change."""
    if not token:
        return None
    try:
        user_id, version = _serializer(settings).loads(token, max_age=settings.session_hours * 3600)
    except (BadSignature, ValueError, TypeError):
        return None
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.disabled or user.session_version != version:
        return None
    return user


# --- throttling ---------------------------------------------------------------------------------------------------
def _aware(dt: datetime) -> datetime:
    # SQLite hands datetimes back without a zone; they were written in UTC.
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _throttle_keys(name: str, client: str | None) -> list[str]:
    keys = [f"user:{users.normalize_name(name)[:64]}"]
    if client:
        keys.append(f"client:{client[:64]}")
    return keys


def _wait_s(session: Session, keys: list[str], now: datetime) -> float:
    wait = 0.0
    for key in keys:
        row = session.get(SignInThrottle, key)
        if row is not None and row.blocked_until is not None:
            wait = max(wait, (_aware(row.blocked_until) - now).total_seconds())
    return wait


def _fail(session: Session, settings: Settings, keys: list[str], now: datetime) -> float:
    """Count a failure against every key; the longest wait it sets (0 while under the free failures)."""
    wait = 0.0
    window = timedelta(seconds=settings.signin_failure_window_s)
    for key in keys:
        for _attempt in range(3):
            row = session.get(SignInThrottle, key)
            if row is None:
                row = SignInThrottle(key=key, failures=0, last_failure_at=now)
            elif now - _aware(row.last_failure_at) > window:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            over = row.failures - settings.signin_free_failures
            delay = min(settings.signin_first_delay_s * 2.0 ** over, settings.signin_max_delay_s) if over >= 0 \
                else 0.0
            row.blocked_until = now + timedelta(seconds=delay) if delay else None
            session.add(row)
            try:
                session.commit()
                break
            except IntegrityError:  # another process made the row first: count on top of theirs
                session.rollback()
        wait = max(wait, delay)
    return wait


def _forget_failures(session: Session, key: str) -> None:
    row = session.get(SignInThrottle, key)
    if row is not None:
        session.delete(row)
        session.commit()


def _wait_words(seconds: float) -> str:
    s = max(1, int(seconds + 0.999))
    return f"{s} second{'s' if s != 1 else ''}" if s < 120 else f"{(s + 59) // 60} minutes"


# --- sign-in ------------------------------------------------------------------------------------------------------
def sign_in(*, session: Session, settings: Settings, name: str, password: str,
            client: str | None = None) -> tuple[User, str]:
    """(person, session token), or ``SignInError`` with one message for an unknown name and a wrong
    password. After ``signin_free_failures`` failures (per typed name and per client) each next try
    waits twice as long as the last; the wait is in the message and in ``retry_after_s``."""
    now = utcnow()
    keys = _throttle_keys(name, client)
    typed = users.normalize_name(name)[:64]
    wait = _wait_s(session, keys, now)
    if wait > 0:
        audit.record(session=session, user=None, user_name=typed, action=AuditAction.sign_in,
                     outcome=Outcome.denied, detail="too many failed sign-ins; refused unchecked", client=client)
        raise SignInError(N_("Too many failed sign-ins. Wait {wait}, then try again."),
                          retry_after_s=wait, params={"wait": _wait_words(wait)})
    user = users.find_user(session=session, name=name)
    ok = users.verify_password(user.password_hash if user is not None else None, password)
    if not ok:
        wait = _fail(session, settings, keys, now)
        audit.record(session=session, user=user, user_name=typed, action=AuditAction.sign_in,
                     outcome=Outcome.denied, detail="wrong name or password", client=client)
        if wait > 0:
            raise SignInError(N_("{wrong} Too many failures: wait {wait} before the next try."),
                              retry_after_s=wait, params={"wrong": WRONG, "wait": _wait_words(wait)})
        raise SignInError(N_("Wrong name or password."))
    if user.disabled:
        audit.record(session=session, user=user, action=AuditAction.sign_in, outcome=Outcome.denied,
                     detail="account disabled", client=client)
        raise SignInError(N_("This account is disabled. Ask an admin to enable it."))
    _forget_failures(session, keys[0])
    if users.needs_rehash(user.password_hash):
        user.password_hash = users.hash_password(password)
    user.last_sign_in_at = now
    session.add(user)
    session.commit()
    audit.record(session=session, user=user, action=AuditAction.sign_in, client=client)
    return user, issue_token(settings, user)


def sign_out(*, session: Session, user: User | None, client: str | None = None) -> None:
    """On record only: the token is dropped by the browser (the UI clears its cookie)."""
    if user is not None:
        audit.record(session=session, user=user, action=AuditAction.sign_out, client=client)


# --- one-time sign-up links ---------------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_signup_link(*, session: Session, settings: Settings, role: Role | str = Role.admin,
                       created_by: User | None = None) -> str:
    """A one-time sign-up token for a person of ``role`` (on a fresh install: the first admin, printed by
    ``up``). Only its hash is stored; it expires after ``signup_link_hours``."""
    token = secrets.token_urlsafe(32)
    row = SignupToken(token_hash=_token_hash(token), role=Role(role),
                      created_by_id=created_by.id if created_by is not None else None,
                      expires_at=utcnow() + timedelta(hours=settings.signup_link_hours))
    session.add(row)
    session.commit()
    audit.record(session=session, user=created_by, action=AuditAction.signup_link,
                 detail=f"one-time sign-up link for a {row.role.value}")
    return token


def signup_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/?signup={token}"


def signup_role(*, session: Session, token: str | None) -> Role | None:
    """The role a still-valid sign-up token grants, or None."""
    row = _live_signup(session, token)
    return row.role if row is not None else None


def _live_signup(session: Session, token: str | None) -> SignupToken | None:
    if not token:
        return None
    row = session.exec(select(SignupToken).where(SignupToken.token_hash == _token_hash(token))).first()
    if row is None or row.used_at is not None or _aware(row.expires_at) <= utcnow():
        return None
    return row


def sign_up(*, session: Session, settings: Settings, token: str, name: str, password: str,
            email: str | None = None, client: str | None = None) -> tuple[User, str]:
    """Redeem a sign-up token: the new person and their session token. The token works once."""
    row = _live_signup(session, token)
    if row is None:
        audit.record(session=session, user=None, user_name=users.normalize_name(name)[:64],
                     action=AuditAction.sign_up, outcome=Outcome.denied, detail="unknown, used or expired link",
                     client=client)
        raise SignInError(N_("This sign-up link is unknown, used or expired. Ask an admin for a new one "
                          "(on a fresh install: restart `python -m runner up`, which prints one)."))
    # Validate first, so a typo does not burn the link.
    clean = users.validate_name(name)
    users.validate_password(password, name=clean)
    users.validate_email(email)
    if users.find_user(session=session, name=clean) is not None:
        raise FieldError("name", N_("{clean!r} is taken; pick another name"), params={"clean": clean})
    # Claim the link in one statement: of two tabs submitting at once, one wins.
    claimed = session.execute(update(SignupToken).where(SignupToken.id == row.id, SignupToken.used_at.is_(None))
                              .values(used_at=utcnow()))
    session.commit()
    if claimed.rowcount != 1:
        raise SignInError(N_("This sign-up link was just used. Ask an admin for a new one."))
    user = users.create_user(session=session, name=clean, role=row.role, password=password, email=email,
                             client=client)
    row = session.get(SignupToken, row.id)
    row.used_by_id = user.id
    session.add(row)
    session.commit()
    audit.record(session=session, user=user, action=AuditAction.sign_up, obj=user, client=client,
                 detail=f"{user.name} as {user.role.value} through a sign-up link")
    return user, issue_token(settings, user)


# --- OIDC ---------------------------------------------------------------------------------------------------------
def oidc_role(settings: Settings, email: str) -> Role:
    domain = email.rsplit("@", 1)[-1].lower()
    admin_domains = {d.strip().lstrip("@").lower() for d in settings.oidc_admin_domains if d.strip()}
    return Role.admin if domain in admin_domains else Role(settings.oidc_default_role)


def _free_name(session: Session, wanted: str) -> str:
    base = re.sub(r"[^a-z0-9._-]+", "-", wanted.strip().lower()).strip("-._")[:28] or "user"
    if len(base) < 2:
        base = f"{base}-user"
    name, n = base, 1
    while users.find_user(session=session, name=name) is not None:
        n += 1
        name = f"{base}-{n}"
    return name


def user_from_oidc(*, session: Session, settings: Settings, claims: Mapping[str, Any],
                   client: str | None = None) -> User:
    """The person behind Streamlit's ``st.user`` claims, matched on e-mail and made on first sign-in
    (role: ``oidc_admin_domains`` else ``oidc_default_role``)."""
    email = str(claims.get("email") or "").strip().lower()
    if not email or not users.EMAIL_RE.match(email):
        raise SignInError(N_("Your identity provider sent no e-mail address, which Trainyard needs to know you. "
                          "Ask an admin to request the 'email' scope in .streamlit/secrets.toml [auth]."))
    if claims.get("email_verified") is False:
        raise SignInError(N_("Your identity provider has not verified {email}. Verify it there, then sign in again."),
                          params={"email": email})
    user = users.find_by_email(session=session, email=email)
    if user is None:
        wanted = str(claims.get("preferred_username") or claims.get("name") or email.split("@", 1)[0])
        user = users.create_user(session=session, name=_free_name(session, wanted), email=email,
                                 role=oidc_role(settings, email), password=None, client=client)
        audit.record(session=session, user=user, action=AuditAction.sign_up, obj=user, client=client,
                     detail=f"{user.name} as {user.role.value} on first OIDC sign-in")
    if user.disabled:
        audit.record(session=session, user=user, action=AuditAction.sign_in, outcome=Outcome.denied,
                     detail="account disabled (OIDC)", client=client)
        raise SignInError(N_("This account is disabled. Ask an admin to enable it."))
    user.last_sign_in_at = utcnow()
    session.add(user)
    session.commit()
    audit.record(session=session, user=user, action=AuditAction.sign_in, client=client, detail="OIDC")
    return user
