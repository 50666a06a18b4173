"""Requirements that must be built from source, and the uv command that builds
them in the sandbox.

Installing a wheel runs no code of the package; building a source distribution
(an sdist, a directory with ``setup.py``, a VCS URL) runs its build code. The
host's uv therefore installs with ``--no-build``; when that fails because
something has to be built, the same install runs again inside the sandbox
(:func:`sandbox_install_argv`), where the build code is user code like any
other: the install's own uid and limits, network only through the egress
proxy, the env as its only writable mount, a private uv cache in its work dir.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from runner.envs.uv import index_args
from shared.core.settings import Settings

# Where the sandboxed install finds its inputs (bound read-only) and the env (bound writable).
UV_INSIDE = "/opt/trainyard/tools/uv"
REQUIREMENTS_INSIDE = "/opt/trainyard/build/requirements.txt"
CONSTRAINTS_INSIDE = "/opt/trainyard/build/constraints.txt"
PRIVATE_CACHE = ".uv-cache"  # under the build's own work dir: never the shared cache, never writable by a run

# uv's words for "this needs a build and building is off" (checked against uv 0.5 to 0.13):
#   error: Building source distributions is disabled
#   cause: Building source distributions for `pkg` is disabled
#   hint: Wheels are required for `pkg` because building from source is disabled for all packages
#   Because pkg==1.0 has no usable wheels and ...
_NEEDS_BUILD = (
    re.compile(r"building source distributions (?:for `(?P<name>[^`]+)` )?is disabled", re.I),
    re.compile(r"wheels are required for `(?P<name>[^`]+)` because building from source is disabled", re.I),
    re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:==\S+)? has no usable wheels", re.I),
    re.compile(r"no wheels (?:are )?available for (?:package )?`?(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)`?", re.I),
)
_BUILT = re.compile(r"^\s*Built (?P<what>\S.*)$")


def needs_build(lines: Iterable[str]) -> list[str] | None:
    """The packages uv says must be built (possibly none named), or None when the
    failure is something else (a missing package, a conflict, an unreachable index)."""
    names: list[str] = []
    found = False
    for line in lines:
        for pattern in _NEEDS_BUILD:
            for m in pattern.finditer(line):
                found = True
                name = m.groupdict().get("name")
                if name and name not in names:
                    names.append(name)
    return names if found else None


def built_by(line: str) -> str | None:
    """``evilpkg @ file:///...`` from uv's ``      Built evilpkg @ file:///...`` line."""
    m = _BUILT.match(line)
    return m.group("what").strip() if m else None


def sandbox_install_argv(*, settings: Settings, options: list[str], uv: str, env: str, requirements: str,
                         constraints: str | None, cache_dir: str) -> list[str]:
    """The host's install, as the sandbox runs it: the same indexes and constraints,
    builds allowed, a private cache, files copied (the cache lives elsewhere)."""
    argv = [uv, "pip", "install", "--no-config", "--python", f"{env}/bin/python",
            *index_args(settings, options, cache_dir=cache_dir), "--link-mode", "copy"]
    if constraints:
        argv += ["-c", constraints]
    return [*argv, "-r", requirements]
