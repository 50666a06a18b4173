"""The environment's key: a content hash of everything that decides what gets
installed (the interpreter, the flattened requirement lines, constraints,
requirement-file options, the install_dependencies.sh text, the platform's
index settings and the package files requirement lines point at). Two models
with the same inputs share one environment, and a redeploy builds nothing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from shared.core.errors import EnvBuildError
from shared.core.i18n import N_
from shared.core.settings import Settings

# Bump when the build recipe changes in a way that makes old envs wrong.
# 2: markers in envstate/, sealed read-only envs; 3: the interpreter's platform tag; 4: relocatable
# (mounted at /opt/trainyard/env), sdists built in the sandbox
_FORMAT = "trainyard-env-4"
_KEY_LEN = 20
KEY_RE = re.compile(rf"^[0-9a-f]{{{_KEY_LEN}}}$")
# pip's own comment rule: '#' at line start or after whitespace; "pkg.whl#sha256=" is not a comment.
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")


def normalise(lines: Iterable[str]) -> list[str]:
    out = []
    for raw in lines:
        line = _COMMENT_RE.sub("", str(raw)).strip()
        if line:
            out.append(line)
    return out


# The interpreter's version and platform tag (e.g. linux-x86_64, cpython-311, glibc 2.35): envs live on a store
# shared by hosts, and an env fits exactly the hosts whose interpreter gives the same answer.
_IDENTITY = ("import platform,sys,sysconfig;"
             "print(sys.version.replace(chr(10),' '), sysconfig.get_platform(), sys.implementation.cache_tag,"
             "'-'.join(platform.libc_ver()), sep=' | ')")


@lru_cache(maxsize=32)
def _python_version(real_path: str, mtime_ns: int, size: int) -> str:
    # mtime/size are only in the cache key: an upgraded interpreter is asked again.
    try:
        proc = subprocess.run([real_path, "-c", _IDENTITY],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvBuildError(N_("The environment interpreter {real_path} cannot be run ({exc}); set "
                               "TRAINYARD_ENV_PYTHON to a working python3."),
                            params={"real_path": real_path, "exc": exc}) from exc
    if proc.returncode != 0:
        raise EnvBuildError(N_("The environment interpreter {real_path} failed to start: {stderr}; set "
                               "TRAINYARD_ENV_PYTHON to a working python3."),
                            params={"real_path": real_path, "stderr": proc.stderr.strip()[-500:]})
    return proc.stdout.strip()


def _interpreter(python: str) -> tuple[str, str]:
    real = os.path.realpath(python)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise EnvBuildError(N_("The environment interpreter {python} does not exist; set TRAINYARD_ENV_PYTHON to "
                               "an installed python3 (e.g. /usr/bin/python3.11)."),
                            params={"python": python}) from exc
    return real, _python_version(real, st.st_mtime_ns, st.st_size)


def _constraint_fingerprint(ref: str) -> str:
    # The file's contents decide resolution; lifting a cap in it must give a new env.
    path = Path(ref[len("file://"):]) if ref.startswith("file://") else Path(ref)
    if "://" in ref and not ref.startswith("file://"):
        return ref
    try:
        return f"{ref}#sha256={hashlib.sha256(path.read_bytes()).hexdigest()}"
    except OSError:
        return f"{ref}#missing"


def env_key(*, python: str, requirements: list[str], constraints: list[str], options: list[str],
            install_script: str | None, settings: Settings, local_inputs: Iterable[str] = ()) -> str:
    """Content hash of everything that decides the environment's contents.

    ``local_inputs`` are fingerprints of files inside the package that
    requirement lines point at (a vendored wheel); ``ensure_env`` fills it.
    """
    real, version = _interpreter(python)
    payload = {
        "format": _FORMAT,
        "python": [real, version],
        "requirements": normalise(requirements),
        "constraints": normalise(constraints),
        "options": normalise(options),
        "install_script": install_script,
        "index_url": settings.index_url,
        "index_strategy": settings.index_strategy.value,
        "extra_index_urls": list(settings.extra_index_urls),
        "find_links": list(settings.find_links),
        "constraint_files": [_constraint_fingerprint(c) for c in settings.constraints],
        "local_inputs": sorted(local_inputs),
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(blob).hexdigest()[:_KEY_LEN]


def _split_option(line: str) -> tuple[str, str]:
    """'-i URL' / '--index-url=URL' / '-iURL' -> ('--index-url', 'URL')."""
    aliases = {"-i": "--index-url", "-f": "--find-links", "-c": "--constraint", "-e": "--editable"}
    line = line.strip()
    if line.startswith("--"):
        head, _, rest = line.partition(" ")
        if "=" in head:
            head, _, value = head.partition("=")
            return head, (value + " " + rest).strip()
        return head, rest.strip()
    for short, long in aliases.items():
        if line.startswith(short):
            return long, line[len(short):].lstrip(" =")
    return line, ""


def overrides_index(options: Iterable[str]) -> bool:
    return any(_split_option(o)[0] in ("--index-url", "--no-index") for o in options)


def _local_refs(requirements: Iterable[str], options: Iterable[str]) -> list[str]:
    """Requirement/option values that may name a file inside the package."""
    refs = []
    for line in normalise(options):
        name, value = _split_option(line)
        if name in ("--find-links", "--editable") and value and "://" not in value:
            refs.append(value)
    for line in normalise(requirements):
        name, value = _split_option(line)
        if name == "--editable":
            refs.append(value)
            continue
        spec = line.split(";", 1)[0].strip()
        if " @ " in spec or "@file:" in spec:
            url = spec.split("@", 1)[1].strip()
            if url.startswith("file://"):
                refs.append(url[len("file://"):])
            continue
        first = spec.split()[0] if spec else ""
        if first.startswith(("./", "../", "/", "~")) or first.lower().endswith(_ARCHIVE_SUFFIXES):
            refs.append(first)
    return refs


def _hash_tree(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
        return h.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git"))
        for name in sorted(files):
            p = Path(root) / name
            h.update(str(p.relative_to(path)).encode() + b"\0")
            with contextlib.suppress(OSError):
                h.update(p.read_bytes())
    return h.hexdigest()


def local_inputs(requirements: Iterable[str], options: Iterable[str], package_dir: Path | None) -> list[str]:
    base = Path(package_dir) if package_dir else Path.cwd()
    out = []
    for ref in _local_refs(requirements, options):
        p = (base / Path(ref).expanduser()) if not Path(ref).expanduser().is_absolute() else Path(ref)
        if p.exists():
            out.append(f"{ref}={_hash_tree(p)}")
    return out

