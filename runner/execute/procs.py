"""The process tree of a run: finding its members, signalling them, waiting
for them to go, and telling whether the main process has ended."""

from __future__ import annotations

import contextlib
import os
import signal as signal_mod
import subprocess
import time

import psutil

_HARD_KILL_WAIT_S = 0.8


def is_alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def members_of(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root] if is_alive(root) else []


def is_bwrap(p: psutil.Process, root: psutil.Process) -> bool:
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


def signal_all(procs: list[psutil.Process], sig: int) -> None:
    for p in procs:
        with contextlib.suppress(psutil.Error, OSError):
            p.send_signal(sig)


def killpg(pid: int, sig: int) -> None:
    """Signal the group that ``pid`` leads (start_new_session made it leader), never our own."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    if pgid == pid and pgid != os.getpgrp():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Those of ``procs`` still alive after up to ``timeout`` seconds (a zombie counts as gone: it runs
    nothing, and its parent reaps it)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if is_alive(p)]
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
    members = members_of(root)
    users = [p for p in members if not is_bwrap(p, root)]
    if users and grace > 0:
        if not any(is_bwrap(p, root) for p in members):
            killpg(pid, signal_mod.SIGTERM)
        signal_all(users, signal_mod.SIGTERM)
        wait_gone(users, grace)
    hard_kill(root, members)
    wait_gone([root], _HARD_KILL_WAIT_S)


def hard_kill(root: psutil.Process, known: list[psutil.Process]) -> None:
    fresh = members_of(root) if is_alive(root) else []
    killpg(root.pid, signal_mod.SIGKILL)
    seen: set[int] = set()
    for p in [*fresh, *known]:
        if p.pid in seen:
            continue
        seen.add(p.pid)
        with contextlib.suppress(psutil.Error, OSError):
            p.kill()


def exited(proc: subprocess.Popen) -> bool:
    """Has the process ended? Leaves it unreaped, so its pid (and the process
    group id it led) cannot be reused by another process while we clean up."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return proc.poll() is not None

