"""Escapes tried by user code in real runs (create_task -> run_trial, and
run_prediction): each is blocked, nothing changes on the host, and the
platform goes on working afterwards."""

from __future__ import annotations

import json
import os
import signal
import socket
import uuid
from pathlib import Path

import pytest

from runner import context
from runner.sandbox import ENV_MOUNT
from shared.contract.runlog import read_log
from shared.core.queue import enqueue_prediction
from shared.records import PredictionStatus, RunStatus, TaskStatus
from shared.services.models import model_summary
from shared.services.predictions import Upload, create_prediction, get_prediction
from shared.services.tasks import create_task
from tests.support.hostile import SECRET_NAMES, outcomes, results, sqlite_path
from tests.support.people import OP
from tests.support.procs import procs_with, start_worker, wait_for


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


def _unix_path(url: str) -> str | None:
    return url[len("unix://"):].split("?", 1)[0] if url.startswith("unix://") else None


def _tcp_target(url: str) -> tuple[str, int] | None:
    from urllib.parse import urlparse

    u = urlparse(url)
    return (u.hostname or "127.0.0.1", u.port or 6379) if u.scheme in ("redis", "rediss") else None


def test_redis_is_unreachable_over_tcp_and_unix_sockets(plat, listen, settings):
    # What the embedded Redis would listen on in production, and a stray socket under DATA_DIR.
    settings.redis_socket.parent.mkdir(parents=True, exist_ok=True)
    embedded = listen(socket.AF_UNIX, str(settings.redis_socket))
    stray = listen(socket.AF_UNIX, str(settings.data_dir / "worker.sock"))
    tcp = listen()  # stands in for a REDIS_URL on another port
    unix = [str(p) for p in settings.data_dir.rglob("*.sock")]
    worker_unix = _unix_path(settings.effective_redis_url)
    if worker_unix:
        unix.append(worker_unix)  # the Redis this very worker is using right now
    targets = [("127.0.0.1", 6379), tcp.address]
    if _tcp_target(settings.effective_redis_url):
        targets.append(_tcp_target(settings.effective_redis_url))
    model = plat.model()
    task, [run] = plat.run_task(model=model, cfg={"unix": unix, "tcp": targets, "any_socket": True})
    assert run.status == RunStatus.completed, run.reason
    res = plat.run_results(run)
    tried = outcomes(res, "unix")
    assert set(unix) <= set(tried) and (worker_unix is None or worker_unix in tried)  # None: a TCP Redis
    assert {f"{h}:{p}" for h, p in targets} <= set(outcomes(res, "tcp"))
    leaks = {t: o for kind in ("unix", "tcp") for t, o in outcomes(res, kind).items() if o != "blocked"}
    assert not leaks, f"reached from inside the sandbox: {leaks}"
    assert embedded.accepted == stray.accepted == tcp.accepted == 0
    plat.healthy(model)


def test_worker_secrets_never_reach_the_run(plat, secrets):
    model = plat.model()
    task, [run] = plat.run_task(model=model, cfg={"env": True})
    assert run.status == RunStatus.completed, run.reason
    lines = plat.run_log(run)  # asserts that no secret value is anywhere in the log file
    [dump] = [r for r in results(lines) if r["kind"] == "env"]
    assert "PATH" in dump["names"], "the probe did not dump its environment"
    assert dump["proc_files"] > 0, "the probe did not read /proc/*/environ"
    for name in dump["names"]:
        assert name not in SECRET_NAMES and not name.startswith("TRAINYARD_"), name
    texts = "\n".join(t for _s, t in lines)
    assert "ENV PATH=" in texts
    for value in secrets.values():
        assert value not in texts


def test_database_and_data_dir_are_not_visible(plat, settings):
    model = plat.model()
    # A second environment (its install script makes its key differ): not this run's, so not visible.
    other = plat.model(extra={"install_dependencies.sh": "#!/bin/bash\necho other env\n"})
    assert other.env_key != model.env_key
    db = sqlite_path(settings.database_url)
    data = settings.data_dir
    hidden = [str(data / d) for d in ("models", "datasets", "runs", "redis", "trainyard.db")]
    hidden += [str(data / "envs" / other.env_key), "/root", "/work", "/var", "/run", f"/proc/1/root{data}/models"]
    if db:
        hidden += [str(db), f"{db}-wal", str(db.parent)]
    hidden += [str(data), str(data / "envs"), str(data / "envs" / model.env_key)]
    task, [run] = plat.run_task(model=model, cfg={"exists": hidden, "read": [*hidden, ENV_MOUNT]})
    assert run.status == RunStatus.completed, run.reason
    res = plat.run_results(run)
    seen = {t: o for t, o in outcomes(res, "exists").items() if o != "blocked"}
    assert not seen, f"visible inside the sandbox: {seen}"
    read = {r["target"]: r for r in res if r["kind"] == "read"}
    assert all(read[p]["outcome"] == "blocked" for p in hidden), {p: read[p] for p in hidden}
    # DATA_DIR does not exist inside at all: the run's own (read-only) env is at the fixed path.
    assert read[ENV_MOUNT]["outcome"] == "allowed" and "bin" in read[ENV_MOUNT]["entries"], read[ENV_MOUNT]
    plat.healthy(model)


def test_other_runs_and_datasets_are_not_visible(plat, settings):
    model = plat.model()
    secret = f"victim-{uuid.uuid4().hex}"
    victim_task, [victim] = plat.run_task(model=model, name="victim",
                                          cfg={"token": secret, "side_effect": "/workspace/work_dir/victim.txt"})
    assert victim.status == RunStatus.completed, victim.reason
    vdir = settings.data_dir / "runs" / str(victim_task.id) / str(victim.id)
    vfile = settings.path(victim.work_dir) / "victim.txt"
    assert vfile.read_text() == secret
    before = sorted(str(p.relative_to(vdir)) for p in vdir.rglob("*"))
    other = plat.dataset(name="other", classes=("hidden1", "hidden2"))
    other_dir = settings.path(other.path)
    other_before = sorted(str(p.relative_to(other_dir)) for p in other_dir.rglob("*"))
    plat.default_dataset  # noqa: B018 - the attacker's own dataset exists before it runs
    paths = [str(vfile), str(settings.path(victim.log_path)), str(vdir), str(other_dir), str(other_dir / "train"),
             f"/workspace/../{victim.id}/workspace/work_dir/victim.txt",
             f"/workspace/../../{victim_task.id}/{victim.id}/workspace/work_dir/victim.txt",
             f"/dataset/../{other.id}/train", f"/dataset/../datasets/{other.id}"]
    writes = [str(vfile), str(settings.path(victim.work_dir) / "planted.txt"), str(other_dir / "train" / "x.png"),
              f"/workspace/../{victim.id}/workspace/work_dir/planted.txt"]
    task, [run] = plat.run_task(model=model, cfg={"read": [*paths, "/dataset/train"], "write": writes})
    assert run.status == RunStatus.completed, run.reason
    res = plat.run_results(run)
    read = outcomes(res, "read")
    assert {p: read[p] for p in paths if read[p] != "blocked"} == {}
    assert {p: o for p, o in outcomes(res, "write").items() if o != "blocked"} == {}
    # Its own dataset is there (so the probe did run), and only its own.
    own = next(r for r in res if r["kind"] == "read" and r["target"] == "/dataset/train")
    assert own["outcome"] == "allowed" and own["entries"] == ["a", "b"]
    text = "\n".join(t for _s, t in plat.run_log(run))
    assert secret not in text and "hidden1" not in text
    assert vfile.read_text() == secret
    assert sorted(str(p.relative_to(vdir)) for p in vdir.rglob("*")) == before
    assert sorted(str(p.relative_to(other_dir)) for p in other_dir.rglob("*")) == other_before
    plat.healthy(model)


def _tree(root: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(root)), p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*"))


def test_writes_outside_the_work_dir_are_refused_and_change_nothing_on_the_host(plat, settings):
    model = plat.model()
    tok = plat.token
    env = settings.data_dir / "envs" / model.env_key
    site = next(env.glob("lib/python*/site-packages"))
    ds_dir = settings.path(plat.default_dataset.path)
    refused = [f"/usr/{tok}", f"/usr/lib/{tok}", f"/dataset/{tok}", f"/dataset/train/a/{tok}", f"{env}/{tok}",
               f"{env}/bin/{tok}", f"{site}/{tok}.pth"]  # a .pth would run code in every later run of this env
    elsewhere = [f"/etc/{tok}", f"/{tok}", f"/workspace/../{tok}", f"{settings.data_dir}/{tok}", f"/tmp/{tok}",
                 f"/dev/shm/{tok}"]
    own = f"/workspace/work_dir/{tok}"
    env_before, ds_before = _tree(env), _tree(ds_dir)
    task, [run] = plat.run_task(model=model, cfg={"write": [*refused, *elsewhere, own]})
    assert run.status == RunStatus.completed, run.reason
    got = outcomes(plat.run_results(run), "write")
    assert got[own] == "allowed" and (settings.path(run.work_dir) / tok).read_text() == tok
    for host in [Path("/usr") / tok, Path("/usr/lib") / tok, Path("/etc") / tok, Path("/") / tok,
                 Path("/tmp") / tok, Path("/dev/shm") / tok, settings.data_dir / tok,
                 settings.path(run.log_path).parent / tok, settings.path(run.log_path).parent.parent / tok]:
        assert not host.exists(), f"{host} was written on the host"
    assert _tree(env) == env_before, "the model's environment changed"
    assert _tree(ds_dir) == ds_before, "the dataset changed"
    assert {p: got[p] for p in refused if got[p] != "blocked"} == {}
    plat.healthy(model)


def test_the_sandbox_root_is_read_only(plat, settings):
    """bwrap builds / on a tmpfs of its own. Unless it is remounted read-only, a run can write
    there (/etc, /, /workspace/.., the skeleton of DATA_DIR around the env mount): no host file
    changes, but those bytes are host memory that neither the memory limit (not RSS, not
    address space), the /tmp --size cap nor the disk watch counts."""
    model = plat.model()
    tok = plat.token
    targets = [f"/{tok}", f"/etc/{tok}", f"/workspace/../{tok}", f"/proc/1/root/{tok}",
               f"{settings.data_dir}/{tok}", f"{settings.data_dir}/envs/{tok}"]
    task, [run] = plat.run_task(model=model, cfg={"write": targets})
    assert run.status == RunStatus.completed, run.reason
    got = outcomes(plat.run_results(run), "write")
    # install_dependencies.sh runs in the same sandbox, as a uid of its own.
    script_targets = [f"/{tok}", f"/etc/{tok}", f"/workspace/../{tok}"]
    installer = plat.deploy(plat.upload(extra={"install_dependencies.sh": plat.install_script(
        {"write": script_targets})}))
    assert installer.status.value == "deployed", installer.reason
    script_got = outcomes(plat.deploy_results(installer), "write")
    assert set(script_got) == set(script_targets)
    # The tests' DATA_DIR lives under /tmp, which inside is the private, size-capped tmpfs:
    # writable by design there (and never the host's /tmp, checked below).
    assert {p: got[p] for p in targets if got[p] != "blocked" and not p.startswith("/tmp/")} == {}, \
        "writable inside a training run"
    assert not (settings.data_dir / tok).exists() and not (settings.data_dir / "envs" / tok).exists()
    assert {p: o for p, o in script_got.items() if o != "blocked"} == {}, "writable inside install_dependencies.sh"
    plat.healthy(model)


def test_signals_cannot_reach_the_worker_and_the_next_task_completes(plat, settings, ctx, session):
    model = plat.model()
    plat.default_dataset  # noqa: B018
    worker = start_worker(settings)
    try:
        redis_pid = int(ctx.redis.info("server")["process_id"])
        host_pids = [worker.pid, os.getpid(), redis_pid, 1]
        task = create_task(session=session, task_in=plat.task_in(model=model, cfg={"kill": host_pids}), actor=OP)
        context.current().schedule(task.id)
        wait_for(lambda: plat.refresh(task.id)[0].status.finished, 60, "the attacking task to finish")
        task, [run] = plat.refresh(task.id)
        res = plat.run_results(run)
        kills = outcomes(res, "kill")
        assert {str(p) for p in host_pids} <= set(kills)
        [visible] = [r["pids"] for r in res if r["kind"] == "pids"]
        assert all(p < 100 for p in visible), f"host pids visible inside: {visible}"
        assert worker.poll() is None, "the worker was killed"
        os.kill(redis_pid, 0)  # Redis is alive
        # The same worker takes the next task and completes it.
        nxt = create_task(session=session, task_in=plat.task_in(model=model, name="next"), actor=OP)
        context.current().schedule(nxt.id)
        wait_for(lambda: plat.refresh(nxt.id)[0].status.finished, 60, "the next task to finish")
        nxt, [nrun] = plat.refresh(nxt.id)
        assert nxt.status == TaskStatus.completed and nrun.status == RunStatus.completed, nrun.reason
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
    assert ctx.redis.ping()


def test_no_process_outlives_its_run(plat):
    model = plat.model()
    marker = f"trainyard-daemon-{uuid.uuid4().hex}"
    task, [run] = plat.run_task(model=model, cfg={"daemons": marker})
    assert run.status == RunStatus.completed, run.reason
    [daemons] = [r for r in plat.run_results(run) if r["kind"] == "daemons"]
    assert daemons["alive"] == 3, "the probe did not manage to start its three daemons"
    assert procs_with(marker) == [], "a daemon outlived the run"
    plat.healthy(model)


@pytest.mark.parametrize("network", [False, True], ids=["network-off", "network-on"])
def test_network_only_with_the_models_own_setting(plat, listen, network):
    """Without network nothing goes out. With network (an admin's choice) the run still has its own
    network namespace: loopback services of the host (a Redis, a Postgres) are not there, and the
    egress proxy refuses them, naming the host and the setting that would allow it."""
    server = listen()
    model = plat.model(network=network)
    assert model_summary(model)["network"] is network
    target = f"{server.address[0]}:{server.address[1]}"
    cfg = {"tcp": [server.address, ("1.1.1.1", 53)], "dns": ["example.com", "pypi.org"]}
    if network:
        cfg["proxy"] = [target, "localhost:6379", "169.254.169.254:80", "10.0.0.1:5432"]
    task, [run] = plat.run_task(model=model, cfg=cfg)
    assert run.status == RunStatus.completed, run.reason
    res = plat.run_results(run)
    out = {**outcomes(res, "tcp"), **outcomes(res, "dns"), **outcomes(res, "proxy")}
    assert set(out) == {target, "1.1.1.1:53", "example.com", "pypi.org", *cfg.get("proxy", [])}
    assert {t: o for t, o in out.items() if o != "blocked"} == {}
    assert server.accepted == 0
    if network:
        refused = [t for _s, t in plat.run_log(run) if t.startswith("[trainyard] egress to ")]
        assert any(f"egress to {target} refused" in t and "TRAINYARD_EGRESS_ALLOW" in t for t in refused), refused
    plat.healthy(model)


def test_predict_py_is_sandboxed_like_training(plat, listen, settings, secrets):
    settings.redis_socket.parent.mkdir(parents=True, exist_ok=True)
    embedded = listen(socket.AF_UNIX, str(settings.redis_socket))
    server = listen()
    db = sqlite_path(settings.database_url)
    hidden = [str(settings.data_dir / d) for d in ("runs", "models", "datasets", "predictions")]
    hidden += [str(db)] if db else []
    unix = [str(settings.redis_socket)] + ([_unix_path(settings.effective_redis_url)]
                                           if _unix_path(settings.effective_redis_url) else [])
    cfg = {"token": plat.token, "env": True, "read": hidden, "unix": unix, "any_socket": True,
           "tcp": [server.address], "write": [f"/usr/{plat.token}", "/weights/best.pt"]}
    model = plat.model(extra={"predict_cfg.json": json.dumps(cfg)})
    task, [run] = plat.run_task(model=model)
    assert task.status == TaskStatus.completed, task.reason
    weights = settings.path(run.work_dir) / "best.pt"
    weights_before = weights.read_bytes()
    pred = create_prediction(session=plat.session, settings=settings, task_id=task.id,
                             uploads=[Upload("a.png", _png())], actor=OP)
    enqueue_prediction(pred.id, connection=plat.ctx.redis)
    plat.burst()
    plat.session.expire_all()
    pred = get_prediction(session=plat.session, prediction_id=pred.id)
    assert pred.status == PredictionStatus.completed, pred.reason
    log_path = settings.path(pred.path) / "predict.log"
    plat.log_bytes(log_path)  # no secret value in it
    res = results(read_log(log_path=log_path))
    [dump] = [r for r in res if r["kind"] == "env"]
    assert not [n for n in dump["names"] if n in SECRET_NAMES or n.startswith("TRAINYARD_")]
    leaks = {(r["kind"], r["target"]): r["outcome"] for r in res
             if r["kind"] in ("read", "unix", "tcp", "write") and r["outcome"] != "blocked"}
    assert leaks == {}
    assert {r["target"] for r in res if r["kind"] == "read"} == set(hidden)
    assert embedded.accepted == server.accepted == 0
    assert weights.read_bytes() == weights_before, "predict.py changed the run's weights"
    assert not Path(f"/usr/{plat.token}").exists()
    plat.healthy(model)


def test_a_work_dir_replaced_by_a_symlink_exposes_no_host_file(plat, settings):
    """The run may replace /workspace/work_dir with a symlink to a host path (a dangling link
    inside the sandbox). Everything that later reads the work dir on the host, as the worker's
    user, must not follow it: file list, single-file download, weights zip, prediction weights."""
    from shared.core.errors import FieldError, NotFoundError
    from shared.services.weights import list_files, safe_file, weight_files, write_weights_zip

    model = plat.model()
    secret = f"victim-{uuid.uuid4().hex}"
    vtask, [victim] = plat.run_task(model=model, name="victim",
                                    cfg={"token": secret, "side_effect": "/workspace/work_dir/victim.pt"})
    victim_rel = f"runs/{vtask.id}/{victim.id}/workspace/work_dir/victim.pt"
    task, [run] = plat.run_task(model=model, cfg={"symlinks": {"/workspace/work_dir": str(settings.data_dir)}})
    assert run.status == RunStatus.completed, run.reason
    assert outcomes(plat.run_results(run), "symlink") == {"/workspace/work_dir": "allowed"}
    assert settings.path(run.work_dir).is_symlink(), "the probe did not plant its symlink"

    def gone(fn):
        try:
            return fn()
        except (NotFoundError, FieldError):
            return None

    leaks = {}
    leaks["list_files"] = gone(lambda: list_files(settings, run))
    leaks["weight_files"] = gone(lambda: weight_files(settings, run))
    leaks["safe_file"] = gone(lambda: safe_file(settings, run, victim_rel))
    zipped = gone(lambda: write_weights_zip(session=plat.session, settings=settings, task_id=task.id,
                                            run_id=run.id, dest=plat.tmp_path / "w.zip", actor=OP))
    if zipped:
        import zipfile

        with zipfile.ZipFile(zipped.path) as zf:
            leaks["write_weights_zip"] = zf.namelist()
    leaks["create_prediction"] = gone(lambda: create_prediction(
        session=plat.session, settings=settings, task_id=task.id, run_id=run.id, weights=victim_rel,
        uploads=[Upload("a.png", _png())], actor=OP))
    leaks = {k: (v[:3] if isinstance(v, list) else v) for k, v in leaks.items() if v}
    assert leaks == {}, f"host files reached through the run's work-dir symlink: {leaks}"
    plat.healthy(model)


def test_a_prediction_out_dir_replaced_by_a_symlink_exposes_no_host_file(plat, settings):
    from shared.services.predictions import outputs_zip

    target = settings.data_dir / "models"  # every uploaded model's code, on the host
    cfg = {"symlinks": {"/workspace/out": str(target)}}
    model = plat.model(extra={"predict_cfg.json": json.dumps(cfg)})
    task, [run] = plat.run_task(model=model)
    assert task.status == TaskStatus.completed, task.reason
    pred = create_prediction(session=plat.session, settings=settings, task_id=task.id,
                             uploads=[Upload("a.png", _png())], actor=OP)
    enqueue_prediction(pred.id, connection=plat.ctx.redis)
    plat.burst()
    plat.session.expire_all()
    pred = get_prediction(session=plat.session, prediction_id=pred.id)
    log = results(read_log(log_path=settings.path(pred.path) / "predict.log"))
    assert outcomes(log, "symlink") == {"/workspace/out": "allowed"}, "the probe did not plant its symlink"
    assert pred.status in (PredictionStatus.completed, PredictionStatus.failed)
    listed = [*(pred.outputs or {}).get("extra", []),
              *[r["output"] for r in (pred.outputs or {}).get("images", {}).values() if r.get("output")]]
    import zipfile

    with zipfile.ZipFile(outputs_zip(settings, pred, plat.tmp_path / "out.zip")) as zf:
        zipped = [n for n in zf.namelist() if n.endswith(".py")]
    leaks = {"outputs": [o for o in listed if o.endswith(".py")][:3], "outputs_zip": zipped[:3]}
    assert leaks == {"outputs": [], "outputs_zip": []}, f"host files reached through the out-dir symlink: {leaks}"
    plat.healthy(model)
