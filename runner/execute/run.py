"""One run in progress: the selector loop that reads both pipes into the log
and ``on_line``, calls ``check()``, watches memory, processes and disk, takes
samples, and stops the process tree when asked.

Everything happens in the calling thread. Nothing holds the whole log in
memory; past the log limit only a bounded tail ring is kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import selectors
import shutil
import signal as signal_mod
import subprocess
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import psutil

from runner.execute.lines import LineSplitter, Specials
from runner.execute.logfile import LogWriter
from runner.execute.outcome import KILL_TEXT, CheckResult, KillReason, Sample
from runner.execute.probes import GpuProbe, disk_usage, pss_bytes
from runner.execute.procs import exited, hard_kill, is_alive, is_bwrap, killpg, members_of, signal_all, wait_gone
from runner.sandbox import SandboxSpec
from shared.contract.runlog import STDERR, STDOUT, TAGS
from shared.core.i18n import N_
from shared.core.settings import format_size

_READ_SIZE = 1024 * 1024
_PIPE_SIZE = 1024 * 1024         # fewer wake-ups under floods (fs.pipe-max-size allows 1 MiB)
RECENT_LINES = 60                # lines searched for the cause of a failure
_CR_LOG_EVERY_S = 1.0            # a \r progress bar is logged at most once a second per stream
_WATCH_S = 0.5                   # memory / process-count watch
_DISK_EVERY_S = 2.0
_DRAIN_AFTER_EXIT_S = 2.0
_LEFTOVER_WAIT_S = 2.0          # a SIGKILLed leftover leaves within this (it is only waited on, not slept)


class Execution:
    def __init__(self, *, spec: SandboxSpec, settings: Any, log: LogWriter, proc: subprocess.Popen,
                 on_line: Callable[[str, str], None] | None, check: Callable[[], CheckResult] | None,
                 check_interval: float, on_sample: Callable[[Sample], None] | None, sample_interval: float,
                 started: float, refusals: queue.SimpleQueue[str] | None = None) -> None:
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
        self.refusals = refusals
        # The platform's egress forwarder is one process of the sandbox, not the user's.
        self.platform_procs = 1 if spec.network and not settings.unsafe_no_sandbox else 0
        self.sandboxed = not settings.unsafe_no_sandbox
        max_line = spec.limits.max_line_bytes
        self.splitters = {STDOUT: LineSplitter(max_line), STDERR: LineSplitter(max_line)}
        self.lines = 0
        self.truncated = 0
        self.recent: deque[str] = deque(maxlen=RECENT_LINES)
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
        self.probe: GpuProbe | None = None
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
        self.recent.extend(texts[-RECENT_LINES:])
        if log_lines:
            tag = TAGS[stream]
            self.log.add(tag + (b"\n" + tag).join(log_lines) + b"\n")

    # stopping ----------------------------------------------------------------
    def begin_kill(self, message: str, kind: KillReason | None, grace: float = 1.0) -> None:
        if self.kill_reason is not None:
            return
        self.kill_reason = message
        self.kill_kind = kind
        self.log.note(f"stopping the run: {message}")
        if (tree := self._tree()) is None:
            return
        _members, users = tree
        if not self.sandboxed:
            killpg(self.root.pid, signal_mod.SIGTERM)
        signal_all(users, signal_mod.SIGTERM)
        self.kill_deadline = time.monotonic() + grace

    def hard_kill(self) -> None:
        if self.root is not None:
            hard_kill(self.root, list(self.known.values()))

    def _tree(self) -> tuple[list[psutil.Process], list[psutil.Process]] | None:
        """The live run's processes, all remembered for the final sweep, and those of them that are the
        user's (not bwrap's); None once the main process is gone."""
        root = self.root
        if root is None or not is_alive(root):
            return None
        members = members_of(root)
        for p in members:
            self.known.setdefault(p.pid, p)
        return members, [p for p in members if not is_bwrap(p, root)]

    def cleanup_leftovers(self) -> None:
        """After the main process ended: nothing of the run may stay behind."""
        if self.root is not None:
            killpg(self.root.pid, signal_mod.SIGKILL)
        killed = []
        for p in list(self.known.values()):
            if p.pid != self.proc.pid and is_alive(p):
                with contextlib.suppress(psutil.Error):
                    p.kill()
                    killed.append(p)
        # SIGKILL is delivered when the process next runs: on a busy host it can still be listed (and
        # hold files, a GPU) for a moment. execute() returns once it is really gone.
        wait_gone(killed, _LEFTOVER_WAIT_S)
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
        if (tree := self._tree()) is None:
            return
        members, users = tree
        lim = self.spec.limits
        rss = 0
        for p in members:
            with contextlib.suppress(psutil.Error):
                rss += p.memory_info().rss
        if lim.memory_bytes and rss > lim.memory_bytes:
            pss = pss_bytes(members)
            if pss > lim.memory_bytes:
                self.begin_kill(N_("memory limit {size} reached (the run used {used})").format(
                    size=format_size(lim.memory_bytes), used=format_size(pss)), KillReason.memory)
                rss = pss
        self.peak_rss = max(self.peak_rss, rss)
        n_user = len(users) - self.platform_procs
        if lim.max_procs and n_user > lim.max_procs:
            self.begin_kill(N_("process limit {n} reached ({count} processes)").format(n=lim.max_procs, count=n_user),
                            KillReason.procs)

    def check_disk(self) -> float:
        """Disk and file-count limits over every writable place: the work dir and the
        writable mounts (an install's environment counts against the install)."""
        lim = self.spec.limits
        t0 = time.monotonic()
        roots = [self.spec.workdir, *(m.host for m in self.spec.mounts if m.writable)]
        used, files = disk_usage(roots, stop_at_files=lim.max_files)
        where = N_("the work dir holds") if len(roots) == 1 else \
            N_("the work dir and {paths} hold").format(paths=", ".join(str(r) for r in roots[1:]))
        if lim.max_disk_bytes and used > lim.max_disk_bytes:
            self.begin_kill(N_("disk limit {size} reached ({where} {used})").format(
                size=format_size(lim.max_disk_bytes), where=where, used=format_size(used)), KillReason.disk)
        elif lim.max_files and files > lim.max_files:
            self.begin_kill(N_("file count limit {n} reached ({where} more than {n} files and directories; raise "
                               "max_files if the run needs more)").format(n=lim.max_files, where=where),
                            KillReason.files)
        return time.monotonic() - t0

    def sample(self) -> None:
        root = self.root
        if self.on_sample is None or root is None or not is_alive(root):
            return
        members = members_of(root)
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
                self.probe = GpuProbe(self.nvidia_smi, self.spec.gpus, {p.pid for p in members})
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
            self.begin_kill(KILL_TEXT[result], result)
        else:
            kind = KillReason(result) if result in KillReason._value2member_map_ else None
            self.begin_kill(KILL_TEXT[kind] if kind else str(result), kind)

    def note_refusals(self) -> None:
        """Connections the egress proxy refused, as platform lines of this run's log."""
        while self.refusals is not None:
            try:
                message = self.refusals.get_nowait()
            except queue.Empty:
                return
            self.log.note(message)
            if self.on_line is not None:
                self.on_line(STDERR, f"[trainyard] {message}")

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
        limits = self.spec.limits
        next_disk = now + 1.0 if limits.max_disk_bytes or limits.max_files else float("inf")
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
                if exited_at is None and exited(proc):
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
                self.note_refusals()
                self.log.tick(now)
        finally:
            sel.close()
            if self.probe is not None:
                self.probe.cancel()
                self.probe = None
        # Partial lines of pipes still open when the drain gave up.
        for name, splitter in self.splitters.items():
            self.emit(name, *splitter.finish(), time.monotonic())
        self.note_refusals()
