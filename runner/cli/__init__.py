"""The command line: ``python -m runner [--as NAME] <noun> <verb>``. Every command takes
``--json``, exits 0 on success, 1 with the reason on stderr when the platform
refuses (a ``TrainyardError``, a missing right included), and 2 on a usage error
or invalid settings. Commands act as the person ``--as`` names, with their rights
(see ``shared.services.users.acting_user`` for the rule without one)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import click

from runner.cli.common import AS_META, JSON_META, CliError
from runner.cli.dataset import dataset
from runner.cli.db import backup, db, restore
from runner.cli.model import model
from runner.cli.predict import predict
from runner.cli.service import doctor, examples, reconcile, redis_, up, worker
from runner.cli.task import task
from runner.cli.user import audit, user
from shared.core.errors import TrainyardError
from shared.core.i18n import Language, _, negotiate, use_language

__all__ = ["CliError", "cli", "main"]

PROG = "python -m runner"


class TrainyardGroup(click.Group):
    """The root group: the one place a ``TrainyardError`` raised by any command
    becomes exit code 1 with its message on stderr: in the reader's language as text,
    in English as JSON (``--json``: keys and values stay stable for scripts)."""

    def invoke(self, ctx: click.Context) -> Any:
        # The language holds for this command only (tests and embedders call the CLI in-process).
        with use_language(cli_language(os.environ)):
            try:
                return super().invoke(ctx)
            except TrainyardError as exc:
                if ctx.meta.get(JSON_META):
                    click.echo(json.dumps({"error": str(exc), "field": getattr(exc, "field", None)}), err=True)
                else:
                    click.echo(_("error: {message}", message=exc.localized()), err=True)
                ctx.exit(1)


@click.group(cls=TrainyardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--as", "as_name", envvar="TRAINYARD_AS", metavar="NAME",
              help="act as this person, with their rights (or set TRAINYARD_AS); needed once anyone has an account")
@click.pass_context
def cli(ctx: click.Context, as_name: str | None) -> None:
    """Trainyard: train your own code on your data."""
    ctx.meta[AS_META] = as_name


def cli_language(environ: Mapping[str, str]) -> Language:
    """TRAINYARD_LANGUAGE, else the locale as POSIX ranks it (LC_ALL, LC_MESSAGES, LANG: the first set one
    wins, so LC_ALL=C means English). Read from the environment, not Settings, because settings are loaded
    only once a command's arguments parsed (``--help`` works whatever the environment holds)."""
    locale_env = next((environ[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(k)), None)
    return negotiate(environ.get("TRAINYARD_LANGUAGE"), locale_env)


for command in (up, redis_, worker, reconcile, examples, doctor, dataset, model, predict, task, user, audit, db,
                backup,
                restore):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (``python -m runner`` exits with it)."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name=PROG, standalone_mode=True)
    except SystemExit as exc:  # standalone mode always ends in sys.exit, with the command's code
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
