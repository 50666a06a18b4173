"""Python environments for model packages, built with uv and cached by content.

An environment lives at ``DATA_DIR/envs/<key>``, where the key is a hash of
everything that decides what gets installed: the interpreter, the flattened
requirement lines, constraints, requirement-file options, the
install_dependencies.sh text and the platform's index settings. Two models
with the same inputs share one environment, and a redeploy builds nothing.

On-disk layout of one environment::

    envs/<key>.lock                 flock: builders take it exclusive, users shared
    envs/<key>/                     the venv itself (built in place: venvs embed absolute paths)
    envs/<key>/install.log          everything uv (and the install script) printed
    envs/<key>/.trainyard-freeze.txt  ``uv pip freeze`` of the finished env
    envs/<key>/.last-used           its mtime orders eviction
    envs/<key>/.trainyard-complete  written last; an env without it is a leftover
    envs/failed-<key>-<ts>.log      the log of a build that failed (the env dir is removed)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from shared.core.errors import EnvBuildError, TrainyardError
from shared.core.settings import Settings, format_size

# Bump when the build recipe changes in a way that makes old envs wrong.
_FORMAT = "trainyard-env-1"
COMPLETE_MARKER = ".trainyard-complete"
LAST_USED = ".last-used"
FREEZE_FILE = ".trainyard-freeze.txt"
INSTALL_LOG = "install.log"
_REQUIREMENTS_FILE = ".trainyard-requirements.txt"
_CONSTRAINTS_FILE = ".trainyard-constraints.txt"
_KEY_LEN = 20
_KEY_RE = re.compile(rf"^[0-9a-f]{{{_KEY_LEN}}}$")
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# pip's own comment rule: '#' at line start or after whitespace; "pkg.whl#sha256=" is not a comment.
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")
# Of uv's own UV_* variables only these transport settings reach uv: the others (indexes,
# resolution strategy, cache, python) would change what gets installed behind the key's back.
_UV_PASSTHROUGH = {"UV_NATIVE_TLS", "UV_HTTP_TIMEOUT", "UV_REQUEST_TIMEOUT", "UV_CONCURRENT_DOWNLOADS",
                   "UV_CONCURRENT_BUILDS", "UV_CONCURRENT_INSTALLS", "UV_INSECURE_HOST"}

LogFn = Callable[[str], None]


@dataclass
class EnvResult:
    key: str
    path: Path
    built: bool
    log_path: Path
    freeze: list[str] = field(default_factory=list)  # `uv pip freeze` lines


def env_python(path: Path) -> Path:
    return Path(path) / "bin" / "python"


def env_dir(*, settings: Settings, key: str) -> Path:
    return settings.data_dir / "envs" / key


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
        "uv is not installed, so model environments cannot be built. "
        "Install it into the platform's Python with `pip install uv`.")


# ---------------------------------------------------------------------------
# Keys


def _normalise(lines: Iterable[str]) -> list[str]:
    out = []
    for raw in lines:
        line = _COMMENT_RE.sub("", str(raw)).strip()
        if line:
            out.append(line)
    return out


@lru_cache(maxsize=32)
def _python_version(real_path: str, mtime_ns: int, size: int) -> str:
    # mtime/size are only in the cache key: an upgraded interpreter is asked again.
    try:
        proc = subprocess.run([real_path, "-c", "import sys;print(sys.version)"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvBuildError(f"The environment interpreter {real_path} cannot be run ({exc}); "
                            "set TRAINYARD_ENV_PYTHON to a working python3.") from exc
    if proc.returncode != 0:
        raise EnvBuildError(f"The environment interpreter {real_path} failed to start: "
                            f"{proc.stderr.strip()[-500:]}; set TRAINYARD_ENV_PYTHON to a working python3.")
    return proc.stdout.strip()


def _interpreter(python: str) -> tuple[str, str]:
    real = os.path.realpath(python)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise EnvBuildError(f"The environment interpreter {python} does not exist; "
                            "set TRAINYARD_ENV_PYTHON to an installed python3 (e.g. /usr/bin/python3.11).") from exc
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
        "requirements": _normalise(requirements),
        "constraints": _normalise(constraints),
        "options": _normalise(options),
        "install_script": install_script,
        "index_url": settings.index_url,
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


def _overrides_index(options: Iterable[str]) -> bool:
    return any(_split_option(o)[0] in ("--index-url", "--no-index") for o in options)


def _local_refs(requirements: Iterable[str], options: Iterable[str]) -> list[str]:
    """Requirement/option values that may name a file inside the package."""
    refs = []
    for line in _normalise(options):
        name, value = _split_option(line)
        if name in ("--find-links", "--editable") and value and "://" not in value:
            refs.append(value)
    for line in _normalise(requirements):
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


def _local_inputs(requirements: Iterable[str], options: Iterable[str], package_dir: Path | None) -> list[str]:
    base = Path(package_dir) if package_dir else Path.cwd()
    out = []
    for ref in _local_refs(requirements, options):
        p = (base / Path(ref).expanduser()) if not Path(ref).expanduser().is_absolute() else Path(ref)
        if p.exists():
            out.append(f"{ref}={_hash_tree(p)}")
    return out


# ---------------------------------------------------------------------------
# Locks and markers


@contextlib.contextmanager
def _flock(lock_path: Path, mode: int, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    # flock locks belong to the open file description, so two threads of one
    # process that each open the file exclude each other just like two processes.
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if on_wait:
                on_wait()
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _try_flock(lock_path: Path) -> int | None:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _is_complete(path: Path) -> bool:
    return (path / COMPLETE_MARKER).is_file()


def _touch(path: Path) -> None:
    marker = path / LAST_USED
    marker.touch()
    os.utime(marker)  # touch() keeps an existing mtime on some filesystems; be explicit


def _reuse(key: str, path: Path, emit: LogFn) -> EnvResult:
    _touch(path)
    freeze_file = path / FREEZE_FILE
    freeze = freeze_file.read_text().splitlines() if freeze_file.is_file() else []
    emit(f"Reusing environment {key} ({len(freeze)} packages); nothing to install.")
    return EnvResult(key=key, path=path, built=False, log_path=path / INSTALL_LOG, freeze=freeze)


# ---------------------------------------------------------------------------
# Building


class _StepFailed(Exception):
    """Internal: a build step failed; ``headline`` and ``lines`` become the user's message."""

    def __init__(self, headline: str, lines: list[str]) -> None:
        super().__init__(headline)
        self.headline = headline
        self.lines = lines


def _uv_environ() -> dict[str, str]:
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


class _Builder:
    def __init__(self, *, settings: Settings, key: str, path: Path, emit: LogFn, log_file, uv: str) -> None:
        self.settings = settings
        self.key = key
        self.path = path
        self.user_log = emit
        self.log_file = log_file
        self.uv = uv
        self.deadline = time.monotonic() + settings.env_build_timeout_s
        self.env = _uv_environ()

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
            raise _StepFailed(f"{what} could not start: {exc}", []) from exc
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
            raise _StepFailed(f"{what} exited with code {rc}", _error_lines(tail))

    def _timeout(self) -> _StepFailed:
        return _StepFailed(
            f"Building the environment took longer than {self.settings.env_build_timeout_s} s and was stopped "
            "(raise TRAINYARD_ENV_BUILD_TIMEOUT_S if large downloads are expected)", [])

    def index_args(self, options: list[str]) -> list[str]:
        s = self.settings
        args = ["--cache-dir", str(s.uv_cache_dir)]
        # A team's own `-i mirror` in requirements.txt replaces the default index, as
        # with pip; uv would let the command line win, so leave ours off then.
        if s.index_url and not _overrides_index(options):
            args += ["--index-url", s.index_url]
        for url in s.extra_index_urls:
            args += ["--extra-index-url", url]
        for link in s.find_links:
            args += ["--find-links", link]
        for c in s.constraints:
            args += ["-c", c]
        return args

    def freeze(self) -> list[str]:
        """The installed distributions, read from their metadata files. Nothing
        of the env is executed on the host: after install_dependencies.sh the
        env is user-written, so its interpreter is untrusted."""
        found: dict[str, str] = {}
        root = self.path.resolve()
        for meta in sorted(self.path.glob("lib/python*/site-packages/*.dist-info/METADATA")):
            if meta.is_symlink() or not meta.resolve().is_relative_to(root):
                continue  # never read host files through links the script planted
            name = version = None
            try:
                with open(meta, encoding="utf-8", errors="replace") as fh:
                    for line in fh:
                        if not line.strip():
                            break  # the headers end at the first blank line
                        key, _, value = line.partition(":")
                        if key == "Name":
                            name = value.strip()
                        elif key == "Version":
                            version = value.strip()
            except OSError:
                continue
            if name and version:
                found.setdefault(name.lower().replace("_", "-"), f"{name}=={version}")
        return [found[k] for k in sorted(found)]


def interpreter_fingerprint(path: Path) -> dict[str, str]:
    """What decides which interpreter runs: bin/python* (link targets or file
    hashes) and pyvenv.cfg. An install script must not change any of it."""
    out: dict[str, str] = {}
    for p in sorted([*path.glob("bin/python*"), path / "pyvenv.cfg"]):
        try:
            if p.is_symlink():
                out[p.name] = "link:" + os.readlink(p)
            elif p.is_file():
                out[p.name] = "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
        except OSError:
            out[p.name] = "unreadable"
    return out


def _relative(settings: Settings, path: Path) -> str:
    try:
        return str(path.relative_to(settings.data_dir))
    except ValueError:
        return str(path)


def ensure_env(*, settings: Settings, requirements: list[str], constraints: Iterable[str] = (),
               options: Iterable[str] = (), install_script: Path | None = None, package_dir: Path | None = None,
               log: LogFn | None = None, run_install_script: Callable[..., None] | None = None) -> EnvResult:
    """Return the environment for these inputs, building it only if no complete one exists.

    ``run_install_script(script=Path, env_path=Path, log=LogFn)`` must run
    ``bash install_dependencies.sh <env path>`` inside the sandbox; this module
    never runs user code itself.
    """
    requirements, constraints, options = list(requirements), list(constraints), list(options)
    emit: LogFn = log or (lambda _line: None)
    if install_script is not None and run_install_script is None:
        raise EnvBuildError(f"{Path(install_script).name} needs the sandbox to run, and no sandbox runner "
                            "was given to the environment builder.")
    script_text = Path(install_script).read_text(encoding="utf-8", errors="replace") if install_script else None
    key = env_key(python=settings.env_python, requirements=requirements, constraints=constraints, options=options,
                  install_script=script_text, settings=settings,
                  local_inputs=_local_inputs(requirements, options, package_dir))
    envs = settings.data_dir / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    path = envs / key
    lock = envs / f"{key}.lock"

    # Shared lock: eviction (exclusive, non-blocking) cannot delete it under us.
    with _flock(lock, fcntl.LOCK_SH):
        if _is_complete(path):
            return _reuse(key, path, emit)
    with _flock(lock, fcntl.LOCK_EX,
                on_wait=lambda: emit(f"Waiting for another build of environment {key} to finish...")):
        if _is_complete(path):  # the other builder finished it while we waited
            return _reuse(key, path, emit)
        return _build(settings=settings, key=key, path=path, requirements=requirements, constraints=constraints,
                      options=options, install_script=install_script, package_dir=package_dir, emit=emit,
                      run_install_script=run_install_script)


def _build(*, settings: Settings, key: str, path: Path, requirements: list[str], constraints: list[str],
           options: list[str], install_script: Path | None, package_dir: Path | None, emit: LogFn,
           run_install_script: Callable[..., None] | None) -> EnvResult:
    envs = path.parent
    uv = find_uv()
    building_log = envs / f".building-{key}.log"
    if path.exists() or path.is_symlink():
        emit(f"Removing an incomplete environment {key} left by an interrupted build.")
        _remove_tree(path)
    Path(settings.uv_cache_dir).mkdir(parents=True, exist_ok=True)
    cwd = Path(package_dir) if package_dir else envs
    with open(building_log, "w", encoding="utf-8") as fh:
        b = _Builder(settings=settings, key=key, path=path, emit=emit, log_file=fh, uv=uv)
        try:
            b.emit(f"Building environment {key} with {settings.env_python}")
            b.run(["venv", "--no-config", "--python", settings.env_python, str(path)], cwd=envs,
                  what="uv venv")
            req_lines = _normalise(options) + _normalise(requirements)
            if install_script is not None and not any(re.match(r"^pip\b", r) for r in _normalise(requirements)):
                req_lines.append("pip")  # install_dependencies.sh calls ${1}/bin/pip
            (path / _REQUIREMENTS_FILE).write_text("\n".join(req_lines) + "\n", encoding="utf-8")
            install = ["pip", "install", "--no-config", "--python", str(env_python(path)),
                       *b.index_args(options)]
            if install_script is not None:
                # The script writes into the env from the sandbox; hardlinked files would let it
                # change the uv cache and every other env sharing those inodes. Copies are private.
                install += ["--link-mode", "copy"]
            if constraints:
                (path / _CONSTRAINTS_FILE).write_text("\n".join(_normalise(constraints)) + "\n", encoding="utf-8")
                install += ["-c", str(path / _CONSTRAINTS_FILE)]
            if req_lines:
                b.run([*install, "-r", str(path / _REQUIREMENTS_FILE)], cwd=cwd, what="uv pip install")
            if install_script is not None:
                assert run_install_script is not None
                b.emit(f"$ bash {Path(install_script).name} {path}")
                before = interpreter_fingerprint(path)
                try:
                    run_install_script(script=Path(install_script), env_path=path, log=b.emit)
                except TrainyardError as exc:
                    raise _StepFailed(f"{Path(install_script).name} failed", str(exc).splitlines()) from exc
                changed = sorted(k for k in set(before) | set(interpreter_fingerprint(path))
                                 if before.get(k) != interpreter_fingerprint(path).get(k))
                if changed:
                    raise _StepFailed(f"{Path(install_script).name} changed the environment's interpreter "
                                      f"({', '.join(changed)}); install packages with ${{1}}/bin/pip instead",
                                      [])
            freeze = b.freeze()
            b.emit(f"Environment {key} is ready: {len(freeze)} packages.")
        except BaseException as exc:
            fh.flush()
            try:
                _remove_tree(path)
            except OSError as rm_exc:  # still incomplete (no marker): the next build clears it
                b.emit(f"Could not remove the failed environment {path}: {rm_exc}")
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            failed_log = envs / f"failed-{key}-{stamp}.log"
            with contextlib.suppress(OSError):
                os.replace(building_log, failed_log)
            if isinstance(exc, _StepFailed):
                body = "\n".join(exc.lines)
                raise EnvBuildError(
                    f"Building the environment failed: {exc.headline}."
                    + (f"\n{body}" if body else "")
                    + f"\n(full log: {_relative(settings, failed_log)})") from None
            if isinstance(exc, Exception):
                raise EnvBuildError(f"Building the environment failed: {exc} "
                                    f"(full log: {_relative(settings, failed_log)})") from exc
            raise
    (path / FREEZE_FILE).write_text("\n".join(freeze) + ("\n" if freeze else ""), encoding="utf-8")
    os.replace(building_log, path / INSTALL_LOG)
    _touch(path)
    (path / COMPLETE_MARKER).write_text(json.dumps({"key": key, "built_at": time.time()}) + "\n")
    return EnvResult(key=key, path=path, built=True, log_path=path / INSTALL_LOG, freeze=freeze)


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


# ---------------------------------------------------------------------------
# Eviction


@dataclass
class _Usage:
    total: int = 0
    sizes: dict[tuple[int, int], int] = field(default_factory=dict)
    owners: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    inodes: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


def _scan(envs: Path) -> _Usage:
    # Envs hardlink their files from uv's cache and share them with each other;
    # st_blocks per distinct inode is what the disk really holds.
    usage = _Usage()
    with os.scandir(envs) as it:
        entries = list(it)
    for entry in entries:
        mine: list[tuple[int, int]] = []
        stack = [entry.path]
        while stack:
            p = stack.pop()
            try:
                st = os.lstat(p)
            except OSError:
                continue
            ino = (st.st_dev, st.st_ino)
            mine.append(ino)
            if ino not in usage.sizes:
                usage.sizes[ino] = st.st_blocks * 512
                usage.total += usage.sizes[ino]
            usage.owners.setdefault(ino, set()).add(entry.name)
            if os.path.isdir(p) and not os.path.islink(p):
                with contextlib.suppress(OSError), os.scandir(p) as sub:
                    stack.extend(e.path for e in sub)
        usage.inodes[entry.name] = mine
    return usage


def envs_disk_usage(*, settings: Settings) -> int:
    """Bytes on disk under DATA_DIR/envs, each hardlinked file counted once."""
    envs = settings.data_dir / "envs"
    return _scan(envs).total if envs.is_dir() else 0


def _last_used(path: Path) -> float:
    for name in (LAST_USED, COMPLETE_MARKER):
        with contextlib.suppress(OSError):
            return (path / name).stat().st_mtime
    with contextlib.suppress(OSError):
        return path.stat().st_mtime
    return 0.0


def evict_envs(*, settings: Settings, in_use: set[str], keep: Iterable[str] = frozenset(),
               log: LogFn | None = None) -> list[str]:
    """Remove least-recently-used envs until DATA_DIR/envs fits env_cache_max_bytes.

    Never touches keys in ``in_use`` or ``keep``, nor an env someone holds the
    lock of (being built, or being looked up by ``ensure_env``). Leftovers of
    interrupted builds go first. Returns the removed keys.
    """
    emit: LogFn = log or (lambda _line: None)
    limit = settings.env_cache_max_bytes
    envs = settings.data_dir / "envs"
    if limit is None or not envs.is_dir():
        return []
    usage = _scan(envs)
    if usage.total <= limit:
        return []
    protected = set(in_use) | set(keep)
    leftovers, complete = [], []
    for name in usage.inodes:
        p = envs / name
        if not _KEY_RE.match(name) or name in protected or not p.is_dir() or p.is_symlink():
            continue
        (complete if _is_complete(p) else leftovers).append(name)
    order = sorted(leftovers, key=lambda n: _last_used(envs / n)) + sorted(complete, key=lambda n: _last_used(envs / n))
    evicted: list[str] = []
    for name in order:
        if usage.total <= limit:
            break
        fd = _try_flock(envs / f"{name}.lock")
        if fd is None:
            continue  # being built or opened right now
        try:
            path = envs / name
            # Marker first: a crash mid-delete leaves an "incomplete" dir, never a broken "complete" one.
            with contextlib.suppress(FileNotFoundError):
                (path / COMPLETE_MARKER).unlink()
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)
        for ino in usage.inodes.get(name, []):
            owners = usage.owners.get(ino)
            if owners is None:
                continue
            owners.discard(name)
            if not owners:
                usage.total -= usage.sizes.pop(ino, 0)
                del usage.owners[ino]
        evicted.append(name)
        emit(f"Evicted environment {name}; environments now use {format_size(usage.total)} "
             f"of {format_size(limit)}.")
    return evicted
