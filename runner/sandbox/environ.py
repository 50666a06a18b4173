"""What user code finds inside: an environment built from nothing, the index
settings of an install step, and where host paths appear."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runner.sandbox.access import drop_uid
from runner.sandbox.spec import WORKSPACE, Mount, SandboxSpec
from shared.core.errors import SandboxError
from shared.core.i18n import N_


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
    elif drop_uid(spec.uid) is not None:
        # No bound /etc/passwd entry for the run's uid here: getpass.getuser()
        # (used by torch's compile cache, for one) reads these first.
        env["USER"] = env["LOGNAME"] = f"run{spec.uid}"
    if env_root and os.path.exists(os.path.join(host_path(spec, env_root) or env_root, "pyvenv.cfg")):
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


def index_mounts(settings: Any) -> list[Mount]:
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

def host_path(spec: SandboxSpec, inside: str) -> str | None:
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
        raise SandboxError(N_("{host_s} is not visible inside the sandbox: it is neither under the run's work dir "
                              "{workdir} nor under any mount."),
                           params={"host_s": host_s, "workdir": spec.workdir})
    return best[1]

