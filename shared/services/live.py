"""Facts about runs in progress for the task page's live part: how many metric
lines each run printed and the last value of one metric (e.g. its epoch).
Each is one grouped query over the runs asked about, whatever their number."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from shared.records import MetricPoint


def metric_lines(*, session: Session, run_ids: list[int]) -> dict[int, int]:
    """run_id -> metric lines printed so far (every metric line gets the next ``seq``, from 0)."""
    out = dict.fromkeys(run_ids, 0)
    if not run_ids:
        return out
    stmt = select(MetricPoint.run_id, func.max(MetricPoint.seq)).where(
        MetricPoint.run_id.in_(run_ids)).group_by(MetricPoint.run_id)
    for rid, last in session.exec(stmt):
        out[rid] = int(last) + 1
    return out


def last_values(*, session: Session, run_ids: list[int], name: str) -> dict[int, float]:
    """run_id -> the last value printed for metric ``name`` (runs that never printed it are left out)."""
    if not run_ids:
        return {}
    last = (select(MetricPoint.run_id, func.max(MetricPoint.seq).label("seq"))
            .where(MetricPoint.run_id.in_(run_ids), MetricPoint.name == name)
            .group_by(MetricPoint.run_id).subquery())
    stmt = select(MetricPoint.run_id, MetricPoint.value).join(
        last, (MetricPoint.run_id == last.c.run_id) & (MetricPoint.seq == last.c.seq)).where(MetricPoint.name == name)
    return {rid: value for rid, value in session.exec(stmt)}
