"""What the job modules share: where a model's env and package are, where
user code sees a path, and the traceback tail stored for the UI."""

from __future__ import annotations

import shutil
import traceback
from pathlib import Path

from shared.core.errors import TrainyardError
from shared.core.i18n import N_
from shared.records import ModelPackage


def tail(exc: BaseException, n: int = 12) -> str:
    return "".join(traceback.format_exception(exc)[-n:])


def visible(settings, host: Path, inside: str) -> str:
    """Where user code sees a path: the sandbox's mount point, or, with the
    sandbox explicitly turned off, the host path itself."""
    return str(host) if settings.unsafe_no_sandbox else inside


def model_env(settings, model: ModelPackage) -> Path:
    env_path = settings.data_dir / "envs" / (model.env_key or "")
    if not model.env_key or not (env_path / "bin" / "python").exists():
        raise TrainyardError(N_("model {model_id}'s environment is missing; redeploy the model"),
                             params={"model_id": model.id})
    return env_path


def copy_package(settings, model: ModelPackage, dest: Path) -> None:
    """User code always runs from a copy: substitution never touches the upload."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(settings.path(model.path), dest, ignore=shutil.ignore_patterns("deploy.log", "__pycache__"))
