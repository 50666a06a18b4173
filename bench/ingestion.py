"""Figure 4: metric ingestion. A train.py prints N lines ``k: <i>, k2: <i/2>``
as fast as it can (no flush per line) and records its own wall time.

* lines/s stored: N ÷ (train.py's start → the run's row finished, which is
  written after the last metric row is committed);
* all lines stored: distinct metric lines in the database;
* its own wall time through the platform ÷ the same script writing to
  /dev/null with the same environment the sandbox gives it
  (``PYTHONUNBUFFERED=1``, so each print is a write, as it is in a run).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import statistics
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.config import Config
from bench.report import Goal, Row

TRAIN = '''
import argparse, json, os, sys, time
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--work-dir", default="out")
p.add_argument("--lines", type=int, default=100000)
a = p.parse_args()
os.makedirs(a.work_dir, exist_ok=True)


def sched():
    # (seconds on a CPU, seconds runnable but waiting for one); the rest of the wall time it slept
    try:
        with open("/proc/self/schedstat") as f:
            run_ns, wait_ns = f.read().split()[:2]
        return int(run_ns) / 1e9, int(wait_ns) / 1e9
    except (OSError, ValueError):
        return time.process_time(), 0.0


start = time.time()
c0, w0 = sched()
t0 = time.perf_counter()
for i in range(a.lines):
    print(f"k: {i}, k2: {i * 0.5}")
sys.stdout.flush()
wall = time.perf_counter() - t0
c1, w1 = sched()
with open(os.path.join(a.work_dir, "bench.json"), "w") as f:
    json.dump({"start": start, "wall_s": wall, "cpu_s": c1 - c0, "runq_s": w1 - w0}, f)
'''


def _epoch_seconds(dt: datetime) -> float:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def platform_run(st, *, model: int, dataset: int, lines: int) -> dict:
    """One task through the platform: {'wall_s', 'stored_s', 'lines_stored', 'rows', 'run_id', 'task_id'}."""
    task_id = st.start_task(model_id=model, dataset_id=dataset, params={"lines": (str(lines), False)},
                            metrics=["k", "k2"])
    st.wait_task(task_id, timeout=600, poll_s=0.05)
    run = st.only_run(task_id)
    info = json.loads((st.settings.path(run.work_dir) / "bench.json").read_text())
    rows, stored = st.metric_counts(run.id)
    return {**info, "stored_s": _epoch_seconds(run.finished_at) - info["start"],
            "lines_stored": stored, "rows": rows, "run_id": run.id, "task_id": task_id}


def bare_run(python: Path, pkg: Path, *, lines: int, sandbox_env: bool, pipe: bool = False) -> dict:
    """train.py alone, its stdout to /dev/null, or (``pipe``) into a pipe that is only drained."""
    env = {"PATH": os.defpath, "LANG": "C.UTF-8"}
    if sandbox_env:
        env.update({"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
        argv = [str(python), "train.py", "--lines", str(lines), "--work-dir", tmp]
        if pipe:
            proc = subprocess.Popen(argv, cwd=pkg, env=env, stdout=subprocess.PIPE)
            with contextlib.suppress(OSError):
                fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)  # as the worker's reader does
            while proc.stdout.read1(1 << 20):
                pass
            if proc.wait(600) != 0:
                raise RuntimeError(f"train.py exited {proc.returncode}")
        else:
            subprocess.run(argv, cwd=pkg, env=env, stdout=subprocess.DEVNULL, check=True, timeout=600)
        return json.loads((Path(tmp) / "bench.json").read_text())


def _split_text(parts: dict[str, list[float]]) -> str:
    """Where train.py's wall time went (medians, from /proc/self/schedstat): on a CPU, waiting for one
    (the machine's cores busy, the worker's parsing among them), asleep (a full pipe)."""
    med = {k: statistics.median(v) for k, v in parts.items() if v}
    return (f"on CPU {med.get('cpu_s', 0):.3f} s, waiting for a CPU {med.get('runq_s', 0):.3f} s, "
            f"blocked {med.get('slept_s', 0):.3f} s (medians)")


def run(cfg: Config) -> list[Row]:
    lines = cfg.size(100_000, 10_000)
    reps = cfg.size(5, 2)
    label = f"{lines // 1000}k lines"
    rate = Row("4", f"ingestion: metric lines stored per second ({label})", unit=" lines/s",
               goal=Goal(">=", 100_000, " lines/s"))
    stored = Row("4", f"ingestion: lines stored of {lines:,}", unit=" lines", goal=Goal(">=", lines, " lines"),
                 every=True)
    ratio = Row("4", "ingestion: train.py wall time, platform ÷ /dev/null", goal=Goal("<=", 1.05))
    buffered = Row("4", "baseline: train.py → /dev/null, block-buffered stdout", unit=" s")
    bare = Row("4", "baseline: train.py → /dev/null, PYTHONUNBUFFERED=1 as in the sandbox", unit=" s")
    vs_pipe = Row("4", "ingestion: train.py wall time, platform ÷ a drained pipe")
    piped = Row("4", "baseline: train.py → a pipe that is only drained, PYTHONUNBUFFERED=1", unit=" s")
    through = Row("4", "train.py's own wall time through the platform", unit=" s")
    split = {k: [] for k in ("cpu_s", "runq_s", "slept_s")}
    lag: list[float] = []
    pipe_split = {k: [] for k in ("cpu_s", "runq_s", "slept_s")}
    bare_split = {k: [] for k in ("cpu_s", "runq_s", "slept_s")}
    with cfg.stack("ingestion") as st:
        st.start_worker()
        ds = st.add_dataset()
        model = st.deploy(train=TRAIN)
        python = st.env_python(model)
        pkg = st.settings.data_dir / "models" / str(model)
        for _ in range(reps):
            st.wait_idle()
            r = platform_run(st, model=model, dataset=ds, lines=lines)
            rate.values.append(lines / r["stored_s"])
            lag.append(r["stored_s"] - r["wall_s"])
            stored.values.append(r["lines_stored"])
            through.values.append(r["wall_s"])
            b = bare_run(python, pkg, lines=lines, sandbox_env=True)
            bare.values.append(b["wall_s"])
            buffered.values.append(bare_run(python, pkg, lines=lines, sandbox_env=False)["wall_s"])
            piped_info = bare_run(python, pkg, lines=lines, sandbox_env=True, pipe=True)
            piped.values.append(piped_info["wall_s"])
            vs_pipe.values.append(r["wall_s"] / piped_info["wall_s"])
            for k in pipe_split:
                pipe_split[k].append(piped_info[k] if k != "slept_s" else
                                     max(0.0, piped_info["wall_s"] - piped_info["cpu_s"] - piped_info["runq_s"]))
            ratio.values.append(r["wall_s"] / b["wall_s"])
            for info, into in ((r, split), (b, bare_split)):
                into["cpu_s"].append(info["cpu_s"])
                into["runq_s"].append(info["runq_s"])
                into["slept_s"].append(max(0.0, info["wall_s"] - info["cpu_s"] - info["runq_s"]))
    tail = statistics.median(lag) if lag else 0.0
    rate.note = (f"train.py's start → run row finished (all metric rows committed), of which {tail:.3f} s after "
                 "its last line (median); SQLite")
    stored.note = f"{2 * lines:,} metric rows expected (2 per line)"
    ratio.note = f"{reps} alternating runs"
    through.note = "of which " + _split_text(split)
    bare.note = "of which " + _split_text(bare_split)
    piped.note = "of which " + _split_text(pipe_split) + "; the floor for any platform that captures output"
    vs_pipe.note = "what parsing and storing add over capturing the output at all"
    return [rate, stored, ratio, vs_pipe, through, piped, bare, buffered]
