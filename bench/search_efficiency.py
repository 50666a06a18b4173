"""Figure 6: search efficiency, on a synthetic objective with a known optimum.

The platform's own search code drives it (``shared.services.search``: the sampler a
task gets, the pruner, the study in an RDB storage, ask/tell, ``TrialReporter``),
with a stand-in for train.py that returns the objective at once, so the figure
counts runs rather than waiting for them:

* runs needed to reach 95 % of the optimum for ``auto`` (the default: a Gaussian
  process here), TPE and random search. Each task has 20 runs, 2 in parallel: two
  asks are in flight, the older one is told, then the next is asked, the way the
  scheduler asks while another run of the task is still running. A task that has
  not reached it within its 20 runs goes on asking (up to a cap) so that the ratio
  random ÷ auto compares counts rather than misses;
* the share of tasks that reached 95 % within their 20 runs;
* the search's own cost: one ask at 100 finished runs (plus one running);
* what the median pruner saves: epochs run by a TPE search with pruning ÷
  the same search without, and the best score each one finds.

The objective: ``exp(-((x-0.3)/0.5)² - ((log10 lr + 3)/2)² - ((layers-5)/6)²)`` with
x ∈ [0, 1], lr ∈ [1e-5, 1e-1] (log scale), layers ∈ {1..8} (an int); optimum 1.0 at
x=0.3, lr=1e-3, layers=5. A run's metric climbs over its epochs to its final value,
``f · (1 - e^{-3e/E}) / (1 - e^{-3})``.
"""

from __future__ import annotations

import math
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.config import Config
from bench.report import Goal, Row
from shared.records import TrialOutcome

PARAMS = {
    "x": {"range": [0.0, 1.0], "log": False, "type": "float", "search": True},
    "lr": {"range": [1e-5, 1e-1], "log": True, "type": "float", "search": True},
    "layers": {"range": [1, 8], "type": "int", "search": True},
}
TARGET = 0.95
RUNS, PARALLEL = 20, 2
SAMPLERS = (("auto", "auto"), ("tpe", "TPE"), ("random", "random search"))


def objective(p: dict) -> float:
    return math.exp(-((p["x"] - 0.3) / 0.5) ** 2 - ((math.log10(p["lr"]) + 3) / 2) ** 2
                    - ((p["layers"] - 5) / 6) ** 2)


def curve(final: float, epoch: int, epochs: int) -> float:
    return final * (1 - math.exp(-3 * epoch / epochs)) / (1 - math.exp(-3))


def _task(task_id: int, *, sampler: str, n_runs: int, prune: bool, seed: int | None):
    from shared.records import Direction, Sampler, ScoreMode, Task
    from shared.services import search

    task = Task(id=task_id, name=f"bench-{task_id}", model_id=1, dataset_id=1, epochs=1, n_runs=n_runs,
                eval_metric="score", direction=Direction.maximize, score_mode=ScoreMode.final,
                sampler=Sampler(sampler), prune=prune, params=PARAMS, seed=seed, max_parallel=PARALLEL)
    # What create_task stores: the sampler auto resolves to for this space and budget.
    used, reason = search.choose_sampler(task)
    task.sampler_used, task.sampler_reason = used, reason.stored()
    return task


def runs_to_target(task, url: str, cap: int) -> int | None:
    """Runs told, in the order they finished, until one reaches TARGET; None past ``cap``."""
    from shared.services import search

    running: list[tuple[int, dict]] = []
    for told in range(1, cap + 1):
        while len(running) < PARALLEL:
            running.append(search.ask(task, url))
        number, params = running.pop(0)
        value = objective(params)
        search.tell(task, url, number, value=value, state=TrialOutcome.complete)
        if value >= TARGET:
            return told
    return None


def ask_seconds(task, url: str, *, finished: int, asks: int) -> tuple[list[float], list[float]]:
    """(wall, CPU) seconds per ask once ``finished`` runs are in the study and one more is running.
    CPU time as well: on a shared machine the wall time is mostly waiting for a core."""
    from shared.services import search

    rng = random.Random(task.id)
    seeds = []
    for _ in range(finished):
        p = {"x": rng.random(), "lr": 10 ** rng.uniform(-5, -1), "layers": rng.randint(1, 8)}
        seeds.append((p, objective(p)))
    task.warm_start_task_id = 0
    search.warm_start(task, url, seeds)  # the finished runs, added as a warm start adds them
    running = [search.ask(task, url)]  # also loads torch & co once, as a worker's first ask does
    wall, cpu = [], []
    for _ in range(asks):
        t0, c0 = time.perf_counter(), time.process_time()
        running.append(search.ask(task, url))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        number, params = running.pop(0)
        search.tell(task, url, number, value=objective(params), state=TrialOutcome.complete)
    return wall, cpu


def pruned_search(task, url: str, epochs: int) -> tuple[int, float]:
    """(epochs run, best final score) of a task's runs, with the worker's report/prune loop."""
    from shared.services import search

    spent, best = 0, 0.0
    for _ in range(task.n_runs):
        number, params = search.ask(task, url)
        final = objective(params)
        reporter = search.TrialReporter(task, number, url)
        state = TrialOutcome.complete
        for step in range(epochs):
            spent += 1
            if reporter.report(step, curve(final, step + 1, epochs)):
                state = TrialOutcome.pruned
                break
        search.tell(task, url, number, value=final if state == TrialOutcome.complete else None, state=state)
        if state == TrialOutcome.complete:
            best = max(best, final)
    return spent, best


def _p90(values: list[float]) -> float:
    return sorted(values)[max(0, math.ceil(0.9 * len(values)) - 1)]


def run(cfg: Config) -> list[Row]:
    from shared.core.db import dispose_engines

    # Quick mode only keeps the code running: 2 seeds, asked on 5 runs past the task's 20.
    seeds = cfg.size(20, 2)
    cap = cfg.size(200, RUNS + 5)
    prune_reps, n_runs, epochs = cfg.size(10, 1), cfg.size(40, 10), 10
    rows: list[Row] = []
    # The figure counts runs, not seconds: the study's SQLite file goes to tmpfs where there
    # is one, so Optuna's many small commits do not wait on the disk.
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="bench-search-", dir=shm if shm.is_dir() else None) as tmp:
        url = f"sqlite:///{Path(tmp) / 'optuna.db'}"
        reached: dict[str, list[int | None]] = {s: [] for s, _ in SAMPLERS}
        task_id = 0
        for seed in range(1, seeds + 1):
            cfg.say(f"figure 6: seed {seed} of {seeds}")
            for sampler, _label in SAMPLERS:
                task_id += 1
                task = _task(task_id, sampler=sampler, n_runs=RUNS, prune=False, seed=seed)
                reached[sampler].append(runs_to_target(task, url, cap))
        cfg.say("figure 6: ask cost at 100 finished runs")
        overhead = {}
        for sampler in ("auto", "tpe"):
            task_id += 1
            task = _task(task_id, sampler=sampler, n_runs=100, prune=False, seed=1)
            overhead[sampler] = (task.sampler_used, ask_seconds(task, url, finished=100, asks=cfg.size(10, 1)))
        saved: list[float] = []
        best = {True: [], False: []}
        for rep in range(prune_reps):
            cfg.say(f"figure 6: pruning, repetition {rep + 1} of {prune_reps}")
            spent = {}
            for prune in (True, False):
                task_id += 1
                task = _task(task_id, sampler="tpe", n_runs=n_runs, prune=prune, seed=None)
                spent[prune], b = pruned_search(task, url, epochs)
                best[prune].append(b)
            saved.append(1 - spent[True] / spent[False])
        dispose_engines()
    filled = {s: [float(v if v is not None else cap + 1) for v in reached[s]] for s in reached}
    setup = f"{seeds} seeds, {RUNS} runs a task, {PARALLEL} in parallel"
    for sampler, label in SAMPLERS:
        missed = sum(v is None for v in reached[sampler])
        used = _task(0, sampler=sampler, n_runs=RUNS, prune=False, seed=None).sampler_used.value
        rows.append(Row("6", f"runs to reach 95% of the optimum: {label}" + (f" ({used})" if used != sampler else ""),
                        values=filled[sampler], unit=" runs",
                        note=f"p90 {_p90(filled[sampler]):.0f}; {setup}; asked on past {RUNS} up to {cap}"
                             + (f"; {missed} never reached it (counted as {cap + 1})" if missed else "")))
    for sampler, label in SAMPLERS:
        within = sum(v is not None and v <= RUNS for v in reached[sampler])
        rows.append(Row("6", f"tasks at 95% of the optimum within their {RUNS} runs: {label}",
                        values=[100 * within / seeds], unit=" %", note=f"{within} of {seeds}",
                        goal=Goal(">=", 90, " %") if sampler == "auto" else None))
    ratio = statistics.median(filled["random"]) / statistics.median(filled["auto"])
    rows.append(Row("6", "runs to 95%: random search ÷ auto (medians)", values=[ratio], unit="×",
                    goal=Goal(">=", 3, "×"), note=f"TPE ÷ auto: "
                    f"{statistics.median(filled['tpe']) / statistics.median(filled['auto']):.1f}×"))
    for sampler, (used, (wall, cpu)) in overhead.items():
        for what, times in (("wall time", wall), ("CPU time", cpu)):
            rows.append(Row("6", f"one ask at 100 finished runs + 1 running, {what}: {sampler} ({used.value})",
                            values=times, unit=" s", goal=Goal("<=", 1, " s") if sampler == "auto" else None,
                            note="study in SQLite on tmpfs; the first ask of a process (imports) left out"))
    rows.append(Row("6", "run time pruning saves (epochs not run, TPE)", values=[s * 100 for s in saved], unit=" %",
                    note=f"{n_runs} runs × {epochs} epochs; best score found: {statistics.median(best[True]):.3f} "
                         f"with pruning, {statistics.median(best[False]):.3f} without (medians)"))
    return rows
