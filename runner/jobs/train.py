"""The ``train`` queue's job: one run of a task, from its queued row to its
recorded outcome, followed by the task's next scheduler step."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

from sqlmodel import Session

from runner import context
from runner.execute import Outcome, execute
from runner.gpus import device_arg
from runner.ingest import MetricCollector, MetricWriter
from runner.jobs.common import copy_package, tail, visible
from runner.jobs.deploy import host_env
from runner.sandbox import ENV_MOUNT, WORKSPACE, Limits, Mount, SandboxSpec
from runner.substitute import substitute, substitute_package
from shared.contract.datasets.yolo import DATA_YAML, VIEW_DIR, ensure_yolo_view, has_yolo_view, no_view_error
from shared.contract.names import (
    DATA_YAML_FLAG,
    FLAG_TO_GLOBAL,
    GLOBAL_TO_FLAG,
    LAUNCHER_FLAGS,
    TRAIN_GLOBALS,
    TRAIN_SCRIPT,
    WORK_DIR_FLAG,
)
from shared.contract.params import to_argv
from shared.core.errors import TrainyardError
from shared.core.i18n import N_
from shared.core.settings import Settings
from shared.records import (
    Dataset,
    Direction,
    ModelPackage,
    Run,
    RunStatus,
    ScoreMode,
    Task,
    TaskStatus,
    utcnow,
)
from shared.services import search
from shared.services.datasets import DATASET_MOUNT, dataset_args, dataset_report
from shared.services.limits import clamp_limits
from shared.services.models import train_args


def _platform_values(*, dataset: Dataset, dataset_at: str = DATASET_MOUNT, workspace_at: str = WORKSPACE,
                     data_yaml: str = "") -> dict[str, str]:
    values = dataset_args(dataset, mount=dataset_at)
    values[WORK_DIR_FLAG] = f"{workspace_at}/work_dir"
    values[DATA_YAML_FLAG] = data_yaml
    return values


def wants_data_yaml(model: ModelPackage) -> bool:
    """Whether train.py asks for the dataset's YOLO view (the flag or the global variable)."""
    args = train_args(model)
    return (any(DATA_YAML_FLAG in spec.flags or spec.dest == "data_yaml" for spec in args.platform)
            or FLAG_TO_GLOBAL[DATA_YAML_FLAG] in args.globals_used)


def prepare_data_yaml(*, settings, model: ModelPackage, dataset: Dataset) -> str:
    """The YOLO view's data.yaml as the run sees it, built on first use; "" when
    train.py does not ask for it (most scripts: no view is built for them)."""
    if not wants_data_yaml(model):
        return ""
    if not has_yolo_view(dataset.task_type):
        raise no_view_error(dataset.task_type)
    root = settings.path(dataset.path)
    inside = f"{visible(settings, root, DATASET_MOUNT).rstrip('/')}/{VIEW_DIR}"
    ensure_yolo_view(root=root, report=dataset_report(dataset), path_inside=inside)
    return f"{inside}/{DATA_YAML}"


def launcher(*, python: str, model: ModelPackage, nproc: int, host_env: Path | None = None) -> list[str]:
    """How train.py starts: ``python train.py``, or for a model that asks for a distributed launch
    ``torchrun --standalone --nproc-per-node N train.py`` with the torchrun of the model's own env
    (one process per GPU of the run; torchrun gives each its LOCAL_RANK). ``python`` is the path inside
    the sandbox; ``host_env`` is where the env lies on this host, to check that torchrun is there."""
    if not model.distributed:
        return [python, TRAIN_SCRIPT]
    bin_dir = host_env / "bin" if host_env is not None else Path(python).parent
    if not (bin_dir / "torchrun").exists():
        raise TrainyardError(N_("model {model_id} asks for a distributed launch, but its environment has no torchrun: "
                                "add torch to requirements.txt and redeploy, or turn the distributed launch off"),
                             params={"model_id": model.id})
    return [str(Path(python).parent / "torchrun"), "--standalone", f"--nproc-per-node={max(1, nproc)}", TRAIN_SCRIPT]


def build_argv(*, python: str, task: Task, run: Run, model: ModelPackage, dataset: Dataset,
               device: str, dataset_at: str = DATASET_MOUNT, workspace_at: str = WORKSPACE,
               data_yaml: str = "", nproc: int = 1, host_env: Path | None = None) -> list[str]:
    """Only arguments train.py declares are passed (CONTRACT §2.3); never the launcher's own (LAUNCHER_FLAGS)."""
    args = train_args(model)
    platform = _platform_values(dataset=dataset, dataset_at=dataset_at, workspace_at=workspace_at,
                                data_yaml=data_yaml)
    prefix = launcher(python=python, model=model, nproc=nproc, host_env=host_env)
    argv = list(prefix)
    for spec in args.platform:
        flag = next((f for f in spec.flags if f in platform), None)
        if flag is None:
            flag = next((f for f in platform if f.lstrip("-").replace("-", "_") == spec.dest), None)
        if flag is not None:
            argv += to_argv(spec, platform[flag])
    if args.epochs is not None:
        argv += to_argv(args.epochs, task.epochs)
    if args.device is not None:
        argv += to_argv(args.device, device)
    by_name = {a.name: a for a in args.user}
    # Positionals first, in source order (`train.py configs/x.py ...`): after a several-value option
    # (`--cfg-options a=1 b=2`) argparse would take them as more of its values. Launcher arguments
    # (--local_rank) are not user parameters, so a plain run never passes them.
    chosen = [(by_name[name], value) for name, value in run.params.items()
              if name in by_name and not set(by_name[name].flags) & set(LAUNCHER_FLAGS)]
    positionals = sorted(((s, v) for s, v in chosen if s.positional), key=lambda sv: sv[0].line)
    head = [a for spec, value in positionals for a in to_argv(spec, value)]
    for spec, value in chosen:
        if not spec.positional:
            argv += to_argv(spec, value)
    return [*prefix, *head, *argv[len(prefix):]]


def _prepare_workspace(*, settings, model: ModelPackage, dataset: Dataset, run: Run, run_dir: Path,
                       data_yaml: str = "") -> Path:
    ws = run_dir / "workspace"
    copy_package(settings, model, ws)
    (ws / "work_dir").mkdir(exist_ok=True)
    platform = _platform_values(dataset=dataset, dataset_at=visible(settings, settings.path(dataset.path),
                                                                    DATASET_MOUNT),
                                workspace_at=visible(settings, ws, WORKSPACE), data_yaml=data_yaml)
    values: dict[str, Any] = {g: platform.get(GLOBAL_TO_FLAG[g], "") for g in TRAIN_GLOBALS}
    train = ws / TRAIN_SCRIPT
    new, _replaced = substitute(source=train.read_text(encoding="utf-8"), values=values, filename=TRAIN_SCRIPT)
    train.write_text(new, encoding="utf-8")
    # MM-style configs name the dataset themselves (`data_root = 'DATA_PATH'`): same rule, every config file.
    substitute_package(root=ws, values=values)
    return ws


def run_limits(task: Task, settings: Settings) -> dict[str, int | None]:
    """A task's limit overrides, named as the sandbox's Limits fields, clamped to the
    platform's ceilings again (a row may predate a lowered ceiling). Keys the sandbox
    has no field for yet are left to the settings' defaults."""
    known = {f.name for f in dataclass_fields(Limits)}
    named = {("memory_bytes" if k == "memory_limit" else k): v for k, v in clamp_limits(task.limits, settings).items()}
    return {k: v for k, v in named.items() if k in known}


def _score(values: list[float], *, mode: ScoreMode, direction: Direction) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    if mode == ScoreMode.best:
        return max(finite) if direction == Direction.maximize else min(finite)
    return finite[-1]


class _RunWatch:
    """The ``check`` callback: stop flag, deadline, pruning and heartbeats."""

    def __init__(self, *, ctx, task: Task, run: Run, collector: MetricCollector,
                 reporter: search.TrialReporter | None) -> None:
        self.ctx, self.task_id, self.run_id = ctx, task.id, run.id
        self.deadline = task.deadline
        self.time_limit_s = task.time_limit_s
        self.collector, self.reporter = collector, reporter
        self.reported = 0
        self.status: RunStatus | None = None
        self._last_db = 0.0
        self._last_report = 0.0

    def __call__(self) -> str | None:
        now = time.monotonic()
        if context.SHUTDOWN.is_set():
            self.status = RunStatus.failed
            return N_("worker shut down during the run (its process tree was killed)")
        if self.deadline is not None and utcnow() >= self.deadline:
            self.status = RunStatus.timed_out
            return N_("time limit {seconds} s reached").format(seconds=self.time_limit_s)
        if self.reporter is not None and len(self.collector.eval_values) > self.reported \
                and now - self._last_report > 0.2:
            self._last_report = now
            values = self.collector.eval_values
            prune = False
            # Report every new step (capped) so the pruner compares like with like.
            for step in range(self.reported, min(len(values), self.reported + 50)):
                prune = self.reporter.report(step, values[step]) or prune
                self.reported = step + 1
            if prune:
                self.status = RunStatus.pruned
                return N_("pruned by the {pruner} after {n} reports of the evaluation metric").format(
                    pruner=self.reporter.label, n=self.reported)
        if now - self._last_db >= 0.5:
            self._last_db = now
            with Session(self.ctx.engine) as session:
                task = session.get(Task, self.task_id)
                run = session.get(Run, self.run_id)
                if run is not None:
                    run.heartbeat_at = utcnow()
                    run.lines = self.collector.lines
                    run.metric_names = list(self.collector.names)
                    run.last_unparsed = self.collector.last_unparsed
                    session.add(run)
                    session.commit()
                if task is None or task.stop_requested:
                    self.status = RunStatus.stopped
                    return N_("stopped by user")
        return None


def run_trial(run_id: int) -> None:
    ctx = context.current()
    settings = ctx.settings
    with Session(ctx.engine, expire_on_commit=False) as session:
        run = session.get(Run, run_id)
        if run is None or run.status != RunStatus.queued:
            return  # already handled (a re-delivered job)
        task = session.get(Task, run.task_id)
        model = session.get(ModelPackage, task.model_id)
        dataset = session.get(Dataset, task.dataset_id)
        if task.stop_requested or task.status.finished or (task.deadline and utcnow() >= task.deadline):
            run.status = RunStatus.cancelled if not task.deadline or utcnow() < task.deadline \
                else RunStatus.timed_out
            run.reason = N_("cancelled before it started")
            session.add(run)
            session.commit()
            context.current().schedule(task.id)
            return
        run_dir = settings.data_dir / "runs" / str(task.id) / str(run.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        log_path = run_dir / "run.log"
        run.status = RunStatus.running
        run.started_at = utcnow()
        run.heartbeat_at = run.started_at
        run.worker = ctx.name
        run.work_dir = f"runs/{task.id}/{run.id}/workspace/work_dir"
        run.log_path = f"runs/{task.id}/{run.id}/run.log"
        if task.status == TaskStatus.waiting:
            task.status = TaskStatus.running
        from shared.services.tasks import start_deadline

        start_deadline(task, settings)
        session.add(run)
        session.add(task)
        session.commit()

    gpus: list[str] = []
    writer = MetricWriter(ctx.engine)
    writer.start()
    collector = MetricCollector(run_id=run.id, writer=writer, eval_metric=task.eval_metric)
    outcome: Outcome | None = None
    failure: str | None = None
    watch: _RunWatch | None = None
    try:
        # The worker reserved these GPUs when it took the job (runner/worker.py); a CPU worker gets [].
        gpus = ctx.gpus.acquire(task.gpus_per_run if ctx.gpus.total else 1)
        device = device_arg(gpus)
        with _beating(ctx, run.id):  # a host without this model's env builds it first: minutes, still alive
            env_path = host_env(model)
        data_yaml = prepare_data_yaml(settings=settings, model=model, dataset=dataset)
        ws = _prepare_workspace(settings=settings, model=model, dataset=dataset, run=run, run_dir=run_dir,
                                data_yaml=data_yaml)
        argv = build_argv(python=f"{visible(settings, env_path, ENV_MOUNT)}/bin/python", task=task, run=run,
                          model=model, dataset=dataset, device=device, data_yaml=data_yaml, host_env=env_path,
                          dataset_at=visible(settings, settings.path(dataset.path), DATASET_MOUNT),
                          workspace_at=visible(settings, ws, WORKSPACE), nproc=len(gpus))
        (run_dir / "argv.txt").write_text("\n".join(argv) + "\n", encoding="utf-8")
        reporter = None
        if search.is_search(task) and run.trial_number is not None and task.eval_metric:
            reporter = search.TrialReporter(task, run.trial_number, settings.database_url)
        watch = _RunWatch(ctx=ctx, task=task, run=run, collector=collector, reporter=reporter)
        spec = SandboxSpec(
            argv=argv, workdir=ws,
            mounts=[Mount(host=env_path, inside=ENV_MOUNT),
                    Mount(host=settings.path(dataset.path), inside=DATASET_MOUNT)],
            network=model.network, gpus=gpus, limits=Limits.from_settings(settings, run_limits(task, settings)),
            uid=settings.sandbox_uid_base + run.id % 10000)
        with Session(ctx.engine) as session:
            r = session.get(Run, run.id)
            r.device = device
            session.add(r)
            session.commit()
        outcome = execute(spec=spec, settings=settings, log_path=log_path, on_line=collector, check=watch,
                          on_sample=_sample_writer(ctx, run.id))
    except TrainyardError as exc:
        failure = str(exc)
    except Exception as exc:  # noqa: BLE001 - recorded on the row
        failure = N_("internal error: {error}").format(error=repr(exc)) + f"\n{tail(exc)}"
    finally:
        ctx.gpus.release(gpus)
        collector.flush()
        writer.close()
    _finish_run(ctx=ctx, run_id=run.id, task=task, outcome=outcome, failure=failure, watch=watch,
                collector=collector, writer_error=writer.error)
    context.current().schedule(task.id)


@contextlib.contextmanager
def _beating(ctx, run_id: int):
    """Heartbeats for a run while the worker does slow work before the run's own loop beats (an env build),
    so the reconciler does not take the run for lost."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(ctx.settings.heartbeat_s):
            with Session(ctx.engine) as session:
                r = session.get(Run, run_id)
                if r is not None:
                    r.heartbeat_at = utcnow()
                    session.add(r)
                    session.commit()

    thread = threading.Thread(target=beat, daemon=True, name=f"beat-{run_id}")
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _sample_writer(ctx, run_id: int):
    from shared.records import ResourceSample

    started = time.time()

    def on_sample(sample) -> None:
        with Session(ctx.engine) as session:
            session.add(ResourceSample(run_id=run_id, t=round(sample.t - started, 3), cpu_percent=sample.cpu_percent,
                                       rss_bytes=sample.rss_bytes, gpu_util=sample.gpu_util,
                                       gpu_mem_bytes=sample.gpu_mem_bytes))
            session.commit()

    return on_sample


def _finish_run(*, ctx, run_id: int, task: Task, outcome: Outcome | None, failure: str | None,
                watch: _RunWatch | None, collector: MetricCollector, writer_error: BaseException | None) -> None:
    with Session(ctx.engine, expire_on_commit=False) as session:
        run = session.get(Run, run_id)
        run.finished_at = utcnow()
        run.lines = collector.lines
        run.metric_names = list(collector.names)
        run.last_unparsed = collector.last_unparsed
        if outcome is not None:
            run.exit_code = outcome.exit_code
            run.log_bytes_dropped = outcome.log_bytes_dropped
        if failure is not None:
            run.status, run.reason = RunStatus.failed, failure
        elif watch is not None and watch.status is not None and outcome is not None and outcome.kill_reason:
            run.status, run.reason = watch.status, outcome.kill_reason
        elif outcome is not None and outcome.ok:
            run.status, run.reason = RunStatus.completed, None
        else:
            run.status = RunStatus.failed
            run.reason = (outcome.reason if outcome else None) or N_("failed")
        if writer_error is not None:
            run.reason = (run.reason or "") + "\n" + N_("metrics could not all be stored: {error}").format(
                error=repr(writer_error))
        if task.eval_metric:
            run.score = _score(collector.eval_values, mode=task.score_mode, direction=task.direction)
            run.score_missing = not collector.eval_values
            if run.score_missing and run.status == RunStatus.completed:
                run.reason = N_("the evaluation metric {metric} was never printed; names printed: {names}").format(
                    metric=repr(task.eval_metric), names=", ".join(collector.names) or N_("none"))
        session.add(run)
        session.commit()
        if search.is_search(task) and run.trial_number is not None:
            search.tell(task, ctx.settings.database_url, run.trial_number, value=run.score,
                        state=search.trial_outcome(run.status))
