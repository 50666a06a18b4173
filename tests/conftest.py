"""Shared fixtures: real Redis (the embedded binary, TEST_REDIS_URL or REDIS_URL), a real
SQLite file per test (or Postgres via TEST_DATABASE_URL for the tests that ask
for ``db_url``), real uv environments with a cache shared across the session."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

# Helpers live in tests/support/ (no test module imports from a conftest: tests/test_layout.py); their asserts
# get pytest's messages as a conftest's would. Registered before anything imports them.
pytest.register_assert_rewrite("tests.support")

from tests.support.paths import UV_CACHE  # noqa: E402
from tests.support.sandbox import scratch_dir  # noqa: E402

# Fixtures more than one directory uses: a plugin may only be listed here, in the root conftest.
pytest_plugins = ["tests.support.browser_fixtures"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    if os.environ.get("TEST_REDIS_URL"):
        # A TCP Redis for the tests (.ci/run sets it). The tests flush its logical DB, so
        # it must be a dedicated one, never the default 0 that real data lives in.
        url = os.environ["TEST_REDIS_URL"]
        if urlparse(url).path.strip("/") in ("", "0"):
            raise pytest.UsageError(f"TEST_REDIS_URL={url} names no logical DB or DB 0; the tests flush it, "
                                    "so give a dedicated one such as redis://127.0.0.1:6379/15")
        yield url
        return
    url = os.environ.get("REDIS_URL")
    if url:
        # Our own logical DB on a shared server, flushed per test.
        base = url.rsplit("/", 1)[0] if url.count("/") >= 3 else url
        yield f"{base}/14"
        return
    from runner import redis_server
    from shared.core.settings import Settings

    s = Settings(data_dir=tmp_path_factory.mktemp("redis"))
    proc = redis_server.start(s)
    try:
        yield s.effective_redis_url
    finally:
        if proc is not None:
            redis_server.stop_pid(proc.pid)


def _postgres_db(base_url: str) -> str:
    from sqlalchemy import create_engine, text

    name = f"trainyard_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + "/" + name


def _db_params() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    if os.environ.get("TEST_DATABASE_URL"):
        params.append(pytest.param("postgres", id="postgres"))
    return params


@pytest.fixture(params=_db_params())
def db_url(request, tmp_path) -> Iterator[str]:
    """Tests that take this run on SQLite and, when TEST_DATABASE_URL is set, on Postgres too."""
    if request.param == "postgres":
        from sqlalchemy import create_engine, text

        from shared.core.db import dispose_engines

        base = os.environ["TEST_DATABASE_URL"]
        if base.startswith("postgres://"):
            base = "postgresql://" + base[len("postgres://"):]
        url = _postgres_db(base)
        yield url
        dispose_engines()
        from shared.services import search

        for st in search._STORAGES.values():  # noqa: SLF001 - Optuna keeps its own pool
            st.engine.dispose()
        search._STORAGES.clear()  # noqa: SLF001
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()
        return
    yield f"sqlite:///{tmp_path / 'db.sqlite'}"


@pytest.fixture
def settings(tmp_path, redis_url, monkeypatch, request):
    """Settings for one test: its own DATA_DIR, DB and a flushed Redis DB."""
    from redis import Redis

    from runner import context
    from shared.core.db import dispose_engines
    from shared.core.settings import Settings, get_settings

    db = request.getfixturevalue("db_url") if "db_url" in request.fixturenames else \
        f"sqlite:///{tmp_path / 'db.sqlite'}"
    # Under TMPDIR, which CI makes a 0700 folder: the sandbox's uid cannot pass it, as with root's home.
    data = scratch_dir("trainyard-test-")
    env = {"TRAINYARD_DATA_DIR": str(data), "TRAINYARD_DATABASE_URL": db, "TRAINYARD_REDIS_URL": redis_url,
           "TRAINYARD_UV_CACHE_DIR": str(UV_CACHE), "TRAINYARD_LOST_AFTER_S": "30",
           "TRAINYARD_RECONCILE_EVERY_S": "1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    Redis.from_url(redis_url).flushdb()
    s = Settings()
    context.reset()
    context.SHUTDOWN.clear()
    yield s
    context.reset()
    get_settings.cache_clear()
    dispose_engines()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def ctx(settings):
    from runner import context

    return context.configure(settings, gpus="cpu", name="test-worker")


@pytest.fixture
def session(ctx):
    from sqlmodel import Session

    with Session(ctx.engine, expire_on_commit=False) as s:
        yield s


def work_burst(ctx) -> None:
    """Drain the queues in-process (the same job code a daemon worker runs)."""
    from rq import SimpleWorker

    from shared.core.queue import QUEUES

    SimpleWorker(list(QUEUES), connection=ctx.redis).work(burst=True, logging_level="WARNING")


@pytest.fixture
def burst(ctx):
    return lambda: work_burst(ctx)


def pytest_sessionstart(session) -> None:
    UV_CACHE.mkdir(parents=True, exist_ok=True)
