"""The ``deploy`` queue's job: build (or reuse) a model's environment and
record the outcome on the model's row. A model that is already deployed, or
is being deployed by a live job, is left alone."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from sqlmodel import Session

from runner import context
from runner.envs import EnvResult, ensure_env, evict_envs, find_uv
from runner.envs.layout import remove_tree, state_dir
from runner.envs.source_builds import (
    CONSTRAINTS_INSIDE,
    PRIVATE_CACHE,
    REQUIREMENTS_INSIDE,
    UV_INSIDE,
    built_by,
    sandbox_install_argv,
)
from runner.execute import KillReason, execute
from runner.flocks import try_flock
from runner.jobs.common import tail, visible
from runner.sandbox import ENV_MOUNT, WORKSPACE, Limits, Mount, SandboxSpec
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
    fd = try_flock(locks / f"deploy-model-{model_id}.lock")
    if fd is None:
        yield False
        return
    try:
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
                model.reason = N_("internal error during deploy: {error}").format(error=repr(exc)) + f"\n{tail(exc)}"
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
                      run_install_script=_run_install_script, run_source_build=_run_source_build)


def host_env(model: ModelPackage) -> Path:
    """Where a run or a prediction on this host finds the model's env.

    The env key holds the interpreter's version and platform tag, so the env the deploy built fits the hosts
    whose interpreter matches the deploying host's; it is found at once on the shared store. A host with
    another interpreter builds its own env there, under the same lock (two such hosts build it once), and
    adds a note naming itself to the model's deploy log."""
    ctx = context.current()
    settings = ctx.settings
    if not model.env_key:
        raise TrainyardError(N_("model {id}'s environment is missing; redeploy the model"), params={"id": model.id})
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
    through the egress proxy, without secrets. The env is its only writable mount, at
    the fixed path runs see it at, which is also the script's ``$1``."""
    settings = context.current().settings
    env_at = visible(settings, env_path, ENV_MOUNT)
    log(f"$ bash {INSTALL_SCRIPT} {env_at}")
    _in_sandbox(settings=settings, env_path=env_path, package_dir=script.parent, argv=["bash", INSTALL_SCRIPT, env_at],
                log=log, prefix=f"[{INSTALL_SCRIPT}] ", log_name="install-script.log", timeout_s=timeout_s,
                what=INSTALL_SCRIPT)


def _run_source_build(*, env_path: Path, requirements: Path, constraints: Path | None, options: list[str],
                      package_dir: Path | None, log, timeout_s: float) -> list[str]:
    """The host's ``uv pip install`` again, in the sandbox, with builds allowed: a package's
    build code (setup.py, a build backend) is user code. Same uid, limits and egress as the
    install script; the uv binary, the requirement and constraint files and local indexes
    are bound read-only; uv's cache is private to this build (in its work dir), so nothing
    it builds reaches the shared cache or another env. Returns what uv says it built."""
    settings = context.current().settings
    at = functools.partial(visible, settings)
    mounts = [Mount(host=_uv_copy(env_path), inside=UV_INSIDE),
              Mount(host=requirements, inside=REQUIREMENTS_INSIDE)]
    if constraints is not None:
        mounts.append(Mount(host=constraints, inside=CONSTRAINTS_INSIDE))
    argv = sandbox_install_argv(
        settings=settings, options=options, uv=at(mounts[0].host, UV_INSIDE), env=at(env_path, ENV_MOUNT),
        requirements=at(requirements, REQUIREMENTS_INSIDE),
        constraints=at(constraints, CONSTRAINTS_INSIDE) if constraints is not None else None,
        cache_dir=f"{at(_work_dir(env_path), WORKSPACE)}/{PRIVATE_CACHE}")
    log("$ " + " ".join(argv) + "  (in the sandbox)")
    built: list[str] = []

    def seen(line: str) -> None:
        log(line)
        if what := built_by(line.removeprefix("[uv] ")):
            built.append(what)

    _in_sandbox(settings=settings, env_path=env_path, package_dir=package_dir, argv=argv, log=seen, prefix="[uv] ",
                log_name="source-build.log", timeout_s=timeout_s, what=N_("building from source"), mounts=mounts,
                env={"NO_COLOR": "1", "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never"})
    return built


def _uv_copy(env_path: Path) -> Path:
    """uv for the sandbox: a copy beside the build (the one in the platform's .venv may sit in a home the
    sandbox's uid cannot enter), readable and runnable by that uid, removed with the build's state."""
    dest = state_dir(env_path) / "uv"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(find_uv()), dest)
        dest.chmod(0o755)
    return dest


def _work_dir(env_path: Path) -> Path:
    return env_path.parent / f".install-{env_path.name}"


def _in_sandbox(*, settings: Settings, env_path: Path, package_dir: Path | None, argv: list[str], log, prefix: str,
                log_name: str, timeout_s: float, what: str, mounts: Sequence[Mount] = (),
                env: dict[str, str] | None = None) -> None:
    """One install step in the sandbox, in a throwaway copy of the package (relative paths in
    requirements.txt and the script's own files resolve as in the upload; weights stay out)."""
    work = _work_dir(env_path)
    shutil.rmtree(work, ignore_errors=True)
    if package_dir is not None:
        shutil.copytree(package_dir, work, ignore=shutil.ignore_patterns("weights", "deploy.log"))
    else:
        work.mkdir()
    spec = SandboxSpec(argv=argv, workdir=work,
                       mounts=[Mount(host=env_path, inside=ENV_MOUNT, writable=True), *mounts],
                       network=True, limits=Limits.from_settings(settings), uid=install_uid(settings, env_path),
                       env={"VIRTUAL_ENV": visible(settings, env_path, ENV_MOUNT), **(env or {})}, install=True)
    deadline = time.monotonic() + timeout_s

    def over_time() -> tuple[KillReason, str] | None:
        if time.monotonic() < deadline:
            return None
        return (KillReason.time_limit, N_("the environment build's time limit ({seconds} s) was reached (raise "
                                          "TRAINYARD_ENV_BUILD_TIMEOUT_S if large downloads are expected)").format(
                                              seconds=settings.env_build_timeout_s))

    try:
        outcome = execute(spec=spec, settings=settings, log_path=state_dir(env_path) / log_name,
                          on_line=lambda _s, text: log(f"{prefix}{text}"), check=over_time)
    finally:
        remove_tree(work)
    if not outcome.ok:
        raise EnvBuildError(N_("{what} failed: {reason}"), params={"what": what, "reason": outcome.reason})
