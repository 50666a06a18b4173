"""``python -m runner doctor``: what a host needs to run Trainyard's workers,
checked one by one, each with the fix when it fails. Nothing is changed: the
schema is read, never upgraded, and the store marker is read, never written."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from shared.core.errors import TrainyardError
from shared.core.settings import Settings, format_size

MIN_FREE_BYTES = 1024**3  # below this a run's outputs or an env build soon fail
LOW_FREE_BYTES = 20 * 1024**3


class Level(StrEnum):
    ok = "ok"
    warn = "warn"
    fail = "fail"


@dataclass
class Check:
    name: str
    level: Level
    detail: str

    def to_dict(self) -> dict:
        return {**asdict(self), "level": self.level.value}


def _others_can_enter(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that a user outside its owner and group cannot pass (None: all can).
    The sandbox runs user code as its own uid, which is neither."""
    for p in [*reversed(path.parents), path]:
        try:
            if not os.stat(p).st_mode & stat.S_IXOTH:
                return p
        except OSError:
            return p
    return None


def check_data_dir(settings: Settings) -> Check:
    d = settings.data_dir
    if not d.is_dir():
        return Check("DATA_DIR", Level.fail, f"{d} does not exist; mount the shared store there or set DATA_DIR")
    try:
        with tempfile.NamedTemporaryFile(dir=d, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("DATA_DIR", Level.fail, f"{d} is not writable by this user ({exc.strerror}); the worker writes "
                                              "runs, envs and logs there: fix the mount's permissions or owner")
    from runner.sandbox.stage import available

    blocked = _others_can_enter(d)
    if blocked is not None and available():
        return Check("DATA_DIR", Level.ok, f"{d}: writable here; behind {blocked}, which the sandbox's uid cannot "
                                            "pass, so the worker mounts each run's folders for it (as root)")
    if blocked is not None:
        return Check("DATA_DIR", Level.fail, f"the sandbox's uid cannot pass {blocked} (no execute bit for others) "
                                              "and this worker cannot mount folders for it (it needs root with "
                                              f"CAP_SYS_ADMIN); chmod o+x {blocked}, or move DATA_DIR out of a "
                                              "private folder")
    return Check("DATA_DIR", Level.ok, f"{d}: writable here, reachable by the sandbox's uid")


def check_free_space(settings: Settings) -> Check:
    try:
        free = shutil.disk_usage(settings.data_dir).free
    except OSError as exc:
        return Check("free space", Level.fail, f"cannot read the free space of {settings.data_dir}: {exc.strerror}")
    text = f"{format_size(free)} free on {settings.data_dir}"
    if free < MIN_FREE_BYTES:
        return Check("free space", Level.fail, text + f"; under {format_size(MIN_FREE_BYTES)}: free some space")
    if free < LOW_FREE_BYTES:
        return Check("free space", Level.warn, text + "; envs and weights need more: plan for more space")
    return Check("free space", Level.ok, text)


def check_interpreter(settings: Settings) -> Check:
    from runner.envs.keys import _interpreter

    try:
        real, identity = _interpreter(settings.env_python)
    except TrainyardError as exc:
        return Check("interpreter", Level.fail, str(exc))
    return Check("interpreter", Level.ok, f"{real}: {identity}")


def check_bwrap(settings: Settings) -> Check:
    if settings.unsafe_no_sandbox:
        return Check("sandbox", Level.warn, "TRAINYARD_UNSAFE_NO_SANDBOX is on: user code runs unconfined")
    from runner.sandbox import check_sandbox

    try:
        return Check("sandbox", Level.ok, f"bubblewrap at {check_sandbox(settings=settings)} starts a sandbox")
    except TrainyardError as exc:
        return Check("sandbox", Level.fail, str(exc))


def check_gpus(settings: Settings, gpus: str | None = None) -> Check:
    from runner.gpus import describe_gpus, detect_gpus

    try:
        found = detect_gpus(setting=gpus if gpus is not None else settings.gpus)
    except TrainyardError as exc:
        return Check("GPUs", Level.fail, str(exc))
    if not found:
        return Check("GPUs", Level.ok, "none: a CPU worker (runs asking for more than one GPU never come here)")
    info = describe_gpus(found)
    names = ", ".join(f"{g} ({info[g]['name']})" if g in info else g for g in found)
    try:
        settings.gpu_lock_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.gpu_lock_dir, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("GPUs", Level.fail, f"{names}; but the GPU lock folder {settings.gpu_lock_dir} is not writable "
                                          f"({exc.strerror}): set TRAINYARD_GPU_LOCK_DIR to a host-local folder")
    return Check("GPUs", Level.ok, f"{names}; shared by this host's workers through {settings.gpu_lock_dir}")


def check_redis(settings: Settings) -> Check:
    from runner import join, redis_server

    if settings.embedded_redis:
        ok = redis_server.ping(settings)
        return Check("Redis", Level.ok if ok else Level.fail,
                     f"embedded at {settings.redis_socket}" + ("" if ok else " does not answer: start `python -m "
                                                               "runner up`, or set REDIS_URL on a worker host"))
    try:
        join.check_redis(settings)
    except TrainyardError as exc:
        return Check("Redis", Level.fail, str(exc))
    return Check("Redis", Level.ok, f"{join.redacted(settings.redis_url)} answers")


def check_database(settings: Settings) -> Check:
    from runner import join

    try:
        at = join.check_schema(settings)
    except TrainyardError as exc:
        return Check("database", Level.fail, str(exc))
    return Check("database", Level.ok, f"schema at {at}, as this code expects")


def check_store(settings: Settings) -> Check:
    from sqlmodel import Session

    from shared.core.db import make_engine
    from shared.services.store import check_store as check

    engine = make_engine(settings.database_url)  # not get_engine: the doctor never upgrades the schema
    try:
        with Session(engine) as s:
            store = check(session=s, data_dir=settings.data_dir)
    except TrainyardError as exc:
        return Check("store marker", Level.fail, str(exc))
    except Exception as exc:  # noqa: BLE001 - no schema or no database: said by the database line
        return Check("store marker", Level.fail, f"cannot read the store id from the database ({type(exc).__name__})")
    finally:
        engine.dispose()
    return Check("store marker", Level.ok, f"DATA_DIR is store {store}, as the database records")


CHECKS: tuple[Callable[[Settings], Check], ...] = (
    check_data_dir, check_free_space, check_interpreter, check_bwrap, check_gpus, check_redis, check_database,
    check_store,
)


def run_checks(settings: Settings, *, gpus: str | None = None) -> list[Check]:
    out = []
    for fn in CHECKS:
        try:
            out.append(fn(settings, gpus) if fn is check_gpus else fn(settings))
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            out.append(Check(fn.__name__.removeprefix("check_"), Level.fail, f"the check itself failed: {exc!r}"))
    return out


def table(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    return "\n".join(f"{c.level.value.upper():<5} {c.name:<{width}}  {c.detail}" for c in checks)
