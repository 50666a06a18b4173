"""The UI's connections, built at the edge and shared by every page.

Settings come from ``get_settings()`` (tests clear its cache to point the app at
a fresh data dir); the engine and the Redis client are cached per URL with
``st.cache_resource``, so one process keeps one pool per database however many
browser sessions are open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import streamlit as st
from redis import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session

from shared.core.errors import NotFoundError
from shared.core.settings import Settings, get_settings
from shared.records import Action, User

T = TypeVar("T")

# The signed-in person of this run, put there by the router (components/auth.py ``gate``) before any page runs.
USER_KEY = "_trainyard_user"


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    from shared.core.db import get_engine

    return get_engine(url)


@st.cache_resource(show_spinner=False)
def _redis(url: str) -> Redis:
    from shared.core.redisconn import RedisAuthError, check, connect

    # Short timeouts: a page must say "Redis is down" rather than hang.
    conn = connect(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        check(conn, url)
    except RedisAuthError:
        raise  # not cached: fixed credentials are picked up on the next call
    except Exception:  # noqa: BLE001 - down for now: the pages say so when they use it
        pass
    return conn


def engine() -> Engine:
    return _engine(settings().database_url)


@contextmanager
def session() -> Iterator[Session]:
    with Session(engine(), expire_on_commit=False) as s:
        yield s


def redis() -> Redis:
    return _redis(settings().effective_redis_url)


def schedule_task(task_id: int) -> None:
    """One scheduler step for a task (it only enqueues runs; no user code runs here)."""
    from shared.services.scheduling import schedule_task as step

    step(engine=engine(), redis=redis(), settings=settings(), task_id=task_id)


def current_user() -> User:
    """The signed-in person. Pages run only after the router's sign-in gate; one reached any other way
    stops here, before it shows or accepts anything."""
    user = st.session_state.get(USER_KEY)
    if user is None:
        st.stop()
    return user


def can(action: Action | str, obj: object = None) -> bool:
    """``access.can`` for the signed-in person (a page hides what they may not do)."""
    from shared.services.access import can as allowed

    return allowed(st.session_state.get(USER_KEY), action, obj)


def refusal(action: Action | str, obj: object = None) -> str | None:
    """Why the signed-in person may not do ``action`` (the role it needs), or None when they may."""
    from shared.services.access import denial

    return None if can(action, obj) else denial(st.session_state.get(USER_KEY), action, obj)


def fetch(get: Callable[..., T], *, say: Callable[[str], object] = st.error, **ids: int) -> T | None:
    """``get(session=, actor=, **ids)`` for the signed-in person, or None once ``say`` has told why it
    is not there (someone else's private record answers exactly like a missing one)."""
    try:
        with session() as s:
            return get(session=s, actor=current_user(), **ids)
    except NotFoundError as exc:
        say(exc.localized())
        return None
