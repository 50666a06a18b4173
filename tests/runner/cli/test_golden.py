"""Every command's output compared with what the argparse CLI printed
(``golden.json``): JSON keys and values, text lines, exit codes, stderr."""

from __future__ import annotations

import contextlib
import io
import json
import os

import pytest

from tests.runner.cli.golden import GOLDEN, examples_flow, readme_flow
from tests.support.procs import start_worker, stop_worker


def invoke(argv: list[str]) -> tuple[int, str, str]:
    from runner.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


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
