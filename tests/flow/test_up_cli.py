"""The README's promise, end to end on embedded defaults: `runner up` (embedded
Redis, SQLite, one worker), then dataset add -> model add --wait -> task create
--wait -> task show --json, with the real example package; then SIGTERM stops
every child by PID."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from tests.support.paths import ROOT, UV_CACHE


def _cli(env, *args, timeout=600):
    proc = subprocess.run([sys.executable, "-m", "runner", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}: {proc.stderr}"
    return json.loads(proc.stdout) if "--json" in args else proc.stdout


@pytest.mark.slow
def test_up_then_cli_flow_on_embedded_defaults(tmp_path):
    from examples.make_dataset import make_dataset
    from examples.packages import build_package_zip

    data = Path(tempfile.mkdtemp(prefix="trainyard-up-", dir="/tmp"))
    os.chmod(data, 0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TRAINYARD_") and k not in ("REDIS_URL", "DATABASE_URL", "DATA_DIR")}
    env.update({"TRAINYARD_DATA_DIR": str(data), "TRAINYARD_UV_CACHE_DIR": str(UV_CACHE)})
    up = subprocess.Popen([sys.executable, "-m", "runner", "up", "--no-ui"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (data / "redis" / "redis.sock").exists():
            assert up.poll() is None, up.stdout.read()
            assert time.monotonic() < deadline, "embedded redis did not start"
            time.sleep(0.2)
        dz = make_dataset(task_type="classification", dest=tmp_path / "cls", as_zip=True, n_train=16, n_val=8)
        ds = _cli(env, "dataset", "add", str(dz), "--name", "shapes", "--type", "classification", "--json")
        assert ds["splits"]["train"]["images"] == 16
        mz = build_package_zip(name="classification", dest=tmp_path / "model.zip")
        model = _cli(env, "model", "add", str(mz), "--name", "cnn", "--type", "classification", "--wait", "--json")
        assert model["status"] == "deployed", model["reason"]
        task = _cli(env, "task", "create", "--name", "first", "--model", str(model["id"]), "--dataset", str(ds["id"]),
                    "--epochs", "2", "--metrics", "loss,accuracy", "--eval-metric", "accuracy:max", "--wait", "--json")
        shown = _cli(env, "task", "show", str(task["id"]), "--json")
        assert shown["status"] == "completed"
        assert shown["best_run"] == shown["runs"][0]["id"]
        assert len(shown["runs"][0]["metrics"]["loss"]) == 2
        assert shown["runs"][0]["device"] == "cpu"
        children = [c.pid for c in psutil.Process(up.pid).children(recursive=True)]
        assert len(children) >= 2  # redis + worker
    finally:
        up.send_signal(signal.SIGTERM)
        out, _ = up.communicate(timeout=60)
    assert up.returncode == 0, out
    assert "stopped redis" in out and "stopped worker-0" in out
    for pid in children:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    shutil.rmtree(data, ignore_errors=True)
