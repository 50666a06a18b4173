"""Two worker "hosts", each in its own network and mount namespace (its own /tmp, so its own GPU locks; the
same DATA_DIR), joined to one password-protected TCP Redis and one Postgres over veth links. A 6-run task
spreads over both; one host's busy worker is killed with -9, its run is re-queued within 60 s and finished by
the others, and every run ends in a final state with its metrics. Only loopback and the namespaces' own veth
addresses are used."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import create_engine, text
from sqlmodel import Session, func, select

from runner.redis_server import redis_binary
from shared.core.queue import enqueue_deploy
from shared.core.settings import Settings
from shared.records import DeployStatus, MetricPoint, ModelPackage, Run, RunStatus, Task
from tests.support.paths import ROOT, UV_CACHE
from tests.support.people import OP
from tests.support.pkgs import write_dataset, write_package
from tests.support.procs import wait_for
from tests.support.sandbox import bwrap_works

pytestmark = pytest.mark.slow

PG_BASE = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "multi-" + uuid.uuid4().hex[:8]
TAG = f"{os.getpid() % 100000}"
NET = f"10.213.{(os.getpid() % 120) * 2}"  # two /30-ish links: NET.1-2 and NET.5-6


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network and mount namespaces"
    if not (shutil.which("ip") and shutil.which("unshare")):
        return "needs `ip` and `unshare`"
    if not bwrap_works():
        return "bubblewrap cannot start a sandbox here"
    try:
        engine = create_engine(PG_BASE)
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure: no Postgres for this test
        return f"no Postgres at {PG_BASE} ({type(exc).__name__}); set TEST_DATABASE_URL"
    probe = f"typrobe{TAG}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        return "cannot create a network namespace here (ip netns add failed)"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class _Forward(threading.Thread):
    """Postgres listens on loopback only; a host in a namespace reaches it through this forwarder on the
    veth address of its link."""

    def __init__(self, bind: str, target: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server((bind, 0))
        self.port = self.sock.getsockname()[1]
        self.target = target

    def run(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _host(name: str, idx: int) -> tuple[str, str]:
    """A namespace ``name`` linked to ours by a veth pair; returns (our address, its address)."""
    ns = f"ty{name}{TAG}"
    here, there = f"{NET}.{idx * 4 + 1}", f"{NET}.{idx * 4 + 2}"
    vh, vn = f"ty{name}{TAG}h", f"ty{name}{TAG}n"
    _sh("ip", "netns", "add", ns)
    _sh("ip", "link", "add", vh, "type", "veth", "peer", "name", vn)
    _sh("ip", "link", "set", vn, "netns", ns)
    _sh("ip", "addr", "add", f"{here}/30", "dev", vh)
    _sh("ip", "link", "set", vh, "up")
    _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{there}/30", "dev", vn)
    _sh("ip", "netns", "exec", ns, "ip", "link", "set", vn, "up")
    _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
    return here, there


@pytest.fixture
def cluster():
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    made: list[str] = []
    procs: list[subprocess.Popen] = []
    forwards: list[_Forward] = []
    store = Path(tempfile.mkdtemp(prefix="trainyard-multihost-", dir="/var/tmp"))
    store.chmod(0o755)
    db_name = f"trainyard_mh_{TAG}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{db_name}"'))
    try:
        links = {}
        for idx, name in enumerate(("A", "B")):
            links[name] = _host(name, idx)
            made.append(name)
        port = socket.create_server(("127.0.0.1", 0))
        redis_port = port.getsockname()[1]
        port.close()
        binds = ["127.0.0.1", *(here for here, _ in links.values())]
        procs.append(subprocess.Popen([redis_binary(), "--port", str(redis_port), "--bind", *binds,
                                       "--requirepass", PASSWORD, "--save", "", "--appendonly", "no",
                                       "--dir", str(store)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: _pings(f"redis://:{PASSWORD}@127.0.0.1:{redis_port}/0"), 10, "Redis")
        pg = PG_BASE.rsplit("/", 1)[0] + "/" + db_name
        pg_port = int(pg.split("@", 1)[1].split("/")[0].split(":")[1]) if ":" in pg.split("@", 1)[1] else 5432
        hosts = {}
        for name, (here, _there) in links.items():
            fwd = _Forward(here, ("127.0.0.1", pg_port))
            fwd.start()
            forwards.append(fwd)
            scheme, rest = pg.split("://", 1)
            userinfo = rest.split("@", 1)[0]
            hosts[name] = {"ns": f"ty{name}{TAG}", "redis": f"redis://:{PASSWORD}@{here}:{redis_port}/0",
                           "db": f"{scheme}://{userinfo}@{here}:{fwd.port}/{db_name}"}
        yield {"store": store, "db": pg, "redis": f"redis://:{PASSWORD}@127.0.0.1:{redis_port}/0", "hosts": hosts,
               "procs": procs}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
        for f in forwards:
            f.sock.close()
        for name in made:
            subprocess.run(["ip", "link", "del", f"ty{name}{TAG}h"], capture_output=True)
            subprocess.run(["ip", "netns", "del", f"ty{name}{TAG}"], capture_output=True)
        from shared.core.db import dispose_engines

        dispose_engines()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(store, ignore_errors=True)


def _pings(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_timeout=0.5).ping())
    except Exception:  # noqa: BLE001
        return False


def _start_worker(cluster, host: str, name: str, log) -> subprocess.Popen:
    h = cluster["hosts"][host]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_") and
           k not in ("DATA_DIR", "DATABASE_URL", "REDIS_URL")}
    env.update(DATA_DIR=str(cluster["store"]), DATABASE_URL=h["db"], REDIS_URL=h["redis"], TMPDIR="/tmp",
               TRAINYARD_HOST_NAME=f"host{host}", TRAINYARD_LOST_AFTER_S="8", TRAINYARD_RECONCILE_EVERY_S="1",
               TRAINYARD_REQUEUE_LOST_RUNS="1", TRAINYARD_MAX_PARALLEL_RUNS="6",
               TRAINYARD_UV_CACHE_DIR=str(UV_CACHE))
    store = str(cluster["store"])
    # Its own /tmp (so its own GPU lock folder) and the shared store bound at the same path. A checkout
    # (with its .venv) that itself lies under /tmp is bound back in from the real /tmp, kept aside first.
    keep = [p for p in {Path(ROOT).resolve(), Path(sys.executable).resolve().parent.parent}
            if Path("/tmp") in p.parents]
    rebind = "".join(f'mkdir -p "{p}" && mount --bind "/run/trainyard-test-tmp/{p.relative_to("/tmp")}" "{p}" && '
                     for p in sorted(keep))
    script = ('mkdir -p /run/trainyard-test-tmp && mount --bind /tmp /run/trainyard-test-tmp && '
              f'mount -t tmpfs tmpfs /tmp && {rebind}mount --bind "{store}" "{store}" && '
              f'exec "{sys.executable}" -m runner worker --join --gpus 0,1 --name {name}')
    proc = subprocess.Popen(["ip", "netns", "exec", h["ns"], "unshare", "--mount", "--propagation", "private",
                             "--", "sh", "-c", script], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    cluster["procs"].append(proc)
    return proc


def test_a_task_spreads_over_two_hosts_and_survives_losing_one(cluster, tmp_path):
    from shared.core import migrate
    from shared.core.db import get_engine
    from shared.services.datasets import add_dataset
    from shared.services.models import add_model
    from shared.services.scheduling import schedule_task
    from shared.services.store import ensure_store_mark
    from shared.services.tasks import TaskIn, create_task

    web = Settings(data_dir=cluster["store"], database_url=cluster["db"], redis_url=cluster["redis"],
                   max_parallel_runs=6, uv_cache_dir=UV_CACHE)
    engine = get_engine(web.database_url)  # the web host migrates and records the store, as `up` does
    assert migrate.current(web) == migrate.head()
    redis = Redis.from_url(web.redis_url)
    with Session(engine, expire_on_commit=False) as s:
        ensure_store_mark(session=s, data_dir=web.data_dir)
        ds = add_dataset(session=s, actor=OP, settings=web, zip_path=write_dataset(tmp_path / "d.zip"), name="tiny",
                         task_type="classification")
        model = add_model(session=s, actor=OP, settings=web, zip_path=write_package(tmp_path / "m.zip"), name="m",
                          task_type="classification")
    enqueue_deploy(model.id, connection=redis)

    log = open(tmp_path / "workers.log", "wb")  # noqa: SIM115 - closed at the end, read on failure
    workers = {name: _start_worker(cluster, host, name, log)
               for host, name in (("A", "hostA-1"), ("A", "hostA-2"), ("B", "hostB-1"), ("B", "hostB-2"))}

    def model_status():
        with Session(engine) as s:
            return s.get(ModelPackage, model.id).status

    wait_for(lambda: model_status() in (DeployStatus.deployed, DeployStatus.failed), 240,
             f"the deploy on a worker host (log: {tmp_path / 'workers.log'})", every=0.5)
    assert model_status() == DeployStatus.deployed
    deploy_log = (web.data_dir / f"models/{model.id}/deploy.log").read_text()
    assert "deploying on host hostA" in deploy_log or "deploying on host hostB" in deploy_log

    with Session(engine, expire_on_commit=False) as s:
        task = create_task(session=s, actor=OP, max_parallel_default=6, task_in=TaskIn(
            name="spread", model_id=model.id, dataset_id=ds.id, epochs=10, n_runs=6, max_parallel=6,
            params={"sleep": ("0.5", False)}))
    schedule_task(engine=engine, redis=redis, settings=web, task_id=task.id)

    def runs():
        with Session(engine) as s:
            return list(s.exec(select(Run).where(Run.task_id == task.id)))

    def busy_on_b():
        return [r for r in runs() if r.status == RunStatus.running and (r.worker or "").startswith("hostB")]

    wait_for(lambda: busy_on_b() and any((r.worker or "").startswith("hostA") for r in runs()
                                         if r.status == RunStatus.running),
             120, "runs on both hosts at once", every=0.2)
    victim = busy_on_b()[0]
    workers[victim.worker].kill()  # kill -9: no clean-up, its sandbox dies with it (--die-with-parent)
    killed_at = time.monotonic()

    def victim_moved() -> bool:
        with Session(engine) as s:
            r = s.get(Run, victim.id)
            return r.status != RunStatus.running or r.attempt > victim.attempt

    wait_for(victim_moved, 60, "the lost run to be re-queued or failed", every=0.5)
    assert time.monotonic() - killed_at <= 60

    def task_done() -> bool:
        with Session(engine) as s:
            return s.get(Task, task.id).status.finished

    wait_for(task_done, 240, f"the task to finish (log: {tmp_path / 'workers.log'})", every=0.5)
    log.close()
    final = runs()
    assert len(final) == 6 and all(r.status.finished for r in final), [(r.id, r.status) for r in final]
    assert all(r.status == RunStatus.completed for r in final), [(r.id, r.status, r.reason) for r in final]
    with Session(engine) as s:
        for r in final:
            points = s.exec(select(func.count()).select_from(MetricPoint).where(MetricPoint.run_id == r.id)).one()
            assert points > 0, f"run {r.id} has no metrics"
        moved = s.get(Run, victim.id)
    assert moved.attempt == victim.attempt + 1 and moved.worker != victim.worker
    assert {r.worker.split("-")[0] for r in final} == {"hostA", "hostB"}
