"""The hostile suite's platform: packages whose code attacks the sandbox from
inside a real run (create_task -> run_trial, run_prediction, deploy), host-side
listeners that count what got through, the names of the worker secrets to look
for in the logs, and a health check that the platform still works afterwards.
Its fixtures (secrets, plat, listen) are in tests/security/conftest.py.

Every attack prints one ``RESULT {json}`` line per attempt, so each test
asserts both the outcome seen from inside and the state of the host.
"""

from __future__ import annotations

import binascii
import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from runner import context
from shared.contract.runlog import read_log
from shared.core.queue import enqueue_deploy
from shared.records import Dataset, ModelPackage, Run, RunStatus, Task, TaskStatus
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from shared.services.tasks import TaskIn, create_task, get_task, task_runs
from tests.security.probe_source import PROBE
from tests.support.people import OP
from tests.support.pkgs import write_dataset, write_package

ATTACK_TRAIN = '''
import argparse, binascii, json, os

import probe

p = argparse.ArgumentParser()
p.add_argument("--work-dir", default="out")
p.add_argument("--data")
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--cfg", default="", help="hex of the probe's JSON config")
p.add_argument("--attack", default="none")
a = p.parse_args()
if a.cfg:
    probe.run(json.loads(binascii.unhexlify(a.cfg)))
probe.attack(a.attack)
if not os.path.islink(a.work_dir):
    os.makedirs(a.work_dir, exist_ok=True)
    with open(os.path.join(a.work_dir, "best.pt"), "w") as f:
        f.write("weights of " + a.attack)
if a.attack not in probe.SCORES:
    print("epoch: 1, score: 0.5", flush=True)
'''

ATTACK_PREDICT = '''
import argparse, json, os, shutil

import probe

p = argparse.ArgumentParser()
p.add_argument("--source")
p.add_argument("--out-dir")
p.add_argument("--weights")
p.add_argument("--device", default="cpu")
a = p.parse_args()
if os.path.exists("predict_cfg.json"):
    with open("predict_cfg.json") as f:
        probe.run(json.load(f))
if not os.path.islink(a.out_dir):
    os.makedirs(a.out_dir, exist_ok=True)
    for name in sorted(os.listdir(a.source)):
        shutil.copy(os.path.join(a.source, name), os.path.join(a.out_dir, name))
'''

SECRET_NAMES = ("TRAINYARD_SECRET_TOKEN", "DATABASE_URL", "REDIS_URL", "AWS_SECRET_ACCESS_KEY")
SENTINEL_KEY = "trainyard:security:sentinel"


def hexcfg(cfg: dict[str, Any]) -> str:
    return binascii.hexlify(json.dumps(cfg).encode()).decode()


def results(lines: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [json.loads(t[len("RESULT "):]) for _s, t in lines if t.startswith("RESULT ")]


def outcomes(res: list[dict[str, Any]], kind: str) -> dict[str, str]:
    return {r["target"]: r["outcome"] for r in res if r["kind"] == kind}


def sqlite_path(url: str) -> Path | None:
    return Path(url.split(":///", 1)[1]) if url.startswith("sqlite:///") else None


class Listener:
    """A host-side server that counts the connections that reach it (and answers +PONG)."""

    def __init__(self, family: int, address: Any) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(address)
        if family == socket.AF_UNIX:
            os.chmod(address, 0o777)  # anyone who can see it can connect: only visibility protects it
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.address = self.sock.getsockname()
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            try:
                conn.sendall(b"+PONG\r\n")
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@dataclass
class Platform:
    settings: Any
    ctx: Any
    session: Session
    burst: Any
    tmp_path: Path
    token: str
    secrets: dict[str, str]
    listeners: list[Listener] = field(default_factory=list)
    _dataset: Dataset | None = None
    _models: int = 0

    # -- uploads ---------------------------------------------------------------
    def dataset(self, *, name: str = "tiny", classes: tuple[str, ...] = ("a", "b")) -> Dataset:
        zip_path = write_dataset(self.tmp_path / f"{uuid.uuid4().hex[:8]}.zip", classes=classes, per_class=1)
        return add_dataset(session=self.session, settings=self.settings, zip_path=zip_path, name=name,
                           task_type="classification", actor=OP)

    @property
    def default_dataset(self) -> Dataset:
        if self._dataset is None:
            self._dataset = self.dataset()
        return self._dataset

    def upload(self, *, train: str = ATTACK_TRAIN, predict: str = ATTACK_PREDICT, network: bool = False,
               extra: dict[str, str] | None = None, requirements: str = "") -> ModelPackage:
        self._models += 1
        zip_path = write_package(self.tmp_path / f"m{self._models}.zip", train=train, predict=predict,
                                 requirements=requirements, extra={"probe.py": PROBE, **(extra or {})})
        return add_model(session=self.session, settings=self.settings, zip_path=zip_path,
                         name=f"attacker{self._models}", task_type="classification", network=network, actor=OP)

    def deploy(self, model: ModelPackage) -> ModelPackage:
        enqueue_deploy(model.id, connection=self.ctx.redis)
        self.burst()
        self.session.expire_all()
        return self.session.get(ModelPackage, model.id)

    def model(self, **kw) -> ModelPackage:
        model = self.deploy(self.upload(**kw))
        assert model.status.value == "deployed", model.reason
        return model

    # -- tasks -----------------------------------------------------------------
    def task_in(self, *, model: ModelPackage, cfg: dict[str, Any] | None = None, attack: str | None = None,
                limits: dict[str, Any] | None = None, dataset: Dataset | None = None, **kw) -> TaskIn:
        params: dict[str, tuple[Any, bool]] = dict(kw.pop("params", {}))
        if cfg:
            params["cfg"] = (hexcfg({"token": self.token, **cfg}), False)
        if attack:
            params["attack"] = (attack, False)
        ds = dataset or self.default_dataset
        return TaskIn(name=kw.pop("name", "attack"), model_id=model.id, dataset_id=ds.id, epochs=1,
                      params=params, limits=limits or {}, **kw)

    def run_task(self, **kw) -> tuple[Task, list[Run]]:
        task = create_task(session=self.session, task_in=self.task_in(**kw), actor=OP)
        context.current().schedule(task.id)
        self.burst()
        return self.refresh(task.id)

    def refresh(self, task_id: int) -> tuple[Task, list[Run]]:
        self.session.expire_all()
        return get_task(session=self.session, task_id=task_id), task_runs(session=self.session, task_id=task_id)

    # -- what came out -----------------------------------------------------------
    def log_bytes(self, path: Path) -> bytes:
        data = path.read_bytes()
        for name, value in self.secrets.items():
            assert value.encode() not in data, f"{name}'s value leaked into {path}"
        return data

    def run_log(self, run: Run) -> list[tuple[str, str]]:
        path = self.settings.path(run.log_path)
        self.log_bytes(path)
        return read_log(log_path=path)

    def run_results(self, run: Run) -> list[dict[str, Any]]:
        return results(self.run_log(run))

    def deploy_results(self, model: ModelPackage) -> list[dict[str, Any]]:
        """RESULT lines of install_dependencies.sh, from the model's deploy log (checked for secrets)."""
        text = self.log_bytes(self.settings.path(model.install_log)).decode("utf-8", "replace")
        return [json.loads(line.split("RESULT ", 1)[1]) for line in text.splitlines() if "RESULT {" in line]

    def install_script(self, cfg: dict[str, Any]) -> str:
        """An install_dependencies.sh that passes the checker and runs the probe at deploy time."""
        body = json.dumps({"token": self.token, **cfg})
        assert "'" not in body
        return f"#!/bin/bash\necho installing into $1\n\"$1/bin/python\" probe.py '{body}'\n"

    # -- afterwards ----------------------------------------------------------------
    def healthy(self, model: ModelPackage) -> None:
        """The platform goes on: a normal task completes, Redis and the DB are intact."""
        task, [run] = self.run_task(model=model, name="after the attack", eval_metric="score")
        assert task.status == TaskStatus.completed, task.reason
        assert run.status == RunStatus.completed, run.reason
        assert run.score == 0.5 and task.best_run_id == run.id
        assert self.ctx.redis.ping()
        assert self.ctx.redis.get(SENTINEL_KEY) == self.token.encode(), "Redis lost its data"
        if sqlite_path(self.settings.database_url):
            assert self.session.connection().exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
