"""``worker --join`` refuses to start, naming the setting and the fix, when Redis needs a password it was not
given, when the database schema is older than the code (and leaves it as it is), and when DATA_DIR is not the
platform's shared store. Real Redis (a password-protected redis-server), real databases, the real CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from redis import Redis

from runner.join import check_join, check_redis, check_schema
from runner.redis_server import redis_binary
from shared.core import migrate
from shared.core.db import get_engine, session_scope
from shared.core.errors import JoinRefused, StoreError
from shared.core.settings import Settings
from shared.services.store import MARKER, ensure_store_mark
from tests.support.paths import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def locked_redis(tmp_path):
    """A TCP redis-server on 127.0.0.1 with a password."""
    port = _free_port()
    proc = subprocess.Popen([redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--requirepass", "s3cret",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            Redis(port=port, password="s3cret").ping()
            break
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.05)
    yield port
    proc.kill()
    proc.wait()


def _s(tmp_path, **kw) -> Settings:
    kw.setdefault("data_dir", tmp_path / "store")
    kw.setdefault("database_url", f"sqlite:///{tmp_path / 'db.sqlite'}")
    return Settings(**kw)


def test_redis_without_its_password_is_refused(tmp_path, locked_redis):
    with pytest.raises(JoinRefused) as err:
        check_redis(_s(tmp_path, redis_url=f"redis://127.0.0.1:{locked_redis}/0"))
    assert "REDIS_URL" in str(err.value) and "needs a password" in str(err.value)
    with pytest.raises(JoinRefused, match="refused the password"):
        check_redis(_s(tmp_path, redis_url=f"redis://:wrong@127.0.0.1:{locked_redis}/0"))
    check_redis(_s(tmp_path, redis_url=f"redis://:s3cret@127.0.0.1:{locked_redis}/0"))


def test_no_redis_url_is_refused(tmp_path):
    with pytest.raises(JoinRefused, match="REDIS_URL is not set"):
        check_redis(_s(tmp_path))


def test_an_older_schema_is_refused_and_left_as_it_is(tmp_path, redis_url):
    s = _s(tmp_path, redis_url=redis_url)
    migrate.upgrade(s, "0002")
    with pytest.raises(JoinRefused) as err:
        check_schema(s)
    assert "DATABASE_URL" in str(err.value) and "older than this worker's code" in str(err.value)
    # Through the real command: exit 1, the reason on stderr, and the schema still where it was.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env.update(DATA_DIR=str(s.data_dir), DATABASE_URL=s.database_url, REDIS_URL=redis_url)
    done = subprocess.run([sys.executable, "-m", "runner", "worker", "--join", "--cpu", "--burst"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "older than this worker's code" in done.stderr and "upgrade the platform's main host" in done.stderr
    assert migrate.current(s) == "0002"


def test_an_empty_database_is_refused(tmp_path):
    with pytest.raises(JoinRefused, match="no Trainyard schema"):
        check_schema(_s(tmp_path))


def test_a_data_dir_that_is_not_the_shared_store_is_refused(tmp_path, redis_url):
    platform = _s(tmp_path, redis_url=redis_url)
    get_engine(platform.database_url)  # the schema at head, as the platform's host leaves it
    with pytest.raises(StoreError, match="records no shared store"):
        check_join(platform)  # the platform's host never ran `up`
    with session_scope(get_engine(platform.database_url)) as s:
        store = ensure_store_mark(session=s, data_dir=platform.data_dir)
    assert (platform.data_dir / MARKER).read_text().strip() == store

    local = _s(tmp_path, redis_url=redis_url, data_dir=tmp_path / "local-empty")
    local.data_dir.mkdir()
    with pytest.raises(StoreError) as err:
        check_join(local)
    assert "DATA_DIR=" in str(err.value) and f"{MARKER} is missing" in str(err.value)
    (local.data_dir / MARKER).write_text("someone-else\n")
    with pytest.raises(StoreError, match="is another Trainyard store"):
        check_join(local)
    assert check_join(platform) == store  # the shared store, seen from a second mount, passes

    with session_scope(get_engine(platform.database_url)) as s, pytest.raises(StoreError, match="another"):
        ensure_store_mark(session=s, data_dir=local.data_dir)  # `up` on a mismatched pair refuses too
