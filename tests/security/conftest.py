"""The hostile suite's fixtures: worker secrets to look for in the logs, the platform the attacks run on, and
host-side listeners that count what got through. The platform itself (attack packages, Platform, Listener,
readers of the RESULT lines) is in tests/support/hostile.py."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

import pytest

from tests.support.hostile import SENTINEL_KEY, Listener, Platform


@pytest.fixture
def secrets(monkeypatch) -> dict[str, str]:
    """Secrets in the worker's own environment; no log may ever contain one of them."""
    tok = uuid.uuid4().hex
    values = {
        "TRAINYARD_SECRET_TOKEN": f"tok-{tok}",
        "DATABASE_URL": f"postgresql://trainyard:dbpw-{tok}@db.internal/trainyard",
        "REDIS_URL": f"redis://:redispw-{tok}@127.0.0.1:6379/0",
        "AWS_SECRET_ACCESS_KEY": f"aws-{tok}",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


@pytest.fixture
def plat(settings, ctx, session, burst, tmp_path, secrets) -> Platform:
    token = f"trainyard-pwn-{uuid.uuid4().hex[:12]}"
    ctx.redis.set(SENTINEL_KEY, token)
    # Run uids of their own (base + run id): other test sessions on this host number their runs
    # from 1 too, and a shared uid shares RLIMIT_NPROC (and, without the sandbox, the leftover sweep).
    settings.sandbox_uid_base = 72000 + (os.getpid() % 2000) * 10
    p = Platform(settings=settings, ctx=ctx, session=session, burst=burst, tmp_path=tmp_path, token=token,
                 secrets=secrets)
    yield p
    for listener in p.listeners:
        listener.close()


@pytest.fixture
def listen(plat):
    def make(family: int = socket.AF_INET, address: Any = ("127.0.0.1", 0)) -> Listener:
        listener = Listener(family, address)
        plat.listeners.append(listener)
        return listener
    return make
