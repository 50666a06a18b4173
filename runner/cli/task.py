"""``python -m runner task create|show|list|stop|delete|clone|rerun|weights``."""

from __future__ import annotations

from typing import Any

import click

from runner.cli.common import (
    CliError,
    acting,
    exit_with,
    id_argument,
    out,
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
from shared.records import Pruner, Sampler, User
from shared.records.labels import term

SEARCH_SUFFIX = ":search"


@click.group()
def task() -> None:
    """Create, watch, stop, delete and rerun training tasks."""


def _parse_params(items: tuple[str, ...]) -> dict[str, tuple[str, bool]]:
    params: dict[str, tuple[str, bool]] = {}
    for item in items:
        key, value = split_kv(item, "--param")
        search = value.endswith(SEARCH_SUFFIX)
        params[key] = (value[: -len(SEARCH_SUFFIX)] if search else value, search)
    return params


def _read_task(settings: Settings, task_id: int) -> Any:
    from shared.services.tasks import get_task

    with session(settings) as s:
        return get_task(session=s, task_id=task_id)


def _wait_task(settings: Settings, task_id: int, timeout: float):
    t, done = poll(lambda: _read_task(settings, task_id), lambda t: t.status.finished, timeout=timeout, every=0.5)
    if not done:
        raise CliError(N_("task {task_id} still {task_status} after {timeout:.0f} s"),
                       params={"task_id": task_id, "task_status": term(t.status), "timeout": timeout})
    return t


def _schedule(settings: Settings, task_id: int) -> None:
    from runner import context

    context.configure(settings)
    context.current().schedule(task_id)


LIMIT_HELP = "per-run limit, at most the platform's TRAINYARD_{} (its default and ceiling; e.g. {})"


@task.command()
@click.option("--name", required=True, help="task name")
@click.option("--model", "model_id", type=int, required=True, help="id of a deployed model")
@click.option("--dataset", "dataset_id", type=int, required=True, help="id of a dataset")
@click.option("--epochs", type=int, required=True, help="epochs per run")
@click.option("--runs", type=int, default=1, show_default=True, help="number of runs (more than 1 searches params)")
@click.option("--time-limit", help="for the whole task, e.g. 90m, 2h, 45s")
@click.option("--metrics", help="metrics to chart, comma-separated, e.g. loss,accuracy")
@click.option("--eval-metric", help="NAME[:max|min], the metric that scores runs")
@click.option("--score", type=click.Choice(["final", "best"]), default="final", show_default=True,
              help="score a run by the metric's final or best value")
@click.option("--param", "params", multiple=True, metavar="name=value | name=[a,b]:search",
              help="a train.py parameter, fixed or searched over (repeatable)")
@click.option("--sampler", type=click.Choice([s.value for s in Sampler]), default=Sampler.auto.value,
              show_default=True, help="how searched parameters are sampled; auto: a Gaussian process for up to "
                                      "100 runs over numbers and small choice sets, else TPE")
@click.option("--no-prune", is_flag=True, help="never stop unpromising runs early")
@click.option("--pruner", type=click.Choice([p.value for p in Pruner]), default=Pruner.median.value,
              show_default=True, help="how unpromising runs are stopped early (a pruned run counts as a run)")
@click.option("--warm-start", type=int, metavar="TASK_ID",
              help="continue the search of this earlier task of the same model: its finished runs seed the study")
@click.option("--max-parallel", type=int, help="runs at once (default: the platform's setting)")
@click.option("--seed", type=int, help="sampler seed, for a repeatable search")
@click.option("--gpus-per-run", type=int, default=1, show_default=True,
              help="GPUs each run gets; a run waits for a worker with that many free GPUs on its host")
@click.option("--memory-limit", help=LIMIT_HELP.format("MEMORY_LIMIT", "8GiB"))
@click.option("--max-procs", help=LIMIT_HELP.format("MAX_PROCS", "256"))
@click.option("--max-open-files", help=LIMIT_HELP.format("MAX_OPEN_FILES", "4096"))
@click.option("--max-file-size", help=LIMIT_HELP.format("MAX_FILE_BYTES", "20GiB"))
@click.option("--max-disk", help=LIMIT_HELP.format("MAX_DISK_BYTES", "50GiB"))
@click.option("--max-log", help=LIMIT_HELP.format("MAX_LOG_BYTES", "64MiB"))
@click.option("--max-files", help=LIMIT_HELP.format("MAX_FILES", "100000") + "; files and folders a run may create")
@click.option("--wait", is_flag=True, help="wait until the task finished; exit 1 unless it completed")
@click.option("--timeout", type=float, default=24 * 3600, show_default=True, help="seconds to wait with --wait")
@visibility_option
@acting
def create(*, name: str, model_id: int, dataset_id: int, epochs: int, runs: int, time_limit: str | None,
           metrics: str | None, eval_metric: str | None, score: str, params: tuple[str, ...], sampler: str,
           no_prune: bool, pruner: str, warm_start: int | None, max_parallel: int | None, seed: int | None,
           gpus_per_run: int,
           memory_limit: str | None, max_procs: str | None, max_open_files: str | None,
           max_file_size: str | None, max_disk: str | None,
           max_log: str | None, max_files: str | None, wait: bool, timeout: float, visibility: str, as_json: bool,
           settings: Settings, actor: User) -> None:
    """Create a task and schedule its runs."""
    from shared.services.tasks import TaskIn, create_task, task_summary

    direction = None
    if eval_metric and ":" in eval_metric:
        eval_metric, direction = eval_metric.rsplit(":", 1)
    task_in = TaskIn(name=name, model_id=model_id, dataset_id=dataset_id, epochs=epochs, n_runs=runs,
                     time_limit=time_limit, metrics=[m for m in (metrics or "").split(",") if m.strip()],
                     eval_metric=eval_metric, direction=direction, score_mode=score, params=_parse_params(params),
                     sampler=sampler, prune=not no_prune, pruner=pruner, warm_start_task_id=warm_start,
                     max_parallel=max_parallel, seed=seed,
                     gpus_per_run=gpus_per_run,
                     limits={"memory_limit": memory_limit, "max_procs": max_procs, "max_open_files": max_open_files,
                             "max_file_bytes": max_file_size, "max_disk_bytes": max_disk, "max_log_bytes": max_log,
                             "max_files": max_files})
    conn = redis(settings)
    with session(settings) as s:
        t = create_task(session=s, task_in=task_in, actor=actor, visibility=visibility,
                        max_parallel_default=settings.max_parallel_runs, settings=settings)
    _schedule(settings, t.id)
    if wait:
        warn_no_worker(conn)
        t = _wait_task(settings, t.id, timeout)
    with session(settings) as s:
        data = task_summary(session=s, task=t, with_metrics=wait)
    out(as_json, data,
        _("task {id} {status}", id=t.id, status=status_text(t.status)) + (f": {t.reason}" if t.reason else ""))
    if wait and t.status.value != "completed":
        exit_with(1)


@task.command()
@id_argument("task_id")
@acting
def show(task_id: int, as_json: bool, settings: Settings, actor: User) -> None:
    """Settings, runs, scores and metrics of task ID."""
    from shared.services.tasks import get_task, task_summary

    with session(settings) as s:
        data = task_summary(session=s, task=get_task(session=s, task_id=task_id, actor=actor))
    if as_json:
        out(as_json, data)
        return
    lines = [f"task {data['id']} {data['name']}: {data['status']}" + (f" ({data['reason']})" if data['reason'] else "")]
    for r in data["runs"]:
        mark = "*" if r["best"] else " "
        lines.append(f" {mark} run {r['id']:>4} {r['status']:<10} score={r['score']} params={r['params']}"
                     + (f" reason={r['reason'].splitlines()[0]}" if r["reason"] else ""))
    click.echo("\n".join(lines))


@task.command(name="list")
@click.option("--status", help="only tasks with this status, e.g. running, completed")
@click.option("--search", help="only tasks whose name contains this")
@click.option("--limit", type=int, default=50, show_default=True, help="at most this many tasks")
@acting
def list_(status: str | None, search: str | None, limit: int, as_json: bool, settings: Settings,
          actor: User) -> None:
    """Tasks, newest first."""
    from shared.services.task_list import TaskFilter, list_tasks

    with session(settings) as s:
        rows, total = list_tasks(session=s, actor=actor, flt=TaskFilter(status=status, search=search),
                                 offset=0, limit=limit)
    out(as_json, {"total": total, "tasks": rows},
        "\n".join(f"{r['id']:>4}  {r['status']:<10} {r['name']}" for r in rows) or _("no tasks"))


@task.command()
@id_argument("task_id")
@click.option("--timeout", type=float, default=10, show_default=True,
              help="seconds to wait for the runs to stop before printing the status")
@acting
def stop(task_id: int, timeout: float, as_json: bool, settings: Settings, actor: User) -> None:
    """Stop task ID: its running runs are killed, queued ones never start."""
    from shared.services.tasks import request_stop

    redis(settings)
    with session(settings) as s:
        request_stop(session=s, actor=actor, task_id=task_id)
    _schedule(settings, task_id)
    t, _done = poll(lambda: _read_task(settings, task_id), lambda t: t.status.finished, timeout=timeout, every=0.2)
    out(as_json, {"id": t.id, "status": t.status.value},
        _("task {id} {status}", id=t.id, status=status_text(t.status)))


@task.command()
@id_argument("task_id")
@acting
def delete(task_id: int, as_json: bool, settings: Settings, actor: User) -> None:
    """Delete task ID for good: its runs, metrics, logs, weights, the predictions made with them and its
    search study (its owner or an admin; refused until it has ended: stop it first)."""
    from shared.services.task_delete import delete_task

    with session(settings) as s:
        done = delete_task(session=s, settings=settings, actor=actor, task_id=task_id)
    text = _("task {id} deleted (runs: {runs}, predictions: {predictions})", id=task_id, runs=done.runs,
             predictions=done.predictions)
    if done.unlinked:
        text += "\n" + _("tasks {ids} continued its search; they keep what they learned from it",
                         ids=", ".join(map(str, done.unlinked)))
    if done.left_on_disk:
        click.echo(_("warning: {n} files under {path} could not be removed (another user owns them); remove them "
                     "as that user", n=done.left_on_disk, path=settings.data_dir), err=True)
    out(as_json, {"deleted": task_id, "runs": done.runs, "predictions": done.predictions,
                  "unlinked": done.unlinked, "left_on_disk": done.left_on_disk}, text)


@task.command()
@id_argument("task_id")
@click.option("--name", help="name of the new task (default: the original's name + ' (copy)')")
@acting
def clone(task_id: int, name: str | None, as_json: bool, settings: Settings, actor: User) -> None:
    """A new task with the same settings as task ID."""
    from shared.services.tasks import clone_task

    redis(settings)
    with session(settings) as s:
        t = clone_task(session=s, actor=actor, task_id=task_id, name=name,
                       max_parallel_default=settings.max_parallel_runs, settings=settings)
    _schedule(settings, t.id)
    out(as_json, {"id": t.id, "name": t.name, "status": t.status.value}, _("task {id} created", id=t.id))


@task.command()
@id_argument("run_id", metavar="RUN_ID")
@acting
def rerun(run_id: int, as_json: bool, settings: Settings, actor: User) -> None:
    """Queue a failed/stopped run again with the same parameters."""
    from shared.core.queue import enqueue_run
    from shared.services.tasks import get_task, rerun_run

    conn = redis(settings)
    with session(settings) as s:
        run = rerun_run(session=s, actor=actor, run_id=run_id)
        gpus = get_task(session=s, task_id=run.task_id).gpus_per_run
    enqueue_run(run.id, connection=conn, attempt=run.attempt, gpus=gpus)
    out(as_json, {"run": run.id, "task": run.task_id, "status": run.status.value}, 
        _("run {id} queued again", id=run.id))


@task.command()
@id_argument("task_id")
@click.option("-o", "--output", required=True,
              help="path of the zip to write, or a folder: it gets task-<ID>-run-<RUN>.zip")
@click.option("--run", "run_id", type=int, help="a run of the task (default: the best run)")
@acting
def weights(task_id: int, output: str, run_id: int | None, as_json: bool, settings: Settings, actor: User) -> None:
    """Write the weights of a run of task ID as a zip."""
    from shared.services.weights import write_weights_zip

    with session(settings) as s:
        made = write_weights_zip(session=s, settings=settings, actor=actor, task_id=task_id, run_id=run_id,
                                 dest=output)
    text = _("wrote {path} (run {run_id})", path=made.path, run_id=made.run_id)
    if made.partial:
        text += "\n" + _("run {run_id} is still running: this is a partial snapshot (see PARTIAL.txt in the zip); "
                         "download again once it has finished", run_id=made.run_id)
    data: dict = {"task": task_id, "run": made.run_id, "zip": str(made.path)}
    if made.partial:
        data["partial"] = True
    if made.skipped:
        data["skipped"] = made.skipped  # links and special files left out
    out(as_json, data, text)
