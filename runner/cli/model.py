"""``python -m runner model add|show|list|redeploy|delete|templates``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from runner.cli.common import (
    CliError,
    acting,
    existing_file,
    exit_with,
    id_argument,
    out,
    out_rows,
    poll,
    redis,
    session,
    split_kv,
    status_text,
    visibility_option,
    warn_no_worker,
)
from shared.core.i18n import N_, _
from shared.core.settings import Settings
from shared.records import DeployStatus, User
from shared.records.labels import term

WAIT_HELP = "wait until the deploy finished (deployed or failed)"
TIMEOUT_HELP = "seconds to wait with --wait"


@click.group()
def model() -> None:
    """Add, deploy, show and delete model packages."""


def _wait_model(settings: Settings, model_id: int, timeout: float) -> Any:
    from shared.services.models import get_model

    def read() -> Any:
        with session(settings) as s:
            return get_model(session=s, model_id=model_id)

    m, done = poll(read, lambda m: m.status in (DeployStatus.deployed, DeployStatus.failed), timeout=timeout,
                   every=0.3)
    if not done:
        raise CliError(N_("model {model_id} still {model_status} after {timeout:.0f} s"),
                       params={"model_id": model_id, "model_status": term(m.status), "timeout": timeout})
    return m


@model.command()
@click.argument("file")
@click.option("--name", help="model name (default: the zip's file name without .zip)")
@click.option("--type", "task_type", default="other", show_default=True,
              help="task type, e.g. classification, detection")
@click.option("--network", is_flag=True, help="let training/prediction reach the network (off by default; admins only)")
@click.option("--distributed", is_flag=True,
              help="start training with torchrun, one process per GPU of the run (needs torch in requirements.txt)")
@visibility_option
@click.option("--wait", is_flag=True, help=WAIT_HELP + "; exit 1 if it failed")
@click.option("--timeout", type=float, default=3600, show_default=True, help=TIMEOUT_HELP)
@acting
def add(file: str, name: str | None, task_type: str, network: bool, distributed: bool, visibility: str, wait: bool,
        timeout: float, as_json: bool, settings: Settings, actor: User) -> None:
    """Validate the model package zip FILE, store it and queue its deploy (env build)."""
    from shared.core.queue import enqueue_deploy
    from shared.services.models import add_model, model_summary

    path = existing_file(file)
    conn = redis(settings)
    with session(settings) as s:
        pkg = add_model(session=s, settings=settings, actor=actor, zip_path=path, name=name or path.stem,
                        task_type=task_type, network=network, distributed=distributed, visibility=visibility)
    enqueue_deploy(pkg.id, connection=conn)
    if wait:
        warn_no_worker(conn)
        pkg = _wait_model(settings, pkg.id, timeout)
    out(as_json, model_summary(pkg), _("model {id} {status}: {name}", id=pkg.id, status=status_text(pkg.status),
                                       name=pkg.name) + (f"\n{pkg.reason}" if pkg.reason else ""))
    if wait and pkg.status == DeployStatus.failed:
        print(_("deploy failed: {reason}", reason=pkg.reason), file=sys.stderr)
        exit_with(1)


@model.command()
@id_argument("model_id")
@acting
def show(model_id: int, as_json: bool, settings: Settings, actor: User) -> None:
    """Status, requirements and the parameters read from train.py of model ID."""
    from shared.services.models import get_model, model_summary

    with session(settings) as s:
        out(as_json, model_summary(get_model(session=s, model_id=model_id, actor=actor)))


@model.command(name="list")
@acting
def list_(as_json: bool, settings: Settings, actor: User) -> None:
    """All models, newest first."""
    from shared.services.models import list_models

    with session(settings) as s:
        rows = [{"id": m.id, "name": m.name, "task_type": m.task_type.value, "status": m.status.value}
                for m in list_models(session=s, actor=actor)]
    out_rows(as_json, rows, "{id:>4}  {status:<10} {task_type:<22} {name}", _("no models"))


@model.command()
@id_argument("model_id")
@click.option("--wait", is_flag=True, help=WAIT_HELP)
@click.option("--timeout", type=float, default=3600, show_default=True, help=TIMEOUT_HELP)
@acting
def redeploy(model_id: int, wait: bool, timeout: float, as_json: bool, settings: Settings, actor: User) -> None:
    """Build the env of model ID again (e.g. after a failed deploy)."""
    from shared.services.models import model_summary, redeploy_model

    conn = redis(settings)
    with session(settings) as s:
        pkg = redeploy_model(session=s, connection=conn, actor=actor, model_id=model_id)
    if wait:
        pkg = _wait_model(settings, pkg.id, timeout)
    out(as_json, model_summary(pkg), _("model {id} {status}", id=pkg.id, status=status_text(pkg.status)))


@model.command()
@id_argument("model_id")
@acting
def delete(model_id: int, as_json: bool, settings: Settings, actor: User) -> None:
    """Delete model ID and its files (refused while tasks use it)."""
    from shared.services.models import delete_model

    with session(settings) as s:
        delete_model(session=s, settings=settings, actor=actor, model_id=model_id)
    out(as_json, {"deleted": model_id}, _("model {id} deleted", id=model_id))


@model.command()
@id_argument("model_id")
@click.option("--set", "set_name", metavar="NAME", help="save a new template under NAME")
@click.option("--value", "values", multiple=True, metavar="name=value",
              help="a parameter value of the template set with --set (repeatable)")
@acting
def templates(model_id: int, set_name: str | None, values: tuple[str, ...], as_json: bool,
              settings: Settings, actor: User) -> None:
    """List the parameter templates of model ID, or save one with --set."""
    from shared.services.models import list_templates, save_template

    with session(settings) as s:
        if set_name:
            save_template(session=s, actor=actor, model_id=model_id, name=set_name,
                          values=dict(split_kv(p, "--value") for p in values))
        rows = [{"id": t.id, "name": t.name, "values": t.values}
                for t in list_templates(session=s, actor=actor, model_id=model_id)]
    out(as_json, rows, "\n".join(f"{r['id']:>4}  {r['name']}: {json.dumps(r['values'])}" for r in rows)
        or "no templates")
