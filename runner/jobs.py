"""RQ entry points. Each job loads its row, does the work, and records the
outcome on the row; named errors are caught here, once, with their message
and the traceback tail stored for the UI."""

from __future__ import annotations

import math
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

from sqlmodel import Session

from runner import context
from runner.envs import ensure_env, evict_envs
from runner.execute import Outcome, execute
from runner.gpus import device_arg
from runner.ingest import MetricCollector, MetricWriter
from runner.sandbox import WORKSPACE, Limits, Mount, SandboxSpec
from runner.substitute import GLOBAL_TO_FLAG, TRAIN_GLOBALS, substitute
from shared.contract.params import to_argv
from shared.core.errors import TrainyardError
from shared.records import (
    Dataset,
    DeployStatus,
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
from shared.services.datasets import DATASET_MOUNT, dataset_args
from shared.services.models import train_args


def _tail(exc: BaseException, n: int = 12) -> str:
    return "".join(traceback.format_exception(exc)[-n:])


# --------------------------------------------------------------------------- deploy

def deploy_model(model_id: int) -> None:
    ctx = context.current()
    settings = ctx.settings
    with Session(ctx.engine, expire_on_commit=False) as session:
        model = session.get(ModelPackage, model_id)
        if model is None:
            return
        model.status = DeployStatus.deploying
        model.deploy_started_at = utcnow()
        model.deployed_at = None
        model.reason = None
        log_rel = f"{model.path}/deploy.log"
        model.install_log = log_rel
        session.add(model)
        session.commit()
        log_path = settings.path(log_rel)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        report = model.report or {}
        reqs = report.get("requirements") or {}
        pkg_dir = settings.path(model.path)
        script = pkg_dir / "install_dependencies.sh"
        with open(log_path, "w", encoding="utf-8", errors="replace") as log_file:
            def log(line: str) -> None:
                log_file.write(line.rstrip("\n") + "\n")
                log_file.flush()

            try:
                result = ensure_env(
                    settings=settings, requirements=reqs.get("requirements", []),
                    constraints=reqs.get("constraints", []), options=reqs.get("options", []),
                    install_script=script if script.is_file() else None, package_dir=pkg_dir, log=log,
                    run_install_script=_run_install_script)
                log(f"[trainyard] environment {result.key} " + ("built" if result.built else "reused from cache"))
                if result.built:
                    evicted = evict_envs(settings=settings, in_use=_envs_in_use(session), keep={result.key},
                                         log=log)
                    if evicted:
                        log(f"[trainyard] env cache over its size limit: evicted {', '.join(evicted)}")
                model.env_key = result.key
                model.freeze = result.freeze
                model.status = DeployStatus.deployed
                model.deployed_at = utcnow()
            except TrainyardError as exc:
                log(f"[trainyard] deploy failed: {exc}")
                model.status = DeployStatus.failed
                model.reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - recorded on the row, never lost
                log(_tail(exc))
                model.status = DeployStatus.failed
                model.reason = f"internal error during deploy: {exc!r}\n{_tail(exc)}"
        session.add(model)
        session.commit()


def _envs_in_use(session: Session) -> set[str]:
    """Envs that must stay: those of models with a waiting or running task or
    prediction. Other envs are rebuilt from their model on the next deploy."""
    from sqlmodel import select

    from shared.records import Prediction, PredictionStatus

    active = select(Task.model_id).where(Task.status.in_([TaskStatus.waiting, TaskStatus.running]))
    preds = select(Prediction.model_id).where(
        Prediction.status.in_([PredictionStatus.queued, PredictionStatus.running]))
    ids = set(session.exec(active)) | set(session.exec(preds))
    if not ids:
        return set()
    keys = session.exec(select(ModelPackage.env_key).where(ModelPackage.id.in_(ids)))
    return {k for k in keys if k}


def _run_install_script(*, script: Path, env_path: Path, log) -> None:
    """``bash install_dependencies.sh <env>`` in the sandbox, with network, without secrets."""
    ctx = context.current()
    settings = ctx.settings
    work = env_path.parent / f".install-{env_path.name}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(script.parent, work, ignore=shutil.ignore_patterns("weights"))
    limits = Limits.from_settings(settings)
    spec = SandboxSpec(argv=["bash", "install_dependencies.sh", str(env_path)], workdir=work,
                       mounts=[Mount(host=env_path, inside=str(env_path), writable=True)],
                       network=True, limits=limits, uid=None, env={"VIRTUAL_ENV": str(env_path)}, install=True)
    log_file = work.parent / f"install-script-{env_path.name}.log"
    try:
        outcome = execute(spec=spec, settings=settings, log_path=log_file,
                          on_line=lambda _s, text: log(f"[install_dependencies.sh] {text}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not outcome.ok:
        from shared.core.errors import EnvBuildError

        raise EnvBuildError(f"install_dependencies.sh failed: {outcome.reason}")


# --------------------------------------------------------------------------- runs

def visible(settings, host: Path, inside: str) -> str:
    """Where user code sees a path: the sandbox's mount point, or, with the
    sandbox explicitly turned off, the host path itself."""
    return str(host) if settings.unsafe_no_sandbox else inside


def _platform_values(*, dataset: Dataset, dataset_at: str = DATASET_MOUNT, workspace_at: str = WORKSPACE
                     ) -> dict[str, str]:
    values = dataset_args(dataset, mount=dataset_at)
    values["--work-dir"] = f"{workspace_at}/work_dir"
    return values


def build_argv(*, python: str, task: Task, run: Run, model: ModelPackage, dataset: Dataset,
               device: str, dataset_at: str = DATASET_MOUNT, workspace_at: str = WORKSPACE) -> list[str]:
    """Only arguments train.py declares are passed (CONTRACT §2.3)."""
    args = train_args(model)
    platform = _platform_values(dataset=dataset, dataset_at=dataset_at, workspace_at=workspace_at)
    argv = [python, "train.py"]
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
    for name, value in run.params.items():
        spec = by_name.get(name)
        if spec is not None:
            argv += to_argv(spec, value)
    return argv


def _model_env(settings, model: ModelPackage) -> Path:
    env_path = settings.data_dir / "envs" / (model.env_key or "")
    if not model.env_key or not (env_path / "bin" / "python").exists():
        raise TrainyardError(f"model {model.id}'s environment is missing; redeploy the model")
    return env_path


def _copy_package(settings, model: ModelPackage, dest: Path) -> None:
    """User code always runs from a copy: substitution never touches the upload."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(settings.path(model.path), dest, ignore=shutil.ignore_patterns("deploy.log", "__pycache__"))


def _prepare_workspace(*, settings, model: ModelPackage, dataset: Dataset, run: Run, run_dir: Path) -> Path:
    ws = run_dir / "workspace"
    _copy_package(settings, model, ws)
    (ws / "work_dir").mkdir(exist_ok=True)
    platform = _platform_values(dataset=dataset, dataset_at=visible(settings, settings.path(dataset.path),
                                                                    DATASET_MOUNT),
                                workspace_at=visible(settings, ws, WORKSPACE))
    values: dict[str, Any] = {g: platform.get(GLOBAL_TO_FLAG[g], "") for g in TRAIN_GLOBALS}
    train = ws / "train.py"
    new, _replaced = substitute(source=train.read_text(encoding="utf-8"), values=values, filename="train.py")
    train.write_text(new, encoding="utf-8")
    return ws


def run_limits(task: Task) -> dict[str, int | None]:
    """A task's limit overrides, named as the sandbox's Limits fields."""
    return {("memory_bytes" if k == "memory_limit" else k): v for k, v in (task.limits or {}).items()}


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
            return "worker shut down during the run (its process tree was killed)"
        if self.deadline is not None and utcnow() >= self.deadline:
            self.status = RunStatus.timed_out
            return f"time limit {self.time_limit_s} s reached"
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
                return f"pruned by the {self.reporter.label} after {self.reported} reports of the evaluation metric"
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
                    return "stopped by user"
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
            run.reason = "cancelled before it started"
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

        start_deadline(task)
        session.add(run)
        session.add(task)
        session.commit()

    gpus = ctx.gpus.acquire()
    writer = MetricWriter(ctx.engine)
    writer.start()
    collector = MetricCollector(run_id=run.id, writer=writer, eval_metric=task.eval_metric)
    outcome: Outcome | None = None
    failure: str | None = None
    watch: _RunWatch | None = None
    try:
        device = device_arg(gpus)
        env_path = _model_env(settings, model)
        ws = _prepare_workspace(settings=settings, model=model, dataset=dataset, run=run, run_dir=run_dir)
        argv = build_argv(python=str(env_path / "bin" / "python"), task=task, run=run, model=model,
                          dataset=dataset, device=device,
                          dataset_at=visible(settings, settings.path(dataset.path), DATASET_MOUNT),
                          workspace_at=visible(settings, ws, WORKSPACE))
        (run_dir / "argv.txt").write_text("\n".join(argv) + "\n", encoding="utf-8")
        reporter = None
        if search.is_search(task) and run.trial_number is not None and task.eval_metric:
            reporter = search.TrialReporter(task, run.trial_number, settings.database_url)
        watch = _RunWatch(ctx=ctx, task=task, run=run, collector=collector, reporter=reporter)
        spec = SandboxSpec(
            argv=argv, workdir=ws,
            mounts=[Mount(host=env_path, inside=str(env_path)),
                    Mount(host=settings.path(dataset.path), inside=DATASET_MOUNT)],
            network=model.network, gpus=gpus, limits=Limits.from_settings(settings, run_limits(task)),
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
        failure = f"internal error: {exc!r}\n{_tail(exc)}"
    finally:
        ctx.gpus.release(gpus)
        collector.flush()
        writer.close()
    _finish_run(ctx=ctx, run_id=run.id, task=task, outcome=outcome, failure=failure, watch=watch,
                collector=collector, writer_error=writer.error)
    context.current().schedule(task.id)


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
            run.reason = (outcome.reason if outcome else None) or "failed"
        if writer_error is not None:
            run.reason = (run.reason or "") + f"\nmetrics could not all be stored: {writer_error!r}"
        if task.eval_metric:
            run.score = _score(collector.eval_values, mode=task.score_mode, direction=task.direction)
            run.score_missing = not collector.eval_values
            if run.score_missing and run.status == RunStatus.completed:
                run.reason = (f"the evaluation metric {task.eval_metric!r} was never printed; "
                              f"names printed: {', '.join(collector.names) or 'none'}")
        session.add(run)
        session.commit()
        if search.is_search(task) and run.trial_number is not None:
            state = {RunStatus.completed: "complete", RunStatus.pruned: "pruned"}.get(run.status, "fail")
            search.tell(task, ctx.settings.database_url, run.trial_number, value=run.score, state=state)


# --------------------------------------------------------------------------- predictions

def build_predict_argv(*, python: str, model: ModelPackage, weights_inside: str, confidence: float,
                       device: str, workspace_at: str = WORKSPACE) -> list[str]:
    from shared.services.models import predict_args

    args = predict_args(model)
    values = {"--source": f"{workspace_at}/in", "--out-dir": f"{workspace_at}/out"}
    argv = [python, "predict.py"]
    for spec in args.platform:
        flag = next((f for f in spec.flags if f in values), None)
        if flag is not None:
            argv += to_argv(spec, values[flag])
    if args.device is not None:
        argv += to_argv(args.device, device)
    for spec in args.user:
        if "--weights" in spec.flags:
            argv += to_argv(spec, weights_inside)
        elif "--confidence" in spec.flags:
            argv += to_argv(spec, confidence)
    return argv


def run_prediction(prediction_id: int) -> None:
    from runner.substitute import PREDICT_GLOBALS
    from shared.records import Prediction, PredictionStatus
    from shared.services.predictions import mark, match_outputs, safe_output_dir
    from shared.services.weights import regular_files

    ctx = context.current()
    settings = ctx.settings
    with Session(ctx.engine, expire_on_commit=False) as session:
        pred = session.get(Prediction, prediction_id)
        if pred is None or pred.status != PredictionStatus.queued:
            return
        model = session.get(ModelPackage, pred.model_id)
        run = session.get(Run, pred.run_id)
        mark(session, pred, PredictionStatus.running)
    base = settings.path(pred.path)
    ws = base / "work"
    gpus: list[str] = []
    try:
        env_path = _model_env(settings, model)
        _copy_package(settings, model, ws)
        shutil.copytree(base / "in", ws / "in")
        (ws / "out").mkdir(exist_ok=True)
        src = ws / "predict.py"
        ws_at = visible(settings, ws, WORKSPACE)
        values = {"SOURCE_PATH": f"{ws_at}/in", "OUT_DIR_PATH": f"{ws_at}/out"}
        new, _ = substitute(source=src.read_text(encoding="utf-8"),
                            values={k: values[k] for k in PREDICT_GLOBALS}, filename="predict.py")
        src.write_text(new, encoding="utf-8")
        weights_host = settings.path(run.work_dir) / pred.weights
        if not weights_host.is_file():
            raise TrainyardError(f"the weights file {pred.weights} of run {run.id} is gone")
        weights_inside = visible(settings, weights_host, f"/weights/{weights_host.name}")
        gpus = ctx.gpus.acquire()
        argv = build_predict_argv(python=str(env_path / "bin" / "python"), model=model,
                                  weights_inside=weights_inside, confidence=pred.confidence,
                                  device=device_arg(gpus), workspace_at=ws_at)
        spec = SandboxSpec(argv=argv, workdir=ws,
                           mounts=[Mount(host=env_path, inside=str(env_path)),
                                   Mount(host=weights_host, inside=weights_inside)],
                           network=model.network, gpus=gpus, limits=Limits.from_settings(settings),
                           uid=settings.sandbox_uid_base + 5000 + pred.id % 1000)
        outcome = execute(spec=spec, settings=settings, log_path=base / "predict.log")
        inputs = sorted(p.name for p in (base / "in").iterdir())
        out_dir = safe_output_dir(settings, pred)
        outputs = regular_files(out_dir) if out_dir is not None else []
        result = match_outputs(inputs=inputs, outputs=outputs)
        if out_dir is None:
            result["refused"] = "predict.py replaced its out dir with a link; no output is served"
        with Session(ctx.engine, expire_on_commit=False) as session:
            pred = session.get(Prediction, prediction_id)
            pred.outputs = result
            if outcome.ok:
                missing = [n for n, r in result["images"].items() if r["status"] != "ok"]
                reason = f"predict.py wrote no image for {len(missing)} of {len(inputs)} inputs" if missing else None
                mark(session, pred, PredictionStatus.completed, reason)
            else:
                mark(session, pred, PredictionStatus.failed, outcome.reason or "predict.py failed")
    except TrainyardError as exc:
        with Session(ctx.engine, expire_on_commit=False) as session:
            mark(session, session.get(Prediction, prediction_id), PredictionStatus.failed, str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded on the row
        with Session(ctx.engine, expire_on_commit=False) as session:
            mark(session, session.get(Prediction, prediction_id), PredictionStatus.failed,
                 f"internal error: {exc!r}\n{_tail(exc)}")
    finally:
        ctx.gpus.release(gpus)
