"""Figure 6: search efficiency, on a synthetic objective with a known optimum.

The platform's own search code drives it (``shared.services.search``: the samplers and
pruner a task gets, the study in an RDB storage, ask/tell, ``TrialReporter``),
with a stand-in for train.py that returns the objective at once, so the figure
counts runs rather than waiting for them:

* runs needed to reach 95 % of the optimum, TPE vs random search, runs made
  one after another (the best case for TPE: a task's parallel runs are asked
  before earlier ones report);
* what the median pruner saves: epochs run by a TPE search with pruning ÷
  the same search without, and the best score each one finds.

The objective: ``exp(-((x-0.3)/0.5)² - ((log10 lr + 3)/2)²) · b(batch)`` with
x ∈ [0, 1], lr ∈ [1e-5, 1e-1] (log scale), batch ∈ {16, 32, 64, 128},
b = 0.9, 0.97, 1, 0.97; optimum 1.0 at x=0.3, lr=1e-3, batch=64. A run's
metric climbs over its epochs to its final value, ``f · (1 - e^{-3e/E}) / (1 - e^{-3})``.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from pathlib import Path

from bench.config import Config
from bench.report import Row

_BATCH = {16: 0.9, 32: 0.97, 64: 1.0, 128: 0.97}
PARAMS = {
    "x": {"range": [0.0, 1.0], "log": False, "type": "float", "search": True},
    "lr": {"range": [1e-5, 1e-1], "log": True, "type": "float", "search": True},
    "batch": {"choices": [16, 32, 64, 128], "type": "int", "search": True},
}
TARGET = 0.95


def objective(p: dict) -> float:
    return math.exp(-((p["x"] - 0.3) / 0.5) ** 2 - ((math.log10(p["lr"]) + 3) / 2) ** 2) * _BATCH[p["batch"]]


def curve(final: float, epoch: int, epochs: int) -> float:
    return final * (1 - math.exp(-3 * epoch / epochs)) / (1 - math.exp(-3))


def _task(task_id: int, *, sampler: str, n_runs: int, prune: bool):
    from shared.records import Direction, Sampler, ScoreMode, Task

    # seed=None, as a task made in the UI has: shared.services.search rebuilds the sampler with
    # the task's seed at every ask, so a fixed seed would repeat its first draw.
    return Task(id=task_id, name=f"bench-{task_id}", model_id=1, dataset_id=1, epochs=1, n_runs=n_runs,
                eval_metric="score", direction=Direction.maximize, score_mode=ScoreMode.final,
                sampler=Sampler(sampler), prune=prune, params=PARAMS, seed=None, max_parallel=1)


def runs_to_target(task, url: str, budget: int) -> int | None:
    """Sequential runs until the best score reaches TARGET; None when the budget runs out first."""
    from shared.records import TrialOutcome
    from shared.services import search

    for i in range(budget):
        number, params = search.ask(task, url)
        value = objective(params)
        search.tell(task, url, number, value=value, state=TrialOutcome.complete)
        if value >= TARGET:
            return i + 1
    return None


def pruned_search(task, url: str, epochs: int) -> tuple[int, float]:
    """(epochs run, best final score) of a task's runs, with the worker's report/prune loop."""
    from shared.records import TrialOutcome
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


def _median_runs(values: list[int | None], budget: int) -> tuple[list[float], str]:
    # A search that never got there counts as budget + 1: the median stays honest while
    # fewer than half of them miss.
    filled = [float(v if v is not None else budget + 1) for v in values]
    missed = sum(v is None for v in values)
    return filled, (f"{missed} of {len(values)} did not reach it within {budget} runs" if missed else "")


def run(cfg: Config) -> list[Row]:
    from shared.core.db import dispose_engines

    seeds = cfg.size(10, 3)
    budget = cfg.size(150, 40)
    n_runs, epochs = cfg.size(40, 15), 10
    rows: list[Row] = []
    # The figure counts runs, not seconds: the study's SQLite file goes to tmpfs where there
    # is one, so Optuna's many small commits do not wait on the disk.
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="bench-search-", dir=shm if shm.is_dir() else None) as tmp:
        url = f"sqlite:///{Path(tmp) / 'optuna.db'}"
        reached: dict[str, list[int | None]] = {"tpe": [], "random": []}
        saved: list[float] = []
        best = {True: [], False: []}
        task_id = 0
        for rep in range(seeds):
            cfg.say(f"figure 6: repetition {rep + 1} of {seeds}")
            for sampler in ("tpe", "random"):
                task_id += 1
                reached[sampler].append(runs_to_target(_task(task_id, sampler=sampler, n_runs=budget, prune=False),
                                                       url, budget))
            spent = {}
            for prune in (True, False):
                task_id += 1
                spent[prune], b = pruned_search(_task(task_id, sampler="tpe", n_runs=n_runs, prune=prune), url,
                                                epochs)
                best[prune].append(b)
            saved.append(1 - spent[True] / spent[False])
        dispose_engines()
    for sampler, label in (("tpe", "TPE"), ("random", "random search")):
        values, note = _median_runs(reached[sampler], budget)
        rows.append(Row("6", f"runs to reach 95% of the optimum: {label}", values=values, unit=" runs",
                        note=f"{seeds} repetitions, budget {budget}" + (f"; {note}" if note else "")))
    ratio = statistics.median(rows[1].values) / statistics.median(rows[0].values)
    rows[0].note += f"; random search needs {ratio:.1f}× as many"
    rows.append(Row("6", "run time pruning saves (epochs not run, TPE)", values=[s * 100 for s in saved], unit=" %",
                    note=f"{n_runs} runs × {epochs} epochs; best score found: {statistics.median(best[True]):.3f} "
                         f"with pruning, {statistics.median(best[False]):.3f} without (medians)"))
    return rows
