"""Isolation that holds in a team deployment (issue 13, part 1): install scripts
are user code in the same sandbox as training, envs are sealed read-only and
checked, the worker never writes or reads through what user code planted, and
network goes only through the egress proxy to the package index.

Each test replays one finding of the red team through the real deploy job or a
real run and checks the host afterwards.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import io
import ipaddress
import os
import socket
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from shared.records import RunStatus, TaskStatus
from tests.support.hostile import outcomes

GiB = 1024**3


def _deploy_lines(plat, model) -> list[str]:
    return plat.log_bytes(plat.settings.path(model.install_log)).decode("utf-8", "replace").splitlines()


def _nothing_left(settings) -> None:
    """A failed deploy leaves no env, no env state and no install work dir behind."""
    envs = settings.data_dir / "envs"
    dirs = [p.name for p in envs.iterdir() if p.is_dir()] if envs.is_dir() else []
    state = settings.data_dir / "envstate"
    assert dirs == [], f"left in envs/: {dirs}"
    assert not state.is_dir() or list(state.iterdir()) == [], list(state.iterdir())


def _installer(plat, cfg, **kw):
    return plat.deploy(plat.upload(extra={"install_dependencies.sh": plat.install_script(cfg)}, **kw))


# -- network -----------------------------------------------------------------


def test_install_script_reaches_no_host_service(plat, listen, settings, ctx):
    """The red team pushed a pickled RQ job into the worker's Redis from install_dependencies.sh
    (REDIS_URL=redis://127.0.0.1:6379) and logged in to Postgres: the script ran in the host's
    network namespace. Now it has its own, and the egress proxy refuses loopback."""
    settings.redis_socket.parent.mkdir(parents=True, exist_ok=True)
    redis_unix = listen(socket.AF_UNIX, str(settings.redis_socket))
    redis_tcp, postgres_tcp = listen(), listen()
    unix = [str(settings.redis_socket)]
    worker_redis = settings.effective_redis_url
    if worker_redis.startswith("unix://"):
        unix.append(worker_redis[len("unix://"):].split("?", 1)[0])
    tcp = [redis_tcp.address, postgres_tcp.address, ("127.0.0.1", 6379), ("127.0.0.1", 5432)]
    proxied = [f"127.0.0.1:{redis_tcp.address[1]}", f"localhost:{postgres_tcp.address[1]}", "169.254.169.254:80"]
    model = _installer(plat, {"tcp": tcp, "unix": unix, "proxy": proxied})
    assert model.status.value == "deployed", model.reason
    res = plat.deploy_results(model)
    tried = {**outcomes(res, "tcp"), **outcomes(res, "unix"), **outcomes(res, "proxy")}
    assert set(tried) == {f"{h}:{p}" for h, p in tcp} | set(unix) | set(proxied)
    assert {t: o for t, o in tried.items() if o != "blocked"} == {}
    assert redis_unix.accepted == redis_tcp.accepted == postgres_tcp.accepted == 0
    refused = [t for t in _deploy_lines(plat, model) if "egress to " in t and " refused: " in t]
    assert any(f"127.0.0.1:{redis_tcp.address[1]} refused" in t and "TRAINYARD_EGRESS_ALLOW" in t
               for t in refused), refused
    assert ctx.redis.ping()


class _Index:
    """A tiny simple index on 127.0.0.1 serving one wheel that exists nowhere else."""

    project = "trainyard-egress-probe"

    def __init__(self, root: Path) -> None:
        dist = "trainyard_egress_probe"
        wheel = f"{dist}-1.0-py3-none-any.whl"
        files = {f"{dist}/__init__.py": b"VALUE = 42\n",
                 f"{dist}-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: trainyard-egress-probe\n"
                                                   b"Version: 1.0\n",
                 f"{dist}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                                b"Tag: py3-none-any\n"}
        record = []
        for name, data in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
        record.append(f"{dist}-1.0.dist-info/RECORD,,")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
            zf.writestr(f"{dist}-1.0.dist-info/RECORD", "\n".join(record) + "\n")
        (root / "files").mkdir(parents=True)
        (root / "files" / wheel).write_bytes(buf.getvalue())
        page = root / "simple" / self.project
        page.mkdir(parents=True)
        (page / "index.html").write_text(f'<a href="/files/{wheel}">{wheel}</a>\n')
        self.requests: list[str] = []
        index = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                index.requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      functools.partial(Handler, directory=str(root)))
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/simple"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def index(tmp_path):
    idx = _Index(tmp_path / "index")
    yield idx
    idx.close()


def test_the_proxy_lets_pip_reach_the_index_and_refuses_private_addresses(plat, settings, index):
    """pip in install_dependencies.sh installs from the configured index through the proxy (the
    package is on that index only). The index is on 127.0.0.1, so the test allow-lists exactly its
    port; a name that is allowed but resolves to loopback (localhost) is still refused."""
    settings.index_url = index.url
    settings.egress_allow_private = [f"127.0.0.1:{index.port}"]
    settings.egress_allow = ["localhost"]
    script = ('#!/bin/bash\n"$1/bin/pip" install --no-cache-dir ' + index.project + "\n"
              + plat.install_script({"proxy": ["localhost:443", f"127.0.0.1:{index.port + 1}"]}).split("\n", 1)[1])
    model = plat.deploy(plat.upload(extra={"install_dependencies.sh": script}))
    assert model.status.value == "deployed", model.reason
    assert any(line.startswith("trainyard-egress-probe==1.0") for line in model.freeze), model.freeze
    assert any(p.startswith("/files/trainyard_egress_probe") for p in index.requests), index.requests
    got = outcomes(plat.deploy_results(model), "proxy")
    assert got == {"localhost:443": "blocked", f"127.0.0.1:{index.port + 1}": "blocked"}
    lines = _deploy_lines(plat, model)
    assert any("egress to localhost:443 refused: localhost resolves to" in t
               and "TRAINYARD_EGRESS_ALLOW_PRIVATE" in t for t in lines), lines


def _pypi_reachable() -> str | None:
    try:
        addrs = {i[4][0] for i in socket.getaddrinfo("pypi.org", 443, type=socket.SOCK_STREAM)}
    except OSError as exc:
        return f"pypi.org does not resolve here ({exc})"
    private = [a for a in addrs if not ipaddress.ip_address(a).is_global]
    if private:
        return f"pypi.org resolves to {private} here (an intercepting proxy), which the egress proxy refuses by design"
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError as exc:
        return f"pypi.org:443 is unreachable from here ({exc})"
    return None


def test_the_proxy_allows_the_real_index_host(plat, settings):
    why = _pypi_reachable()
    if why:
        pytest.skip(why)
    settings.index_url = None  # pip's and uv's default: PyPI
    model = _installer(plat, {"proxy": ["pypi.org:443", "files.pythonhosted.org:443", "example.com:443"]})
    assert model.status.value == "deployed", model.reason
    got = outcomes(plat.deploy_results(model), "proxy")
    assert got == {"pypi.org:443": "allowed", "files.pythonhosted.org:443": "allowed", "example.com:443": "blocked"}


# -- what an install script leaves in the env --------------------------------


@pytest.mark.parametrize("op,named", [
    (["setuid", "/usr/bin/python3", "{env}/lib/evil-interp"], "lib/evil-interp is setuid"),
    (["fifo", "{env}/lib/evil-fifo"], "lib/evil-fifo is a fifo"),
    (["link", "/etc", "{env}/lib/etc"], "lib/etc is a link to /etc, outside the environment"),
], ids=["setuid-interpreter", "fifo", "link-out"])
def test_a_special_file_in_the_env_fails_the_deploy_and_nothing_stays(plat, settings, op, named):
    """The red team left a setuid-root interpreter in DATA_DIR/envs that the run's uid executed to
    get euid 0. Whatever the script leaves that no run may be given fails the deploy, named."""
    model = _installer(plat, {"ops": [op]})
    assert outcomes(plat.deploy_results(model), op[0]) == {op[-1]: "allowed"}, "the script did not plant it"
    assert model.status.value == "failed"
    assert named in model.reason and "install_dependencies.sh" in model.reason, model.reason
    _nothing_left(settings)


def test_a_built_env_is_roots_and_read_only(plat, settings):
    model = _installer(plat, {"ops": [["fill", "{env}/data", 1, 0]]})
    assert model.status.value == "deployed", model.reason
    env = settings.data_dir / "envs" / model.env_key
    for p in [env, *env.rglob("*")]:
        st = p.lstat()
        assert st.st_uid == 0, f"{p} is owned by uid {st.st_uid}"
        if not stat.S_ISLNK(st.st_mode):
            assert st.st_mode & 0o222 == 0 and not st.st_mode & (stat.S_ISUID | stat.S_ISGID), \
                f"{p} has mode {stat.filemode(st.st_mode)}"


def test_marker_links_write_nothing_on_the_host(plat, settings, tmp_path):
    """The script replaced the env's freeze file, last-used and complete markers with links, and the
    worker (root) wrote through them to host files. Markers now live where no sandbox sees them,
    and a link out of the env fails the deploy."""
    victims = {name: tmp_path / f"victim{i}" for i, name in
               enumerate((".trainyard-freeze.txt", ".last-used", ".trainyard-complete", "freeze.txt", "complete"))}
    for v in victims.values():
        v.write_text("host file\n")
    before = {n: (v.read_bytes(), v.stat().st_mtime_ns) for n, v in victims.items()}
    model = _installer(plat, {"ops": [["link", str(v), "{env}/" + n] for n, v in victims.items()]})
    assert set(outcomes(plat.deploy_results(model), "link").values()) == {"allowed"}
    assert model.status.value == "failed" and "a link to" in model.reason, model.reason
    assert {n: (v.read_bytes(), v.stat().st_mtime_ns) for n, v in victims.items()} == before
    _nothing_left(settings)


def _hwm_reset() -> None:
    with open("/proc/self/clear_refs", "w") as fh:  # "5": reset the peak resident set size
        fh.write("5")


def _hwm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_sparse_interpreter_costs_the_worker_no_memory(plat, settings):
    """A 4 GiB sparse bin/python-* raised the worker's memory by 4 GiB: it was read whole to
    fingerprint the interpreter. The deploy (run in this process) fails; the peak stays small."""
    plat.default_dataset  # noqa: B018 - nothing else in this process grows during the deploy
    _hwm_reset()
    base = _hwm_bytes()
    model = _installer(plat, {"ops": [["sparse", "{env}/bin/python-huge", 4 * GiB]]})
    grew = _hwm_bytes() - base
    assert outcomes(plat.deploy_results(model), "sparse") == {"{env}/bin/python-huge": "allowed"}
    assert model.status.value == "failed" and "python-huge" in model.reason, model.reason
    assert grew < 512 * 1024**2, f"the worker's peak memory grew by {grew / GiB:.1f} GiB during the deploy"
    _nothing_left(settings)


# -- limits of installs and runs ----------------------------------------------


def test_install_disk_limit_counts_the_env(plat, settings):
    """400 MiB written into the env under a 150 MiB disk limit went unnoticed."""
    settings.max_disk_bytes = 150 * 1024**2
    model = _installer(plat, {"ops": [["fill", "{env}/fill", 400, 0.01]]})
    assert model.status.value == "failed", "400 MiB went into the env under a 150 MiB limit"
    assert "disk limit 150 MiB reached" in model.reason, model.reason
    _nothing_left(settings)


def test_install_process_limit_holds(plat, settings):
    """The install started 1,200 processes under a limit of 256: it ran as root, which
    RLIMIT_NPROC ignores. It runs as a uid of its own now."""
    settings.max_procs = 30
    model = _installer(plat, {"ops": [["fork", 300]]})
    counts = [r["count"] for r in plat.deploy_results(model) if r["kind"] == "fork" and "count" in r]
    assert counts, "the script did not fork"
    assert max(counts) <= 30, f"the install started {max(counts)} processes under a limit of 30"


def test_an_inode_flood_stops_at_the_file_limit(plat, settings):
    """300,000 empty files under a 50 MiB disk limit: no blocks, so only a count stops them."""
    settings.max_files = 20000
    model = plat.model()
    task, [run] = plat.run_task(model=model, cfg={"ops": [["empty_files", "/workspace/flood", 300000]]},
                                limits={"max_disk_bytes": "50MiB"})
    assert run.status == RunStatus.failed, "300,000 files were made under a limit of 20,000"
    assert run.reason.startswith("file count limit 20000 reached"), run.reason
    assert task.status == TaskStatus.failed
    made = sum(1 for _ in os.scandir(settings.path(run.work_dir).parent / "flood"))
    assert made < 300000
    settings.max_files = 1_000_000
    plat.healthy(model)
