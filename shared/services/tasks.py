"""Training task service: the form's validation, creation, stop, summaries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from shared.contract.metrics import guess_direction
from shared.contract.params import is_grid_searchable, parse_setting, words_text
from shared.core.errors import ConflictError, FieldError, Msg, NotFoundError
from shared.core.i18n import N_
from shared.core.queue import MAX_GPUS_PER_RUN, job_id
from shared.core.settings import Settings, get_settings
from shared.records import (
    Action,
    AuditAction,
    DeployStatus,
    Direction,
    JobKind,
    MetricPoint,
    ObjectKind,
    Pruner,
    Run,
    RunStatus,
    Sampler,
    ScoreMode,
    Task,
    TaskStatus,
    TaskType,
    User,
    Visibility,
    utcnow,
)
from shared.records.labels import term
from shared.services import access, audit, search
from shared.services.datasets import check_name, get_dataset, parse_visibility
from shared.services.framework_args import check_config_files, check_required
from shared.services.limits import check_time_limit, clamp_time_limit, parse_limits
from shared.services.models import get_model, train_args
from shared.services.task_metrics import metric_series
from shared.services.warm_start import check_warm_start

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|min|s|sec)?", re.IGNORECASE)
_UNIT_S = {"d": 86400, "h": 3600, "m": 60, "min": 60, "s": 1, "sec": 1, None: 60}


def parse_duration(text: str | int | float | None, *, field: str = "time limit") -> int | None:
    """'90m', '2h', '1h30m', '45s', or a bare number of minutes -> seconds."""
    if text is None or text == "":
        return None
    if isinstance(text, int | float):
        if text <= 0:
            raise FieldError(field, N_("must be positive"))
        return int(text)
    s = str(text).strip().lower().replace(" ", "")
    if s in ("none", "0", "off"):
        return None
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_S[m.group(2).lower() if m.group(2) else None]
        pos = m.end()
    if pos != len(s) or total <= 0:
        raise FieldError(field, N_("{text!r} is not a duration; write e.g. 90m, 2h, 1h30m or 45s"),
                                params={"text": text})
    return int(total)


@dataclass
class TaskIn:
    name: str
    model_id: int
    dataset_id: int
    epochs: int = 1
    n_runs: int = 1
    time_limit: str | int | None = None
    metrics: list[str] = field(default_factory=list)
    eval_metric: str | None = None
    direction: str | None = None  # "max" / "min"; None guesses from the name
    score_mode: str = "final"
    params: dict[str, tuple[Any, bool]] = field(default_factory=dict)  # name -> (raw value, search flag)
    sampler: str = "auto"
    prune: bool = True
    pruner: str = "median"
    rank_pruned: bool = False  # let a pruned run's partial score be the task's best
    warm_start_task_id: int | None = None  # continue the search of this earlier task
    max_parallel: int | None = None
    seed: int | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    gpus_per_run: int = 1


def _positive_int(value: Any, *, field: str, what: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise FieldError(field, N_("{value!r} is not a whole number"), params={"value": value}) from None
    if n < 1:
        raise FieldError(field, N_("{what} must be at least 1"), params={"what": what})
    return n


def validate_task(*, session: Session, task_in: TaskIn, actor: User, max_parallel_default: int = 4,
                  settings: Settings | None = None) -> Task:
    """Every check of the form, in field order; FieldError names the field. The model and the dataset must
    be ones ``actor`` may see. Limits are checked against the platform's ceilings (``settings``, by default
    the process's own): the ceiling binds everyone, admins included."""
    settings = settings or get_settings()
    name = check_name(task_in.name, field="name")
    model = get_model(session=session, model_id=task_in.model_id, actor=actor)
    dataset = get_dataset(session=session, dataset_id=task_in.dataset_id, actor=actor)
    if model.status != DeployStatus.deployed:
        raise FieldError("model", N_("model {model_id} is {model_status}, not deployed; deploy it (or wait for its "
                                     "deploy) first"),
                                  params={"model_id": model.id, "model_status": term(model.status)})
    if dataset.task_type != TaskType.other and model.task_type not in (dataset.task_type, TaskType.other):
        raise FieldError("model", N_("model {model_id} is for {model_task_type} but dataset {dataset_id} is "
                                     "{dataset_task_type}; pick a model of the same task type"),
                                  params={"model_id": model.id, "model_task_type": term(model.task_type),
                                          "dataset_id": dataset.id, "dataset_task_type": term(dataset.task_type)})
    epochs = _positive_int(task_in.epochs, field="epochs", what=Msg(N_("epochs per run")))
    n_runs = _positive_int(task_in.n_runs, field="runs", what=Msg(N_("the number of runs")))
    time_limit_s = check_time_limit(task_in.time_limit, parse_duration(task_in.time_limit), settings)
    metrics = [m.strip() for m in task_in.metrics if m and m.strip()]
    eval_metric = (task_in.eval_metric or "").strip() or None
    if eval_metric and metrics and eval_metric not in metrics:
        raise FieldError("eval metric", N_("{eval_metric!r} is not among the charted metrics ({metrics}); add it "
                                           "to them or pick one of them"),
                                        params={"eval_metric": eval_metric, "metrics": ', '.join(metrics)})
    if eval_metric and not metrics:
        metrics = [eval_metric]
    direction_raw = (task_in.direction or (guess_direction(eval_metric) if eval_metric else "max")).lower()
    try:
        direction = Direction({"maximize": "max", "minimize": "min"}.get(direction_raw, direction_raw))
    except ValueError:
        raise FieldError("direction", N_("{direction!r}: use max or min"),
                                      params={"direction": task_in.direction}) from None
    try:
        score_mode = ScoreMode(task_in.score_mode)
    except ValueError:
        raise FieldError("score", N_("use final or best")) from None
    try:
        sampler = Sampler(task_in.sampler)
    except ValueError:
        raise FieldError("sampler", N_("{sampler!r}: use {choices}"),
                         params={"sampler": task_in.sampler, "choices": ", ".join(s.value for s in Sampler)}) from None
    try:
        pruner = Pruner(task_in.pruner)
    except ValueError:
        raise FieldError("pruner", N_("{pruner!r}: use {choices}"),
                         params={"pruner": task_in.pruner, "choices": ", ".join(p.value for p in Pruner)}) from None

    args = train_args(model)
    by_name = {a.name: a for a in args.user}
    for a in args.user:
        by_name.setdefault(a.dest, a)
    params: dict[str, dict[str, Any]] = {}
    for key, (raw, searched) in task_in.params.items():
        spec = by_name.get(key.lstrip("-")) or by_name.get(key.lstrip("-").replace("-", "_"))
        if spec is None:
            known = ", ".join(a.name for a in args.user) or "none"
            raise FieldError(key, N_("train.py declares no user parameter {key!r} (user parameters: {known})"),
                             params={"key": key, "known": known})
        params[spec.name] = parse_setting(spec, raw, search=bool(searched), field=spec.name)
    check_required(args.user, params, model)
    check_config_files(params, model)
    searching = any(p.get("search") for p in params.values())
    if sampler == Sampler.grid and not is_grid_searchable(params):
        raise FieldError("sampler", N_("grid search needs every searched parameter to be an int range or a "
                                       "set of choices; use auto, gp, tpe or random"))
    if searching and not eval_metric:
        raise FieldError("eval metric", N_("a search needs an evaluation metric to rank the runs"))
    max_parallel = _positive_int(task_in.max_parallel or min(n_runs, max_parallel_default),
                                 field="max parallel", what="parallel runs")
    limits = parse_limits(task_in.limits, settings)
    gpus_per_run = _positive_int(task_in.gpus_per_run, field="GPUs per run", what="GPUs per run")
    if gpus_per_run > MAX_GPUS_PER_RUN:
        raise FieldError("GPUs per run", N_("at most {n}: a run uses the GPUs of one host"),
                         params={"n": MAX_GPUS_PER_RUN})
    task = Task(name=name, model_id=model.id, dataset_id=dataset.id, epochs=epochs, n_runs=n_runs,
                time_limit_s=time_limit_s, metrics=metrics, eval_metric=eval_metric, direction=direction,
                score_mode=score_mode, params=params, sampler=sampler, prune=bool(task_in.prune), pruner=pruner,
                rank_pruned=bool(task_in.rank_pruned), max_parallel=max_parallel, seed=task_in.seed, limits=limits,
                gpus_per_run=gpus_per_run)
    seeded = 0
    if task_in.warm_start_task_id not in (None, ""):
        source = _positive_int(task_in.warm_start_task_id, field="warm start", what="the task to continue from")
        seeded = check_warm_start(session=session, task=task, source_id=source, actor=actor)
        task.warm_start_task_id = source
    chosen = search.choose_sampler(task, seeded_runs=seeded)
    if chosen is not None:
        task.sampler_used, task.sampler_reason = chosen[0], chosen[1].stored()
    return task


def create_task(*, session: Session, task_in: TaskIn, actor: User, visibility: str | Visibility = Visibility.team,
                max_parallel_default: int = 4, settings: Settings | None = None) -> Task:
    """A waiting task owned by ``actor`` (members and admins)."""
    with audit.audited(session=session, user=actor, action=AuditAction.create, obj=Task,
                       detail=f"task {task_in.name!r}") as note:
        access.require(actor, Action.create, Task)
        vis = parse_visibility(visibility)
        task = validate_task(session=session, task_in=task_in, actor=actor, max_parallel_default=max_parallel_default,
                             settings=settings)
        task.status = TaskStatus.waiting
        session.add(access.stamp_owner(task, actor, vis))
        session.commit()
        session.refresh(task)
        note["obj"] = task
    return task


def get_task(*, session: Session, task_id: int, actor: User | None = None) -> Task:
    """The task; with ``actor`` (pages, the CLI) one they may not see answers as missing."""
    if actor is not None:
        return access.get_visible(session=session, user=actor, model=Task, obj_id=task_id)
    # populate_existing: a long-lived session (UI, CLI wait loops) must see workers' writes.
    task = session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise NotFoundError(N_("task {task_id} does not exist"), params={"task_id": task_id})
    return task


def get_run(*, session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id, populate_existing=True)
    if run is None:
        raise NotFoundError(N_("run {run_id} does not exist"), params={"run_id": run_id})
    return run


def task_runs(*, session: Session, task_id: int) -> list[Run]:
    return list(session.exec(select(Run).where(Run.task_id == task_id).order_by(Run.index)))


def request_stop(*, session: Session, actor: User, task_id: int) -> Task:
    """Flag the task (its owner or an admin); workers running its runs poll the flag and kill their trees."""
    with audit.audited(session=session, user=actor, action=AuditAction.change, obj=(ObjectKind.task, task_id),
                       detail="stop"):
        task = get_task(session=session, task_id=task_id, actor=actor)
        access.require(actor, Action.change, task)
        if task.status.finished:
            raise ConflictError(N_("task {task_id} is already {task_status}"),
                                params={"task_id": task_id, "task_status": term(task.status)})
        task.stop_requested = True
        session.add(task)
        session.commit()
    return task


def start_deadline(task: Task, settings: Settings | None = None) -> None:
    """The deadline, under TRAINYARD_MAX_TIME_LIMIT even for a task stored before it was set."""
    if task.started_at is None:
        task.started_at = utcnow()
        limit = clamp_time_limit(task.time_limit_s, settings or get_settings())
        if limit:
            task.deadline = task.started_at + timedelta(seconds=limit)


def run_counts(*, session: Session, task_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {tid: {} for tid in task_ids}
    if not task_ids:
        return out
    stmt = select(Run.task_id, Run.status, func.count()).where(Run.task_id.in_(task_ids)).group_by(
        Run.task_id, Run.status)
    for tid, status, n in session.exec(stmt):
        out[tid][RunStatus(status).value] = n
    return out


def task_summary(*, session: Session, task: Task, with_metrics: bool = True) -> dict[str, Any]:
    runs = task_runs(session=session, task_id=task.id)
    series = metric_series(session=session, run_ids=[r.id for r in runs]) if with_metrics else {}
    best = next((r for r in runs if r.id == task.best_run_id), None)
    return {
        "id": task.id, "name": task.name, "status": task.status.value, "reason": task.reason,
        "model_id": task.model_id, "dataset_id": task.dataset_id, "epochs": task.epochs, "runs_total": task.n_runs,
        "time_limit_s": task.time_limit_s, "metrics": task.metrics, "eval_metric": task.eval_metric,
        "direction": task.direction.value, "score_mode": task.score_mode.value, "sampler": task.sampler.value,
        "sampler_used": task.sampler_used.value if task.sampler_used else None,
        "sampler_reason": search.sampler_reason(task, localized=False),  # JSON values stay English
        "prune": task.prune, "pruner": task.pruner.value, "rank_pruned": task.rank_pruned,
        "warm_start_task_id": task.warm_start_task_id, "params": task.params, "limits": task.limits,
        "gpus_per_run": task.gpus_per_run,
        "created_at": task.created_at.isoformat(),
        "started_at": task.started_at.isoformat() if task.started_at else None,
        "finished_at": task.finished_at.isoformat() if task.finished_at else None,
        "best_run": best.id if best else None,
        "best_score": best.score if best else None,
        "runs": [
            {"id": r.id, "index": r.index, "status": r.status.value, "params": r.params, "score": r.score,
             "score_missing": r.score_missing, "exit_code": r.exit_code, "reason": r.reason, "device": r.device,
             "worker": r.worker, "best": r.id == task.best_run_id,
             "started_at": r.started_at.isoformat() if r.started_at else None,
             "finished_at": r.finished_at.isoformat() if r.finished_at else None,
             "log_bytes_dropped": r.log_bytes_dropped,
             "metrics": {name: ys for name, (_xs, ys) in series.get(r.id, {}).items()}}
            for r in runs
        ],
    }


def clone_task(*, session: Session, actor: User, task_id: int, name: str | None = None,
               max_parallel_default: int = 4, settings: Settings | None = None) -> Task:
    """A new waiting task with the same settings and visibility (validated again: the model must still be
    deployed, the limits under today's ceilings). The source's owner or an admin clones it."""
    src = get_task(session=session, task_id=task_id, actor=actor)
    access.require_audited(session=session, user=actor, action=Action.change, obj=src, event=AuditAction.create,
                           detail=f"clone of task {task_id}")
    params: dict[str, tuple[Any, bool]] = {}
    for key, p in src.params.items():
        if "range" in p:
            params[key] = (f"[{p['range'][0]}, {p['range'][1]}]", True)
        elif "choices" in p:
            params[key] = ("{" + ", ".join(str(c) for c in p["choices"]) + "}", True)
        else:
            params[key] = (words_text(p["value"]) if isinstance(p["value"], list) else p["value"], False)
    task_in = TaskIn(name=name or f"{src.name} (copy)", model_id=src.model_id, dataset_id=src.dataset_id,
                     epochs=src.epochs, n_runs=src.n_runs, time_limit=src.time_limit_s, metrics=list(src.metrics),
                     eval_metric=src.eval_metric, direction=src.direction.value, score_mode=src.score_mode.value,
                     params=params, sampler=src.sampler.value, prune=src.prune, pruner=src.pruner.value,
                     rank_pruned=src.rank_pruned, warm_start_task_id=src.warm_start_task_id,
                     max_parallel=src.max_parallel, seed=src.seed, limits=dict(src.limits),
                     gpus_per_run=src.gpus_per_run)
    return create_task(session=session, task_in=task_in, actor=actor, visibility=src.visibility,
                       max_parallel_default=max_parallel_default, settings=settings)


def rerun_run(*, session: Session, actor: User, run_id: int) -> Run:
    """Queue a finished, unsuccessful run again with the same parameters (the task's owner or an admin).
    A finished task is reopened (its time limit starts again)."""
    run = get_run(session=session, run_id=run_id)
    if not access.is_visible(actor, session.get(Task, run.task_id)):
        raise NotFoundError(N_("run {run_id} does not exist"), params={"run_id": run_id})
    with audit.audited(session=session, user=actor, action=AuditAction.change, obj=(ObjectKind.task, run.task_id),
                       detail=f"rerun run {run_id}"):
        access.require(actor, Action.change, get_task(session=session, task_id=run.task_id))
        return _rerun(session=session, run=run)


def _rerun(*, session: Session, run: Run) -> Run:
    run_id = run.id
    if run.status in (RunStatus.queued, RunStatus.running):
        raise ConflictError(N_("run {run_id} is {run_status}; only a finished run can be re-run"),
                            params={"run_id": run_id, "run_status": term(run.status)})
    if run.status == RunStatus.completed:
        raise ConflictError(N_("run {run_id} completed; clone the task to train it again"), params={"run_id": run_id})
    task = get_task(session=session, task_id=run.task_id)
    if task.model_id:
        model = get_model(session=session, model_id=task.model_id)
        if model.status != DeployStatus.deployed:
            raise ConflictError(N_("model {model_id} is {model_status}; redeploy it first"),
                                params={"model_id": model.id, "model_status": term(model.status)})
    run.status = RunStatus.queued
    run.attempt += 1
    run.job_id = job_id(JobKind.run, run.id, run.attempt)
    run.reason = None
    run.score = None
    run.score_missing = False
    run.exit_code = None
    run.started_at = run.finished_at = run.heartbeat_at = None
    # A search trial's result is final in Optuna; the re-run is a plain repeat of its values.
    run.trial_number = None
    session.exec(MetricPoint.__table__.delete().where(MetricPoint.run_id == run.id))
    if task.status.finished:
        task.status = TaskStatus.running
        task.stop_requested = False
        task.finished_at = None
        task.reason = None
        task.started_at = utcnow()
        limit = clamp_time_limit(task.time_limit_s, get_settings())
        task.deadline = task.started_at + timedelta(seconds=limit) if limit else None
        session.add(task)
    session.add(run)
    session.commit()
    session.refresh(run)
    return run
