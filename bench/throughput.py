"""Figure 7: throughput. One task of N tiny runs (train.py prints one metric
line and exits) through two worker daemons, the task's runs queued up to the
platform's parallel limit at a time. Runs per second from task created to task
completed, and how many of the N runs completed (none may be lost)."""

from __future__ import annotations

import time

from bench.config import Config
from bench.report import Goal, Row

TRAIN = '''
import argparse
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--work-dir", default="out")
p.add_argument("--x", type=float, default=0.0)
a = p.parse_args()
print(f"epoch: 1, score: {1 - (a.x - 0.3) ** 2:.6f}")
'''
WORKERS = 2


def run(cfg: Config) -> list[Row]:
    n = cfg.size(200, 20)
    reps = cfg.size(3, 2)
    rate = Row("7", f"throughput: {n} tiny runs, {WORKERS} workers", unit=" runs/s")
    done = Row("7", f"throughput: runs completed of {n}", unit=" runs", goal=Goal(">=", n, " runs"), every=True)
    per_run = Row("7", "throughput: worker time per run (workers × wall ÷ runs)", unit=" s")
    parallel = 0
    with cfg.stack("throughput") as st:
        for _ in range(WORKERS):
            st.start_worker()
        ds = st.add_dataset()
        model = st.deploy(train=TRAIN)
        for rep in range(reps):
            cfg.say(f"figure 7: task {rep + 1} of {reps}")
            st.wait_idle()
            t0 = time.perf_counter()
            task_id = st.start_task(model_id=model, dataset_id=ds, n_runs=n, metrics=["score"],
                                    params={"x": ("0.1", False)}, max_parallel=st.settings.max_parallel_runs)
            task = st.wait_task(task_id, timeout=60 + n * 10, poll_s=0.05)
            wall = time.perf_counter() - t0
            parallel = task.max_parallel
            runs = st.runs(task_id)
            ok = [r for r in runs if r.status.value == "completed"]
            rate.values.append(n / wall)
            done.values.append(len(ok))
            per_run.values.append(WORKERS * wall / n)
            if len(ok) != n:
                bad = [r for r in runs if r.status.value != "completed"]
                done.note = f"lost or failed: {[(r.id, r.status.value, (r.reason or '')[:80]) for r in bad[:3]]}"
    rate.note = f"task created → completed; up to {parallel} runs queued at once"
    return [rate, done, per_run]
