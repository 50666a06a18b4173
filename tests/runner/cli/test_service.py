"""``predict`` refusals, ``reconcile``, ``worker`` and ``examples`` usage
through click; and ``python -m runner`` as a process: exit codes 0/1/2,
settings read only after parsing, Redis checked before anything is stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.paths import ROOT
from tests.support.pkgs import write_package


def test_predict_refuses_missing_images_and_missing_options(cli, tmp_path):
    r = cli("predict", "--task", "1", "--images", str(tmp_path / "none"), "--json")
    assert r.code == 1 and r.error == {"error": f"--images {tmp_path / 'none'}: no such file or folder", "field": None}
    r = cli("predict", "--images", str(tmp_path))
    assert r.code == 2 and "--task" in r.stderr


def test_reconcile_prints_its_counts(cli):
    r = cli("reconcile", "--json")
    assert r.code == 0 and r.data == {"lost": 0, "requeued": 0, "reenqueued": 0, "tasks": 0}
    assert cli("reconcile").stdout == r.stdout


def test_worker_gpus_and_cpu_exclude_each_other_and_examples_take_a_known_kind(cli):
    r = cli("worker", "--cpu", "--gpus", "0")
    assert r.code == 2 and "--cpu: not allowed with --gpus" in r.stderr
    r = cli("examples", "segmentation")
    assert r.code == 2 and "'segmentation' is not one of" in r.stderr


def _runner(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runner", *argv], cwd=ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=120)


def test_python_m_runner_exit_codes(settings):
    ok = _runner("dataset", "list", "--json")
    assert (ok.returncode, json.loads(ok.stdout), ok.stderr) == (0, [], "")
    missing = _runner("task", "show", "7", "--json")
    assert missing.returncode == 1 and missing.stdout == ""
    assert json.loads(missing.stderr) == {"error": "task 7 does not exist", "field": None}
    usage = _runner("task", "shows", "7")
    assert usage.returncode == 2 and "No such command 'shows'" in usage.stderr
    helped = _runner("-h")
    assert helped.returncode == 0
    assert all(noun in helped.stdout for noun in ("dataset", "model", "task", "predict", "up", "worker", "redis",
                                                   "reconcile", "examples"))


def test_invalid_settings_exit_2_but_help_still_works(settings):
    bad = {"TRAINYARD_MAX_PARALLEL_RUNS": "many"}
    r = _runner("dataset", "list", env=bad)
    assert r.returncode == 2 and r.stderr.startswith("error: invalid settings:") and "max_parallel_runs" in r.stderr
    assert _runner("dataset", "list", "--help", env=bad).returncode == 0


def test_unreachable_redis_is_refused_before_the_model_is_stored(cli, settings, tmp_path, monkeypatch):
    from shared.core.settings import get_settings

    monkeypatch.setenv("TRAINYARD_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    r = cli("model", "add", str(write_package(tmp_path / "m.zip")), "--json")
    assert r.code == 1 and "is not reachable" in r.error["error"] and "python -m runner up" in r.error["error"]
    assert cli("model", "list", "--json").data == []


def test_main_returns_the_exit_code_in_process(settings, capsys):
    from runner.cli import main

    assert main(["model", "list"]) == 0
    assert capsys.readouterr().out == "no models\n"
    assert main(["model", "show", "3"]) == 1
    assert capsys.readouterr().err == "error: model 3 does not exist\n"
    assert main(["model", "show"]) == 2
