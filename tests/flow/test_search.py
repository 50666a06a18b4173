"""Search tasks end to end with the worker's job code: the sampler auto picks
(stored and shown), and a task that continues an earlier task's search."""

from __future__ import annotations

import pytest

from shared.core.errors import FieldError
from shared.records import RunStatus, Sampler, TaskStatus
from shared.services import search
from shared.services.tasks import TaskIn, create_task, task_summary
from shared.services.warm_start import warm_start_candidates
from tests.flow.test_tasks import _run_task, setup  # noqa: F401 - setup is a fixture
from tests.support.people import OP

PARAMS = {"x": ("[0.0, 1.0]", True), "k": ("[5, 9]", True)}


def _task_in(model, ds, **kw) -> TaskIn:
    fields = {"name": "search", "model_id": model.id, "dataset_id": ds.id, "epochs": 2, "n_runs": 4,
              "eval_metric": "score", "params": dict(PARAMS), "prune": False, "seed": 5, "max_parallel": 2, **kw}
    return TaskIn(**fields)


def test_auto_search_then_a_task_that_continues_it(setup, session, burst, settings):  # noqa: F811
    ds, model = setup()
    src, src_runs = _run_task(session, burst, _task_in(model, ds))
    assert src.status == TaskStatus.completed, src.reason
    assert src.sampler == Sampler.auto and src.sampler_used == Sampler.gp
    summary = task_summary(session=session, task=src, with_metrics=False)
    assert summary["sampler_used"] == "gp"
    assert summary["sampler_reason"] == ("auto: Gaussian process, since the 2 searched parameters are numbers or "
                                         "small choice sets and 4 runs is at most 100")  # English, not the stored JSON
    assert [t.id for t in warm_start_candidates(session=session, model_id=model.id)] == [src.id]

    task, runs = _run_task(session, burst, _task_in(model, ds, name="more", n_runs=2, warm_start_task_id=src.id))
    assert task.status == TaskStatus.completed, task.reason
    assert len(runs) == 2 and all(r.status == RunStatus.completed for r in runs)
    assert "4 from the warm start" in search.sampler_reason(task, localized=False)
    assert task_summary(session=session, task=task, with_metrics=False)["warm_start_task_id"] == src.id
    study = search.load_study(task, settings.database_url)
    seeded = [t for t in study.trials if t.user_attrs.get(search.WARM_START_ATTR) == src.id]
    assert sorted(t.value for t in seeded) == sorted(r.score for r in src_runs)
    assert len(study.trials) == 6  # the 4 seeds once (not again at later scheduler steps) + 2 new runs
    seeds = [{k: r.params[k] for k in PARAMS} for r in src_runs]
    assert all({k: r.params[k] for k in PARAMS} not in seeds for r in runs)  # new points, not repeats
    assert task.best_run_id in {r.id for r in runs}  # the best of this task's own runs


def test_warm_start_is_refused_at_the_field(setup, session, burst):  # noqa: F811
    ds, model = setup()
    src, _ = _run_task(session, burst, _task_in(model, ds))
    cases = [
        ({"params": {"x": ("[0.0, 2.0]", True), "k": ("[5, 9]", True)}}, "x", "over [0.0, 1.0]"),
        ({"params": {"x": ("[0.0, 1.0]", True)}}, "warm start", "searched k, x but this task searches x"),
        ({"params": {"x": ("0.5", False)}, "n_runs": 1}, "warm start", "searches no parameter"),
        ({"eval_metric": "loss"}, "eval metric", "ranked its runs by score"),
        ({"warm_start_task_id": 999}, "warm start", "task 999 does not exist"),
    ]
    for change, field, text in cases:
        kw = {"name": "bad", "warm_start_task_id": src.id, **change}
        with pytest.raises(FieldError) as err:
            create_task(session=session, actor=OP, task_in=_task_in(model, ds, **kw))
        assert err.value.field == field and text in err.value.field_message, (change, err.value)
    # A task with no finished run yet has nothing to continue from.
    waiting = create_task(session=session, actor=OP, task_in=_task_in(model, ds, name="waiting"))
    with pytest.raises(FieldError, match="no completed run"):
        create_task(session=session, actor=OP, task_in=_task_in(model, ds, name="bad", warm_start_task_id=waiting.id))
    # Another model's task.
    ds2, model2 = setup()
    with pytest.raises(FieldError, match="same model") as err:
        create_task(session=session, actor=OP, task_in=_task_in(model2, ds2, name="bad", warm_start_task_id=src.id))
    assert err.value.field == "warm start"
