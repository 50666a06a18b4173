"""``db upgrade|current|revision``, ``backup`` and ``restore``: the operator's
schema and data-safety commands. ``up``, the worker and every other command
already upgrade the schema on start (under a lock); these make it explicit."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli.common import json_option, out, pass_settings
from shared.core.i18n import _
from shared.core.settings import Settings


@click.group()
def db() -> None:
    """The database schema (Alembic migrations)."""


@db.command()
@json_option
@pass_settings
def upgrade(as_json: bool, settings: Settings) -> None:
    """Bring the database to this release's schema (safe to run while other processes start)."""
    from shared.core import migrate

    before = migrate.current(settings)
    after = migrate.upgrade(settings)
    out(as_json, {"from": before, "to": after},
        _("database at {revision}", revision=after) if before == after
        else _("database at {revision} (was {before})", revision=after, before=before or _("unversioned")))


@db.command()
@json_option
@pass_settings
def current(as_json: bool, settings: Settings) -> None:
    """Print the database's revision and this release's head revision."""
    from shared.core import migrate

    now, head = migrate.current(settings), migrate.head()
    out(as_json, {"current": now, "head": head, "up_to_date": now == head},
        _("database at {revision}; this release needs {head}", revision=now or _("no revision"), head=head))


@db.command()
@click.option("-m", "--message", required=True, help="what the schema change is, for the file name")
@pass_settings
def revision(message: str, settings: Settings) -> None:
    """Write a new migration from the difference between tables.py and an upgraded database (developers)."""
    from shared.core import migrate

    click.echo(str(migrate.new_revision(settings, message)))


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_settings
def backup(file: Path, as_json: bool, settings: Settings) -> None:
    """Write the database and DATA_DIR into FILE (a new .tar.gz)."""
    from shared.core.backup import backup as make_backup

    path = make_backup(settings, file)
    out(as_json, {"backup": str(path)}, _("backup written to {path}", path=path))


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_settings
def restore(file: Path, as_json: bool, settings: Settings) -> None:
    """Restore FILE into an empty DATA_DIR and an empty database, then upgrade the schema."""
    from shared.core.backup import restore as do_restore

    manifest = do_restore(settings, file)
    out(as_json, manifest, _("restored {file} into {data_dir}", file=file, data_dir=settings.data_dir))
