"""A task's framework arguments against the package: required arguments given, config files present.
Split from ``tasks`` (its size) and used only by ``validate_task``."""

from __future__ import annotations

from typing import Any

from shared.contract.argspec import ArgSpec
from shared.contract.configs import check_config_value
from shared.core.errors import FieldError
from shared.records import ModelPackage
from shared.services.models import config_choices, config_files


def check_required(user: list[ArgSpec], params: dict[str, dict[str, Any]], model: ModelPackage) -> None:
    """argparse would stop the run at once without these: say so at the argument's field instead."""
    for spec in user:
        if not spec.required or spec.name in params:
            continue
        what = "the positional argument" if spec.positional else "the required argument"
        hint = ""
        if spec.name in config_choices(model):
            files = config_choices(model)[spec.name]
            hint = f"; pick one of the package's config files: {', '.join(files[:12])}" if files else \
                "; the package has no configs/ folder to pick a config file from"
        raise FieldError(spec.name, f"train.py requires {what} {spec.flags[0]!r}: give it a value{hint}")


def check_config_files(params: dict[str, dict[str, Any]], model: ModelPackage) -> None:
    """A config parameter's file must be in the package (it runs from a copy of it)."""
    wanted = config_choices(model)
    files = config_files(model)
    for name, setting in params.items():
        if name not in wanted:
            continue
        if "value" in setting and setting["value"] not in (None, ""):
            setting["value"] = check_config_value(setting["value"], files, field=name)
        elif "choices" in setting:
            setting["choices"] = [check_config_value(v, files, field=name) for v in setting["choices"]]
