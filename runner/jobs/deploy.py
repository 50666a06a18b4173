"""The ``deploy`` queue's job: build (or reuse) a model's environment and
record the outcome on the model's row. A model that is already deployed, or
is being deployed by a live job, is left alone."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from sqlmodel import Session

from runner import context
from runner.envs import EnvResult, ensure_env, evict_envs
from runner.envs.layout import remove_tree, state_dir
from runner.execute import KillReason, execute
from runner.jobs.common import tail
from runner.sandbox import Limits, Mount, SandboxSpec
from shared.contract.names import INSTALL_SCRIPT
from shared.core.errors import EnvBuildError, TrainyardError
from shared.core.i18n import N_
from shared.core.settings import Settings
from shared.records import DeployStatus, ModelPackage, Task, TaskStatus, utcnow

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _deploy_claim(settings: Settings, model_id: int) -> Iterator[bool]:
    """Yield whether this job holds the model's deploy lock, for the whole build.

    The kernel drops an flock when its holder dies, so a model left
    ``deploying`` by a killed worker has no holder and is built again, while a
    live build (another worker, or another thread here) keeps its claim.
    """
    locks = settings.data_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    fd = os.open(locks / f"deploy-model-{model_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def deploy_model(model_id: int) -> None:
    ctx = context.current()
    settings = ctx.settings
    with _deploy_claim(settings, model_id) as claimed, Session(ctx.engine, expire_on_commit=False) as session:
        model = session.get(ModelPackage, model_id)
        if model is None:
            return
        # A duplicate job (re-enqueued by the reconciler, or a second click)
        # must neither rebuild a finished env nor overwrite a live build's log.
        if model.status == DeployStatus.deployed:
            logger.info("model %s is already deployed; this deploy job builds nothing", model_id)
            return
        if not claimed:
            logger.info("model %s is being deployed by another job; this deploy job builds nothing", model_id)
            return
        if model.status == DeployStatus.deploying:
            logger.warning("model %s was left deploying by a job that is gone; building it again", model_id)
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
        with open(log_path, "w", encoding="utf-8", errors="replace") as log_file:
            def note(line: str) -> None:
                log_file.write(line.rstrip("\n") + "\n")
                log_file.flush()

            # Any worker may take a deploy: the log says where it ran (the env is built for that host's
            # interpreter; a host with another one builds its own when a run lands there).
            note(f"[trainyard] deploying on host {settings.host_name} (worker {ctx.name}), "
                 f"interpreter {settings.env_python}")
            try:
                result = _ensure_model_env(settings, model, note)
                note(f"[trainyard] environment {result.key} " + ("built" if result.built else "reused from cache"))
                if result.built:
                    evicted = evict_envs(settings=settings, in_use=_envs_in_use(session), keep={result.key},
                                         log=note)
                    if evicted:
                        note(f"[trainyard] env cache over its size limit: evicted {', '.join(evicted)}")
                model.env_key = result.key
                model.freeze = result.freeze
                model.status = DeployStatus.deployed
                model.deployed_at = utcnow()
            except TrainyardError as exc:
                note(f"[trainyard] deploy failed: {exc}")
                model.status = DeployStatus.failed
                model.reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - recorded on the row, never lost
                note(tail(exc))
                model.status = DeployStatus.failed
                model.reason = f"internal error during deploy: {exc!r}\n{tail(exc)}"
        session.add(model)
        session.commit()


def _ensure_model_env(settings: Settings, model: ModelPackage, log) -> EnvResult:
    """The model's env for this host's interpreter, built (once, under the env's lock) when none is complete."""
    reqs = (model.report or {}).get("requirements") or {}
    pkg_dir = settings.path(model.path)
    script = pkg_dir / INSTALL_SCRIPT
    return ensure_env(settings=settings, requirements=reqs.get("requirements", []),
                      constraints=reqs.get("constraints", []), options=reqs.get("options", []),
                      install_script=script if script.is_file() else None, package_dir=pkg_dir, log=log,
                      run_install_script=_run_install_script)


def host_env(model: ModelPackage) -> Path:
    """Where a run or a prediction on this host finds the model's env.

    The env key holds the interpreter's version and platform tag, so the env the deploy built fits the hosts
    whose interpreter matches the deploying host's; it is found at once on the shared store. A host with
    another interpreter builds its own env there, under the same lock (two such hosts build it once), and
    adds a note naming itself to the model's deploy log."""
    ctx = context.current()
    settings = ctx.settings
    if not model.env_key:
        raise TrainyardError(f"model {model.id}'s environment is missing; redeploy the model")
    lines: list[str] = []
    result = _ensure_model_env(settings, model, lines.append)
    if result.built:
        log_path = settings.path(model.install_log or f"{model.path}/deploy.log")
        with contextlib.suppress(OSError), open(log_path, "a", encoding="utf-8", errors="replace") as fh:
            fh.write(f"[trainyard] host {settings.host_name} (worker {ctx.name}) had no environment for its "
                     f"interpreter {settings.env_python}; built {result.key} for it:\n")
            fh.writelines(line.rstrip("\n") + "\n" for line in lines)
    return result.path


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


def install_uid(settings: Settings, env_path: Path) -> int:
    """The uid an env's install script runs as: its own (by key, apart from the runs'),
    so that the process limit (RLIMIT_NPROC counts per uid) is the script's alone."""
    return settings.sandbox_uid_base + 20000 + int(env_path.name[:8], 16) % 10000


def _run_install_script(*, script: Path, env_path: Path, log, timeout_s: float) -> None:
    """``bash install_dependencies.sh <env>`` in the sandbox, exactly like a run: its own
    uid, the run limits (the env counted in the disk and file limits), network only
    through the egress proxy, without secrets. The env is its only writable mount."""
    ctx = context.current()
    settings = ctx.settings
    work = env_path.parent / f".install-{env_path.name}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(script.parent, work, ignore=shutil.ignore_patterns("weights"))
    limits = Limits.from_settings(settings)
    spec = SandboxSpec(argv=["bash", INSTALL_SCRIPT, str(env_path)], workdir=work,
                       mounts=[Mount(host=env_path, inside=str(env_path), writable=True)],
                       network=True, limits=limits, uid=install_uid(settings, env_path),
                       env={"VIRTUAL_ENV": str(env_path)}, install=True)
    deadline = time.monotonic() + timeout_s

    def over_time() -> tuple[KillReason, str] | None:
        if time.monotonic() < deadline:
            return None
        return (KillReason.time_limit, f"the environment build's time limit ({settings.env_build_timeout_s} s) was "
                "reached (raise TRAINYARD_ENV_BUILD_TIMEOUT_S if large downloads are expected)")

    try:
        outcome = execute(spec=spec, settings=settings, log_path=state_dir(env_path) / "install-script.log",
                          on_line=lambda _s, text: log(f"[install_dependencies.sh] {text}"), check=over_time)
    finally:
        remove_tree(work)
    if not outcome.ok:
        raise EnvBuildError(N_("install_dependencies.sh failed: {reason}"), params={"reason": outcome.reason})
