"""The CLI's output as the argparse CLI printed it (recorded before the move to
click into ``golden.json``), and the command sequence that produces it: the
README's "Try it" steps on a stdlib-only package plus the read commands and
error paths. ``invoke(argv) -> (exit_code, stdout, stderr)`` runs one command.

Re-record (only for an intended change of the output) with
``TRAINYARD_RECORD_CLI_GOLDEN=1 pytest tests/runner/cli/test_golden.py``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.pkgs import write_dataset, write_package

GOLDEN = Path(__file__).with_name("golden.json")
Invoke = Callable[[list[str]], tuple[int, str, str]]

_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d)?$")
# Values that differ between two identical runs: when, how long, the env hash (depends on the interpreter)
# and the worker that ran a run (host and pid).
_VOLATILE = {"deploy_elapsed_s", "duration_s", "env_key", "worker"}


def _norm(value: Any, tmp: str, key: str = "") -> Any:
    if key in _VOLATILE and value is not None:
        return f"<{key}>"
    if isinstance(value, dict):
        return {k: _norm(v, tmp, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v, tmp) for v in value]
    if isinstance(value, str):
        return "<time>" if _ISO.match(value) else value.replace(tmp, "<tmp>")
    return value


def _step(invoke: Invoke, tmp: Path, argv: list[str]) -> dict[str, Any]:
    code, out, err = invoke(argv)
    rec: dict[str, Any] = {"argv": " ".join(argv).replace(str(tmp), "<tmp>"), "exit": code}
    if "--json" in argv:
        rec["stdout"] = _norm(json.loads(out), str(tmp)) if out.strip() else out
        rec["stderr"] = _norm(json.loads(err), str(tmp)) if err.strip() else err
    else:
        rec["stdout"] = out.replace(str(tmp), "<tmp>")
        rec["stderr"] = err.replace(str(tmp), "<tmp>")
    return rec


def readme_flow(invoke: Invoke, tmp: Path) -> list[dict[str, Any]]:
    """Needs a running worker (``model add --wait``, ``task create --wait``)."""
    ds_zip = write_dataset(tmp / "cls.zip")
    pkg_zip = write_package(tmp / "model.zip")
    steps = [
        ["dataset", "add", str(ds_zip), "--name", "shapes", "--type", "classification", "--json"],
        ["dataset", "add", str(ds_zip), "--name", "shapes2", "--type", "classification"],
        ["dataset", "show", "1", "--json"],
        ["dataset", "list", "--json"],
        ["dataset", "list"],
        ["model", "add", str(pkg_zip), "--name", "tiny", "--type", "classification", "--wait", "--json"],
        ["model", "show", "1", "--json"],
        ["model", "list", "--json"],
        ["model", "list"],
        ["model", "templates", "1", "--set", "fast", "--value", "x=0.3", "--value", "k=7", "--json"],
        ["model", "templates", "1"],
        ["task", "create", "--name", "first", "--model", "1", "--dataset", "1", "--epochs", "3",
         "--metrics", "loss,score", "--eval-metric", "score:max", "--param", "x=0.3", "--param", "k=7",
         "--wait", "--json"],
        ["task", "show", "1", "--json"],
        ["task", "show", "1"],
        ["task", "list", "--json"],
        ["task", "list", "--status", "completed"],
        ["task", "weights", "1", "-o", str(tmp / "w.zip"), "--json"],
        # Errors: exit 1, the reason on stderr (JSON with --json), nothing on stdout.
        ["dataset", "show", "99", "--json"],
        ["dataset", "show", "99"],
        ["dataset", "add", str(tmp / "missing.zip"), "--json"],
        ["model", "templates", "1", "--set", "bad", "--value", "novalue", "--json"],
        ["model", "delete", "1", "--json"],
        ["task", "create", "--name", "bad", "--model", "1", "--dataset", "1", "--epochs", "1", "--param", "x",
         "--json"],
        ["task", "create", "--name", "bad", "--model", "9", "--dataset", "1", "--epochs", "1", "--json"],
        ["task", "weights", "99", "-o", str(tmp / "x.zip")],
    ]
    return [_step(invoke, tmp, argv) for argv in steps]


def examples_flow(invoke: Invoke, tmp: Path) -> list[dict[str, Any]]:
    """No worker: the example models stay queued for deploy."""
    return [_step(invoke, tmp, argv) for argv in (["examples", "classification", "--json"], ["examples", "detection"],
                                                  ["dataset", "list", "--json"], ["model", "list", "--json"])]
