"""Sandboxes whose mount sources sit behind a folder the sandbox's uid cannot pass (issue 15: DATA_DIR in
root's 0700 home): real bwrap, a real env, a real egress proxy, DATA_DIR inside a fresh 0700 folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from runner.envs import find_uv
from runner.execute import execute
from runner.sandbox import ENV_MOUNT, Limits, Mount, SandboxSpec, stage
from shared.core.settings import Settings

pytestmark = pytest.mark.skipif(not stage.available(), reason="staging needs a root worker with CAP_SYS_ADMIN")
RUN_UID = 67000 + os.getpid() % 2000

PROBE = r'''
import json, os, sys, urllib.error, urllib.request
res = {"uid": os.getuid(), "prefix": sys.prefix, "weights": open("/weights/w.bin").read(),
       "dataset": sorted(os.listdir("/dataset"))}
open("/workspace/out.txt", "w").write("written")
opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": os.environ["HTTP_PROXY"]}))
try:  # the egress proxy answers (a refusal) only if its socket, staged too, was mounted
    opener.open("http://trainyard-nowhere.invalid/", timeout=10)
    res["proxy"] = "allowed"
except urllib.error.HTTPError as exc:
    res["proxy"] = exc.code
except OSError as exc:
    res["proxy"] = repr(exc)
print(json.dumps(res))
'''


@pytest.fixture
def private_data(env_python: str) -> Settings:
    top = Path(tempfile.mkdtemp(prefix="trainyard-private-"))
    top.chmod(0o700)  # as root's home: the sandbox's uid cannot pass it
    settings = Settings(data_dir=top / "home" / "data", unsafe_no_sandbox=False, sandbox_uid_base=RUN_UID)
    (top / "home").mkdir(mode=0o700)
    settings.data_dir.mkdir()
    yield settings
    shutil.rmtree(top, ignore_errors=True)


def _probe_run(settings: Settings, env_python: str) -> tuple[Any, dict, Path]:
    """PROBE in a network sandbox with an env, a dataset and a single-file mount under ``settings``'s
    DATA_DIR: (the outcome, what PROBE saw, the work dir)."""
    data = settings.data_dir
    env = data / "envs" / "e1"
    subprocess.run([find_uv(), "venv", "-q", "--python", env_python, str(env)], check=True, capture_output=True)
    dataset = data / "datasets" / "1"
    dataset.mkdir(parents=True)
    (dataset / "train.txt").write_text("x")
    weights = data / "runs" / "1" / "work" / "w.bin"
    weights.parent.mkdir(parents=True)
    weights.write_text("weights")
    wd = data / "runs" / "2" / "work"
    wd.mkdir(parents=True)
    (wd / "main.py").write_text(PROBE)
    spec = SandboxSpec(argv=[f"{ENV_MOUNT}/bin/python", "main.py"], workdir=wd, network=True,
                       mounts=[Mount(host=env, inside=ENV_MOUNT), Mount(host=dataset, inside="/dataset"),
                               Mount(host=weights, inside="/weights/w.bin")],
                       uid=RUN_UID, limits=Limits(memory_bytes=1 << 30, max_procs=64))
    lines: list[str] = []
    outcome = execute(spec=spec, settings=settings, log_path=data / "runs" / "2" / "log",
                      on_line=lambda s, t: lines.append(t) if s == "stdout" else None)
    return outcome, (json.loads(lines[-1]) if lines else {}), wd


def test_a_run_works_with_data_dir_behind_0700_folders(private_data, env_python):
    outcome, res, wd = _probe_run(private_data, env_python)
    assert outcome.ok, outcome.reason
    assert res["uid"] == 65534 and res["prefix"] == ENV_MOUNT
    assert res["weights"] == "weights" and res["dataset"] == ["train.txt"]
    assert res["proxy"] == 403, res  # refused by the worker's proxy, so its socket was reachable
    assert (wd / "out.txt").read_text() == "written" and (wd / "out.txt").stat().st_uid == RUN_UID


def test_a_deep_data_dir_still_gets_its_egress_proxy(private_data, env_python):
    """A unix socket's path holds 107 bytes at most; DATA_DIR/egress/<id>/proxy.sock under a deep DATA_DIR
    (CI's temp dirs, a home folder) is longer. The proxy binds through a directory fd instead."""
    deep = private_data.data_dir / ("d" * 60) / ("e" * 60) / "data"
    deep.mkdir(parents=True)
    settings = private_data.model_copy(update={"data_dir": deep})
    assert len(str(deep / "egress" / ("0" * 32) / "proxy.sock")) > 108
    outcome, res, _wd = _probe_run(settings, env_python)
    assert outcome.ok, outcome.reason
    assert res["proxy"] == 403, res


def test_the_staging_folder_is_removed_and_holds_only_empty_entries(private_data):
    src = private_data.data_dir / "runs" / "1"
    src.mkdir(parents=True)
    (src / "secret").write_text("x")
    staging = stage.Staging(data_dir=private_data.data_dir)
    target = Path(staging.add(src))
    assert target.parent.stat().st_mode & 0o777 == 0o711 and target.parent.parent == Path("/tmp")
    assert list(target.iterdir()) == []  # the host sees an empty entry; the mount is the child's alone
    staging.close()
    assert not target.parent.exists()


def test_a_source_reached_through_a_link_below_data_dir_is_refused(private_data):
    """Root opens the sources: a link user code left in a work dir must not lead it anywhere."""
    elsewhere = private_data.data_dir.parent / f"elsewhere-{uuid.uuid4().hex[:6]}"
    elsewhere.mkdir()
    work = private_data.data_dir / "runs" / "1" / "work"
    work.mkdir(parents=True)
    (work / "ckpt").symlink_to(elsewhere)
    (work / "w.bin").symlink_to(elsewhere / "x")
    staging = stage.Staging(data_dir=private_data.data_dir)
    try:
        for host in (work / "ckpt" / "w.bin", work / "w.bin"):
            with pytest.raises(Exception, match="a link is never followed below DATA_DIR"):
                staging.add(host)
    finally:
        staging.close()
