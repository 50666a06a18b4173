"""The task list over 1,000 tasks: paged, filtered, and a fixed number of
queries per page however many rows it shows (no per-row queries)."""

from __future__ import annotations

from sqlalchemy import event
from sqlmodel import Session

from shared.core.db import get_engine
from shared.records import Dataset, DeployStatus, MetricPoint, ModelPackage, Run, RunStatus, Task, TaskStatus, TaskType
from shared.services.task_list import TaskFilter, list_tasks
from tests.support.people import OP


def _fill(session: Session, n: int) -> None:
    model = ModelPackage(name="m", task_type=TaskType.classification, path="models/1", status=DeployStatus.deployed)
    other = ModelPackage(name="other", task_type=TaskType.classification, path="models/2",
                         status=DeployStatus.deployed)
    ds = Dataset(name="d", task_type=TaskType.classification, path="datasets/1")
    session.add_all([model, other, ds])
    session.flush()
    statuses = [TaskStatus.completed, TaskStatus.running, TaskStatus.failed]
    for i in range(n):
        t = Task(name=f"task {i:04d}" + (" sweep" if i % 10 == 0 else ""), model_id=(model if i % 2 else other).id,
                 dataset_id=ds.id, epochs=5, n_runs=2, eval_metric="acc", status=statuses[i % 3])
        session.add(t)
        session.flush()
        runs = [Run(task_id=t.id, index=k, status=RunStatus.completed, score=0.1 * k) for k in range(2)]
        session.add_all(runs)
        session.flush()
        t.best_run_id = runs[1].id
        session.add(MetricPoint(run_id=runs[1].id, name="epoch", seq=0, value=3.0))
    session.commit()


def test_thousand_tasks_fixed_queries_per_page(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with Session(engine) as session:
        _fill(session, 1000)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    counts = []
    for limit in (10, 50, 200):
        statements.clear()
        with Session(engine) as session:
            rows, total = list_tasks(session=session, flt=TaskFilter(), offset=0, limit=limit, actor=OP)
        assert total == 1000 and len(rows) == limit
        counts.append(len(statements))
    assert counts[0] == counts[1] == counts[2], counts  # no query per row
    assert counts[0] <= 8
    first = rows[0]
    assert first["runs"] == {"completed": 2} and first["best_score"] == 0.1 and first["epoch_done"] == 3.0
    with Session(engine) as session:
        rows, total = list_tasks(session=session, flt=TaskFilter(status="failed", search="sweep"), offset=0, limit=50,
                                 actor=OP)
    assert total == len([i for i in range(1000) if i % 3 == 2 and i % 10 == 0])
    assert all(r["status"] == "failed" and "sweep" in r["name"] for r in rows)
    with Session(engine) as session:
        page2, _ = list_tasks(session=session, flt=TaskFilter(), offset=50, limit=50, actor=OP)
        page1, _ = list_tasks(session=session, flt=TaskFilter(), offset=0, limit=50, actor=OP)
    assert {r["id"] for r in page1}.isdisjoint({r["id"] for r in page2})
