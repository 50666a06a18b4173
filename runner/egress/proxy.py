"""The worker-side egress proxy: an asyncio HTTP proxy on a unix socket that
only the sandbox it was made for can see (bind-mounted into it).

It takes ``CONNECT host:port`` (https: pip, uv, urllib, requests) and a plain
``GET``/``HEAD http://...`` (an http index), asks the :class:`Policy`,
resolves the name itself and connects to the checked address (no second
lookup that a rebinding DNS server could answer differently), then copies
bytes both ways. A refusal answers 403 with the reason and is reported once
per reason through ``on_refuse``, which puts it in the run's or install's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from runner.egress.policy import Policy, split_host

_HEAD_LIMIT = 64 * 1024
_TIMEOUT_S = 30.0
_CHUNK = 64 * 1024
# Request headers a client addresses to the proxy, or that would keep an http
# connection open for a second request the proxy never checked.
_HOP_HEADERS = ("proxy-", "connection:", "keep-alive:")


class _Refused(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


class EgressProxy:
    """One proxy per sandboxed execution, on its own thread and event loop."""

    def __init__(self, *, policy: Policy, socket_path: Path, on_refuse: Callable[[str], None]) -> None:
        self.policy = policy
        self.socket_path = Path(socket_path)
        self.on_refuse = on_refuse
        self._reported: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="egress-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            server = loop.run_until_complete(asyncio.start_unix_server(self._handle, sock=self._bound_socket(),
                                                                       limit=_HEAD_LIMIT))
            # The sandbox's uid connects through a bind mount of this file; the
            # directory above it is root's and not listable.
            os.chmod(self.socket_path, 0o666)
        except BaseException as exc:  # noqa: BLE001 - handed to start()'s caller
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def _bound_socket(self) -> socket.socket:
        """The listening socket, bound through a directory fd: a socket's path may be 107 bytes at most,
        and a deep DATA_DIR (a CI temp dir, a home folder) makes ``.../egress/<id>/proxy.sock`` longer.
        ``/proc/self/fd/N/proxy.sock`` names the same file in a few bytes."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dir_fd = os.open(self.socket_path.parent, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            sock.bind(f"/proc/self/fd/{dir_fd}/{self.socket_path.name}")
        except BaseException:
            sock.close()
            raise
        finally:
            os.close(dir_fd)
        return sock

    def close(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def __enter__(self) -> EgressProxy:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one client connection -------------------------------------------------
    def _refuse_note(self, target: str, reason: str) -> None:
        message = f"egress to {target} refused: {reason}"
        if message not in self._reported:
            self._reported.add(message)
            self.on_refuse(message)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        target = "?"
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _TIMEOUT_S)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                raise _Refused("400 Bad Request", "the request line is not HTTP")
            method, url, version = parts
            if method == "CONNECT":
                host, port = split_host(url)
                if port is None:
                    raise _Refused("400 Bad Request", f"CONNECT {url} names no port")
                target = f"{host}:{port}"
                first = b""
            elif method in ("GET", "HEAD") and url.startswith("http://"):
                u = urlsplit(url)
                host, port = (u.hostname or "").lower(), u.port or 80
                target = f"{host}:{port}"
                path = (u.path or "/") + (f"?{u.query}" if u.query else "")
                kept = [h for h in lines[1:] if h and not h.lower().startswith(_HOP_HEADERS)]
                first = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""]).encode(
                    "latin-1")
            else:
                raise _Refused("405 Method Not Allowed",
                               f"{method} {url[:200]} is not allowed: only CONNECT (https) and GET/HEAD of "
                               "http:// URLs pass the egress proxy")
            reason = self.policy.check_name(host, port)
            if reason:
                raise _Refused("403 Forbidden", reason)
            loop = asyncio.get_running_loop()
            try:
                infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), _TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise _Refused("502 Bad Gateway", f"{host} could not be resolved ({exc})") from None
            addrs = list(dict.fromkeys(str(info[4][0]) for info in infos))
            reason = self.policy.check_addresses(host, port, addrs)
            if reason:
                raise _Refused("403 Forbidden", reason)
            upstream = None
            for addr in addrs:
                with contextlib.suppress(OSError, TimeoutError):
                    upstream = await asyncio.wait_for(asyncio.open_connection(addr, port), _TIMEOUT_S)
                    break
            if upstream is None:
                raise _Refused("502 Bad Gateway", f"{target} did not accept a connection")
            up_reader, up_writer = upstream
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:
                up_writer.write(first)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        except _Refused as exc:
            if exc.status.startswith("403") or exc.status.startswith("405"):
                self._refuse_note(target, exc.reason)
            body = f"trainyard egress proxy: {exc.reason}\n".encode()
            with contextlib.suppress(OSError, ConnectionError):
                writer.write(f"HTTP/1.1 {exc.status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                             "Connection: close\r\n\r\n".encode() + body)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
