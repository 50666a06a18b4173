"""What every command shares: the ``--json`` option, settings loaded after the
command line is parsed, the acting person, output, DB sessions, the Redis check
and waiting for a worker's result. Errors are mapped to exit codes in one place,
``runner.cli.TrainyardGroup``."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlmodel import Session

from shared.core.errors import FieldError, TrainyardError
from shared.core.i18n import N_, _
from shared.core.settings import Settings, get_settings

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

# ctx.meta is one dict shared by the whole chain of contexts, so the root group
# can tell after a failure whether the command asked for JSON.
JSON_META = "trainyard.json"
# The root group's ``--as NAME`` (or TRAINYARD_AS), read by ``pass_actor``.
AS_META = "trainyard.as"


# Status words as the text output shows them; --json keeps the enum values. The msgids are the values,
# so English output is unchanged; the Chinese are the original platform's terms.
_STATUS_WORDS = {"waiting": N_("waiting"), "queued": N_("queued"), "running": N_("running"),
                 "completed": N_("completed"), "failed": N_("failed"), "stopped": N_("stopped"),
                 "timed_out": N_("timed_out"), "pruned": N_("pruned"), "cancelled": N_("cancelled"),
                 "deploying": N_("deploying"), "deployed": N_("deployed")}


def status_text(status: Enum | str) -> str:
    """A status in the reader's language (an unknown one as it is)."""
    value = status.value if isinstance(status, Enum) else str(status)
    return _(_STATUS_WORDS[value]) if value in _STATUS_WORDS else value


class CliError(TrainyardError):
    """A usage problem found by the CLI itself."""


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta[JSON_META] = value
    return value


def json_option(f: F) -> F:
    """``--json``: machine-readable output on stdout, and errors as
    ``{"error": ..., "field": ...}`` on stderr. The handler gets ``as_json``."""
    return click.option("--json", "as_json", is_flag=True, callback=_remember_json,
                        help="machine-readable output")(f)


def pass_settings(f: F) -> F:
    """Hands the handler ``settings``, read only once the command line parsed
    (so ``--help`` works whatever the environment holds). Invalid settings
    exit 2, like a usage error, with pydantic's message naming the variable."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            settings = get_settings()
        except Exception as exc:  # noqa: BLE001 - pydantic's message names the bad variable
            click.echo(_("error: invalid settings: {error}", error=exc), err=True)
            raise click.exceptions.Exit(2) from None
        return f(*args, settings=settings, **kwargs)

    return wrapper  # type: ignore[return-value]


def pass_actor(f: F) -> F:
    """Hands the handler ``actor``: the person named by ``--as`` (or TRAINYARD_AS), whose rights the command
    has; with no name, the built-in operator while no account exists (``users.acting_user``). Goes below
    ``pass_settings``."""

    @functools.wraps(f)
    def wrapper(*args: Any, settings: Settings, **kwargs: Any) -> Any:
        from shared.services.users import acting_user

        with session(settings) as s:
            actor = acting_user(session=s, name=click.get_current_context().meta.get(AS_META))
        return f(*args, settings=settings, actor=actor, **kwargs)

    return wrapper  # type: ignore[return-value]


def acting(f: F) -> F:
    """``--json``, ``settings`` and ``actor`` together: what a command that reads or changes records
    on someone's behalf takes (the handler gets ``as_json``, ``settings`` and ``actor``)."""
    return json_option(pass_settings(pass_actor(f)))


def id_argument(name: str, metavar: str = "ID") -> Callable[[F], F]:
    """The record id a command acts on, shown as ``ID`` in the usage line."""
    return click.argument(name, metavar=metavar, type=int)


def visibility_option(f: F) -> F:
    """``--visibility team|private`` on what a command creates; the handler gets ``visibility``."""
    return click.option("--visibility", type=click.Choice(["team", "private"]), default="team", show_default=True,
                        help="team: everyone signed in sees and uses it; private: only you and admins")(f)


def out(as_json: bool, data: Any, text: str | None = None) -> None:
    """``data`` as indented JSON with ``--json``; otherwise ``text`` (or the JSON when a command has no text form)."""
    dumped = json.dumps(data, indent=2, default=str)
    click.echo(dumped if as_json or text is None else text)


def out_rows(as_json: bool, rows: list[dict[str, Any]], line: str, empty: str) -> None:
    """A list command's output: ``rows`` as JSON, or one ``line.format(**row)`` per row (``empty`` for none)."""
    out(as_json, rows, "\n".join(line.format(**r) for r in rows) or empty)


def existing_file(file: str) -> Path:
    """The zip a command was given, refused up front when it is not there."""
    path = Path(file)
    if not path.is_file():
        raise CliError(N_("{file}: no such file"), params={"file": file})
    return path


def poll(read: Callable[[], T], done: Callable[[T], bool], *, timeout: float, every: float) -> tuple[T, bool]:
    """``read()`` now and every ``every`` seconds until ``done`` holds or ``timeout`` seconds passed: the last
    value, and whether it is done. A worker does the work; the command only watches its row."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        if time.monotonic() > deadline:
            return value, False
        time.sleep(every)
        value = read()
    return value, True


def exit_with(code: int) -> None:
    """End the command with ``code`` after its output was printed."""
    raise click.exceptions.Exit(code)


def session(settings: Settings) -> Session:
    from shared.core.db import get_engine

    return Session(get_engine(settings.database_url), expire_on_commit=False)


def redis(settings: Settings):
    """The Redis connection, checked: commands that queue work refuse to run without it."""
    from shared.core.queue import redis_connection
    from shared.core.redisconn import RedisAuthError, check, redact

    conn = redis_connection(settings)
    try:
        check(conn, settings.effective_redis_url)
    except RedisAuthError:
        raise
    except Exception as exc:  # noqa: BLE001
        where = redact(settings.redis_url) if settings.redis_url else _("the embedded server at {socket}",
                                                                         socket=settings.redis_socket)
        raise CliError(N_("Redis ({where}) is not reachable: {exc}. Start the platform first: `make run` (or "
                          "`python -m runner up`)"), params={"where": where, "exc": exc}) from None
    return conn


def warn_no_worker(conn) -> None:
    from rq import Worker

    if not Worker.all(connection=conn):
        print(_("warning: no worker is running, so nothing will be processed; start one with "
                "`python -m runner up` or `python -m runner worker`"), file=sys.stderr)


def split_kv(text: str, opt: str) -> tuple[str, str]:
    if "=" not in text:
        raise FieldError(opt, N_("{text!r}: write name=value"), params={"text": text})
    k, v = text.split("=", 1)
    return k.strip(), v.strip()
