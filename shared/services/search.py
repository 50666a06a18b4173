"""Optuna glue: parameter settings -> distributions, ask/tell, pruning.

The study lives in the platform DB (Optuna's RDBStorage on DATABASE_URL), so
any worker can report a trial's intermediate values and tell its result.
Samplers and pruners are not stored by Optuna; every process rebuilds them
from the task row.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from shared.records import Direction, RunStatus, Sampler, Task, TrialOutcome

optuna.logging.set_verbosity(optuna.logging.WARNING)

_STORAGES: dict[str, optuna.storages.RDBStorage] = {}
_STORAGES_LOCK = threading.Lock()


def is_search(task: Task) -> bool:
    return any(p.get("search") for p in task.params.values())


def distributions(task: Task) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, p in task.params.items():
        if not p.get("search"):
            continue
        if "choices" in p:
            out[name] = CategoricalDistribution(list(p["choices"]))
        elif p.get("type") == "int":
            lo, hi = p["range"]
            out[name] = IntDistribution(int(lo), int(hi), log=bool(p.get("log")))
        else:
            lo, hi = p["range"]
            out[name] = FloatDistribution(float(lo), float(hi), log=bool(p.get("log")))
    return out


def fixed_values(task: Task) -> dict[str, Any]:
    return {name: p["value"] for name, p in task.params.items() if not p.get("search")}


def storage(database_url: str) -> optuna.storages.RDBStorage:
    """One storage per database and process. The first costs seconds (alembic import, Optuna's tables),
    so the UI builds it in the background while the task form is filled (see task_form.warm_up)."""
    with _STORAGES_LOCK:
        if database_url not in _STORAGES:
            kwargs: dict[str, Any] = {}
            if database_url.startswith("sqlite"):
                kwargs = {"connect_args": {"timeout": 30}}
            _STORAGES[database_url] = optuna.storages.RDBStorage(database_url, engine_kwargs=kwargs)
        return _STORAGES[database_url]


def study_name(task: Task) -> str:
    return f"trainyard-task-{task.id}"


def _sampler(task: Task, offset: int = 0) -> optuna.samplers.BaseSampler:
    # Samplers are rebuilt for every ask (any worker may ask), so a fixed seed
    # alone would draw the same point each time: offset it by the trial count.
    seed = None if task.seed is None else task.seed + offset
    if task.sampler == Sampler.random:
        return optuna.samplers.RandomSampler(seed=seed)
    # Few runs: TPE's default of 10 random start-up trials would make it random search.
    startup = max(2, min(10, task.n_runs // 3))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def grid_points(task: Task, dists: dict[str, Any]) -> list[dict[str, Any]]:
    names = sorted(dists)
    axes = []
    for name in names:
        dist = dists[name]
        axes.append(list(dist.choices) if isinstance(dist, CategoricalDistribution)
                    else list(range(int(dist.low), int(dist.high) + 1)))
    points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    random.Random(task.seed).shuffle(points)
    return points


def _next_grid_point(task: Task, dists: dict[str, Any], trials: list[Any]) -> dict[str, Any]:
    points = grid_points(task, dists)
    used: dict[tuple, int] = {}
    for t in trials:
        key = tuple(sorted(t.params.items()))
        used[key] = used.get(key, 0) + 1
    # Least-used first: every point once before any point twice.
    return min(points, key=lambda p: used.get(tuple(sorted(p.items())), 0))


def _pruner(task: Task) -> optuna.pruners.BasePruner:
    if not task.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=max(2, min(5, task.n_runs // 4)), n_warmup_steps=1)


def load_study(task: Task, database_url: str, *, seed_offset: int = 0) -> optuna.Study:
    direction = "maximize" if task.direction == Direction.maximize else "minimize"
    return optuna.create_study(study_name=study_name(task), storage=storage(database_url), load_if_exists=True,
                               direction=direction, sampler=_sampler(task, seed_offset), pruner=_pruner(task))


def ask(task: Task, database_url: str) -> tuple[int, dict[str, Any]]:
    """A new trial: (trial number, full parameter values incl. fixed ones)."""
    study = load_study(task, database_url)
    trials = study.get_trials(deepcopy=False)
    # The sampler's seed depends on the trial count: swap it in rather than loading the study a second time.
    study.sampler = _sampler(task, len(trials))
    dists = distributions(task)
    if task.sampler == Sampler.grid:
        # Optuna's GridSampler does not see points held by RUNNING trials, so
        # parallel asks can repeat a point: pick the next unused point here.
        study.enqueue_trial(_next_grid_point(task, dists, trials))
    trial = study.ask(dists)
    return trial.number, {**fixed_values(task), **trial.params}


class TrialReporter:
    """Reports a running trial's eval-metric values step by step; asks the pruner."""

    def __init__(self, task: Task, trial_number: int, database_url: str) -> None:
        self.study = load_study(task, database_url)
        trial_id = self.study._storage.get_trial_id_from_study_id_trial_number(  # noqa: SLF001
            self.study._study_id, trial_number)  # noqa: SLF001
        self.trial = optuna.trial.Trial(self.study, trial_id)
        self.trial_number = trial_number
        self.enabled = task.prune

    def report(self, step: int, value: float) -> bool:
        """True when the pruner says to stop this trial."""
        if not math.isfinite(value):
            return False
        self.trial.report(value, step)
        return self.enabled and self.trial.should_prune()


def trial_outcome(status: RunStatus) -> TrialOutcome:
    """How a finished run ends its trial: only a completed run gives Optuna a value."""
    if status == RunStatus.completed:
        return TrialOutcome.complete
    if status == RunStatus.pruned:
        return TrialOutcome.pruned
    return TrialOutcome.failed


def completed_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's trials that finished with a value (what the search plots can draw)."""
    return [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]


def tell(task: Task, database_url: str, trial_number: int, *, value: float | None, state: TrialOutcome) -> None:
    study = load_study(task, database_url)
    try:
        if state == TrialOutcome.complete and value is not None and math.isfinite(value):
            study.tell(trial_number, value)
        elif state == TrialOutcome.pruned:
            study.tell(trial_number, state=TrialState.PRUNED)
        else:
            study.tell(trial_number, state=TrialState.FAIL)
    except (ValueError, RuntimeError):
        # Already finished (a re-delivered job): Optuna refuses a second tell.
        pass
