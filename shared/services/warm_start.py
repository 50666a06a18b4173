"""Warm start: a search task continues from an earlier task of the same model.

The earlier task's completed runs (parameters and score) are added to the new
task's study before its first ask (``search.warm_start``, called by the
scheduler), so the new runs explore from what was already found instead of
starting with random points. That is only sound when both tasks search the same
parameters over the same ranges and rank by the same metric, which
``check_warm_start`` enforces field by field.
"""

from __future__ import annotations

import math
from typing import Any

from sqlmodel import Session, select

from shared.core.errors import FieldError, Msg
from shared.core.i18n import N_
from shared.records import Run, RunStatus, Task, User
from shared.records.labels import term
from shared.services import access, search

FIELD = "warm start"


def warm_start_seeds(*, session: Session, task_id: int) -> list[tuple[dict[str, Any], float]]:
    """(params, score) of the task's completed runs with a finite score, oldest first."""
    stmt = (select(Run.params, Run.score).where(Run.task_id == task_id, Run.status == RunStatus.completed,
                                                Run.score.is_not(None)).order_by(Run.index))
    return [(params, score) for params, score in session.exec(stmt) if math.isfinite(score)]


def _setting_text(p: dict[str, Any]) -> str:
    if "choices" in p:
        return "{" + ", ".join(str(c) for c in p["choices"]) + "}"
    lo, hi = p["range"]
    return f"[{lo}, {hi}]" + (" on a log scale" if p.get("log") else "")


def check_warm_start(*, session: Session, task: Task, source_id: int, actor: User | None = None) -> int:
    """FieldError unless ``task`` (not yet saved) can continue from task ``source_id``; else the
    number of finished runs it will start from. With ``actor``, a task they may not see answers as missing."""
    src = session.get(Task, source_id)
    if src is None or (actor is not None and not access.is_visible(actor, src)):
        raise FieldError(FIELD, N_("task {task_id} does not exist; pick one of this model's earlier tasks"),
                         params={"task_id": source_id})
    if src.model_id != task.model_id:
        raise FieldError(FIELD, N_("task {task_id} trained model {source_model}, not model {model_id}; "
                                   "a search can only continue from a task of the same model"),
                         params={"task_id": src.id, "source_model": src.model_id, "model_id": task.model_id})
    mine, theirs = search.distributions(task), search.distributions(src)
    if not mine:
        raise FieldError(FIELD, N_("this task searches no parameter; turn Search on for the ones task {task_id} "
                                   "searched ({theirs})"),
                         params={"task_id": src.id, "theirs": ", ".join(sorted(theirs)) or Msg(N_("none"))})
    if mine.keys() != theirs.keys():
        raise FieldError(FIELD, N_("task {task_id} searched {theirs} but this task searches {mine}; search the same "
                                   "parameters to continue from it"),
                         params={"task_id": src.id, "theirs": ", ".join(sorted(theirs)) or Msg(N_("nothing")),
                                 "mine": ", ".join(sorted(mine))})
    for name in sorted(mine):
        if mine[name] != theirs[name]:
            raise FieldError(name, N_("task {task_id} searched {name} over {theirs}, this task over {mine}; use the "
                                      "same range or choices to continue from it"),
                             params={"task_id": src.id, "name": name, "theirs": _setting_text(src.params[name]),
                                     "mine": _setting_text(task.params[name])})
    if (src.eval_metric, src.direction) != (task.eval_metric, task.direction):
        raise FieldError("eval metric", N_("task {task_id} ranked its runs by {metric} ({direction}); rank by the "
                                           "same metric and direction to continue from it"),
                         params={"task_id": src.id, "metric": src.eval_metric, "direction": term(src.direction)})
    seeded = len(warm_start_seeds(session=session, task_id=src.id))
    if not seeded:
        raise FieldError(FIELD, N_("task {task_id} has no completed run with a score yet; pick a task whose runs "
                                   "finished"), params={"task_id": src.id})
    return seeded


def warm_start_candidates(*, session: Session, model_id: int, limit: int = 50,
                          actor: User | None = None) -> list[Task]:
    """The model's tasks, newest first, that searched and have a completed, scored run (with ``actor``:
    only those they may see)."""
    done = select(Run.task_id).where(Run.status == RunStatus.completed, Run.score.is_not(None)).distinct()
    stmt = select(Task).where(Task.model_id == model_id, Task.id.in_(done))
    if actor is not None:
        stmt = stmt.where(access.visible_filter(actor, Task))
    stmt = stmt.order_by(Task.id.desc()).limit(limit)
    return [t for t in session.exec(stmt) if search.is_search(t)]
