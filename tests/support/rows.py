"""Records written straight to the database, for tests that need a task and its run on disk but not
the upload, deploy or scheduling that would normally make them."""

from __future__ import annotations

from shared.records import Dataset, ModelPackage, Run, RunStatus, Task, TaskStatus, TaskType


def task_with_run(session, *, task_status: TaskStatus, run_status: RunStatus, **run_fields) -> tuple[Task, Run]:
    """A task (of a placeholder model and dataset) with one run whose work dir is the usual
    ``runs/<task>/1/workspace/work_dir``."""
    model = ModelPackage(name="m", path="models/1")
    ds = Dataset(name="d", task_type=TaskType.classification, path="datasets/1")
    session.add_all([model, ds])
    session.commit()
    task = Task(name="t", model_id=model.id, dataset_id=ds.id, status=task_status)
    session.add(task)
    session.commit()
    run = Run(task_id=task.id, status=run_status, work_dir=f"runs/{task.id}/1/workspace/work_dir",
              **{k: v.format(task=task.id) for k, v in run_fields.items()})
    session.add(run)
    session.commit()
    return task, run
