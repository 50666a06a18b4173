"""The source of probe.py, shipped in every attacking package of the hostile suite."""

# probe.py, shipped in every attacking package. It never sends more than a
# PING: a leak must not be able to damage a Redis shared with other people.
PROBE = r'''
"""Escape attempts from inside a run; every attempt prints one RESULT line."""
import json, os, signal, socket, subprocess, sys, time

PING = b"*1\r\n$4\r\nPING\r\n"
SCORES = {"nan": "nan", "inf": "inf", "ninf": "-inf", "fin": "0.7"}


def report(kind, target, outcome, **extra):
    print("RESULT " + json.dumps({"kind": kind, "target": str(target), "outcome": outcome, **extra}), flush=True)


def attempt(kind, target, fn):
    try:
        extra = fn() or {}
    except Exception as exc:
        report(kind, target, "blocked", error=type(exc).__name__, errno=getattr(exc, "errno", None))
    else:
        report(kind, target, "allowed", **extra)


def _read(path):
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        print("LIST", path, " ".join(names[:200]), flush=True)
        return {"entries": names[:200]}
    with open(path, "rb") as f:
        data = f.read(65536)
    print("READ", path, data[:2000].decode("utf-8", "replace").replace("\n", " "), flush=True)
    return {"bytes": len(data)}


def _write(path, token):
    with open(path, "w") as f:
        f.write(token)


def _talk(sock):
    sock.settimeout(3)
    sock.sendall(PING)
    reply = sock.recv(100)
    sock.close()
    return {"reply": reply.decode("latin-1")}


def _unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(path)
    return _talk(s)


def _tcp(host, port):
    return _talk(socket.create_connection((host, int(port)), timeout=3))


def _sockets_anywhere():
    """Every unix socket file the sandbox can see (system trees skipped: read-only binds of the host's)."""
    found = []
    for top, dirs, files in os.walk("/"):
        if top == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "usr", "lib", "lib64", "lib32", "bin",
                                                    "sbin")]
        for name in files:
            p = os.path.join(top, name)
            try:
                if (os.lstat(p).st_mode & 0o170000) == 0o140000:
                    found.append(p)
            except OSError:
                pass
    return found


def _replace_with_link(link, target):
    import shutil
    shutil.rmtree(link)
    os.symlink(target, link)


def _via_proxy(target):
    """CONNECT through the proxy the sandbox was given (HTTPS_PROXY); 'blocked' unless it answers 200."""
    proxy = os.environ["HTTPS_PROXY"].rsplit("/", 1)[-1]
    host, port = proxy.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.settimeout(10)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
    reply = s.recv(4096).decode("latin-1")
    s.close()
    status = reply.split("\r\n", 1)[0]
    if " 200 " not in status + " ":
        raise PermissionError(status)
    return {"status": status}


def _op(op):
    """Writes an install script (or a run) may try in the places it can write."""
    env = os.environ.get("VIRTUAL_ENV", "")
    kind, args = op[0], [a.replace("{env}", env) if isinstance(a, str) else a for a in op[1:]]
    if kind == "fifo":
        os.mkfifo(args[0])
        return {}
    if kind == "setuid":  # a copy of an interpreter with the setuid bit
        import shutil
        shutil.copyfile(os.path.realpath(args[0]), args[1])
        os.chmod(args[1], 0o4755)
        return {"mode": oct(os.stat(args[1]).st_mode)}
    if kind == "link":
        if os.path.lexists(args[1]):
            os.unlink(args[1])
        os.symlink(args[0], args[1])
        return {}
    if kind == "sparse":
        with open(args[0], "wb") as f:
            f.truncate(int(args[1]))
        return {"size": os.path.getsize(args[0])}
    if kind == "fill":  # MiB files, slowly enough for the disk watch to see them grow
        os.makedirs(args[0], exist_ok=True)
        for i in range(int(args[1])):
            with open(os.path.join(args[0], "%d.bin" % i), "wb") as f:
                f.write(b"\1" * (1024 * 1024))
            time.sleep(float(args[2]))
        return {"mib": int(args[1])}
    if kind == "empty_files":
        os.makedirs(args[0], exist_ok=True)
        for i in range(int(args[1])):
            os.close(os.open(os.path.join(args[0], str(i)), os.O_CREAT | os.O_WRONLY, 0o644))
        return {"files": int(args[1])}
    if kind == "fork":  # children that wait; how many could be started is the result
        n = 0
        try:
            while n < int(args[0]):
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                n += 1
                if n % 10 == 0:  # a watch that kills the tree may not let the final count out
                    report("fork", "progress", "allowed", count=n)
        except OSError as exc:
            report("fork", "count", "blocked", count=n, errno=exc.errno)
            return {"count": n}
        report("fork", "count", "allowed", count=n)
        return {"count": n}
    raise ValueError(kind)


def dump_env():
    for k, v in sorted(os.environ.items()):
        print("ENV", k + "=" + v, flush=True)
    seen = 0
    for pid in sorted(os.listdir("/proc")):
        if not pid.isdigit():
            continue
        for what in ("environ", "cmdline"):
            try:
                with open("/proc/%s/%s" % (pid, what), "rb") as f:
                    data = f.read()
            except Exception as exc:
                report("proc", "/proc/%s/%s" % (pid, what), "blocked", error=type(exc).__name__)
                continue
            seen += 1
            for item in data.split(b"\0"):
                if item:
                    print("PROC", pid, what, item.decode("utf-8", "replace"), flush=True)
    report("env", "dump", "allowed", names=sorted(os.environ), proc_files=seen)


def kill_everything(extra_pids):
    me = os.getpid()
    visible = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    report("pids", "visible", "allowed", pids=visible)
    for pid in visible + [int(p) for p in extra_pids]:
        if pid != me:
            attempt("kill", pid, lambda pid=pid: os.kill(pid, signal.SIGKILL))
    attempt("kill", -1, lambda: os.kill(-1, signal.SIGKILL))


def _with_marker(marker):
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    n += marker.encode() in f.read()
            except OSError:
                pass
    return n


def leave_daemons(marker):
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "signal.signal(signal.SIGHUP, signal.SIG_IGN); time.sleep(600)")
    argv = [sys.executable, "-c", code, marker]
    # 1: a new session that keeps our stdout and stderr open
    subprocess.Popen(argv, start_new_session=True)
    # 2: the classic daemon: fork, setsid, fork again, first child exits
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.execv(sys.executable, argv)
        os._exit(0)
    os.waitpid(child, 0)
    # 3: util-linux setsid --fork
    subprocess.run(["setsid", "--fork"] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    report("daemons", marker, "allowed", alive=_with_marker(marker))


def run(cfg):
    token = cfg.get("token", "pwned")
    if cfg.get("env"):
        dump_env()
    for p in cfg.get("exists", []):
        report("exists", p, "allowed" if os.path.lexists(p) else "blocked")
    for p in cfg.get("read", []):
        attempt("read", p, lambda p=p: _read(p))
    for p in cfg.get("write", []):
        attempt("write", p, lambda p=p: _write(p, token))
    for p in cfg.get("unix", []):
        attempt("unix", p, lambda p=p: _unix(p))
    if cfg.get("any_socket"):
        for p in _sockets_anywhere():
            attempt("unix", p, lambda p=p: _unix(p))
    for host, port in cfg.get("tcp", []):
        attempt("tcp", "%s:%s" % (host, port), lambda host=host, port=port: _tcp(host, port))
    for name in cfg.get("dns", []):
        attempt("dns", name, lambda name=name: {"addrs": len(socket.getaddrinfo(name, 443))})
    for target in cfg.get("proxy", []):
        attempt("proxy", target, lambda target=target: _via_proxy(target))
    for op in cfg.get("ops", []):
        attempt(op[0], op[2] if op[0] in ("setuid", "link") else op[1], lambda op=op: _op(op))
    if "kill" in cfg:
        kill_everything(cfg["kill"])
    if cfg.get("daemons"):
        leave_daemons(cfg["daemons"])
    for link, target in cfg.get("symlinks", {}).items():  # last: replaces a directory the platform reads
        attempt("symlink", link, lambda link=link, target=target: _replace_with_link(link, target))
    if cfg.get("side_effect"):
        _write(cfg["side_effect"], token)
        report("side_effect", cfg["side_effect"], "allowed")


if __name__ == "__main__":  # install_dependencies.sh runs it as: "$1/bin/python" probe.py '<json>'
    run(json.loads(sys.argv[1]))


def attack(name):
    """Floods and limits: each goes on until a limit stops it."""
    if name == "memory":
        hold = []
        for i in range(16):  # 1 GiB in 64 MiB steps, every page touched
            hold.append(bytearray(b"\1") * (64 * 1024 * 1024))
            print("allocated %d MiB" % ((i + 1) * 64), flush=True)
    elif name == "procs":
        n = 0
        while n < 5000:  # a bounded fork bomb: the children sleep, the parent forks on
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            n += 1
        print("forked", n, flush=True)
    elif name == "files":
        held = []
        while len(held) < 100000:
            held.append(open("train.py"))
    elif name == "fsize":
        with open("big.bin", "wb") as f:
            for _ in range(100):
                f.write(b"\1" * (1024 * 1024))
    elif name == "disk":
        os.makedirs("fill", exist_ok=True)
        chunk = b"\1" * (1024 * 1024)
        for i in range(400):
            with open("fill/%d.bin" % i, "wb") as f:
                f.write(chunk)
            time.sleep(0.02)
    elif name == "logflood":
        print("FIRST-LINE", flush=True)
        block = ("#" * 1023 + "\n") * 1024  # 1 MiB
        for _ in range(50):
            sys.stdout.write(block)
        print("LAST-LINE", flush=True)
    elif name == "longwords":
        line = "w" * 7990 + ": x\n"  # one long word, then what could start a metric
        for _ in range(200000):  # 1.6 GB of long one-word lines, unless a limit ends it first
            sys.stdout.write(line)
    elif name == "hugeline":
        sys.stdout.write("y" * (20 * 1024 * 1024) + "\n")
        sys.stdout.flush()
        print("AFTER-HUGE-LINE", flush=True)
    elif name in ("badutf8", "badutf8-fail"):
        out = sys.stdout if name == "badutf8" else sys.stderr
        out.flush()
        out.buffer.write(b"bad \xff\xfe \xc3\x28 bytes\n\xed\xa0\x80 surrogate \x00 nul\nloss=0.5 \x00 \xff\n")
        out.buffer.flush()
        if name == "badutf8-fail":
            sys.exit(3)
    elif name in SCORES:
        print("epoch: 1, score: %s" % SCORES[name], flush=True)
'''
