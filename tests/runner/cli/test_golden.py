"""Every command's output compared with what the argparse CLI printed
(``golden.json``): JSON keys and values, text lines, exit codes, stderr."""

from __future__ import annotations

import json
import os

import pytest

from tests.runner.cli.golden import GOLDEN, examples_flow, readme_flow
from tests.support.procs import start_worker, stop_worker


def invoke(argv: list[str]) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from runner.cli import PROG, cli

    result = CliRunner().invoke(cli, argv, prog_name=PROG, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _check(name: str, got: list) -> None:
    if os.environ.get("TRAINYARD_RECORD_CLI_GOLDEN"):
        data = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        data[name] = got
        GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        pytest.skip("recorded")
    want = json.loads(GOLDEN.read_text())[name]
    assert [s["argv"] for s in got] == [s["argv"] for s in want]
    for g, w in zip(got, want, strict=True):
        assert g == w, g["argv"]


@pytest.mark.slow
def test_readme_flow_prints_what_it_always_printed(settings, tmp_path):
    worker = start_worker(settings)
    try:
        got = readme_flow(invoke, tmp_path)
    finally:
        stop_worker(worker)
    _check("readme", got)


def test_examples_print_what_they_always_printed(settings, tmp_path):
    _check("examples", examples_flow(invoke, tmp_path))
