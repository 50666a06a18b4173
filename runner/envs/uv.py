"""Running uv: finding it, its environment, one build step at a time under the
build's deadline, and what it installed."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from runner.envs.keys import overrides_index
from runner.envs.layout import LogFn
from runner.safefs import read_head
from shared.core.errors import EnvBuildError
from shared.core.i18n import N_
from shared.core.settings import Settings

_METADATA_HEAD = 64 * 1024  # Name and Version come first; a description can be megabytes
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Of uv's own UV_* variables only these transport settings reach uv: the others (indexes,
# resolution strategy, cache, python) would change what gets installed behind the key's back.
_UV_PASSTHROUGH = {"UV_NATIVE_TLS", "UV_HTTP_TIMEOUT", "UV_REQUEST_TIMEOUT", "UV_CONCURRENT_DOWNLOADS",
                   "UV_CONCURRENT_BUILDS", "UV_CONCURRENT_INSTALLS", "UV_INSECURE_HOST"}


def find_uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    sibling = Path(sys.executable).parent / "uv"
    if sibling.is_file():
        return str(sibling)
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    raise EnvBuildError(
        N_("uv is not installed, so model environments cannot be built. "
        "Install it into the platform's Python with `pip install uv`."))


class StepFailed(Exception):
    """Internal: a build step failed; ``headline`` and ``lines`` become the user's message."""

    def __init__(self, headline: str, lines: list[str]) -> None:
        super().__init__(headline)
        self.headline = headline
        self.lines = lines


def uv_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("UV_") and k not in _UV_PASSTHROUGH)
           and k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME")}
    env["NO_COLOR"] = "1"  # plain text in logs and error messages
    env["UV_NO_PROGRESS"] = "1"
    env["UV_PYTHON_DOWNLOADS"] = "never"  # only settings.env_python is ever used
    return env


def _kill_group(proc: subprocess.Popen, fired: threading.Event) -> None:
    fired.set()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _error_lines(lines: Iterable[str]) -> list[str]:
    """uv's own error block: from the first 'error:' / '×' line to the end."""
    clean = [_ANSI_RE.sub("", ln).rstrip() for ln in lines]
    clean = [ln for ln in clean if ln.strip()]
    start = next((i for i, ln in enumerate(clean) if ln.lstrip().startswith(("error:", "×"))), None)
    block = clean[start:] if start is not None else clean[-10:]
    return block[:30]


class Builder:
    def __init__(self, *, settings: Settings, key: str, path: Path, emit: LogFn, log_file, uv: str) -> None:
        self.settings = settings
        self.key = key
        self.path = path
        self.user_log = emit
        self.log_file = log_file
        self.uv = uv
        self.deadline = time.monotonic() + settings.env_build_timeout_s
        self.env = uv_environ()

    def emit(self, line: str) -> None:
        self.log_file.write(line + "\n")
        self.log_file.flush()
        self.user_log(line)

    def run(self, args: list[str], *, cwd: Path, what: str) -> None:
        cmd = [self.uv, *args]
        self.emit("$ " + " ".join(cmd))
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout()
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=cwd, env=self.env, start_new_session=True, text=True,
                                    encoding="utf-8", errors="replace", bufsize=1)
        except OSError as exc:
            raise StepFailed(N_("{step} could not start: {error}").format(step=what, error=exc), []) from exc
        fired = threading.Event()
        timer = threading.Timer(remaining, _kill_group, args=(proc, fired))
        timer.daemon = True
        timer.start()
        tail: deque[str] = deque(maxlen=400)
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip("\r\n")
                tail.append(line)
                self.emit(line)
            rc = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:  # the log callback raised: don't leave uv running
                _kill_group(proc, threading.Event())
                proc.wait()
        if fired.is_set():
            raise self._timeout()
        if rc != 0:
            raise StepFailed(N_("{step} exited with code {code}").format(step=what, code=rc), _error_lines(tail))

    def remaining(self) -> float:
        """Seconds left of the build's time limit (the install script gets what uv left)."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout()
        return remaining

    def _timeout(self) -> StepFailed:
        return StepFailed(
            N_("Building the environment took longer than {seconds} s and was stopped (raise "
               "TRAINYARD_ENV_BUILD_TIMEOUT_S if large downloads are expected)").format(
                seconds=self.settings.env_build_timeout_s), [])

    def index_args(self, options: list[str]) -> list[str]:
        return index_args(self.settings, options, cache_dir=str(self.settings.uv_cache_dir))

    def freeze(self) -> list[str]:
        """The installed distributions, read from their metadata files. Nothing
        of the env is executed on the host: after install_dependencies.sh the
        env is user-written, so its interpreter is untrusted, and its files are
        opened without following links and read only as far as the headers."""
        found: dict[str, str] = {}
        for meta in sorted(self.path.glob("lib/python*/site-packages/*.dist-info/METADATA")):
            try:
                head = read_head(self.path, meta.relative_to(self.path), _METADATA_HEAD)
            except OSError:
                continue  # a link the script planted, or not a file: never followed
            name = version = None
            for line in head.decode("utf-8", "replace").splitlines():
                if not line.strip():
                    break  # the headers end at the first blank line
                key, _, value = line.partition(":")
                if key == "Name":
                    name = value.strip()
                elif key == "Version":
                    version = value.strip()
            if name and version:
                found.setdefault(name.lower().replace("_", "-"), f"{name}=={version}")
        return [found[k] for k in sorted(found)]


def index_args(settings: Settings, options: list[str], *, cache_dir: str) -> list[str]:
    """uv's index, find-links, constraint and cache arguments for one install.

    pip's behaviour across indexes by default (best version from any index), not uv's
    first-index-wins: pip is the reference installer of the contract, and a package pinned
    below the newest on the first index (``setuptools<80``) must still resolve.
    """
    s = settings
    args = ["--cache-dir", cache_dir, "--index-strategy", s.index_strategy.value]
    # A team's own `-i mirror` in requirements.txt replaces the default index, as
    # with pip; uv would let the command line win, so leave ours off then.
    if s.index_url and not overrides_index(options):
        args += ["--index-url", s.index_url]
    for url in s.extra_index_urls:
        args += ["--extra-index-url", url]
    for link in s.find_links:
        args += ["--find-links", link]
    for c in s.constraints:
        args += ["-c", c]
    return args
