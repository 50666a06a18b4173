"""Redis connections from ``REDIS_URL``, with credentials.

Every process (worker, CLI, UI) connects through ``connect``, so the forms
redis-py reads all work the same everywhere: ``redis://user:pass@host:port/db``
(an ACL user), ``redis://:pass@host:port/db`` (``requirepass``), ``rediss://``
for TLS, ``unix://:pass@/path/redis.sock``. A server that wants a password and
did not get the right one is reported as ``RedisAuthError`` naming
``REDIS_URL``; the password itself is never printed (``redact``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from redis.exceptions import AuthenticationError, ResponseError

from shared.core.errors import Msg, TrainyardError
from shared.core.i18n import N_


class RedisAuthError(TrainyardError, AuthenticationError):
    """Redis refused the connection's credentials (or wants some and got none). Also a
    redis-py ``AuthenticationError``, so code that handles "Redis is unavailable" shows
    this message instead of failing another way."""


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def connect(url: str, **kwargs: Any) -> Redis:
    return Redis.from_url(url, **kwargs)


def _is_auth_refusal(exc: Exception) -> bool:
    if isinstance(exc, AuthenticationError):
        return True
    text = str(exc)
    return isinstance(exc, ResponseError) and text.startswith(("NOAUTH", "WRONGPASS", "NOPERM"))


def auth_error(url: str, exc: Exception) -> RedisAuthError | None:
    """The user-facing error for a refused login, or None when ``exc`` is something else."""
    if not _is_auth_refusal(exc):
        return None
    given = urlsplit(url).password is not None
    what = (Msg(N_("refused the user and password in REDIS_URL")) if given
            else Msg(N_("requires a password and REDIS_URL gives none")))
    return RedisAuthError(N_("Redis at {url} {what} ({error}). Put the credentials in REDIS_URL, e.g. "
                             "REDIS_URL=redis://USER:PASSWORD@HOST:PORT/0 (or redis://:PASSWORD@HOST:PORT/0 for "
                             "requirepass; rediss:// for TLS)"),
                          params={"url": redact(url), "what": what, "error": exc})


def check(conn: Redis, url: str) -> None:
    """Ping; a refused login raises RedisAuthError, other failures propagate as they are."""
    try:
        conn.ping()
    except Exception as exc:
        err = auth_error(url, exc)
        if err is not None:
            raise err from None
        raise
