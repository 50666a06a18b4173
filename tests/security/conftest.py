"""The hostile suite's platform: packages whose code attacks the sandbox from
inside a real run (create_task -> run_trial, run_prediction, deploy), host-side
listeners that count what got through, worker secrets to look for in the logs,
and a health check that the platform still works afterwards.

Every attack prints one ``RESULT {json}`` line per attempt, so each test
asserts both the outcome seen from inside and the state of the host.
"""

from __future__ import annotations

import binascii
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from runner import context
from shared.contract.runlog import read_log
from shared.core.queue import enqueue_deploy
from shared.records import Dataset, ModelPackage, Run, RunStatus, Task, TaskStatus
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from shared.services.tasks import TaskIn, create_task, get_task, task_runs
from tests.conftest import ROOT
from tests.support.people import OP
from tests.support.pkgs import write_dataset, write_package
from tests.support.procs import procs_with, wait_for  # noqa: F401 - re-exported to the suite

# probe.py, shipped in every attacking package. It never sends more than a
# PING: a leak must not be able to damage a Redis shared with other people.
PROBE = r'''
"""Escape attempts from inside a run; every attempt prints one RESULT line."""
import json, os, signal, socket, subprocess, sys, time

PING = b"*1\r\n$4\r\nPING\r\n"
SCORES = {"nan": "nan", "inf": "inf", "ninf": "-inf", "fin": "0.7"}


def report(kind, target, outcome, **extra):
    print("RESULT " + json.dumps({"kind": kind, "target": str(target), "outcome": outcome, **extra}), flush=True)


def attempt(kind, target, fn):
    try:
        extra = fn() or {}
    except Exception as exc:
        report(kind, target, "blocked", error=type(exc).__name__, errno=getattr(exc, "errno", None))
    else:
        report(kind, target, "allowed", **extra)


def _read(path):
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        print("LIST", path, " ".join(names[:200]), flush=True)
        return {"entries": names[:200]}
    with open(path, "rb") as f:
        data = f.read(65536)
    print("READ", path, data[:2000].decode("utf-8", "replace").replace("\n", " "), flush=True)
    return {"bytes": len(data)}


def _write(path, token):
    with open(path, "w") as f:
        f.write(token)


def _talk(sock):
    sock.settimeout(3)
    sock.sendall(PING)
    reply = sock.recv(100)
    sock.close()
    return {"reply": reply.decode("latin-1")}


def _unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(path)
    return _talk(s)


def _tcp(host, port):
    return _talk(socket.create_connection((host, int(port)), timeout=3))


def _sockets_anywhere():
    """Every unix socket file the sandbox can see (system trees skipped: read-only binds of the host's)."""
    found = []
    for top, dirs, files in os.walk("/"):
        if top == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "usr", "lib", "lib64", "lib32", "bin",
                                                    "sbin")]
        for name in files:
            p = os.path.join(top, name)
            try:
                if (os.lstat(p).st_mode & 0o170000) == 0o140000:
                    found.append(p)
            except OSError:
                pass
    return found


def _replace_with_link(link, target):
    import shutil
    shutil.rmtree(link)
    os.symlink(target, link)


def dump_env():
    for k, v in sorted(os.environ.items()):
        print("ENV", k + "=" + v, flush=True)
    seen = 0
    for pid in sorted(os.listdir("/proc")):
        if not pid.isdigit():
            continue
        for what in ("environ", "cmdline"):
            try:
                with open("/proc/%s/%s" % (pid, what), "rb") as f:
                    data = f.read()
            except Exception as exc:
                report("proc", "/proc/%s/%s" % (pid, what), "blocked", error=type(exc).__name__)
                continue
            seen += 1
            for item in data.split(b"\0"):
                if item:
                    print("PROC", pid, what, item.decode("utf-8", "replace"), flush=True)
    report("env", "dump", "allowed", names=sorted(os.environ), proc_files=seen)


def kill_everything(extra_pids):
    me = os.getpid()
    visible = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    report("pids", "visible", "allowed", pids=visible)
    for pid in visible + [int(p) for p in extra_pids]:
        if pid != me:
            attempt("kill", pid, lambda pid=pid: os.kill(pid, signal.SIGKILL))
    attempt("kill", -1, lambda: os.kill(-1, signal.SIGKILL))


def _with_marker(marker):
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    n += marker.encode() in f.read()
            except OSError:
                pass
    return n


def leave_daemons(marker):
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "signal.signal(signal.SIGHUP, signal.SIG_IGN); time.sleep(600)")
    argv = [sys.executable, "-c", code, marker]
    # 1: a new session that keeps our stdout and stderr open
    subprocess.Popen(argv, start_new_session=True)
    # 2: the classic daemon: fork, setsid, fork again, first child exits
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.execv(sys.executable, argv)
        os._exit(0)
    os.waitpid(child, 0)
    # 3: util-linux setsid --fork
    subprocess.run(["setsid", "--fork"] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    report("daemons", marker, "allowed", alive=_with_marker(marker))


def run(cfg):
    token = cfg.get("token", "pwned")
    if cfg.get("env"):
        dump_env()
    for p in cfg.get("exists", []):
        report("exists", p, "allowed" if os.path.lexists(p) else "blocked")
    for p in cfg.get("read", []):
        attempt("read", p, lambda p=p: _read(p))
    for p in cfg.get("write", []):
        attempt("write", p, lambda p=p: _write(p, token))
    for p in cfg.get("unix", []):
        attempt("unix", p, lambda p=p: _unix(p))
    if cfg.get("any_socket"):
        for p in _sockets_anywhere():
            attempt("unix", p, lambda p=p: _unix(p))
    for host, port in cfg.get("tcp", []):
        attempt("tcp", "%s:%s" % (host, port), lambda host=host, port=port: _tcp(host, port))
    for name in cfg.get("dns", []):
        attempt("dns", name, lambda name=name: {"addrs": len(socket.getaddrinfo(name, 443))})
    if "kill" in cfg:
        kill_everything(cfg["kill"])
    if cfg.get("daemons"):
        leave_daemons(cfg["daemons"])
    for link, target in cfg.get("symlinks", {}).items():  # last: replaces a directory the platform reads
        attempt("symlink", link, lambda link=link, target=target: _replace_with_link(link, target))
    if cfg.get("side_effect"):
        _write(cfg["side_effect"], token)
        report("side_effect", cfg["side_effect"], "allowed")


if __name__ == "__main__":  # install_dependencies.sh runs it as: "$1/bin/python" probe.py '<json>'
    run(json.loads(sys.argv[1]))


def attack(name):
    """Floods and limits: each goes on until a limit stops it."""
    if name == "memory":
        hold = []
        for i in range(16):  # 1 GiB in 64 MiB steps, every page touched
            hold.append(bytearray(b"\1") * (64 * 1024 * 1024))
            print("allocated %d MiB" % ((i + 1) * 64), flush=True)
    elif name == "procs":
        n = 0
        while n < 5000:  # a bounded fork bomb: the children sleep, the parent forks on
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            n += 1
        print("forked", n, flush=True)
    elif name == "files":
        held = []
        while len(held) < 100000:
            held.append(open("train.py"))
    elif name == "fsize":
        with open("big.bin", "wb") as f:
            for _ in range(100):
                f.write(b"\1" * (1024 * 1024))
    elif name == "disk":
        os.makedirs("fill", exist_ok=True)
        chunk = b"\1" * (1024 * 1024)
        for i in range(400):
            with open("fill/%d.bin" % i, "wb") as f:
                f.write(chunk)
            time.sleep(0.02)
    elif name == "logflood":
        print("FIRST-LINE", flush=True)
        block = ("#" * 1023 + "\n") * 1024  # 1 MiB
        for _ in range(50):
            sys.stdout.write(block)
        print("LAST-LINE", flush=True)
    elif name == "longwords":
        line = "w" * 7990 + ": x\n"  # one long word, then what could start a metric
        for _ in range(200000):  # 1.6 GB of long one-word lines, unless a limit ends it first
            sys.stdout.write(line)
    elif name == "hugeline":
        sys.stdout.write("y" * (20 * 1024 * 1024) + "\n")
        sys.stdout.flush()
        print("AFTER-HUGE-LINE", flush=True)
    elif name in ("badutf8", "badutf8-fail"):
        out = sys.stdout if name == "badutf8" else sys.stderr
        out.flush()
        out.buffer.write(b"bad \xff\xfe \xc3\x28 bytes\n\xed\xa0\x80 surrogate \x00 nul\nloss=0.5 \x00 \xff\n")
        out.buffer.flush()
        if name == "badutf8-fail":
            sys.exit(3)
    elif name in SCORES:
        print("epoch: 1, score: %s" % SCORES[name], flush=True)
'''

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


@pytest.fixture
def secrets(monkeypatch) -> dict[str, str]:
    """Secrets in the worker's own environment; no log may ever contain one of them."""
    tok = uuid.uuid4().hex
    values = {
        "TRAINYARD_SECRET_TOKEN": f"tok-{tok}",
        "DATABASE_URL": f"postgresql://trainyard:dbpw-{tok}@db.internal/trainyard",
        "REDIS_URL": f"redis://:redispw-{tok}@127.0.0.1:6379/0",
        "AWS_SECRET_ACCESS_KEY": f"aws-{tok}",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


@pytest.fixture
def plat(settings, ctx, session, burst, tmp_path, secrets) -> Platform:
    token = f"trainyard-pwn-{uuid.uuid4().hex[:12]}"
    ctx.redis.set(SENTINEL_KEY, token)
    # Run uids of their own (base + run id): other test sessions on this host number their runs
    # from 1 too, and a shared uid shares RLIMIT_NPROC (and, without the sandbox, the leftover sweep).
    settings.sandbox_uid_base = 72000 + (os.getpid() % 2000) * 10
    p = Platform(settings=settings, ctx=ctx, session=session, burst=burst, tmp_path=tmp_path, token=token,
                 secrets=secrets)
    yield p
    for listener in p.listeners:
        listener.close()


@pytest.fixture
def listen(plat):
    def make(family: int = socket.AF_INET, address: Any = ("127.0.0.1", 0)) -> Listener:
        listener = Listener(family, address)
        plat.listeners.append(listener)
        return listener
    return make


def start_worker(settings) -> subprocess.Popen:
    """A real worker process (it inherits the test's TRAINYARD_* and secret variables)."""
    from redis import Redis
    from rq import Worker

    proc = subprocess.Popen([sys.executable, "-m", "runner", "worker", "--cpu"], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = Redis.from_url(settings.effective_redis_url)
    wait_for(lambda: bool(Worker.all(connection=conn)) or proc.poll() is not None, 60, "the worker to start")
    assert proc.poll() is None, "the worker exited at start"
    return proc
