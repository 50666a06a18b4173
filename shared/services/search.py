"""Optuna glue: parameter settings -> distributions, the sampler a task gets
(and why), ask/tell, pruning, warm start.

The study lives in the platform DB (Optuna's RDBStorage on DATABASE_URL), so
any worker can report a trial's intermediate values and tell its result.
Samplers and pruners are not stored by Optuna; every process rebuilds them
from the task row. Only Optuna's public API is used (``study.tell`` by trial
number, the storage's documented methods for intermediate values).
"""

from __future__ import annotations

import itertools
import json
import math
import random
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.exceptions import ExperimentalWarning
from optuna.trial import TrialState

from shared.core.i18n import N_, _
from shared.records import Direction, Pruner, RunStatus, Sampler, Task, TrialOutcome

optuna.logging.set_verbosity(optuna.logging.WARNING)

_STORAGES: dict[str, optuna.storages.RDBStorage] = {}
_STORAGES_LOCK = threading.Lock()
# Asks in flight that hold torch at one thread, and the count it had before the first (see _one_torch_thread).
_TORCH_THREADS_LOCK = threading.Lock()
_TORCH_HOLDERS = 0
_TORCH_THREADS_BEFORE = 0

# auto picks the Gaussian process up to this many runs. One ask's CPU on one torch thread (bench figure 6
# measures it at 100): ~0.10 s at 50 finished runs, 0.12-0.14 s at 100 (scoring 2048 candidate points
# dominates, not the kernel fit), ~0.24 s at 200, ~0.36 s at 300; TPE's is 0.04 s at 100. Past 100, TPE
# has the data it needs; figure 6's quality goals are measured with the GP up to here.
GP_MAX_RUNS = 100
# A choice set the GP models well: it treats each choice as its own corner of the space.
GP_MAX_CHOICES = 8
WARM_START_ATTR = "trainyard:warm_started_from"

# English msgids, shown through ``_()``: "Gaussian process" and "random" are words a reader translates;
# TPE is the algorithm's own name in every language.
SAMPLER_LABELS = {Sampler.auto: N_("auto"), Sampler.gp: N_("Gaussian process"), Sampler.tpe: "TPE",
                  Sampler.random: N_("random"), Sampler.grid: N_("grid")}
# English msgids (the UI shows them through ``_()``); the sampler names stay Optuna's own.
PRUNER_LABELS = {Pruner.median: N_("median pruner"), Pruner.successive_halving: N_("successive halving"),
                 Pruner.hyperband: N_("Hyperband")}
# Why a task has its sampler: whole sentences as msgids (a translator sees each one entire), one per case.
_CHOSEN = {Sampler.gp: N_("Gaussian process, as chosen for the task"), Sampler.tpe: N_("TPE, as chosen for the task"),
           Sampler.random: N_("random, as chosen for the task"), Sampler.grid: N_("grid, as chosen for the task")}
_MANY_CHOICES = N_("auto: TPE, since {name!r} has {n} choices (the Gaussian process takes sets of at most {max})")
_OVER = {False: N_("auto: TPE, since {runs} runs is over {max}, where the Gaussian process gets slow"),
         True: N_("auto: TPE, since {runs} runs + {seeded} from the warm start is over {max}, where the Gaussian "
                  "process gets slow")}
_GP = {False: N_("auto: Gaussian process, since the {n} searched parameters are numbers or small choice sets and "
                 "{runs} runs is at most {max}"),
       True: N_("auto: Gaussian process, since the {n} searched parameters are numbers or small choice sets and "
                "{runs} runs + {seeded} from the warm start is at most {max}")}


class SamplerReason:
    """Why a task got its sampler: a msgid and its parameters. The task row stores them as JSON
    (``stored()``) so the page can show the sentence in the reader's language; ``task show --json`` and
    ``str()`` keep the English."""

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid, self.params = msgid, params

    def __str__(self) -> str:
        return self.msgid.format(**self.params)

    def localized(self) -> str:
        return _(self.msgid, **self.params)

    def stored(self) -> str:
        return json.dumps({"msg": self.msgid, "params": self.params}, ensure_ascii=False)

    @classmethod
    def load(cls, stored: str) -> SamplerReason | None:
        """The reason a row holds; None for a row written before reasons were stored as JSON (plain English)."""
        try:
            data = json.loads(stored)
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("msg"), str):
            return None
        return cls(data["msg"], **dict(data.get("params") or {}))


def sampler_reason(task: Task, *, localized: bool) -> str | None:
    """The task's stored sampler reason as text: in the current language for a page, in English for JSON.
    An older row's plain-text reason is shown as it is."""
    if not task.sampler_reason:
        return None
    reason = SamplerReason.load(task.sampler_reason)
    if reason is None:
        return task.sampler_reason
    try:
        return reason.localized() if localized else str(reason)
    except (KeyError, IndexError, ValueError):  # a hand-edited row: show what it holds
        return task.sampler_reason


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


def choose_sampler(task: Task, *, seeded_runs: int = 0) -> tuple[Sampler, SamplerReason] | None:
    """(the sampler that runs, why) for a search task; None when nothing is searched.

    ``seeded_runs``: finished runs a warm start adds to the study (they count toward the GP's cost).
    """
    dists = distributions(task)
    if not dists:
        return None
    if task.sampler != Sampler.auto:
        return task.sampler, SamplerReason(_CHOSEN[task.sampler])
    total = task.n_runs + seeded_runs
    runs = {"runs": task.n_runs, **({"seeded": seeded_runs} if seeded_runs else {}), "max": GP_MAX_RUNS}
    big = [(n, len(d.choices)) for n, d in dists.items()
           if isinstance(d, CategoricalDistribution) and len(d.choices) > GP_MAX_CHOICES]
    if big:
        name, n = big[0]
        return Sampler.tpe, SamplerReason(_MANY_CHOICES, name=name, n=n, max=GP_MAX_CHOICES)
    if total > GP_MAX_RUNS:
        return Sampler.tpe, SamplerReason(_OVER[bool(seeded_runs)], **runs)
    return Sampler.gp, SamplerReason(_GP[bool(seeded_runs)], n=len(dists), **runs)


def sampler_in_use(task: Task) -> Sampler:
    if task.sampler_used is not None:
        return task.sampler_used
    chosen = choose_sampler(task)  # a row written before the choice was stored
    return chosen[0] if chosen else task.sampler


def startup_trials(task: Task) -> int:
    """Random start before the model-based sampler takes over: enough points to fit one, no more."""
    return max(3, len(distributions(task)) + 1)


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
    # Samplers are rebuilt for every ask (any worker may ask), so a fixed seed alone would draw
    # the same point each time: mix in the trial count. Hashed, not added: with seed + count, task
    # seed 2 would replay seed 1's draws one trial later.
    seed = None if task.seed is None else random.Random(f"{task.seed}/{offset}").getrandbits(32)
    kind = sampler_in_use(task)
    if kind in (Sampler.random, Sampler.grid):  # grid: the point is enqueued in ask()
        return optuna.samplers.RandomSampler(seed=seed)
    startup = startup_trials(task)
    if kind == Sampler.gp:
        # Optuna 5.0's GPSampler (read in its source) scores a new point by qLogEI with the RUNNING trials as
        # pending points, so parallel asks spread out without a fantasy value of our own.
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup, warn_independent_sampling=False,
                                         independent_sampler=optuna.samplers.RandomSampler(seed=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # multivariate/group/constant_liar
        # constant_liar: a RUNNING trial counts as a poor result, so parallel asks do not pile up.
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True, group=True,
                                          constant_liar=True)


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
    # Steps are the evaluation metric's reports, one per epoch for most train.py files.
    if not task.prune:
        return optuna.pruners.NopPruner()
    epochs = max(1, task.epochs)
    if task.pruner == Pruner.successive_halving:
        # Rungs at min_resource·3^k: about three of them below the run's last epoch.
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, epochs // 27), reduction_factor=3)
    if task.pruner == Pruner.hyperband:
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
    # Judge no run in its first quarter: early epochs rank runs poorly.
    return optuna.pruners.MedianPruner(n_startup_trials=max(2, min(5, task.n_runs // 4)),
                                       n_warmup_steps=max(1, epochs // 4))


def load_study(task: Task, database_url: str, *, seed_offset: int = 0) -> optuna.Study:
    direction = "maximize" if task.direction == Direction.maximize else "minimize"
    return optuna.create_study(study_name=study_name(task), storage=storage(database_url), load_if_exists=True,
                               direction=direction, sampler=_sampler(task, seed_offset), pruner=_pruner(task))


def warm_start(task: Task, database_url: str, seeds: list[tuple[dict[str, Any], float]]) -> int:
    """Add the earlier task's finished runs (params, score) to the study as completed trials,
    once: the sampler then starts from what they found. Returns how many were added."""
    study = load_study(task, database_url)
    if WARM_START_ATTR in study.user_attrs:
        return 0
    dists = distributions(task)
    trials = [optuna.trial.create_trial(params={n: params[n] for n in dists}, distributions=dists, value=value,
                                        user_attrs={WARM_START_ATTR: task.warm_start_task_id})
              for params, value in seeds if math.isfinite(value) and dists.keys() <= params.keys()]
    study.add_trials(trials)
    study.set_user_attr(WARM_START_ATTR, task.warm_start_task_id)
    return len(trials)


@contextmanager
def _one_torch_thread(kind: Sampler) -> Iterator[None]:
    """Torch on one thread for a Gaussian-process ask (bench figure 6: an ask at 100 finished runs).

    Optuna 5.0's GPSampler caps torch at one thread only around its two L-BFGS-B loops (the kernel fit,
    the continuous part of the acquisition search). Scoring the 2048 preliminary points and the search
    over int and choice parameters run on torch's default pool (a thread per core): thousands of small
    ops, each waking the pool's threads, which then spin for work and take a core from the asking thread.
    Measured on 2 cores at a load of ~5: 0.48 s CPU per ask (0.32 s on the asking thread) by default,
    0.12 s with one thread for the whole ask, at the same points for a given seed. Held with a count, as
    torch's setting is process-wide and the UI asks from several script threads: the last ask out puts
    the thread count back. TPE, random and grid do not use torch (nor import it here)."""
    global _TORCH_HOLDERS, _TORCH_THREADS_BEFORE
    if kind != Sampler.gp:
        yield
        return
    import torch  # GPSampler imports it anyway; only then

    with _TORCH_THREADS_LOCK:
        if _TORCH_HOLDERS == 0:
            _TORCH_THREADS_BEFORE = torch.get_num_threads()
            torch.set_num_threads(1)
        _TORCH_HOLDERS += 1
    try:
        yield
    finally:
        with _TORCH_THREADS_LOCK:
            _TORCH_HOLDERS -= 1
            if _TORCH_HOLDERS == 0:
                torch.set_num_threads(_TORCH_THREADS_BEFORE)


def ask(task: Task, database_url: str) -> tuple[int, dict[str, Any]]:
    """A new trial: (trial number, full parameter values incl. fixed ones)."""
    study = load_study(task, database_url)
    kind = sampler_in_use(task)
    # Counting the trials loads them all (Optuna's storages have no cheaper count: ~30 ms at 100 runs), so
    # only where they are used: a seeded sampler's seed depends on the count, grid picks an unused point.
    trials = study.get_trials(deepcopy=False) if task.seed is not None or kind == Sampler.grid else []
    # Swap the sampler in rather than loading the study a second time.
    study.sampler = _sampler(task, len(trials))
    dists = distributions(task)
    if kind == Sampler.grid:
        # Optuna's GridSampler does not see points held by RUNNING trials, so
        # parallel asks can repeat a point: pick the next unused point here.
        study.enqueue_trial(_next_grid_point(task, dists, trials))
    with _one_torch_thread(kind):
        trial = study.ask(dists)
    return trial.number, {**fixed_values(task), **trial.params}


class TrialReporter:
    """Reports a running trial's eval-metric values step by step; asks the pruner.

    Public API only: the storage's documented methods address a trial by its id,
    found from the study name and the trial number."""

    def __init__(self, task: Task, trial_number: int, database_url: str) -> None:
        self.study = load_study(task, database_url)
        self.storage = storage(database_url)
        study_id = self.storage.get_study_id_from_name(study_name(task))
        self.trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, trial_number)
        self.trial_number = trial_number
        self.enabled = task.prune
        self.label = PRUNER_LABELS[task.pruner]

    def report(self, step: int, value: float) -> bool:
        """True when the pruner says to stop this trial."""
        if not math.isfinite(value):
            return False
        self.storage.set_trial_intermediate_value(self.trial_id, step, value)
        return self.enabled and self.study.pruner.prune(self.study, self.storage.get_trial(self.trial_id))


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
