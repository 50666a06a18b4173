"""Building an environment: the lock dance that makes concurrent deploys build
once, the uv steps, the sandboxed install script, and the markers written
last so that a half-built env is never taken for a finished one."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from runner.envs.keys import env_key, local_inputs, normalise
from runner.envs.layout import (
    COMPLETE_MARKER,
    CONSTRAINTS_FILE,
    FREEZE_FILE,
    INSTALL_LOG,
    REQUIREMENTS_FILE,
    EnvResult,
    LogFn,
    env_python,
    flock,
    is_complete,
    remove_env,
    remove_tree,
    reuse,
    state_dir,
    touch,
)
from runner.envs.seal import EnvRefused, check_env, interpreter_fingerprint, lock_down
from runner.envs.source_builds import needs_build
from runner.envs.uv import Builder, StepFailed, find_uv
from runner.execute.explain import network_hint
from runner.safefs import write_new
from shared.contract.names import INSTALL_SCRIPT
from shared.core.errors import EnvBuildError, TrainyardError
from shared.core.i18n import N_
from shared.core.settings import Settings


def _relative(settings: Settings, path: Path) -> str:
    try:
        return str(path.relative_to(settings.data_dir))
    except ValueError:
        return str(path)


# A failed build's message is several lines, and a page reads the stored reason back one line at a time
# (shared.core.relocalize): these are its first and last lines as templates of their own.
READ_BACK = (N_("Building the environment failed: {headline}."),
             N_("Building the environment failed: {headline}. {hint}"), N_("(full log: {log})"))


def _index_hint(exc: StepFailed) -> str:
    """A uv step that failed for want of network. (The install script's own
    failure already carries its hint: it comes from the sandboxed run's explanation.)"""
    if exc.headline.startswith(INSTALL_SCRIPT) or network_hint("\n".join(exc.lines), network=True) is None:
        return ""
    return " " + N_("The package index could not be reached from the worker: ask an admin to check the worker's "
                    "network and TRAINYARD_INDEX_URL, or ship the wheels in the package (e.g. a wheels/ folder) and "
                    "add {option} to requirements.txt.").format(option="`--find-links wheels`")


def ensure_env(*, settings: Settings, requirements: list[str], constraints: Iterable[str] = (),
               options: Iterable[str] = (), install_script: Path | None = None, package_dir: Path | None = None,
               log: LogFn | None = None, run_install_script: Callable[..., None] | None = None,
               run_source_build: Callable[..., list[str]] | None = None) -> EnvResult:
    """Return the environment for these inputs, building it only if no complete one exists.

    This module never runs user code itself: the host's uv installs wheels only
    (``--no-build``), and both callbacks run in the sandbox, for at most
    ``timeout_s`` seconds (what is left of the build's time limit):

    * ``run_install_script(script=Path, env_path=Path, log=LogFn, timeout_s=float)``
      runs ``bash install_dependencies.sh <env as the sandbox sees it>``;
    * ``run_source_build(env_path=Path, requirements=Path, constraints=Path | None,
      options=list[str], package_dir=Path | None, log=LogFn, timeout_s=float)`` runs
      the same ``uv pip install`` with builds allowed, when a requirement is only a
      source distribution, and returns what uv says it built.
    """
    requirements, constraints, options = list(requirements), list(constraints), list(options)
    emit: LogFn = log or (lambda _line: None)
    if install_script is not None and run_install_script is None:
        raise EnvBuildError(N_("{name} needs the sandbox to run, and no sandbox runner was given to the "
                               "environment builder."),
                            params={"name": Path(install_script).name})
    script_text = Path(install_script).read_text(encoding="utf-8", errors="replace") if install_script else None
    key = env_key(python=settings.env_python, requirements=requirements, constraints=constraints, options=options,
                  install_script=script_text, settings=settings,
                  local_inputs=local_inputs(requirements, options, package_dir))
    envs = settings.data_dir / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    path = envs / key
    lock = envs / f"{key}.lock"

    # Shared lock: eviction (exclusive, non-blocking) cannot delete it under us.
    with flock(lock, fcntl.LOCK_SH):
        if is_complete(path):
            return reuse(key, path, emit)
    with flock(lock, fcntl.LOCK_EX,
                on_wait=lambda: emit(f"Waiting for another build of environment {key} to finish...")):
        if is_complete(path):  # the other builder finished it while we waited
            return reuse(key, path, emit)
        return _build(settings=settings, key=key, path=path, requirements=requirements, constraints=constraints,
                      options=options, install_script=install_script, package_dir=package_dir, emit=emit,
                      run_install_script=run_install_script, run_source_build=run_source_build)


def _build(*, settings: Settings, key: str, path: Path, requirements: list[str], constraints: list[str],
           options: list[str], install_script: Path | None, package_dir: Path | None, emit: LogFn,
           run_install_script: Callable[..., None] | None,
           run_source_build: Callable[..., list[str]] | None) -> EnvResult:
    envs = path.parent
    uv = find_uv()
    building_log = envs / f".building-{key}.log"
    state = state_dir(path)
    if path.exists() or path.is_symlink():
        emit(f"Removing an incomplete environment {key} left by an interrupted build.")
        remove_tree(path)
    remove_tree(state)
    state.mkdir(parents=True, mode=0o755)
    Path(settings.uv_cache_dir).mkdir(parents=True, exist_ok=True)
    cwd = Path(package_dir) if package_dir else envs
    with open(building_log, "w", encoding="utf-8") as fh:
        b = Builder(settings=settings, key=key, path=path, emit=emit, log_file=fh, uv=uv)
        try:
            b.emit(f"Building environment {key} with {settings.env_python} "
                   f"(uv index strategy: {settings.index_strategy.value}, TRAINYARD_INDEX_STRATEGY)")
            # Relocatable: runs and install scripts see the env at a fixed path (ENV_MOUNT), not
            # at this one, so its scripts (pip, torchrun) must not name the host path.
            b.run(["venv", "--no-config", "--relocatable", "--python", settings.env_python, str(path)], cwd=envs,
                  what="uv venv")
            req_lines = normalise(options) + normalise(requirements)
            if install_script is not None and not any(re.match(r"^pip\b", r) for r in normalise(requirements)):
                req_lines.append("pip")  # install_dependencies.sh calls ${1}/bin/pip
            write_new(state, REQUIREMENTS_FILE, ("\n".join(req_lines) + "\n").encode())
            install = ["pip", "install", "--no-config", "--python", str(env_python(path)),
                       *b.index_args(options)]
            if install_script is not None:
                # The script writes into the env from the sandbox; hardlinked files would let it
                # change the uv cache and every other env sharing those inodes. Copies are private.
                install += ["--link-mode", "copy"]
            if constraints:
                write_new(state, CONSTRAINTS_FILE, ("\n".join(normalise(constraints)) + "\n").encode())
                install += ["-c", str(state / CONSTRAINTS_FILE)]
            if req_lines:
                _install(b, install, state=state, cwd=cwd, options=options, package_dir=package_dir,
                         constraints=bool(constraints), run_source_build=run_source_build)
            if install_script is not None:
                assert run_install_script is not None
                name = Path(install_script).name
                _in_sandbox(path, name, N_("install packages with {pip} instead").format(pip="${1}/bin/pip"),
                            lambda: run_install_script(script=Path(install_script), env_path=path, log=b.emit,
                                                       timeout_s=b.remaining()))
            _seal(settings, path, script_name=Path(install_script).name if install_script else None)
            freeze = b.freeze()
            b.emit(f"Environment {key} is ready: {len(freeze)} packages.")
        except BaseException as exc:
            fh.flush()
            try:
                remove_env(path)
            except OSError as rm_exc:  # still incomplete (no marker): the next build clears it
                b.emit(f"Could not remove the failed environment {path}: {rm_exc}")
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            failed_log = envs / f"failed-{key}-{stamp}.log"
            with contextlib.suppress(OSError):
                os.replace(building_log, failed_log)
            if isinstance(exc, StepFailed):
                body = "\n".join(exc.lines)
                # The headline and lines are the installer's own words (uv's resolver, pip, bash).
                params = {"headline": exc.headline, "hint": _index_hint(exc), "body": body,
                          "log": _relative(settings, failed_log)}
                if body:
                    raise EnvBuildError(N_("Building the environment failed: {headline}.{hint}\n{body}\n"
                                           "(full log: {log})"), params=params) from None
                raise EnvBuildError(N_("Building the environment failed: {headline}.{hint}\n(full log: {log})"),
                                    params=params) from None
            if isinstance(exc, Exception):
                raise EnvBuildError(N_("Building the environment failed: {exc} (full log: {log})"),
                                    params={"exc": exc, "log": _relative(settings, failed_log)}) from exc
            raise
    write_new(state, FREEZE_FILE, ("\n".join(freeze) + ("\n" if freeze else "")).encode())
    os.replace(building_log, state / INSTALL_LOG)
    touch(path)
    write_new(state, COMPLETE_MARKER, (json.dumps({"key": key, "built_at": time.time()}) + "\n").encode())
    return EnvResult(key=key, path=path, built=True, log_path=state / INSTALL_LOG, freeze=freeze)


def _install(b: Builder, install: list[str], *, state: Path, cwd: Path, options: list[str],
             package_dir: Path | None, constraints: bool, run_source_build: Callable[..., list[str]] | None) -> None:
    """Wheels on the host; what must be built, in the sandbox.

    Installing a wheel runs none of its code, so the host's uv (root, full network)
    installs with ``--no-build``. When uv says something must be built from source,
    nothing was installed yet (uv installs only once everything is prepared), and
    the whole install runs again in the sandbox with builds allowed.
    """
    try:
        b.run([*install, "--no-build", "-r", str(state / REQUIREMENTS_FILE)], cwd=cwd, what="uv pip install")
        return
    except StepFailed as exc:
        names = needs_build(exc.lines)
        if names is None:
            raise
    what = ", ".join(names) if names else N_("a requirement (a local source directory or archive)")
    if run_source_build is None:
        raise StepFailed(N_("{what} has no wheel and must be built from source, which runs the package's own "
                            "code; that needs the sandbox and no sandbox runner was given to the environment "
                            "builder").format(what=what), [])
    b.emit(f"[trainyard] {what} must be built from source: installing again inside the sandbox (its own uid, "
           "limits and network through the egress proxy), never on the host")
    built: list[str] = []

    def step() -> None:
        built.extend(run_source_build(env_path=b.path, requirements=state / REQUIREMENTS_FILE,
                                      constraints=state / CONSTRAINTS_FILE if constraints else None,
                                      options=options, package_dir=package_dir, log=b.emit,
                                      timeout_s=b.remaining()))

    _in_sandbox(b.path, N_("building {what} from source").format(what=what),
                N_("build no interpreter into the package"), step)
    b.emit("[trainyard] built in the sandbox: " + (", ".join(built) if built else "nothing (uv built no package)"))


def _in_sandbox(path: Path, what: str, fix: str, step: Callable[[], object]) -> None:
    """Run one sandboxed step that writes into the env; it may not swap the interpreter."""
    before = interpreter_fingerprint(path)
    try:
        step()
    except TrainyardError as exc:
        raise StepFailed(N_("{step} failed").format(step=what), str(exc).splitlines()) from exc
    after = interpreter_fingerprint(path)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        raise StepFailed(N_("{step} changed the environment's interpreter ({files}); {fix}").format(
            step=what, files=", ".join(changed), fix=fix), [])


def _seal(settings: Settings, path: Path, *, script_name: str | None) -> None:
    """Refuse what no run may be given, then make the env root's and read-only."""
    python = settings.env_python
    interpreters = {os.path.realpath(python), os.path.realpath(shutil.which(python) or python)}
    try:
        check_env(path, interpreters=interpreters)
    except EnvRefused as exc:
        if script_name:
            said = N_("{script} left files that no run may be given (a setuid or setgid file, a device node, or a "
                      "link out of the environment); remove them from the script").format(script=script_name)
        else:
            said = N_("The environment holds files that no run may be given (a setuid or setgid file, a device "
                      "node, or a link out of the environment); remove them from the script")
        raise StepFailed(said, [f"{p}" for p in exc.problems]) from None
    lock_down(path)

