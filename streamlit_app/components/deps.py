"""The UI's connections, built at the edge and shared by every page.

Settings come from ``get_settings()`` (tests clear its cache to point the app at
a fresh data dir); the engine and the Redis client are cached per URL with
``st.cache_resource``, so one process keeps one pool per database however many
browser sessions are open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from redis import Redis
from sqlalchemy.engine import Engine
from sqlmodel import Session

from shared.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    from shared.db import get_engine

    return get_engine(url)


@st.cache_resource(show_spinner=False)
def _redis(url: str) -> Redis:
    # Short timeouts: a page must say "Redis is down" rather than hang.
    return Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)


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
    from runner import context, schedule

    # Wired per call (stop and create are rare clicks): gpus="cpu" because the UI never places runs
    # on GPUs, so it must not probe nvidia-smi.
    context.configure(settings(), gpus="cpu", name="ui")
    schedule.schedule_task(task_id)


def use_router() -> None:
    """Make sure later requests run under app.py's ``st.navigation``.

    Streamlit uses its old multipage mode while a ``pages/`` folder sits beside
    the main script and no session has run ``st.navigation`` yet: a deep link
    (``/task?id=5``) as the first request after a server start would run the
    page alone, and so would every deep link after it until someone opened the
    home page. Clearing the flag here ends that. A session's very first run is
    rerun through app.py so even that request gets the router; a run that
    carries a click is not, since a rerun would drop the click.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        if not list(st.session_state.keys()):
            st.rerun()
