"""The executor with real sandboxed processes: exit reasons, limits, stopping
whole process trees, and the capped, tagged log."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from runner.envs import find_uv
from runner.execute import KillReason, Sample, execute, kill_tree
from runner.execute.lines import LineSplitter
from runner.sandbox import Limits, Mount, SandboxSpec
from shared.contract.runlog import iter_plain_log, read_log
from shared.core.settings import Settings
from tests.support.procs import STUBBORN, procs_with, wait_for

IS_ROOT = os.geteuid() == 0
RUN_UID = 63000 + os.getpid() % 3000

# A run that is never stopped would hang its test; fail it instead.
pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def settings(base: Path) -> Settings:
    return Settings(data_dir=base / "data", unsafe_no_sandbox=False, sandbox_uid_base=RUN_UID)


class Run:
    def __init__(self, base: Path, venv: Path, settings: Settings) -> None:
        self.base, self.venv, self.settings = base, venv, settings
        self.wd = base / f"work-{uuid.uuid4().hex[:8]}"
        self.wd.mkdir()
        self.log_path = base / "logs" / f"{self.wd.name}.log"
        self.lines: list[tuple[str, str]] = []
        self.pid: int | None = None

    def spec(self, script: str, *args: str, **kw) -> SandboxSpec:
        (self.wd / "main.py").write_text(script)
        kw.setdefault("uid", RUN_UID)
        return SandboxSpec(argv=[str(self.venv / "bin" / "python"), "main.py", *args], workdir=self.wd,
                           mounts=[Mount(host=self.venv, inside=str(self.venv))], **kw)

    def __call__(self, script: str, *args: str, settings: Settings | None = None, **kw):
        spec_kw = {k: kw.pop(k) for k in ("limits", "uid", "gpus") if k in kw}
        return execute(spec=self.spec(script, *args, **spec_kw), settings=settings or self.settings,
                       log_path=self.log_path, on_line=lambda s, t: self.lines.append((s, t)),
                       on_start=self._started, **kw)

    def _started(self, pid: int) -> None:
        self.pid = pid

    def texts(self) -> list[str]:
        return [t for _, t in self.lines]


@pytest.fixture
def run(base, venv, settings) -> Run:
    return Run(base, venv, settings)


def test_success_and_exit_reasons(run):
    ok = run("print('hello')")
    assert ok.ok and ok.exit_code == 0 and ok.reason is None and run.pid
    assert run.lines == [("stdout", "hello")]

    failed = run("import sys\nprint('step 1')\nprint('bad input', file=sys.stderr)\nsys.exit(3)")
    assert not failed.ok and failed.exit_code == 3 and failed.kill_reason is None
    assert failed.reason.startswith("exit code 3") and "bad input" in failed.reason and "step 1" in failed.reason

    crashed = run("def f():\n    raise ValueError('boom')\nprint('x')\nf()")
    assert crashed.summary == "exit code 1: ValueError: boom"
    assert "Traceback (most recent call last):" in crashed.reason
    log = read_log(log_path=run.log_path)
    assert ("stderr", "ValueError: boom") in log and ("stdout", "x") in log

    killed = run("import os, signal\nprint('bye', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)")
    assert killed.signal == 9 and killed.exit_code is None
    assert killed.summary.startswith("killed by signal 9 (SIGKILL)")


def _stop_when_ready(run: Run, marker: str, state: dict):
    def check():
        texts = run.texts()
        if "ready" in texts and "stubborn up" in texts:
            state.setdefault("before", procs_with(marker))
            return "stopped by user"
        return None
    return check


# How fast the tree goes is measured in bench/ (figure 9, stop latency); this checks that it goes.
@pytest.mark.parametrize("unsafe", [False, True], ids=["sandbox", "unsafe-no-sandbox"])
def test_stop_kills_the_whole_tree(run, base, env_python, unsafe):
    if unsafe and not IS_ROOT:
        pytest.skip("without the pid namespace, a setsid daemon is found through its dedicated uid (root only)")
    marker = f"trainyard-marker-{uuid.uuid4().hex}"
    state: dict = {}
    s = Settings(data_dir=base / "data", unsafe_no_sandbox=unsafe, sandbox_uid_base=RUN_UID)
    if unsafe:
        # Without the sandbox nothing is mounted: the run's uid uses the host paths itself, so they must not
        # sit in a private folder (base may: CI's TMPDIR is 0700).
        open_dir = Path(tempfile.mkdtemp(prefix="trainyard-unsafe-", dir="/tmp"))
        open_dir.chmod(0o755)
        subprocess.run([find_uv(), "venv", "-q", "--python", env_python, str(open_dir / "venv")], check=True,
                       capture_output=True)
        run = Run(open_dir, open_dir / "venv", s)
    try:
        outcome = run(STUBBORN, marker, settings=s, check=_stop_when_ready(run, marker, state),
                      limits=Limits(max_procs=50))
        assert len(state["before"]) >= 2  # the SIGTERM-ignoring child and the setsid'd daemon were running
        assert outcome.kill_reason == "stopped by user" and outcome.kill_kind is None and not outcome.ok
        assert outcome.reason.startswith("stopped by user")
        assert procs_with(marker) == []  # execute() returns only once nothing of the run is left
        assert any("stopping the run: stopped by user" in t for _, t in read_log(log_path=run.log_path))
    finally:
        if unsafe:
            shutil.rmtree(open_dir, ignore_errors=True)


def test_check_may_name_a_kill_reason(run):
    outcome = run("import time\nprint('go', flush=True)\ntime.sleep(60)",
                  check=lambda: (KillReason.time_limit, "time limit 1 s reached") if run.lines else None)
    assert outcome.kill_kind is KillReason.time_limit and outcome.kill_reason == "time limit 1 s reached"
    outcome = run("import time\nprint('go', flush=True)\ntime.sleep(60)",
                  check=lambda: KillReason.pruned if run.lines else None)
    assert outcome.kill_kind is KillReason.pruned and outcome.kill_reason == "pruned by the parameter search"


def test_worker_shutdown_kills_the_run(run):
    marker = f"trainyard-marker-{uuid.uuid4().hex}"

    def on_line(_stream, text):
        if text == "ready":
            raise KeyboardInterrupt

    spec = run.spec("import subprocess, sys, time\n"
                    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', sys.argv[1]])\n"
                    "time.sleep(0.2)\nprint('ready', flush=True)\ntime.sleep(600)", marker)
    with pytest.raises(KeyboardInterrupt):
        execute(spec=spec, settings=run.settings, log_path=run.log_path, on_line=on_line)
    assert procs_with(marker) == []
    assert read_log(log_path=run.log_path)[-1] == ("stderr", "[trainyard] stopping the run: the worker shut down")


def test_kill_tree_of_a_plain_process_group(env_python):
    marker = f"trainyard-marker-{uuid.uuid4().hex}"
    proc = subprocess.Popen([env_python, "-c",
                             "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                             "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', sys.argv[1]]); "
                             "time.sleep(600)", marker], start_new_session=True)
    wait_for(lambda: len(procs_with(marker)) == 2, 10, "the process and its child to start")
    kill_tree(proc.pid, grace=0.5)
    # Both ignore SIGTERM: only the SIGKILL after the grace ends them.
    assert proc.wait(10) == -9
    wait_for(lambda: not procs_with(marker), 10, "the SIGTERM-ignoring child to be gone too")


def test_memory_limit_by_rlimit(run):
    outcome = run("print('allocating', flush=True)\nx = b'1' * (400 << 20)\nprint('survived')",
                  limits=Limits(memory_bytes=200 << 20))
    assert not outcome.ok and outcome.exit_code == 1
    assert outcome.summary.startswith("memory limit 200 MiB reached") and "MemoryError" in outcome.summary
    assert "survived" not in run.texts()


def test_memory_limit_by_tree_watch(run):
    # Each process stays under the per-process address-space limit; together they do not.
    script = ("import os, time\n"
              "for i in range(3):\n"
              "    if os.fork() == 0:\n"
              "        x = b'1' * (110 << 20)\n"
              "        time.sleep(60)\n"
              "        os._exit(0)\n"
              "print('forked', flush=True)\ntime.sleep(60)\n")
    marker = f"trainyard-marker-{uuid.uuid4().hex}"
    outcome = run(script, marker, limits=Limits(memory_bytes=300 << 20))
    assert outcome.kill_kind is KillReason.memory and outcome.exit_code is None
    assert outcome.kill_reason.startswith("memory limit 300 MiB reached (the run used")
    assert outcome.peak_rss_bytes > 300 << 20
    assert procs_with(marker) == []  # the forked children went with the run


@pytest.mark.parametrize("uid", [RUN_UID, None], ids=["rlimit-of-own-uid", "process-watch"])
def test_process_limit(run, uid):
    # With a uid of its own the kernel refuses the 21st fork (RLIMIT_NPROC);
    # as root RLIMIT_NPROC is void, and the process watch stops the run.
    script = ("import os, sys, time\n"
              "for i in range(60):\n"
              "    if os.fork() == 0:\n"
              "        time.sleep(10)\n"
              "        os._exit(0)\n"
              "time.sleep(3)\n"
              "print('made 60 processes')\n")
    outcome = run(script, limits=Limits(max_procs=20), uid=uid)
    assert not outcome.ok
    assert "process limit 20 reached" in outcome.reason
    if uid is not None and IS_ROOT:
        assert outcome.kill_kind is None and "Resource temporarily unavailable" in outcome.summary
    else:
        assert outcome.kill_kind is KillReason.procs
    assert "made 60 processes" not in run.texts()


def test_file_size_limit(run):
    outcome = run("f = open('big.bin', 'wb')\nf.write(b'0' * (3 << 20))\nf.close()\nprint('wrote')",
                  limits=Limits(max_file_bytes=1 << 20))
    assert not outcome.ok and outcome.summary.startswith("file size limit 1 MiB reached")
    assert (run.wd / "big.bin").stat().st_size <= 1 << 20


def test_disk_limit(run):
    script = ("import os, time\n"
              "for i in range(8):\n"
              "    with open(f'part{i}.bin', 'wb') as f:\n"
              "        f.write(os.urandom(1 << 20))\n"
              "        os.fsync(f.fileno())\n"
              "print('written', flush=True)\ntime.sleep(60)\n")
    marker = f"trainyard-marker-{uuid.uuid4().hex}"
    outcome = run(script, marker, limits=Limits(max_disk_bytes=5 << 20, max_file_bytes=2 << 20))
    assert outcome.kill_kind is KillReason.disk and outcome.exit_code is None
    assert outcome.kill_reason.startswith("disk limit 5 MiB reached (the work dir holds")
    assert "written" in run.texts() and procs_with(marker) == []


def test_log_flood_is_capped_head_and_tail_kept(run):
    cap = 64 * 1024
    # The script holds its last line until the test has looked at the live log
    # (a file "go" appears), so how fast a loaded machine gets there never matters.
    script = ("import os, sys, time\n"
              "for i in range(20000):\n"
              "    print(f'line {i:06d} ' + 'x' * 80)\n"
              "sys.stdout.flush()\nprint('flood done', flush=True)\n"
              "t = time.time()\n"
              "while not os.path.exists('go') and time.time() - t < 20:\n"
              "    time.sleep(0.05)\n"
              "print('the end', flush=True)\n")
    live: dict = {}

    def check():
        if "seen" not in live and "flood done" in run.texts():
            seen = read_log(log_path=run.log_path, tail_lines=3)
            if seen and seen[-1] == ("stdout", "flood done"):  # the .tail file caught up
                live["seen"] = seen
                live["tail_file"] = run.log_path.with_suffix(".tail").exists()
                (run.wd / "go").touch()
        return None

    outcome = run(script, limits=Limits(max_log_bytes=cap), check=check)
    assert outcome.ok
    assert sum(1 for t in run.texts() if t.startswith("line ")) == 20000  # every line reached on_line
    assert outcome.log_bytes_dropped > 1_000_000
    size = run.log_path.stat().st_size
    assert size == outcome.log_bytes_written and size <= cap + 512
    log = read_log(log_path=run.log_path)
    assert log[0] == ("stdout", "line 000000 " + "x" * 80)
    assert log[-1] == ("stdout", "the end")
    assert ("stdout", "line 019999 " + "x" * 80) in log
    marker = [t for s, t in log if "of log dropped" in t]
    assert len(marker) == 1 and f"{outcome.log_bytes_dropped} bytes" in marker[0]
    assert not run.log_path.with_suffix(".tail").exists()
    # While it ran, a viewer past the limit saw the latest lines through the .tail file.
    assert "seen" in live, "a live viewer never saw the latest line past the log limit"
    assert live["tail_file"]
    assert read_log(log_path=run.log_path, tail_lines=2) == [("stdout", "flood done"), ("stdout", "the end")]
    plain = b"".join(iter_plain_log(run.log_path))
    assert plain.startswith(b"line 000000 ") and plain.endswith(b"the end\n") and b"\no line" not in plain


def test_awkward_output(run):
    script = ("import sys, time\n"
              "out = sys.stdout.buffer\n"
              "out.write(b'y' * 100000 + b'\\n')\n"
              "out.write(b'bad \\xff\\xfe end\\n')\n"
              "out.write(b'a\\rb\\rc\\n'); out.flush()\n"
              "out.write(b'x\\r'); out.flush(); time.sleep(0.05)\n"
              "out.write(b'\\ny\\n')\n"
              "out.write(b'no newline at the end')\n")
    outcome = run(script, limits=Limits(max_line_bytes=1000))
    assert outcome.ok
    texts = run.texts()
    assert texts[0] == "y" * 1000 + "…[cut 99000 bytes]" and outcome.lines_truncated == 1
    assert texts[1] == "bad \ufffd\ufffd end"
    assert texts[2:] == ["a", "b", "c", "x", "y", "no newline at the end"]
    log = [t for _, t in read_log(log_path=run.log_path)]
    assert log[0] == texts[0] and "c" in log and "x" in log and log[-1] == "no newline at the end"
    assert outcome.lines == 8


@pytest.mark.parametrize("chunks, expected", [
    ([b"a\nb\n"], [(b"a", 0, False), (b"b", 0, False)]),
    ([b"a", b"b\nc"], [(b"ab", 0, False)]),
    ([b"a\r", b"\nb\n"], [(b"a", 0, False), (b"b", 0, False)]),
    ([b"1%\r2%\r", b"3%\n"], [(b"1%", 0, True), (b"2%", 0, True), (b"3%", 0, False)]),
    ([b"abcdefgh", b"ijk\n"], [(b"abcd", 7, False)]),
    ([b"abcdefghij\nxy\n"], [(b"abcd", 6, False), (b"xy", 0, False)]),
    ([b"\n\n"], [(b"", 0, False), (b"", 0, False)]),
    ([b"ab", b"cdef", b"gh\rx\n"], [(b"abcd", 4, True), (b"x", 0, False)]),
    ([b"a\r\r", b"b\n"], [(b"a", 0, True), (b"", 0, True), (b"b", 0, False)]),
])
def test_line_splitter(chunks, expected):
    sp = LineSplitter(max_line=4)
    got = []
    for c in chunks:
        got += triples(*sp.feed(c))
    assert got == expected


def triples(lines, specials):
    return [(line, *specials.get(i, (0, False))) for i, line in enumerate(lines)]


def test_line_splitter_flushes_a_partial_line():
    sp = LineSplitter(max_line=4)
    assert sp.feed(b"abcdef") == ([], {})
    assert triples(*sp.finish()) == [(b"abcd", 2, False)]
    assert sp.finish() == ([], {})


def test_samples(run):
    samples: list[Sample] = []
    # A busy loop that reports the share of a core it got: on a loaded machine
    # that is far below 100 %, and the samples must say what it really got.
    outcome = run("import time\nt, c = time.time(), time.process_time()\nwhile time.time() - t < 1.2:\n    pass\n"
                  "print((time.process_time() - c) / (time.time() - t) * 100)\n",
                  on_sample=samples.append, sample_interval=0.3)
    assert outcome.ok
    assert len(samples) >= 2
    assert all(s.rss_bytes > 0 and s.gpu_util is None and s.gpu_mem_bytes is None for s in samples)
    got = float(run.texts()[-1])
    assert max(s.cpu_percent for s in samples) > got / 2 > 0


def test_read_log_of_a_missing_file(base):
    assert read_log(log_path=base / "nope.log") == []
    assert read_log(log_path=base / "nope.log", tail_lines=5) == []
    assert list(iter_plain_log(base / "nope.log")) == []
