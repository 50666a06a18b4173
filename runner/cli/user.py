"""``python -m runner user add|list|set-role|disable|enable|passwd`` and ``python -m runner audit``.

People are managed by admins (``--as ADMIN``). On a fresh install, with no account
yet, the built-in operator makes the first one, which must be an admin: once it
exists every command names a person (``shared.services.users.acting_user``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click

from runner.cli.common import CliError, acting, out, session
from shared.core.errors import NotFoundError
from shared.core.i18n import N_
from shared.core.settings import Settings
from shared.records import Action, AuditAction, ObjectKind, Outcome, Role, User

CLIENT = "cli"
ROLES = click.Choice([r.value for r in Role])


@click.group()
def user() -> None:
    """Add people, change their role, disable them, set their password (admins)."""


def _user_dict(u: User) -> dict:
    return {"id": u.id, "name": u.name, "email": u.email, "role": u.role.value, "disabled": u.disabled,
            "password": u.password_hash is not None,
            "last_sign_in_at": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None}


def _find(s, name: str) -> User:
    from shared.services.users import find_user

    found = find_user(session=s, name=name)
    if found is None:
        raise NotFoundError(N_("user {name} does not exist; `python -m runner --as ADMIN user list` shows who does"),
                            params={"name": repr(name)})
    return found


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line, as `echo pw |` or a password manager pipes it; only the line break is dropped.
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command()
@click.argument("name")
@click.option("--role", type=ROLES, default=Role.member.value, show_default=True,
              help="admin: everything; member: uploads, trains, predicts; viewer: reads and downloads")
@click.option("--email", help="e-mail address (people signing in through OIDC are matched on it)")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
@click.option("--no-password", is_flag=True, help="no password: the person signs in through OIDC only")
@acting
def add(name: str, role: str, email: str | None, password_stdin: bool, no_password: bool, as_json: bool,
        settings: Settings, actor: User) -> None:
    """Add the person NAME (asks for a password unless --password-stdin or --no-password)."""
    from shared.services import access
    from shared.services.users import create_user

    if password_stdin and no_password:
        raise click.UsageError("--password-stdin: not allowed with --no-password")
    access.require(actor, Action.manage_users)
    if actor.id is None and role != Role.admin.value:
        # The operator's rights end with the first account: a first account that is not an admin
        # would leave nobody to manage people from then on.
        raise CliError(N_("the first account must be an admin: add --role admin (more people can be added "
                          "with --as that admin afterwards)"))
    password = None if no_password else _read_password(password_stdin)
    with session(settings) as s:
        made = create_user(session=s, name=name, role=role, password=password, email=email, actor=actor,
                           client=CLIENT)
    out(as_json, _user_dict(made), f"user {made.id} added: {made.name} ({made.role.value})")


@user.command(name="list")
@acting
def list_(as_json: bool, settings: Settings, actor: User) -> None:
    """Everyone with an account, by name."""
    from shared.services import access
    from shared.services.users import list_users

    access.require(actor, Action.manage_users)
    with session(settings) as s:
        rows = [_user_dict(u) for u in list_users(session=s)]
    out(as_json, rows, "\n".join(f"{r['id']:>4}  {r['role']:<7} {r['name']}" + (" (disabled)" if r["disabled"] else "")
                                 for r in rows) or "no users")


@user.command(name="set-role")
@click.argument("name")
@click.argument("role", type=ROLES)
@acting
def set_role(name: str, role: str, as_json: bool, settings: Settings, actor: User) -> None:
    """Give the person NAME the role ROLE (admin, member or viewer)."""
    from shared.services.users import set_role as change

    with session(settings) as s:
        changed = change(session=s, user_id=_find(s, name).id, role=role, actor=actor, client=CLIENT)
    out(as_json, _user_dict(changed), f"{changed.name} is now {changed.role.value}")


def _set_disabled(name: str, disabled: bool, as_json: bool, settings: Settings, actor: User) -> None:
    from shared.services.users import set_disabled

    with session(settings) as s:
        changed = set_disabled(session=s, user_id=_find(s, name).id, disabled=disabled, actor=actor, client=CLIENT)
    out(as_json, _user_dict(changed), f"{changed.name} is {'disabled' if changed.disabled else 'enabled'}")


@user.command()
@click.argument("name")
@acting
def disable(name: str, as_json: bool, settings: Settings, actor: User) -> None:
    """Disable the person NAME: they cannot sign in, and their open sessions end."""
    _set_disabled(name, True, as_json, settings, actor)


@user.command()
@click.argument("name")
@acting
def enable(name: str, as_json: bool, settings: Settings, actor: User) -> None:
    """Let the disabled person NAME sign in again."""
    _set_disabled(name, False, as_json, settings, actor)


@user.command()
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the new password from the first line of stdin")
@acting
def passwd(name: str, password_stdin: bool, as_json: bool, settings: Settings, actor: User) -> None:
    """Set a new password for NAME (admins for anyone; a person for themself). Their open sessions end."""
    from shared.services.users import change_password

    with session(settings) as s:
        target = _find(s, name)
        changed = change_password(session=s, user_id=target.id, new_password=_read_password(password_stdin),
                                  actor=actor, client=CLIENT)
    out(as_json, _user_dict(changed), f"password of {changed.name} changed")


def _day(text: str | None, opt: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise click.BadParameter(f"{text!r}: write a date as YYYY-MM-DD", param_hint=opt) from None


@click.command()
@click.option("--user", "user_name", metavar="NAME", help="only what this person did")
@click.option("--action", "actions", multiple=True, type=click.Choice([a.value for a in AuditAction]),
              help="only this action (repeatable)")
@click.option("--object", "object_kind", type=click.Choice([k.value for k in ObjectKind]), help="only this kind")
@click.option("--object-id", type=int, help="only the object with this id")
@click.option("--outcome", type=click.Choice([o.value for o in Outcome]), help="only this outcome")
@click.option("--since", metavar="YYYY-MM-DD", help="from this day on (UTC)")
@click.option("--until", metavar="YYYY-MM-DD", help="up to and including this day (UTC)")
@click.option("--limit", type=int, default=500, show_default=True, help="at most this many events")
@acting
def audit(user_name: str | None, actions: tuple[str, ...], object_kind: str | None, object_id: int | None,
          outcome: str | None, since: str | None, until: str | None, limit: int, as_json: bool,
          settings: Settings, actor: User) -> None:
    """The audit log, newest first: who did what to which object, and the outcome (admins)."""
    from shared.services import access
    from shared.services import audit as log

    access.require(actor, Action.view_audit)
    first, last = _day(since, "--since"), _day(until, "--until")
    with session(settings) as s:
        events = log.list_events(session=s, user_name=user_name, actions=actions, object_kind=object_kind,
                                 object_id=object_id, outcome=outcome, since=first,
                                 until=last + timedelta(days=1) if last else None, limit=limit)
    rows = [{"id": e.id, "time": e.time.isoformat(), "user": e.user_name, "action": e.action.value,
             "object_kind": e.object_kind.value if e.object_kind else None, "object_id": e.object_id,
             "outcome": e.outcome.value, "detail": e.detail, "client": e.client} for e in events]
    out(as_json, rows, "\n".join(
        f"{r['time'][:19]}  {r['user'] or '-':<12} {r['action']:<16} "
        f"{(r['object_kind'] or '') + (' ' + str(r['object_id']) if r['object_id'] else ''):<14} "
        f"{r['outcome']:<7} {r['detail']}" for r in rows) or "no events")
