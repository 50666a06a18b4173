"""What a task's runs recorded, for the charts and the run detail: metric series (one query for many
runs), the metrics to chart, and resource samples."""

from __future__ import annotations

from sqlmodel import Session, select

from shared.records import MetricPoint, ResourceSample, Run, Task


def metric_series(*, session: Session, run_ids: list[int], names: list[str] | None = None
                  ) -> dict[int, dict[str, tuple[list[int], list[float]]]]:
    """run_id -> metric -> (seq list, value list), ordered by seq. One query."""
    out: dict[int, dict[str, tuple[list[int], list[float]]]] = {rid: {} for rid in run_ids}
    if not run_ids:
        return out
    stmt = select(MetricPoint.run_id, MetricPoint.name, MetricPoint.seq, MetricPoint.value).where(
        MetricPoint.run_id.in_(run_ids))
    if names:
        stmt = stmt.where(MetricPoint.name.in_(names))
    stmt = stmt.order_by(MetricPoint.run_id, MetricPoint.name, MetricPoint.seq)
    for rid, name, seq, value in session.exec(stmt):
        xs, ys = out[rid].setdefault(name, ([], []))
        xs.append(seq)
        ys.append(value)
    return out


AXIS_METRICS = ("epoch", "step")  # the charts' x axes, not charted against themselves


def metrics_to_chart(task: Task, runs: list[Run]) -> list[str]:
    """The task's chosen metrics; a task created without any charts every metric its runs print."""
    if task.metrics:
        return list(task.metrics)
    printed = dict.fromkeys(name for r in runs for name in (r.metric_names or []))
    return [name for name in printed if name not in AXIS_METRICS]


def metric_names(*, session: Session, run_ids: list[int]) -> list[str]:
    if not run_ids:
        return []
    rows = session.exec(select(MetricPoint.name).where(MetricPoint.run_id.in_(run_ids)).distinct())
    return sorted(rows)


def resource_samples(*, session: Session, run_ids: list[int]) -> dict[int, list[ResourceSample]]:
    """run_id -> its resource samples in time order. One query."""
    out: dict[int, list[ResourceSample]] = {rid: [] for rid in run_ids}
    if not run_ids:
        return out
    stmt = select(ResourceSample).where(ResourceSample.run_id.in_(run_ids)).order_by(
        ResourceSample.run_id, ResourceSample.t)
    for row in session.exec(stmt):
        out[row.run_id].append(row)
    return out
