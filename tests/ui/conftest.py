"""UI fixtures: a real SQLite file and data dir per test, and the session's test Redis (tests/conftest.py: its
own logical DB) for the tests that enqueue. The helpers that make rows and open pages are in tests/support/ui.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session


@pytest.fixture
def ui_settings(tmp_path, monkeypatch):
    """Settings the app under test reads: its own DATA_DIR and SQLite file."""
    from shared.core.db import dispose_engines
    from shared.core.settings import get_settings

    monkeypatch.setenv("TRAINYARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRAINYARD_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    # No Redis unless a test asks for ui_redis: the embedded socket under this data dir does not exist.
    monkeypatch.delenv("TRAINYARD_REDIS_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture
def ui_redis(redis_url, ui_settings, monkeypatch):
    """A flushed Redis DB the app enqueues into; returns the client."""
    from redis import Redis

    from runner import context
    from shared.core.settings import get_settings

    monkeypatch.setenv("TRAINYARD_REDIS_URL", redis_url)
    get_settings.cache_clear()
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    context.reset()
    conn.flushdb()


@pytest.fixture
def db(ui_settings) -> Iterator[Session]:
    from shared.core.db import get_engine

    with Session(get_engine(ui_settings.database_url), expire_on_commit=False) as s:
        yield s
