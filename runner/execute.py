"""Run a sandboxed command to the end: stream its output into a capped log,
watch its resources, stop it on request and say why it ended.

Everything happens in the calling thread with one selector loop: reading
both pipes, calling ``check()``, the memory/process/disk watches and the
samples. Nothing holds the whole log in memory; past the log limit only a
bounded tail ring is kept.

The log file is one line per output line, tagged by stream: ``o `` for
stdout, ``e `` for stderr. ``shared.contract.runlog`` reads it
back (the UI strips the tags and colours stderr).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import selectors
import shutil
import signal as signal_mod
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import psutil

from runner.sandbox import UNSAFE_WARNING, SandboxSpec, build_command, popen_kwargs
from shared.contract.runlog import STDERR, STDOUT, TAGS
from shared.core.errors import SandboxError
from shared.core.settings import format_size

_READ_SIZE = 1024 * 1024
_PIPE_SIZE = 1024 * 1024         # fewer wake-ups under floods (fs.pipe-max-size allows 1 MiB)
_TAIL_LINES = 20                 # lines of output quoted in Outcome.reason
_RECENT_LINES = 60               # lines searched for the cause of a failure
_LIVE_TAIL_BYTES = 256 * 1024    # bound of the .tail file a live viewer reads past the log limit
_TAIL_REFRESH_S = 1.0
_CR_LOG_EVERY_S = 1.0            # a \r progress bar is logged at most once a second per stream
_WATCH_S = 0.5                   # memory / process-count watch
_DISK_EVERY_S = 2.0
_DRAIN_AFTER_EXIT_S = 2.0
_HARD_KILL_WAIT_S = 0.8


class KillReason(str, Enum):
    stopped = "stopped"
    time_limit = "time_limit"
    memory = "memory"
    disk = "disk"
    procs = "procs"
    pruned = "pruned"
    worker_shutdown = "worker_shutdown"


_KILL_TEXT = {
    KillReason.stopped: "stopped by user",
    KillReason.time_limit: "time limit reached",
    KillReason.memory: "memory limit reached",
    KillReason.disk: "disk limit reached",
    KillReason.procs: "process limit reached",
    KillReason.pruned: "pruned by the parameter search",
    KillReason.worker_shutdown: "the worker shut down",
}

# What check() may return: a message, a KillReason, or both.
CheckResult = str | KillReason | tuple[KillReason, str] | None


@dataclass
class Sample:
    t: float                     # wall-clock time (epoch seconds)
    cpu_percent: float           # summed over the run's processes (200 = two cores busy)
    rss_bytes: int
    gpu_util: float | None       # mean utilisation of the run's GPUs, percent
    gpu_mem_bytes: int | None    # GPU memory held by the run's processes


@dataclass
class Outcome:
    exit_code: int | None
    signal: int | None
    kill_reason: str | None
    reason: str | None
    duration_s: float
    lines: int
    log_bytes_written: int
    log_bytes_dropped: int
    lines_truncated: int
    kill_kind: KillReason | None = None
    summary: str | None = None             # the first line of ``reason``
    tail: list[str] = field(default_factory=list)
    peak_rss_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.kill_reason is None


# --- lines --------------------------------------------------------------------

# Per line of a chunk that is not plain: index -> (bytes cut off, ended by a lone \r).
Specials = dict[int, tuple[int, bool]]


class _LineSplitter:
    """Bytes of one stream -> complete lines, a chunk at a time.

    ``feed`` returns the complete lines (each at most ``max_line`` bytes) and
    the few that need care: cut ones and ones ended by a lone ``\\r`` (progress
    bars). A partial line waits for the next read and is kept only up to
    ``max_line`` bytes, so an endless line costs no memory. ``\\r\\n`` is one break.
    Working on whole chunks keeps the per-line cost to a few C-level operations.
    """

    def __init__(self, max_line: int) -> None:
        self.max = max_line
        self.buf = b""
        self.over = 0
        self.held_cr = False

    def feed(self, data: bytes) -> tuple[list[bytes], Specials]:
        if self.held_cr:
            data = b"\r" + data
            self.held_cr = False
        if data.endswith(b"\r"):
            # It may be the first half of \r\n: decide when the next read comes.
            data = data[:-1]
            self.held_cr = True
        first_over = self.over
        if self.buf:
            data = self.buf + data
        specials: Specials = {}
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
            lines: list[bytes] = []
            for piece in data.split(b"\n"):
                segs = piece.split(b"\r")
                for seg in segs[:-1]:
                    specials[len(lines)] = (0, True)
                    lines.append(seg)
                lines.append(segs[-1])
            # The unfinished line ended neither by \n nor by \r.
            rest = lines.pop()
        else:
            lines = data.split(b"\n")
            rest = lines.pop()
        if lines:
            if first_over:
                specials[0] = (first_over, specials.get(0, (0, False))[1])
            if max(map(len, lines)) > self.max:
                for i, line in enumerate(lines):
                    if len(line) > self.max:
                        over, cr = specials.get(i, (0, False))
                        specials[i] = (over + len(line) - self.max, cr)
                        lines[i] = line[:self.max]
            self.over = 0
        if len(rest) > self.max:
            self.over += len(rest) - self.max
            rest = rest[:self.max]
        self.buf = rest
        return lines, specials

    def finish(self) -> tuple[list[bytes], Specials]:
        self.held_cr = False
        if not self.buf and not self.over:
            return [], {}
        lines, specials = [self.buf], ({0: (self.over, False)} if self.over else {})
        self.buf, self.over = b"", 0
        return lines, specials


# --- the log file ---------------------------------------------------------------

class _LogWriter:
    """Head of the log in the file; past half the limit, a ring of the latest
    output (the other half). The ring is mirrored to ``.tail`` for live viewers
    and appended to the file, after a marker, when the run ends.

    ``add`` takes blobs of whole tagged lines; the ring holds blobs and trims
    the oldest at a line boundary.
    """

    def __init__(self, path: Path, max_bytes: int | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tail_path = path.with_suffix(".tail")
        with contextlib.suppress(FileNotFoundError):
            self.tail_path.unlink()
        self.f = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        self.max = max_bytes
        self.head_cap = max_bytes // 2 if max_bytes else None
        self.tail_cap = max_bytes - max_bytes // 2 if max_bytes else 0
        self.head = 0
        self.ring: deque[bytes] = deque()
        self.ring_bytes = 0
        self.dropped = 0
        self.dropped_lines = 0
        self.capped = False
        self.tail_dirty = False
        self.tail_at = 0.0
        self.written = 0
        self.closed = False

    def add(self, blob: bytes) -> None:
        if not self.capped:
            if self.head_cap is None or self.head + len(blob) <= self.head_cap:
                self.f.write(blob)
                self.head += len(blob)
                return
            k = blob.rfind(b"\n", 0, self.head_cap - self.head) + 1
            if k:
                self.f.write(blob[:k])
                self.head += k
                blob = blob[k:]
            self.capped = True
        self.ring.append(blob)
        self.ring_bytes += len(blob)
        self.tail_dirty = True
        while self.ring_bytes > self.tail_cap and self.ring:
            old = self.ring[0]
            excess = self.ring_bytes - self.tail_cap
            cut = len(old) if len(old) <= excess else (old.find(b"\n", excess - 1) + 1 or len(old))
            self.dropped += cut
            self.dropped_lines += old.count(b"\n", 0, cut)
            self.ring_bytes -= cut
            if cut == len(old):
                self.ring.popleft()
            else:
                self.ring[0] = old[cut:]

    def tick(self, now: float) -> None:
        self.f.flush()
        if self.tail_dirty and now - self.tail_at >= _TAIL_REFRESH_S:
            self.tail_at = now
            self.tail_dirty = False
            parts: list[bytes] = []
            size = 0
            for blob in reversed(self.ring):
                parts.append(blob)
                size += len(blob)
                if size >= _LIVE_TAIL_BYTES:
                    break
            data = b"".join(reversed(parts))
            if len(data) > _LIVE_TAIL_BYTES:
                data = data[data.find(b"\n", len(data) - _LIVE_TAIL_BYTES - 1) + 1:]
            tmp = self.tail_path.with_name(self.tail_path.name + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self.tail_path)

    def close(self) -> tuple[int, int]:
        """Finish the file; return (bytes written, bytes dropped)."""
        if self.closed:
            return self.written, self.dropped
        written = self.head
        if self.capped:
            if self.dropped:
                marker = (f"e [trainyard] … {self.dropped} bytes ({self.dropped_lines} lines) of log dropped "
                          f"(log limit {format_size(self.max)}); the first and the last "
                          f"{format_size(self.tail_cap)} are kept …\n").encode()
                self.f.write(marker)
                written += len(marker)
            for blob in self.ring:
                self.f.write(blob)
            written += self.ring_bytes
        self.f.close()
        with contextlib.suppress(FileNotFoundError):
            self.tail_path.unlink()
        self.closed = True
        self.written = written
        return written, self.dropped


# --- processes --------------------------------------------------------------------

def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _members(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root] if _alive(root) else []


def _is_bwrap(p: psutil.Process, root: psutil.Process) -> bool:
    """bwrap's own processes: the outer monitor (the root) and the namespace's init.

    SIGTERM on either ends the whole sandbox at once, so the polite phase of a
    kill skips them and lets user code shut down first.
    """
    if p.pid == root.pid:
        try:
            return root.name() == "bwrap"
        except psutil.Error:
            return False
    try:
        return p.ppid() == root.pid and p.name() == "bwrap" and root.name() == "bwrap"
    except psutil.Error:
        return False


def _signal_all(procs: list[psutil.Process], sig: int) -> None:
    for p in procs:
        with contextlib.suppress(psutil.Error, OSError):
            p.send_signal(sig)


def _killpg(pid: int, sig: int) -> None:
    """Signal the group that ``pid`` leads (start_new_session made it leader), never our own."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    if pgid == pid and pgid != os.getpgrp():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if _alive(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)


def kill_tree(pid: int, *, grace: float = 1.0) -> None:
    """SIGTERM the processes of a run, give them ``grace`` seconds, then SIGKILL
    everything left: the process group, every descendant and (for a sandbox)
    bwrap's pid-namespace init, whose death takes every process inside with it."""
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    members = _members(root)
    users = [p for p in members if not _is_bwrap(p, root)]
    if users and grace > 0:
        if not any(_is_bwrap(p, root) for p in members):
            _killpg(pid, signal_mod.SIGTERM)
        _signal_all(users, signal_mod.SIGTERM)
        _wait_gone(users, grace)
    _hard_kill(root, members)
    _wait_gone([root], _HARD_KILL_WAIT_S)


def _hard_kill(root: psutil.Process, known: list[psutil.Process]) -> None:
    fresh = _members(root) if _alive(root) else []
    _killpg(root.pid, signal_mod.SIGKILL)
    seen: set[int] = set()
    for p in [*fresh, *known]:
        if p.pid in seen:
            continue
        seen.add(p.pid)
        with contextlib.suppress(psutil.Error, OSError):
            p.kill()


def _pss_bytes(procs: list[psutil.Process]) -> int:
    """Proportional set size: shared pages (forked data-loader workers) counted once."""
    total = 0
    for p in procs:
        try:
            with open(f"/proc/{p.pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
    return total


def _disk_usage(root: Path) -> int:
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [str(root)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_blocks * 512
    return total


class _GpuProbe:
    """``nvidia-smi`` run in the background so a slow driver never stalls the pipes."""

    def __init__(self, exe: str, gpus: list[str], pids: set[int]) -> None:
        self.pids = pids
        self.started = time.monotonic()
        common = {"stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL, "stdin": subprocess.DEVNULL,
                  "text": True}
        self.apps = subprocess.Popen([exe, "--query-compute-apps=pid,used_memory",
                                      "--format=csv,noheader,nounits"], **common)
        self.util = subprocess.Popen([exe, "--query-gpu=index,utilization.gpu", "--format=csv,noheader,nounits",
                                      "-i", ",".join(gpus)], **common)

    def poll(self) -> tuple[float | None, int | None] | None:
        if self.apps.poll() is None or self.util.poll() is None:
            if time.monotonic() - self.started > 10:
                self.cancel()
                return None, None
            return None
        mem: int | None = 0
        for line in (self.apps.stdout.read() if self.apps.stdout else "").splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) in self.pids:
                with contextlib.suppress(ValueError):
                    mem = (mem or 0) + int(float(parts[1]) * 1024 * 1024)
        utils = []
        for line in (self.util.stdout.read() if self.util.stdout else "").splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) == 2:
                with contextlib.suppress(ValueError):
                    utils.append(float(parts[1]))
        self.cancel()
        return (sum(utils) / len(utils) if utils else None), mem

    def cancel(self) -> None:
        for p in (self.apps, self.util):
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdout:
                p.stdout.close()


# --- why it ended -------------------------------------------------------------------

_CUDA_OOM = re.compile(r"CUDA out of memory|CUDA error: out of memory|CUBLAS_STATUS_ALLOC_FAILED")
_MEMORY = re.compile(r"\bMemoryError\b|std::bad_alloc|Cannot allocate memory|Unable to allocate|"
                     r"can't allocate memory|OutOfMemoryError|\bout of memory\b", re.IGNORECASE)
_FSIZE = re.compile(r"File too large|\[Errno 27\]")
_NPROC = re.compile(r"Resource temporarily unavailable|\[Errno 11\]|can't start new thread|fork: retry")
_NOSPACE = re.compile(r"No space left on device|\[Errno 28\]")
_NOFILE = re.compile(r"Too many open files|\[Errno 24\]")
_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)\b.*)$")


def _signal_name(n: int) -> str:
    try:
        return signal_mod.Signals(n).name
    except ValueError:
        return f"signal {n}"


def _explain(*, exit_code: int | None, sig: int | None, recent: list[str], spec: SandboxSpec) -> str:
    text = "\n".join(recent)
    lim = spec.limits
    if _CUDA_OOM.search(text):
        base = "GPU memory exhausted (CUDA out of memory)"
    elif _MEMORY.search(text):
        base = f"memory limit {format_size(lim.memory_bytes)} reached" if lim.memory_bytes else "out of memory"
    elif sig == signal_mod.SIGXFSZ or _FSIZE.search(text):
        base = (f"file size limit {format_size(lim.max_file_bytes)} reached" if lim.max_file_bytes
                else "file size limit reached")
    elif _NPROC.search(text):
        base = (f"process limit {lim.max_procs} reached" if lim.max_procs
                else "process limit reached (Resource temporarily unavailable)")
    elif _NOSPACE.search(text):
        base = "disk full (No space left on device)"
    elif _NOFILE.search(text):
        base = (f"open files limit {lim.max_open_files} reached" if lim.max_open_files
                else "open files limit reached (Too many open files)")
    elif sig is not None:
        base = f"killed by signal {sig} ({_signal_name(sig)})"
        if sig == signal_mod.SIGKILL:
            base += "; the system may have run out of memory"
    else:
        base = f"exit code {exit_code}"
    for line in reversed(recent):
        m = _ERROR_LINE.match(line)
        if m:
            err = m.group(1).strip()
            if err and err not in base:
                base += f": {err}"
            break
    return base


# --- the run -----------------------------------------------------------------------

class _Execution:
    def __init__(self, *, spec: SandboxSpec, settings: Any, log: _LogWriter, proc: subprocess.Popen,
                 on_line: Callable[[str, str], None] | None, check: Callable[[], CheckResult] | None,
                 check_interval: float, on_sample: Callable[[Sample], None] | None, sample_interval: float,
                 started: float) -> None:
        self.spec = spec
        self.settings = settings
        self.log = log
        self.proc = proc
        self.on_line = on_line
        self.check = check
        self.check_interval = check_interval
        self.on_sample = on_sample
        self.sample_interval = sample_interval
        self.started = started
        self.sandboxed = not settings.unsafe_no_sandbox
        max_line = spec.limits.max_line_bytes
        self.splitters = {STDOUT: _LineSplitter(max_line), STDERR: _LineSplitter(max_line)}
        self.lines = 0
        self.truncated = 0
        self.recent: deque[str] = deque(maxlen=_RECENT_LINES)
        self.cr_logged: dict[str, float] = {STDOUT: 0.0, STDERR: 0.0}
        self.kill_reason: str | None = None
        self.kill_kind: KillReason | None = None
        self.kill_deadline: float | None = None
        self.peak_rss = 0
        try:
            self.root: psutil.Process | None = psutil.Process(proc.pid)
        except psutil.Error:
            self.root = None
        self.known: dict[int, psutil.Process] = {}
        self.cpu_prev: dict[int, float] = {}
        self.cpu_at = time.monotonic()
        self.nvidia_smi = shutil.which("nvidia-smi") if spec.gpus else None
        self.probe: _GpuProbe | None = None
        self.probe_base: tuple[float, float, int] | None = None

    # output ------------------------------------------------------------------
    def ingest(self, stream: str, data: bytes, now: float) -> None:
        lines, specials = self.splitters[stream].feed(data)
        self.emit(stream, lines, specials, now)

    def emit(self, stream: str, lines: list[bytes], specials: Specials, now: float) -> None:
        if not lines:
            return
        # One decode and one split per chunk; \n never occurs inside a UTF-8
        # sequence nor in a replacement, so texts and lines stay aligned.
        text_blob = b"\n".join(lines).decode("utf-8", "replace")
        if "\x00" in text_blob:
            # NUL cannot be stored in a Postgres text column (reasons, last
            # unparsed line): shown as the replacement character instead.
            text_blob = text_blob.replace("\x00", "\ufffd")
        texts = text_blob.split("\n")
        log_lines = lines if "\ufffd" not in text_blob else [t.encode("utf-8") for t in texts]
        if specials:
            log_lines = list(log_lines)
            skip: list[int] = []
            for i in sorted(specials):
                over, cr = specials[i]
                if over:
                    texts[i] += f"…[cut {over} bytes]"
                    log_lines[i] = texts[i].encode("utf-8")
                    self.truncated += 1
                if cr:
                    # A progress bar redraws itself many times a second: every
                    # state is parsed, one a second is logged, and the state
                    # ended by \n always.
                    if not texts[i].strip() or now - self.cr_logged[stream] < _CR_LOG_EVERY_S:
                        skip.append(i)
                    else:
                        self.cr_logged[stream] = now
            for i in reversed(skip):
                del log_lines[i]
        self.lines += len(texts)
        on_line = self.on_line
        if on_line is not None:
            for text in texts:
                on_line(stream, text)
        self.recent.extend(texts[-_RECENT_LINES:])
        if log_lines:
            tag = TAGS[stream]
            self.log.add(tag + (b"\n" + tag).join(log_lines) + b"\n")

    # stopping ----------------------------------------------------------------
    def begin_kill(self, message: str, kind: KillReason | None, grace: float = 1.0) -> None:
        if self.kill_reason is not None:
            return
        self.kill_reason = message
        self.kill_kind = kind
        self.log.add(f"e [trainyard] stopping the run: {message}\n".encode())
        root = self.root
        if root is None or not _alive(root):
            return
        members = _members(root)
        self._remember(members)
        users = [p for p in members if not _is_bwrap(p, root)]
        if not self.sandboxed:
            _killpg(root.pid, signal_mod.SIGTERM)
        _signal_all(users, signal_mod.SIGTERM)
        self.kill_deadline = time.monotonic() + grace

    def hard_kill(self) -> None:
        if self.root is not None:
            _hard_kill(self.root, list(self.known.values()))

    def _remember(self, members: list[psutil.Process]) -> None:
        for p in members:
            self.known.setdefault(p.pid, p)

    def cleanup_leftovers(self) -> None:
        """After the main process ended: nothing of the run may stay behind."""
        if self.root is not None:
            _killpg(self.root.pid, signal_mod.SIGKILL)
        for p in list(self.known.values()):
            if p.pid != self.proc.pid and _alive(p):
                with contextlib.suppress(psutil.Error):
                    p.kill()
        uid = self.spec.uid
        # Without the pid namespace a daemon can escape the tree (setsid + fork);
        # a dedicated uid still finds it.
        if not self.sandboxed and uid is not None and os.geteuid() == 0:
            # Repeat until none is left: one may be mid-fork during a single pass.
            deadline = time.monotonic() + 1.0
            while True:
                found = []
                for p in psutil.process_iter(["uids"]):
                    with contextlib.suppress(psutil.Error, TypeError):
                        if p.info["uids"] and p.info["uids"].real == uid and p.status() != psutil.STATUS_ZOMBIE:
                            p.kill()
                            found.append(p)
                if not found or time.monotonic() > deadline:
                    break
                psutil.wait_procs(found, timeout=0.2)

    # watching ----------------------------------------------------------------
    def watch(self) -> None:
        root = self.root
        if root is None or not _alive(root):
            return
        members = _members(root)
        self._remember(members)
        users = [p for p in members if not _is_bwrap(p, root)]
        lim = self.spec.limits
        rss = 0
        for p in members:
            with contextlib.suppress(psutil.Error):
                rss += p.memory_info().rss
        if lim.memory_bytes and rss > lim.memory_bytes:
            pss = _pss_bytes(members)
            if pss > lim.memory_bytes:
                self.begin_kill(f"memory limit {format_size(lim.memory_bytes)} reached "
                                f"(the run used {format_size(pss)})", KillReason.memory)
                rss = pss
        self.peak_rss = max(self.peak_rss, rss)
        if lim.max_procs and len(users) > lim.max_procs:
            self.begin_kill(f"process limit {lim.max_procs} reached ({len(users)} processes)", KillReason.procs)

    def check_disk(self) -> float:
        lim = self.spec.limits.max_disk_bytes
        t0 = time.monotonic()
        used = _disk_usage(self.spec.workdir)
        if lim and used > lim:
            self.begin_kill(f"disk limit {format_size(lim)} reached (the work dir holds {format_size(used)})",
                            KillReason.disk)
        return time.monotonic() - t0

    def sample(self) -> None:
        root = self.root
        if self.on_sample is None or root is None or not _alive(root):
            return
        members = _members(root)
        now = time.monotonic()
        cpu_now: dict[int, float] = {}
        rss = 0
        for p in members:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                cpu_now[p.pid] = t.user + t.system
                rss += p.memory_info().rss
        dt = max(now - self.cpu_at, 1e-6)
        used = sum(v - self.cpu_prev.get(pid, 0.0) for pid, v in cpu_now.items())
        self.cpu_prev, self.cpu_at = cpu_now, now
        cpu = max(0.0, used / dt * 100.0)
        self.peak_rss = max(self.peak_rss, rss)
        if self.nvidia_smi and self.spec.gpus and self.probe is None:
            try:
                self.probe = _GpuProbe(self.nvidia_smi, self.spec.gpus, {p.pid for p in members})
                self.probe_base = (time.time(), cpu, rss)
                return
            except OSError:
                self.nvidia_smi = None
        self.on_sample(Sample(t=time.time(), cpu_percent=cpu, rss_bytes=rss, gpu_util=None, gpu_mem_bytes=None))

    def poll_probe(self) -> None:
        if self.probe is None or self.probe_base is None:
            return
        got = self.probe.poll()
        if got is None:
            return
        t, cpu, rss = self.probe_base
        self.probe = self.probe_base = None
        if self.on_sample is not None:
            self.on_sample(Sample(t=t, cpu_percent=cpu, rss_bytes=rss, gpu_util=got[0], gpu_mem_bytes=got[1]))

    def run_check(self) -> None:
        if self.check is None:
            return
        result = self.check()
        if not result:
            return
        if isinstance(result, tuple):
            kind, message = result
            self.begin_kill(message, KillReason(kind))
        elif isinstance(result, KillReason):
            self.begin_kill(_KILL_TEXT[result], result)
        else:
            kind = KillReason(result) if result in KillReason._value2member_map_ else None
            self.begin_kill(_KILL_TEXT[kind] if kind else str(result), kind)

    # the loop ----------------------------------------------------------------
    def loop(self) -> None:
        proc = self.proc
        sel = selectors.DefaultSelector()
        assert proc.stdout is not None and proc.stderr is not None
        fds = {proc.stdout.fileno(): STDOUT, proc.stderr.fileno(): STDERR}
        for fd, name in fds.items():
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
            sel.register(fd, selectors.EVENT_READ, name)
        open_fds = len(fds)
        now = time.monotonic()
        watching = bool(self.spec.limits.memory_bytes or self.spec.limits.max_procs)
        next_check = now
        next_watch = now + 0.1
        next_disk = now + 1.0 if self.spec.limits.max_disk_bytes else float("inf")
        next_sample = now + min(self.sample_interval, 1.0) if self.on_sample else float("inf")
        exited_at: float | None = None
        try:
            while True:
                now = time.monotonic()
                deadlines = [next_check, next_watch if watching else float("inf"), next_disk, next_sample,
                             self.kill_deadline or float("inf"), now + 0.25]
                timeout = max(0.0, min(deadlines) - now)
                if open_fds:
                    for key, _ in sel.select(timeout):
                        try:
                            data = os.read(key.fd, _READ_SIZE)
                        except BlockingIOError:
                            continue
                        stream = key.data
                        if data:
                            self.ingest(stream, data, now)
                        else:
                            sel.unregister(key.fd)
                            open_fds -= 1
                            self.emit(stream, *self.splitters[stream].finish(), now)
                elif exited_at is None:
                    time.sleep(min(timeout, 0.05))
                now = time.monotonic()
                if exited_at is None and _exited(proc):
                    exited_at = now
                    self.cleanup_leftovers()
                    proc.wait()
                if exited_at is not None:
                    if open_fds == 0 or now - exited_at > _DRAIN_AFTER_EXIT_S:
                        break
                    continue
                if self.kill_deadline is not None and now >= self.kill_deadline:
                    # Repeated each second until it ends: a fork racing the
                    # first SIGKILL must not keep the run alive.
                    self.hard_kill()
                    self.kill_deadline = now + 1.0
                if self.kill_reason is None:
                    if now >= next_check:
                        next_check = now + self.check_interval
                        self.run_check()
                    if watching and now >= next_watch:
                        next_watch = now + _WATCH_S
                        self.watch()
                    if now >= next_disk:
                        took = self.check_disk()
                        next_disk = time.monotonic() + max(_DISK_EVERY_S, 5 * took)
                if now >= next_sample:
                    next_sample = now + self.sample_interval
                    if self.kill_reason is None:
                        self.sample()
                self.poll_probe()
                self.log.tick(now)
        finally:
            sel.close()
            if self.probe is not None:
                self.probe.cancel()
                self.probe = None
        # Partial lines of pipes still open when the drain gave up.
        for name, splitter in self.splitters.items():
            self.emit(name, *splitter.finish(), time.monotonic())


def _exited(proc: subprocess.Popen) -> bool:
    """Has the process ended? Leaves it unreaped, so its pid (and the process
    group id it led) cannot be reused by another process while we clean up."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return proc.poll() is not None


def _exit_status(returncode: int, sandboxed: bool) -> tuple[int | None, int | None]:
    if returncode < 0:
        return None, -returncode
    # bwrap reports a child killed by signal N as exit status 128 + N.
    if sandboxed and 128 < returncode <= 128 + 64:
        return None, returncode - 128
    return returncode, None


def execute(*, spec: SandboxSpec, settings: Any, log_path: Path,
            on_line: Callable[[str, str], None] | None = None,
            check: Callable[[], CheckResult] | None = None, check_interval: float = 0.25,
            on_sample: Callable[[Sample], None] | None = None, sample_interval: float = 2.0,
            on_start: Callable[[int], None] | None = None) -> Outcome:
    """Run ``spec`` in the sandbox until it ends; return how it ended.

    ``check()`` is called every ``check_interval`` seconds; a truthy result
    (a message, a :class:`KillReason` or ``(KillReason, message)``) stops the
    run and becomes ``Outcome.kill_reason``. On KeyboardInterrupt/SystemExit
    (worker shutdown) the run is killed before the exception goes on.
    """
    argv, env = build_command(spec=spec, settings=settings)
    kwargs = popen_kwargs(spec=spec, settings=settings)
    log = _LogWriter(Path(log_path), spec.limits.max_log_bytes)
    if settings.unsafe_no_sandbox:
        log.add(b"e [trainyard] WARNING: " + UNSAFE_WARNING.encode() + b"\n")
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                                **kwargs)
    except (OSError, subprocess.SubprocessError) as exc:
        log.add(f"e [trainyard] could not start {argv[0]}: {exc}\n".encode())
        log.close()
        raise SandboxError(f"The run could not start: {argv[0]}: {exc}") from exc
    run = _Execution(spec=spec, settings=settings, log=log, proc=proc, on_line=on_line, check=check,
                     check_interval=check_interval, on_sample=on_sample, sample_interval=sample_interval,
                     started=started)
    try:
        if on_start is not None:
            on_start(proc.pid)
        run.loop()
        proc.wait()
    except BaseException:
        # Worker shutdown (KeyboardInterrupt/SystemExit) or a failing callback:
        # the run must not outlive the loop that watches it.
        if run.kill_reason is None:
            run.kill_reason, run.kill_kind = _KILL_TEXT[KillReason.worker_shutdown], KillReason.worker_shutdown
            log.add(f"e [trainyard] stopping the run: {run.kill_reason}\n".encode())
        if proc.returncode is None:  # not reaped yet, so its pid and group are still ours to signal
            kill_tree(proc.pid, grace=1.0)
            run.cleanup_leftovers()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(2)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        log.close()
        raise
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    duration = time.monotonic() - started
    exit_code, sig = _exit_status(proc.returncode, not settings.unsafe_no_sandbox)
    recent = list(run.recent)
    tail = recent[-_TAIL_LINES:]
    summary: str | None
    if run.kill_reason is not None:
        summary = run.kill_reason
    elif exit_code == 0:
        summary = None
    else:
        summary = _explain(exit_code=exit_code, sig=sig, recent=recent, spec=spec)
    if summary and run.kill_reason is None:
        log.add(f"e [trainyard] the run failed: {summary}\n".encode())
    written, dropped = log.close()
    reason = None
    if summary is not None:
        reason = summary + ("\n\n" + "\n".join(tail) if tail else "")
    return Outcome(exit_code=exit_code, signal=sig, kill_reason=run.kill_reason, reason=reason,
                   duration_s=duration, lines=run.lines, log_bytes_written=written, log_bytes_dropped=dropped,
                   lines_truncated=run.truncated, kill_kind=run.kill_kind, summary=summary, tail=tail,
                   peak_rss_bytes=run.peak_rss)
