"""The platform's forwarder inside a sandbox with network (stdlib only; run as
``python -I -S -c <this file> PORT SOCKET -- COMMAND...``).

The sandbox has its own network namespace with only loopback. This listens on
127.0.0.1:PORT, starts COMMAND (the user's code) as its child, and copies each
connection to the egress proxy's unix socket, which is bind-mounted into the
sandbox. It ends when COMMAND ends, with COMMAND's exit status (or signal).
It is not user code: it runs on the platform's interpreter in isolated mode,
before the user's command exists.
"""

import os
import selectors
import signal
import socket
import subprocess
import sys


def _forward(sel, conns, sock):
    peer = conns.get(sock)
    try:
        data = sock.recv(65536)
    except OSError:
        data = b""
    if data and peer is not None:
        try:
            peer.sendall(data)
            return
        except OSError:
            pass
    for s in (sock, peer):
        if s is not None and s in conns:
            del conns[s]
            sel.unregister(s)
            s.close()


def main(argv):
    port, path, command = int(argv[0]), argv[1], argv[3:]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    # The platform signals the user's processes itself; a handler (unlike SIG_IGN)
    # is reset by exec, so the command starts with the default dispositions.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    child = subprocess.Popen(command)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    conns = {}
    while child.poll() is None:
        for key, _ in sel.select(0.2):
            sock = key.fileobj
            if sock is listener:
                try:
                    client, _addr = listener.accept()
                    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    upstream.connect(path)
                except OSError:
                    continue
                conns[client], conns[upstream] = upstream, client
                sel.register(client, selectors.EVENT_READ)
                sel.register(upstream, selectors.EVENT_READ)
            else:
                _forward(sel, conns, sock)
    code = child.returncode
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
