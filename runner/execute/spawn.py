"""``execute()``: start a sandboxed command, run it to the end through the
loop of :mod:`runner.execute.run`, and say how it ended."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from runner.egress import EgressProxy, Policy
from runner.execute.explain import explain
from runner.execute.logfile import LogWriter
from runner.execute.outcome import KILL_TEXT, CheckResult, KillReason, Outcome, Sample
from runner.execute.procs import kill_tree
from runner.execute.run import Execution
from runner.sandbox import UNSAFE_WARNING, SandboxSpec, Staging, build_command, popen_kwargs, staged
from shared.contract.ansi import strip_ansi
from shared.core.errors import SandboxError
from shared.core.i18n import N_

_TAIL_LINES = 20                 # lines of output quoted in Outcome.reason


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
    refusals: queue.SimpleQueue[str] = queue.SimpleQueue()
    with _egress(spec, settings, refusals.put) as egress, staged(uid=spec.uid, settings=settings) as staging:
        return _execute(spec=spec, settings=settings, log_path=log_path, on_line=on_line, check=check,
                        check_interval=check_interval, on_sample=on_sample, sample_interval=sample_interval,
                        on_start=on_start, egress=egress, staging=staging, refusals=refusals)


@contextlib.contextmanager
def _egress(spec: SandboxSpec, settings: Any, on_refuse: Callable[[str], None]) -> Iterator[Path | None]:
    """The egress proxy of a sandbox with network, on a socket in a directory of
    its own under DATA_DIR/egress (root's, searchable but not listable)."""
    if not spec.network or settings.unsafe_no_sandbox:
        yield None
        return
    top = settings.data_dir / "egress"
    top.mkdir(parents=True, exist_ok=True)
    os.chmod(top, 0o711)
    here = top / uuid.uuid4().hex
    here.mkdir(mode=0o711)
    os.chmod(here, 0o711)
    proxy = EgressProxy(policy=Policy.from_settings(settings), socket_path=here / "proxy.sock", on_refuse=on_refuse)
    try:
        proxy.start()
        yield proxy.socket_path
    finally:
        proxy.close()
        shutil.rmtree(here, ignore_errors=True)


def _execute(*, spec: SandboxSpec, settings: Any, log_path: Path, on_line: Callable[[str, str], None] | None,
             check: Callable[[], CheckResult] | None, check_interval: float,
             on_sample: Callable[[Sample], None] | None, sample_interval: float,
             on_start: Callable[[int], None] | None, egress: Path | None, staging: Staging | None,
             refusals: queue.SimpleQueue[str]) -> Outcome:
    argv, env = build_command(spec=spec, settings=settings, egress=egress, staging=staging)
    kwargs = popen_kwargs(spec=spec, settings=settings, staging=staging)
    log = LogWriter(Path(log_path), spec.limits.max_log_bytes)
    if settings.unsafe_no_sandbox:
        log.note(f"WARNING: {UNSAFE_WARNING}")
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                                **kwargs)
    except (OSError, subprocess.SubprocessError) as exc:
        log.note(f"could not start {argv[0]}: {exc}")
        log.close()
        raise SandboxError(N_("The run could not start: {program}: {exc}"), params={"program": argv[0],
                                                                                    "exc": exc}) from exc
    run = Execution(spec=spec, settings=settings, log=log, proc=proc, on_line=on_line, check=check,
                     check_interval=check_interval, on_sample=on_sample, sample_interval=sample_interval,
                     started=started, refusals=refusals)
    try:
        if on_start is not None:
            on_start(proc.pid)
        run.loop()
        proc.wait()
    except BaseException:
        # Worker shutdown (KeyboardInterrupt/SystemExit) or a failing callback:
        # the run must not outlive the loop that watches it.
        if run.kill_reason is None:
            run.kill_reason, run.kill_kind = KILL_TEXT[KillReason.worker_shutdown], KillReason.worker_shutdown
            log.note(f"stopping the run: {run.kill_reason}")
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
    # Reasons are read on pages and in the CLI: colour codes would show as "\x1b[34m" there.
    recent = [strip_ansi(line) for line in run.recent]
    tail = recent[-_TAIL_LINES:]
    summary: str | None
    if run.kill_reason is not None:
        summary = run.kill_reason
    elif exit_code == 0:
        summary = None
    else:
        summary = explain(exit_code=exit_code, sig=sig, recent=recent, spec=spec)
    if summary and run.kill_reason is None:
        log.note(f"the run failed: {summary}")
    written, dropped = log.close()
    reason = None
    if summary is not None:
        reason = summary + ("\n\n" + "\n".join(tail) if tail else "")
    return Outcome(exit_code=exit_code, signal=sig, kill_reason=run.kill_reason, reason=reason,
                   duration_s=duration, lines=run.lines, log_bytes_written=written, log_bytes_dropped=dropped,
                   lines_truncated=run.truncated, kill_kind=run.kill_kind, summary=summary, tail=tail,
                   peak_rss_bytes=run.peak_rss)
