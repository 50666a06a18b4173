"""``cli(*argv)``: one command in-process through click's CliRunner, on the
test's settings (real Redis and DB from tests/conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def data(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error(self) -> dict[str, Any]:
        """The ``--json`` error object: the last line of stderr."""
        return json.loads(self.stderr.strip().splitlines()[-1])


@pytest.fixture
def cli(settings):
    from click.testing import CliRunner

    from runner.cli import PROG
    from runner.cli import cli as root

    def run(*argv: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        r = CliRunner().invoke(root, list(argv), prog_name=PROG, catch_exceptions=False, input=input, env=env)
        return Result(r.exit_code, r.stdout, r.stderr)

    return run
