"""``python -m runner doctor``: each check says ok or what to fix, and the command exits 1 when one fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from runner.doctor import Level, check_data_dir, run_checks
from runner.up import mark_store
from shared.core.db import get_engine
from shared.core.settings import Settings
from tests.support.paths import ROOT


def _by_name(checks):
    return {c.name: c for c in checks}


def test_a_ready_host_passes_the_platform_checks(settings):
    get_engine(settings.database_url)
    mark_store(settings)
    checks = _by_name(run_checks(settings, gpus="0,1"))
    for name in ("DATA_DIR", "interpreter", "Redis", "database", "store marker", "GPUs"):
        assert checks[name].level == Level.ok, checks[name]
    assert "schema at " in checks["database"].detail and "as the database records" in checks["store marker"].detail
    assert "0, 1" in checks["GPUs"].detail


def test_a_data_dir_the_sandbox_cannot_reach_fails_only_without_staging(base, tmp_path, monkeypatch):
    from runner.sandbox import stage

    private = base / "private"
    (private / "data").mkdir(parents=True)
    private.chmod(0o700)
    # A root worker with CAP_SYS_ADMIN mounts a run's folders for the sandbox's uid (runner/sandbox/stage.py).
    monkeypatch.setattr(stage, "available", lambda: True)
    check = check_data_dir(Settings(data_dir=private / "data"))
    assert check.level == Level.ok and "the worker mounts each run's folders for it" in check.detail, check
    monkeypatch.setattr(stage, "available", lambda: False)
    check = check_data_dir(Settings(data_dir=private / "data"))
    # base may be private itself (CI): the first folder others cannot pass is named
    first = next(p for p in [*reversed(private.parents), private] if not p.stat().st_mode & 0o001)
    assert check.level == Level.fail and f"chmod o+x {first}" in check.detail and "CAP_SYS_ADMIN" in check.detail
    missing = check_data_dir(Settings(data_dir=tmp_path / "nowhere"))
    assert missing.level == Level.fail and "does not exist" in missing.detail


def test_the_command_prints_json_and_exits_1_on_a_failed_check(settings):
    get_engine(settings.database_url)  # a schema, but `up` never marked the store
    done = subprocess.run([sys.executable, "-m", "runner", "doctor", "--json", "--gpus", "cpu"], cwd=ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert checks["store marker"]["level"] == "fail" and "records no shared store" in checks["store marker"]["detail"]
    assert checks["database"]["level"] == "ok" and checks["Redis"]["level"] == "ok"
