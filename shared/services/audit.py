"""The audit log: who did what to which record, and whether it was allowed.

Events are written in their own commit so a refused or failed action is on
record even when the caller then rolls its work back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from shared.core.errors import PermissionDenied
from shared.records import (
    Action,
    AuditAction,
    AuditEvent,
    Dataset,
    ModelPackage,
    ObjectKind,
    Outcome,
    Prediction,
    Task,
    User,
)

KINDS: dict[type, ObjectKind] = {
    Dataset: ObjectKind.dataset,
    ModelPackage: ObjectKind.model,
    Task: ObjectKind.task,
    Prediction: ObjectKind.prediction,
    User: ObjectKind.user,
}
MAX_DETAIL = 2000


def object_ref(obj: Any) -> tuple[ObjectKind | None, int | None]:
    """(kind, id) of a record, of a record class (an action on the kind, like create), of a
    ``(kind, id)`` pair, or (None, None)."""
    if obj is None:
        return None, None
    if isinstance(obj, tuple):
        kind, oid = obj
        return ObjectKind(kind), oid
    if isinstance(obj, type):
        return KINDS.get(obj), None
    return KINDS.get(type(obj)), getattr(obj, "id", None)


def record(*, session: Session, user: User | None, action: AuditAction | Action, obj: Any = None,
           outcome: Outcome = Outcome.ok, detail: str = "", client: str | None = None,
           user_name: str | None = None) -> AuditEvent:
    """Write one event. ``user_name`` overrides the name on record (a failed sign-in's typed name)."""
    kind, oid = object_ref(obj)
    event = AuditEvent(
        user_id=user.id if user is not None else None,
        user_name=(user_name if user_name is not None else (user.name if user is not None else ""))[:64],
        action=AuditAction(action.value), object_kind=kind, object_id=oid, outcome=Outcome(outcome),
        detail=(detail or "")[:MAX_DETAIL], client=(client or None) and client[:64])
    session.add(event)
    session.commit()
    session.refresh(event)
    return event


@contextmanager
def audited(*, session: Session, user: User | None, action: AuditAction | Action, obj: Any = None,
            detail: str = "", client: str | None = None) -> Iterator[dict[str, Any]]:
    """Record how the action in the ``with`` body ended: ok, denied (``PermissionDenied``) or failed
    (any other error, re-raised after the event is written). The body may set ``note["obj"]`` (the record
    it made) and ``note["detail"]``. A failed body's half-done work is rolled back before the event is
    written, so the event's own commit cannot carry it."""
    before = object_ref(obj)  # read now: after a rollback the record may be gone
    note: dict[str, Any] = {"obj": obj, "detail": detail}
    try:
        yield note
    except Exception as exc:
        session.rollback()
        outcome = Outcome.denied if isinstance(exc, PermissionDenied) else Outcome.failed
        text = f"{note['detail']}: {exc}" if note["detail"] else str(exc)
        record(session=session, user=user, action=action, obj=before if before[0] else None, outcome=outcome,
               detail=text, client=client)
        raise
    record(session=session, user=user, action=action, obj=note["obj"], detail=note["detail"], client=client)


def list_events(*, session: Session, user_name: str | None = None, user_id: int | None = None,
                actions: Iterable[AuditAction | str] | None = None, object_kind: ObjectKind | str | None = None,
                object_id: int | None = None, outcome: Outcome | str | None = None,
                since: datetime | None = None, until: datetime | None = None, limit: int = 500) -> list[AuditEvent]:
    """Newest first, each filter optional."""
    q = select(AuditEvent)
    if user_name:
        q = q.where(AuditEvent.user_name == user_name.strip().lower())
    if user_id is not None:
        q = q.where(AuditEvent.user_id == user_id)
    wanted = [AuditAction(a) for a in actions or ()]
    if wanted:
        q = q.where(col(AuditEvent.action).in_(wanted))
    if object_kind:
        q = q.where(AuditEvent.object_kind == ObjectKind(object_kind))
    if object_id is not None:
        q = q.where(AuditEvent.object_id == object_id)
    if outcome:
        q = q.where(AuditEvent.outcome == Outcome(outcome))
    if since is not None:
        q = q.where(AuditEvent.time >= since)
    if until is not None:
        q = q.where(AuditEvent.time < until)
    q = q.order_by(col(AuditEvent.time).desc(), col(AuditEvent.id).desc()).limit(limit)
    return list(session.exec(q))
