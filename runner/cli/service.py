"""The platform's processes and one-off jobs: ``up``, ``redis``, ``worker``,
``reconcile``, ``examples``, ``doctor``."""

from __future__ import annotations

import click

from runner.cli.common import acting, exit_with, json_option, out, pass_settings, redis, session
from runner.up import AUTO, parse_workers
from shared.core.settings import Settings
from shared.records import User


@click.command()
@click.option("--workers", type=parse_workers, default=AUTO, show_default=True,
              help="how many workers: a number, or auto: one per GPU, else one per 2 cores that the memory "
                   "limit per run fits")
@click.option("--gpus", help="GPU ids to spread over the workers, e.g. 0,1; or 'cpu'")
@click.option("--port", type=int, help="port of the UI (default: TRAINYARD_UI_PORT, else 8501)")
@click.option("--host", help="address the UI listens on (default TRAINYARD_UI_HOST, 127.0.0.1: this machine only); "
                            "0.0.0.0 exposes it to the network, where sign-in protects it")
@click.option("--no-ui", is_flag=True, help="start Redis and the workers only")
@pass_settings
def up(workers: int | str, gpus: str | None, port: int | None, host: str | None, no_ui: bool,
       settings: Settings) -> None:
    """Run redis + worker + UI together (Ctrl-C stops all)."""
    from runner.up import up as run_up

    exit_with(run_up(settings=settings, workers=workers, gpus=gpus, port=port, host=host, ui=not no_ui))


@click.command(name="redis")
@pass_settings
def redis_(settings: Settings) -> None:
    """Run the embedded redis-server in the foreground."""
    from runner.redis_server import run_foreground

    exit_with(run_foreground(settings))


def _settings_from(config_file: str | None, settings: Settings) -> Settings:
    """``--config FILE``: KEY=VALUE lines (REDIS_URL=..., DATABASE_URL=..., DATA_DIR=..., TRAINYARD_...), read by
    the settings' own dotenv source; a variable set in the environment still wins."""
    if not config_file:
        return settings
    try:
        return Settings(_env_file=config_file)
    except Exception as exc:  # noqa: BLE001 - pydantic's message names the bad variable
        click.echo(f"error: invalid settings in {config_file}: {exc}", err=True)
        raise click.exceptions.Exit(2) from None


CONFIG_HELP = ("a file of KEY=VALUE lines (REDIS_URL, DATABASE_URL, DATA_DIR, TRAINYARD_*) read into the settings; "
               "the environment still wins")


@click.command()
@click.option("--gpus", help="GPU ids for this worker, e.g. 0,1 (default: detect with nvidia-smi); every worker "
                             "of a host may name all of them: they share them through TRAINYARD_GPU_LOCK_DIR")
@click.option("--cpu", is_flag=True, help="use no GPU")
@click.option("--burst", is_flag=True, help="exit when the queues are empty")
@click.option("--name", help="worker name (default: RQ's, from host and pid)")
@click.option("--join", is_flag=True, help="a worker on another host: check REDIS_URL, DATABASE_URL (schema at this "
                                          "code's revision, never upgraded from here) and that DATA_DIR is the "
                                          "platform's shared store, and refuse to start otherwise")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help=CONFIG_HELP)
@pass_settings
def worker(gpus: str | None, cpu: bool, burst: bool, name: str | None, join: bool, config_file: str | None,
           settings: Settings) -> None:
    """Run one RQ worker."""
    from runner.worker import run_worker

    if cpu and gpus is not None:
        raise click.UsageError("--cpu: not allowed with --gpus")
    settings = _settings_from(config_file, settings)
    exit_with(run_worker(gpus="cpu" if cpu else gpus, burst=burst, name=name, join=join, settings=settings))


@click.command()
@click.option("--gpus", help="check these GPU ids instead of the detected ones, e.g. 0,1")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help=CONFIG_HELP)
@json_option
@pass_settings
def doctor(gpus: str | None, config_file: str | None, as_json: bool, settings: Settings) -> None:
    """Check this host: DATA_DIR, free space, interpreter, sandbox, GPUs, Redis, database schema, store marker.
    Exits 1 when a check fails."""
    from runner.doctor import Level, run_checks, table

    checks = run_checks(_settings_from(config_file, settings), gpus=gpus)
    failed = [c for c in checks if c.level == Level.fail]
    out(as_json, {"ok": not failed, "checks": [c.to_dict() for c in checks]}, table(checks))
    exit_with(1 if failed else 0)


@click.command()
@json_option
@pass_settings
def reconcile(as_json: bool, settings: Settings) -> None:
    """One reconciler pass (re-enqueue lost work, fail lost runs)."""
    from runner import context
    from runner.reconcile import reconcile_once

    context.configure(settings)
    out(as_json, reconcile_once())


@click.command()
@click.argument("which", default="all", type=click.Choice(["all", "classification", "detection"]))
@acting
def examples(which: str, as_json: bool, settings: Settings, actor: User) -> None:
    """Add the example datasets and models (one step for new users); WHICH is all, classification or detection."""
    from shared.services.examples import EXAMPLE_KINDS, load_examples

    conn = redis(settings)
    kinds = EXAMPLE_KINDS if which == "all" else (which,)
    with session(settings) as s:
        added = load_examples(session=s, settings=settings, connection=conn, actor=actor, kinds=kinds)
    out(as_json, added, "\n".join(f"{k}: dataset {v['dataset']}, model {v['model']} (deploying)"
                                  for k, v in added.items()))
