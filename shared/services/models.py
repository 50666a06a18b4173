"""Model package service: upload (validation), listing, delete, templates.
Deploying (the env build) happens in the runner's ``deploy_model`` job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redis import Redis
from sqlmodel import Session, select

from shared.contract.archive import ArchiveLimits
from shared.contract.configs import is_config_arg, offered
from shared.contract.metric_names import MetricNames
from shared.contract.names import CONFIG_SUFFIXES
from shared.contract.package import metric_names_of, validate_package_zip
from shared.contract.params import coerce
from shared.contract.scriptargs import ScriptArgs
from shared.core.errors import ConflictError, FieldError, Msg, NotFoundError
from shared.core.i18n import N_
from shared.core.queue import enqueue_deploy, job_id, job_state
from shared.core.settings import Settings
from shared.core.storage import remove_tree, store_upload
from shared.records import (
    Action,
    AuditAction,
    DeployStatus,
    JobKind,
    ModelPackage,
    ObjectKind,
    ParamTemplate,
    Run,
    Task,
    TaskStatus,
    TaskType,
    User,
    Visibility,
    utcnow,
)
from shared.records.labels import term
from shared.services import access, audit
from shared.services.datasets import check_name, parse_task_type, parse_visibility


def add_model(*, session: Session, settings: Settings, actor: User, zip_path: Path, name: str,
              task_type: str | TaskType | None = None, network: bool = False,
              visibility: str | Visibility = Visibility.team, display_name: str | None = None,
              distributed: bool = False) -> ModelPackage:
    """Validate and store a package owned by ``actor``; the caller enqueues its deploy. Network access
    for its runs is the admins' call. ``display_name``: the zip's name as the user knows it, for the
    errors (a browser upload lands in a temp file). ``distributed``: runs start through torchrun, one
    process per GPU of the run."""
    with audit.audited(session=session, user=actor, action=AuditAction.create, obj=ModelPackage,
                       detail=f"upload {name!r}" + (" with network access" if network else "")) as note:
        access.require(actor, Action.create, ModelPackage)
        if network:
            access.require(actor, Action.allow_network)
        name = check_name(name)
        ttype = parse_task_type(task_type)
        vis = parse_visibility(visibility)

        def prepare(tmp: Path) -> tuple[ModelPackage, Path]:
            report = validate_package_zip(zip_path=Path(zip_path), dest=tmp,
                                          limits=ArchiveLimits.from_settings(settings), display_name=display_name)
            return access.stamp_owner(ModelPackage(name=name, task_type=ttype, path="", report=report.to_dict(),
                                                   network=network, distributed=distributed,
                                                   status=DeployStatus.waiting), actor, vis), tmp

        note["obj"] = model = store_upload(session=session, data_dir=settings.data_dir, kind="models",
                                           prepare=prepare)
    return model


def get_model(*, session: Session, model_id: int, actor: User | None = None) -> ModelPackage:
    """The model; with ``actor`` (pages, the CLI) one they may not see answers as missing."""
    if actor is not None:
        return access.get_visible(session=session, user=actor, model=ModelPackage, obj_id=model_id)
    model = session.get(ModelPackage, model_id)
    if model is None:
        raise NotFoundError(N_("model {model_id} does not exist"), params={"model_id": model_id})
    return model


def list_models(*, session: Session, actor: User, task_type: TaskType | None = None, deployed_only: bool = False
                ) -> list[ModelPackage]:
    stmt = select(ModelPackage).where(access.visible_filter(actor, ModelPackage)).order_by(ModelPackage.id.desc())
    if task_type is not None and task_type != TaskType.other:
        # "other" datasets offer every model; typed datasets only models of the same type.
        stmt = stmt.where(ModelPackage.task_type == task_type)
    if deployed_only:
        stmt = stmt.where(ModelPackage.status == DeployStatus.deployed)
    return list(session.exec(stmt))


def train_args(model: ModelPackage) -> ScriptArgs:
    return ScriptArgs.from_dict(model.report["train_args"])


def predict_args(model: ModelPackage) -> ScriptArgs:
    return ScriptArgs.from_dict(model.report["predict_args"])


def config_files(model: ModelPackage) -> list[str]:
    """The package's config files (relative paths); older reports only have the file tree to go by."""
    report = model.report or {}
    if "config_files" in report:
        return list(report["config_files"])
    return [p for p in report.get("tree") or [] if not p.endswith("/") and p.lower().endswith(CONFIG_SUFFIXES)]


def config_choices(model: ModelPackage) -> dict[str, list[str]]:
    """User parameter name -> the config files its picker offers, for each parameter that takes one."""
    files = offered(config_files(model))
    return {a.name: files for a in train_args(model).user if is_config_arg(a)}


def queue_deploy(*, connection: Redis, model_id: int) -> str:
    """Enqueue the model's deploy (a no-op when it is already queued or running)."""
    return enqueue_deploy(model_id, connection=connection)


def redeploy_model(*, session: Session, connection: Redis, actor: User, model_id: int) -> ModelPackage:
    """Mark the model for a new deploy and enqueue it (its owner or an admin). Refused while a deploy is
    queued or running: the worker would otherwise build the same environment twice."""
    with audit.audited(session=session, user=actor, action=AuditAction.change, obj=(ObjectKind.model, model_id),
                       detail="redeploy"):
        model = get_model(session=session, model_id=model_id, actor=actor)
        access.require(actor, Action.change, model)
        return _redeploy(session=session, connection=connection, model=model)


def _redeploy(*, session: Session, connection: Redis, model: ModelPackage) -> ModelPackage:
    model_id = model.id
    wait = Msg(N_("wait until its status is deployed or failed, then redeploy"))
    if model.status == DeployStatus.waiting:
        raise ConflictError(N_("model {model_id} is already queued to deploy; {wait}"),
                            params={"model_id": model_id, "wait": wait})
    if model.status == DeployStatus.deploying:
        raise ConflictError(N_("model {model_id} is deploying now; {wait}"),
                            params={"model_id": model_id, "wait": wait})
    # The row can say deployed/failed a moment before its job ends; the job's own state settles it.
    state = job_state(job_id(JobKind.deploy, model_id), connection=connection)
    if state is not None and state.active:
        raise ConflictError(N_("model {model_id}'s deploy job is still {state}; {wait}"),
                            params={"model_id": model_id, "state": term(state), "wait": wait})
    model.status = DeployStatus.waiting
    model.reason = None
    session.add(model)
    session.commit()
    session.refresh(model)
    enqueue_deploy(model_id, connection=connection)
    return model


def delete_model(*, session: Session, settings: Settings, actor: User, model_id: int) -> None:
    with audit.audited(session=session, user=actor, action=AuditAction.delete, obj=(ObjectKind.model, model_id)):
        model = get_model(session=session, model_id=model_id, actor=actor)
        access.require(actor, Action.delete, model)
        _delete_model(session=session, settings=settings, model=model)


def _delete_model(*, session: Session, settings: Settings, model: ModelPackage) -> None:
    model_id = model.id
    used = session.exec(select(Task).where(Task.model_id == model_id)).first()
    if used is not None:
        active = used.status in (TaskStatus.waiting, TaskStatus.running)
        params = {"model_id": model_id, "task_id": used.id, "status": term(used.status)}
        if active:
            raise ConflictError(N_("model {model_id} is used by task {task_id} ({status}); stop it and delete its "
                                   "tasks first"), params=params)
        raise ConflictError(N_("model {model_id} is used by task {task_id} ({status}); delete its tasks first"),
                            params=params)
    for tpl in session.exec(select(ParamTemplate).where(ParamTemplate.model_id == model_id)):
        session.delete(tpl)
    path = settings.path(model.path) if model.path else None
    session.delete(model)
    session.commit()
    remove_tree(path)


def model_summary(model: ModelPackage) -> dict[str, Any]:
    report = model.report or {}
    ta = report.get("train_args") or {}
    pa = report.get("predict_args") or {}
    elapsed = None
    if model.deploy_started_at:
        end = model.deployed_at or utcnow()
        elapsed = (end - model.deploy_started_at).total_seconds()
    return {
        "id": model.id, "name": model.name, "task_type": model.task_type.value, "status": model.status.value,
        "reason": model.reason, "env_key": model.env_key, "network": model.network,
        "distributed": model.distributed,
        "created_at": model.created_at.isoformat(), "deploy_elapsed_s": elapsed,
        "requirements": (report.get("requirements") or {}).get("requirements", []),
        "user_parameters": ta.get("user", []), "platform_parameters": ta.get("platform", []),
        "epochs_argument": ta.get("epochs"), "device_argument": ta.get("device"),
        "globals_used": {"train.py": ta.get("globals_used", []), "predict.py": pa.get("globals_used", []),
                         **report.get("config_globals", {})},
        "launcher_parameters": ta.get("launcher", []),
        "config_choices": config_choices(model) if "train_args" in report else {},
        "config_files": offered(config_files(model)),
        "predict_parameters": {"user": pa.get("user", []), "platform": pa.get("platform", [])},
        "warnings": report.get("warnings", []) + ta.get("warnings", []),
        "install_script": report.get("has_install_script", False),
        "freeze": model.freeze,
    }


# Metric names ----------------------------------------------------------------

FOUND_IN_CODE = "found in the code"
PRINTED_BY_RUNS = "printed by earlier runs"


def code_metric_names(*, settings: Settings, model: ModelPackage) -> MetricNames:
    """The names train.py prints, read at upload; packages stored before that are read now (a parse, cheap)."""
    stored = (model.report or {}).get("metric_names")
    if stored is not None:
        return MetricNames.from_dict(stored)
    return metric_names_of(settings.path(model.path)) if model.path else MetricNames()


def printed_metric_names(*, session: Session, model_id: int, runs: int = 200) -> list[str]:
    """Names the model's latest ``runs`` runs printed: one query over the run rows' kept name lists."""
    stmt = (select(Run.metric_names).join(Task, Task.id == Run.task_id).where(Task.model_id == model_id)
            .order_by(Run.id.desc()).limit(runs))
    names: set[str] = set()
    for found in session.exec(stmt):
        names.update(found or [])
    return sorted(names)


def metric_suggestions(*, session: Session, settings: Settings, model: ModelPackage) -> dict[str, str]:
    """name -> where it was seen, the code's names first (in the order train.py prints them)."""
    out = {n: FOUND_IN_CODE for n in code_metric_names(settings=settings, model=model).names}
    for name in printed_metric_names(session=session, model_id=model.id):
        out[name] = f"{out[name]}, {PRINTED_BY_RUNS}" if name in out else PRINTED_BY_RUNS
    return out


# Parameter templates ---------------------------------------------------------

def validate_template_values(model: ModelPackage, values: dict[str, Any]) -> dict[str, Any]:
    """Typed against the model's user parameters; unknown names are refused."""
    args = train_args(model)
    by_name = {a.name: a for a in args.user}
    if args.epochs is not None:
        by_name[args.epochs.name] = args.epochs
    out: dict[str, Any] = {}
    for key, raw in values.items():
        spec = by_name.get(key) or by_name.get(key.lstrip("-"))
        if spec is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise FieldError(key, N_("train.py declares no user parameter {key!r} (known: {known})"),
                                  params={"key": key, "known": known})
        if isinstance(raw, dict):
            out[spec.name] = raw
        else:
            from shared.contract.params import parse_setting

            text = str(raw).strip()
            search = text.startswith("[") or text.startswith("{")
            out[spec.name] = parse_setting(spec, raw if not isinstance(raw, str) else text, search=search,
                                           field=spec.name) if search else coerce(spec, raw, field=spec.name)
    return out


def save_template(*, session: Session, actor: User, model_id: int, name: str, values: dict[str, Any],
                  template_id: int | None = None) -> ParamTemplate:
    """Templates belong to their model: its owner or an admin saves them."""
    model = get_model(session=session, model_id=model_id, actor=actor)
    access.require_audited(session=session, user=actor, action=Action.change, obj=model, event=AuditAction.change,
                           detail=f"save template {name!r}")
    name = check_name(name, field="template name")
    clean = validate_template_values(model, values)
    clash = session.exec(select(ParamTemplate).where(ParamTemplate.model_id == model_id,
                                                     ParamTemplate.name == name)).first()
    if clash is not None and clash.id != template_id:
        raise FieldError("template name", N_("model {model_id} already has a template named {name!r}"),
                                          params={"model_id": model_id, "name": name})
    if template_id is not None:
        tpl = session.get(ParamTemplate, template_id)
        if tpl is None or tpl.model_id != model_id:
            raise NotFoundError(N_("template {template_id} does not exist for model {model_id}"),
                                params={"template_id": template_id, "model_id": model_id})
        tpl.name, tpl.values = name, clean
    else:
        tpl = ParamTemplate(model_id=model_id, name=name, values=clean)
    session.add(tpl)
    session.commit()
    session.refresh(tpl)
    return tpl


def list_templates(*, session: Session, actor: User, model_id: int) -> list[ParamTemplate]:
    get_model(session=session, model_id=model_id, actor=actor)
    return list(session.exec(select(ParamTemplate).where(ParamTemplate.model_id == model_id)
                             .order_by(ParamTemplate.name)))


def delete_template(*, session: Session, actor: User, template_id: int) -> None:
    tpl = session.get(ParamTemplate, template_id)
    missing = NotFoundError(N_("template {template_id} does not exist"), params={"template_id": template_id})
    if tpl is None:
        raise missing
    try:
        model = get_model(session=session, model_id=tpl.model_id, actor=actor)
    except NotFoundError:
        raise missing from None
    access.require_audited(session=session, user=actor, action=Action.change, obj=model, event=AuditAction.change,
                           detail=f"delete template {tpl.name!r}")
    session.delete(tpl)
    session.commit()
