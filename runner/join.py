"""``python -m runner worker --join``: the checks a worker on another host
passes before it takes a job. Each refusal names the setting and the fix.

A joining worker never changes the schema: an older database means the
platform's host has not been upgraded yet, and upgrading from a worker would
change the tables under the running web host and the other workers."""

from __future__ import annotations

from urllib.parse import urlparse

from redis import Redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from shared.core import migrate
from shared.core.errors import JoinRefused
from shared.core.i18n import N_
from shared.core.settings import Settings


def _where(url: str) -> str:
    u = urlparse(url)
    return f"{u.hostname}:{u.port or 6379}" if u.hostname else url


def redacted(url: str | None) -> str:
    """A URL fit to print: its password replaced."""
    u = urlparse(url or "")
    if u.password:
        return u._replace(netloc=u.netloc.replace(f":{u.password}@", ":***@")).geturl()
    return url or ""


def check_redis(settings: Settings) -> None:
    if not settings.redis_url:
        raise JoinRefused(N_("REDIS_URL is not set: a joining worker uses the platform's Redis, not an embedded "
                             "one. Set REDIS_URL=redis://:PASSWORD@WEB-HOST:6379/0 (the platform host's Redis)."))
    where = _where(settings.redis_url)
    try:
        Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=5).ping()
    except AuthenticationError as exc:
        has_password = bool(urlparse(settings.redis_url).password)
        if has_password:
            raise JoinRefused(N_("REDIS_URL: the Redis at {where} refused the password ({exc}). Put the password "
                                 "of its requirepass into REDIS_URL: redis://:PASSWORD@host:port/0."),
                              params={"where": where, "exc": str(exc)}) from None
        raise JoinRefused(N_("REDIS_URL: the Redis at {where} needs a password and REDIS_URL gives none. "
                             "Write it as redis://:PASSWORD@host:port/0 (the requirepass of that server)."),
                          params={"where": where}) from None
    except ResponseError as exc:
        if "NOAUTH" in str(exc) or "AUTH" in str(exc).upper():
            raise JoinRefused(N_("REDIS_URL: the Redis at {where} needs a password and REDIS_URL gives none. "
                                 "Write it as redis://:PASSWORD@host:port/0."), params={"where": where}) from None
        raise JoinRefused(N_("REDIS_URL: the Redis at {where} answered with an error: {exc}"),
                          params={"where": where, "exc": str(exc)}) from None
    except RedisError as exc:
        raise JoinRefused(N_("REDIS_URL: the Redis at {where} does not answer ({exc}). Check the address and that "
                             "its port is open to this host."), params={"where": where, "exc": str(exc)}) from None


def check_schema(settings: Settings) -> str:
    """The database is at exactly this code's revision. Returns it."""
    try:
        at = migrate.current(settings)
    except Exception as exc:  # noqa: BLE001 - any driver error means "cannot reach it"
        raise JoinRefused(N_("DATABASE_URL: the database does not answer ({kind}: {first_line}). Check the URL, "
                             "the password and that the database host accepts this host."),
                          params={"kind": type(exc).__name__,
                                  "first_line": str(exc).splitlines()[0] if str(exc) else ""}) from None
    head = migrate.head()
    if at == head:
        return at
    if at is None:
        raise JoinRefused(N_("DATABASE_URL: the database has no Trainyard schema. Start the platform "
                             "(`python -m runner up`) on its main host first, or point DATABASE_URL at its "
                             "database."))
    if at in migrate.known_revisions():
        raise JoinRefused(N_("DATABASE_URL: the database schema is at revision {at}, older than this worker's "
                             "code ({head}). A joining worker does not upgrade it: upgrade the platform's main host "
                             "first (restart `python -m runner up` there with this release), then start this "
                             "worker."), params={"at": at, "head": head})
    raise JoinRefused(N_("DATABASE_URL: the database schema is at revision {at}, which this worker's code does not "
                         "know (it ends at {head}): the platform runs a newer release. Install that release on this "
                         "host, then start the worker."), params={"at": at, "head": head})


def check_join(settings: Settings) -> str:
    """All checks, cheapest first; returns the store id. Raises JoinRefused (or StoreError) on the first failure."""
    from shared.core.db import get_engine, session_scope
    from shared.services.store import check_store

    check_redis(settings)
    check_schema(settings)
    # The schema is at head, so opening the engine (which upgrades to head) changes nothing.
    with session_scope(get_engine(settings.database_url)) as s:
        return check_store(session=s, data_dir=settings.data_dir)
