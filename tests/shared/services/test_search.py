"""The search service on a real Optuna study in SQLite: which sampler a task
gets and why, parallel asks that spread out, the pruner a task picks, the
best run, the public-API trial reporter."""

from __future__ import annotations

import inspect
import itertools
import math
import re

import optuna
import pytest

from shared.records import Direction, Pruner, Run, RunStatus, Sampler, Task
from shared.services import search
from shared.services.scheduling import pick_best

X = {"range": [0.0, 1.0], "type": "float", "search": True}
LR = {"range": [1e-4, 1e-1], "log": True, "type": "float", "search": True}
K = {"range": [1, 9], "type": "int", "search": True}


def _choices(n: int) -> dict:
    return {"choices": [f"c{i}" for i in range(n)], "type": "str", "search": True}


def _task(task_id: int = 1, **kw) -> Task:
    fields = {"name": "t", "model_id": 1, "dataset_id": 1, "n_runs": 20, "epochs": 10, "eval_metric": "score",
              "direction": Direction.maximize, "params": {"x": X, "lr": LR, "k": K}, "sampler": Sampler.auto,
              **kw}
    return Task(id=task_id, **fields)


@pytest.mark.parametrize("params,n_runs,sampler,seeded,want,reason", [
    ({"x": X, "lr": LR, "k": K}, 20, "auto", 0, "gp", "Gaussian process, since the 3 searched parameters"),
    ({"x": X, "opt": _choices(8)}, 100, "auto", 0, "gp", "100 runs is at most 100"),
    ({"x": X, "opt": _choices(9)}, 20, "auto", 0, "tpe", "'opt' has 9 choices"),
    ({"x": X, "k": K}, 101, "auto", 0, "tpe", "101 runs is over 100"),
    ({"x": X, "k": K}, 90, "auto", 20, "tpe", "90 runs + 20 from the warm start is over 100"),
    ({"x": X, "k": K}, 80, "auto", 20, "gp", "80 runs + 20 from the warm start is at most 100"),
    ({"x": X, "opt": _choices(30)}, 20, "gp", 0, "gp", "as chosen for the task"),
    ({"x": X}, 500, "random", 0, "random", "as chosen for the task"),
    ({"k": K}, 10, "grid", 0, "grid", "as chosen for the task"),
    ({"x": {"value": 0.5}}, 10, "auto", 0, None, None),
])
def test_the_sampler_a_task_gets_and_why(params, n_runs, sampler, seeded, want, reason):
    chosen = search.choose_sampler(_task(params=params, n_runs=n_runs, sampler=Sampler(sampler)),
                                   seeded_runs=seeded)
    if want is None:
        assert chosen is None
        return
    assert chosen[0] == Sampler(want)
    assert reason in str(chosen[1])


# Technical tokens a Chinese sentence may hold: Optuna's sampler names and the task's own parameter names.
TOKENS = {"auto", "TPE", "opt"}
CASES = [({"x": X, "lr": LR, "k": K}, 20, "auto", 0), ({"x": X, "k": K}, 80, "auto", 20),
         ({"x": X, "opt": _choices(9)}, 20, "auto", 0), ({"x": X, "k": K}, 101, "auto", 0),
         ({"x": X, "k": K}, 90, "auto", 20), ({"x": X}, 20, "gp", 0), ({"x": X}, 20, "tpe", 0),
         ({"x": X}, 20, "random", 0), ({"k": K}, 20, "grid", 0)]


@pytest.mark.parametrize("params,n_runs,sampler,seeded", CASES)
def test_the_stored_reason_reads_in_chinese_and_stays_english_for_json(params, n_runs, sampler, seeded):
    from shared.core.i18n import use_language

    task = _task(params=params, n_runs=n_runs, sampler=Sampler(sampler))
    used, reason = search.choose_sampler(task, seeded_runs=seeded)
    task.sampler_used, task.sampler_reason = used, reason.stored()  # what create_task writes on the row
    english = search.sampler_reason(task, localized=False)
    assert english == str(reason) and not english.startswith("{")
    with use_language("en"):
        assert search.sampler_reason(task, localized=True) == english
    with use_language("zh-CN"):
        zh = search.sampler_reason(task, localized=True)
    assert re.search(r"[\u4e00-\u9fff]", zh), zh
    assert set(re.findall(r"[A-Za-z]+", zh)) <= TOKENS, zh  # no English words, only the technical tokens
    if seeded:
        assert str(seeded) in zh and str(seeded) in english


def test_the_english_reasons_read_as_before():
    """``task show --json`` keeps its sentences: the message ids filled in read as the old f-strings did."""
    gp = search.choose_sampler(_task(params={"x": X, "k": K}, n_runs=80), seeded_runs=20)[1]
    assert str(gp) == ("auto: Gaussian process, since the 2 searched parameters are numbers or small choice sets "
                       "and 80 runs + 20 from the warm start is at most 100")
    many = search.choose_sampler(_task(params={"x": X, "opt": _choices(9)}))[1]
    assert str(many) == "auto: TPE, since 'opt' has 9 choices (the Gaussian process takes sets of at most 8)"
    assert str(search.choose_sampler(_task(sampler=Sampler.gp))[1]) == "Gaussian process, as chosen for the task"


@pytest.mark.parametrize("stored", ["auto: TPE, since 101 runs is over 100, where the Gaussian process gets slow",
                                    '{"msg": "a {missing} placeholder", "params": {"other": 1}}', "[1, 2]"])
def test_a_row_written_before_reasons_were_messages_shows_as_it_is(stored):
    from shared.core.i18n import use_language

    task = _task(sampler_reason=stored)
    with use_language("zh-CN"):
        assert search.sampler_reason(task, localized=True) == stored
    assert search.sampler_reason(task, localized=False) == stored


@pytest.mark.parametrize("params,startup", [({"x": X}, 3), ({"x": X, "lr": LR, "k": K}, 4),
                                            ({f"p{i}": X for i in range(6)}, 7)])
def test_random_start_is_short(params, startup):
    task = _task(params=params, n_runs=90)
    assert search.startup_trials(task) == startup
    task.sampler_used = Sampler.tpe
    assert search._sampler(task)._n_startup_trials == startup  # noqa: SLF001 - the built sampler's setting


def _objective(p: dict) -> float:
    return -(p["x"] - 0.3) ** 2 - 0.1 * (math.log10(p["lr"]) + 2.5) ** 2 - 0.01 * (p["k"] - 6) ** 2


def _unit(p: dict) -> list[float]:
    """A point in the unit cube of the search space (lr on its log scale)."""
    return [p["x"], (math.log10(p["lr"]) + 4) / 3, (p["k"] - 1) / 8]


def _min_distance(points: list[dict]) -> float:
    return min(math.dist(_unit(a), _unit(b)) for a, b in itertools.combinations(points, 2))


def _four_asks(task: Task, url: str, *, finish_each: bool) -> list[dict]:
    for _ in range(6):  # past the random start: the model picks the next points
        number, params = search.ask(task, url)
        search.tell(task, url, number, value=_objective(params), state="complete")
    points = []
    for _ in range(4):
        number, params = search.ask(task, url)
        points.append(params)
        if finish_each:  # the control: each ask sees none of the others (a failed trial is ignored)
            search.tell(task, url, number, value=None, state="fail")
    return points


@pytest.mark.parametrize("sampler,apart", [("gp", 0.05), ("tpe", 0.25)])
def test_parallel_asks_spread_out(tmp_path, sampler, apart):
    """Four asks while the others still run: no point twice, and apart by more than the same
    sampler's asks are when each ignores the others (the control clusters below the bound)."""
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    pending = _four_asks(_task(1, sampler=Sampler(sampler), seed=1, sampler_used=Sampler(sampler)), url,
                         finish_each=False)
    control = _four_asks(_task(2, sampler=Sampler(sampler), seed=1, sampler_used=Sampler(sampler)), url,
                         finish_each=True)
    assert len({tuple(_unit(p)) for p in pending}) == 4
    assert _min_distance(pending) > apart, pending
    assert _min_distance(control) < apart, control


def test_a_gaussian_process_ask_runs_torch_on_one_thread_and_puts_the_count_back(tmp_path):
    """Every torch op of a GP ask (past the random start, with a run still running) sees one thread,
    not only the L-BFGS-B loops Optuna caps itself; the process's setting is back afterwards."""
    import torch
    from torch.overrides import TorchFunctionMode

    seen: set[int] = set()

    class ThreadsSeen(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen.add(torch.get_num_threads())
            return func(*args, **(kwargs or {}))

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    task = _task(sampler=Sampler.gp, sampler_used=Sampler.gp, seed=1)
    for _ in range(6):
        number, params = search.ask(task, url)
        search.tell(task, url, number, value=_objective(params), state="complete")
    search.ask(task, url)  # left running: the next ask scores points with qLogEI
    before = torch.get_num_threads()
    torch.set_num_threads(3)  # whatever the machine's cores, more than one
    try:
        with ThreadsSeen():
            search.ask(task, url)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    assert seen == {1}


@pytest.mark.parametrize("prune,pruner,kind", [
    (True, Pruner.median, optuna.pruners.MedianPruner),
    (True, Pruner.successive_halving, optuna.pruners.SuccessiveHalvingPruner),
    (True, Pruner.hyperband, optuna.pruners.HyperbandPruner),
    (False, Pruner.hyperband, optuna.pruners.NopPruner),
])
def test_pruner_choice(prune, pruner, kind):
    assert type(search._pruner(_task(prune=prune, pruner=pruner))) is kind  # noqa: SLF001


def test_median_pruner_waits_a_quarter_of_the_epochs():
    assert search._pruner(_task(epochs=40))._n_warmup_steps == 10  # noqa: SLF001
    assert search._pruner(_task(epochs=2))._n_warmup_steps == 1  # noqa: SLF001


@pytest.mark.parametrize("pruner", list(Pruner))
def test_each_pruner_stops_clearly_worse_runs_through_the_reporter(tmp_path, pruner):
    """The worker's loop: report each epoch, stop when told; bad runs come after good ones."""
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    task = _task(params={"x": X}, sampler=Sampler.random, sampler_used=Sampler.random, pruner=pruner, epochs=9,
                 n_runs=12, seed=3)
    pruned = 0
    for i in range(12):
        number, _params = search.ask(task, url)
        final = 1.0 if i < 6 else 0.1
        reporter = search.TrialReporter(task, number, url)
        state = "complete"
        for step in range(task.epochs):
            if reporter.report(step, final * (step + 1) / task.epochs):
                state = "pruned"
                break
        search.tell(task, url, number, value=final if state == "complete" else None, state=state)
        pruned += state == "pruned"
    assert pruned >= 3
    study = search.load_study(task, url)
    values = study.trials[0].intermediate_values
    assert sorted(values) == list(range(9)) and values[8] == pytest.approx(1.0)


def test_reporter_uses_no_private_optuna_api():
    source = inspect.getsource(search)
    assert "._storage" not in source and "._study_id" not in source and "._trial_id" not in source


def _run(i: int, status: RunStatus, score: float | None) -> Run:
    return Run(id=i, task_id=1, index=i, status=status, score=score)


def test_a_pruned_runs_partial_score_is_not_the_best_unless_the_task_says_so():
    runs = [_run(1, RunStatus.completed, 0.6), _run(2, RunStatus.pruned, 0.9), _run(3, RunStatus.failed, None)]
    assert pick_best(_task(), runs).id == 1
    assert pick_best(_task(rank_pruned=True), runs).id == 2
    assert pick_best(_task(direction=Direction.minimize, rank_pruned=True), runs).id == 1
    assert pick_best(_task(), [_run(2, RunStatus.pruned, 0.9)]) is None
