"""Figure 1: dispatch latency. From the moment a task is created (the New task
page's ``create_task`` + first scheduler step) to train.py's first output line,
with the model's environment already built and the worker idle on its queues.
Baseline: starting the same ``python train.py`` directly, in the same env.

train.py prints ``time.time()`` as its first line, so no polling delay enters
the measure; both clocks are the same host clock (the sandbox has no time
namespace)."""

from __future__ import annotations

import subprocess
import time

from bench.config import Config
from bench.report import Goal, Row

TRAIN = '''
import time
print("bench-first-line", repr(time.time()), flush=True)
import argparse
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--work-dir", default="out")
p.parse_args()
'''


def first_line_time(lines: list[str]) -> float:
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[0] == "bench-first-line":
            return float(parts[1])
    raise ValueError("train.py's first line (bench-first-line <time>) is not in its output")


def _log_lines(path) -> list[str]:
    from shared.contract.runlog import read_log

    return [text for _stream, text in read_log(log_path=path)]


def run(cfg: Config) -> list[Row]:
    reps = cfg.size(10, 3)
    platform = Row("1", "dispatch: task created → first line of train.py", unit=" s", goal=Goal("<=", 0.5, " s"))
    bare = Row("1", "baseline: `python train.py` started → first line", unit=" s")
    ratio_note = ""
    with cfg.stack("dispatch") as st:
        st.start_worker()
        ds = st.add_dataset()
        model = st.deploy(train=TRAIN)
        python = st.env_python(model)
        pkg = st.settings.data_dir / "models" / str(model)
        # One run first: warms the OS page cache for the env, as any second task would find it.
        st.wait_task(st.start_task(model_id=model, dataset_id=ds), timeout=120)
        for _ in range(reps):
            st.wait_idle()
            time.sleep(0.3)
            t0 = time.time()
            task_id = st.start_task(model_id=model, dataset_id=ds)
            st.wait_task(task_id, timeout=120)
            run_ = st.only_run(task_id)
            platform.values.append(first_line_time(_log_lines(st.settings.path(run_.log_path))) - t0)

            t0 = time.time()
            proc = subprocess.Popen([str(python), "train.py", "--epochs", "1"], cwd=pkg, stdout=subprocess.PIPE,
                                    text=True)
            out, _ = proc.communicate(timeout=60)
            bare.values.append(first_line_time(out.splitlines()) - t0)
        if bare.values and platform.values:
            extra = platform.median - bare.median
            ratio_note = f"platform adds {extra * 1000:.0f} ms over a bare start"
    platform.note = f"{reps} tasks, env cached, 1 idle worker; {ratio_note}"
    bare.note = "same env's python, same package dir"
    return [platform, bare]
