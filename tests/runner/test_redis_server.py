"""The embedded Redis listens on a unix socket under DATA_DIR, whose path the kernel limits to 107 bytes:
a deeper DATA_DIR is refused at start with what to do, not with redis-server's "Failed opening Unix socket"."""

from __future__ import annotations

import os

import pytest

from runner import redis_server
from shared.core.errors import TrainyardError
from shared.core.settings import Settings

_TAIL = len("/redis/redis.sock")


def test_a_data_dir_too_deep_for_the_socket_is_refused_with_the_fix(tmp_path):
    deep = tmp_path / ("d" * 120) / "data"
    with pytest.raises(TrainyardError) as err:
        redis_server.start(Settings(data_dir=deep))
    text = str(err.value)
    assert "DATA_DIR" in text and "REDIS_URL" in text and str(deep / "redis" / "redis.sock") in text
    assert not (deep / "redis").exists()  # refused before making anything


def test_a_socket_path_at_the_limit_works(tmp_path):
    room = redis_server.MAX_SOCKET_PATH - len(os.fsencode(tmp_path)) - 1 - _TAIL
    if room < 1:
        pytest.skip(f"the test's temp dir {tmp_path} leaves no room under the limit")
    settings = Settings(data_dir=tmp_path / ("x" * room))
    assert len(os.fsencode(settings.redis_socket)) == redis_server.MAX_SOCKET_PATH
    proc = redis_server.start(settings)
    try:
        assert proc is not None and redis_server.ping(settings)
    finally:
        redis_server.stop_pid(proc.pid)
