"""The task list: filters, paging, and per-page aggregates in a fixed number
of queries (never one per row), so 1,000 tasks stay fast."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from shared.records import Dataset, MetricPoint, ModelPackage, Run, Task, TaskStatus, User, utcnow
from shared.services import access
from shared.services.tasks import run_counts


@dataclass
class TaskFilter:
    status: str | None = None
    model_id: int | None = None
    dataset_id: int | None = None
    search: str | None = None


def _where(stmt, flt: TaskFilter, actor: User):
    stmt = stmt.where(access.visible_filter(actor, Task))
    if flt.status:
        stmt = stmt.where(Task.status == TaskStatus(flt.status))
    if flt.model_id:
        stmt = stmt.where(Task.model_id == flt.model_id)
    if flt.dataset_id:
        stmt = stmt.where(Task.dataset_id == flt.dataset_id)
    if flt.search:
        stmt = stmt.where(Task.name.contains(flt.search.strip()))
    return stmt


def list_tasks(*, session: Session, actor: User, flt: TaskFilter, offset: int = 0, limit: int = 50
               ) -> tuple[list[dict[str, Any]], int]:
    """The tasks ``actor`` may see, newest first."""
    total = session.exec(_where(select(func.count()).select_from(Task), flt, actor)).one()
    tasks = list(session.exec(_where(select(Task), flt, actor).order_by(Task.id.desc()).offset(offset).limit(limit)))
    ids = [t.id for t in tasks]
    counts = run_counts(session=session, task_ids=ids)
    models = {m.id: m.name for m in session.exec(select(ModelPackage).where(
        ModelPackage.id.in_({t.model_id for t in tasks})))} if tasks else {}
    datasets = {d.id: d.name for d in session.exec(select(Dataset).where(
        Dataset.id.in_({t.dataset_id for t in tasks})))} if tasks else {}
    best_ids = [t.best_run_id for t in tasks if t.best_run_id]
    scores = dict(session.exec(select(Run.id, Run.score).where(Run.id.in_(best_ids))).all()) if best_ids else {}
    # Progress: the highest printed `epoch` per task (one grouped query over the page).
    epochs: dict[int, float] = {}
    if ids:
        stmt = (select(Run.task_id, func.max(MetricPoint.value)).join(Run, Run.id == MetricPoint.run_id)
                .where(Run.task_id.in_(ids), MetricPoint.name == "epoch").group_by(Run.task_id))
        epochs = {tid: v for tid, v in session.exec(stmt)}
    now = utcnow()
    rows = []
    for t in tasks:
        end = t.finished_at or (now if t.started_at else None)
        rows.append({
            "id": t.id, "name": t.name, "status": t.status.value, "model": models.get(t.model_id, t.model_id),
            "dataset": datasets.get(t.dataset_id, t.dataset_id), "runs": counts.get(t.id, {}),
            "runs_total": t.n_runs, "epochs": t.epochs, "epoch_done": epochs.get(t.id),
            "best_score": scores.get(t.best_run_id), "eval_metric": t.eval_metric,
            "started_at": t.started_at.isoformat(timespec="seconds") if t.started_at else None,
            "duration_s": (end - t.started_at).total_seconds() if end and t.started_at else None,
        })
    return rows, total
