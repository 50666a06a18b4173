"""Who may do what. One table of rules, used by every page, download and CLI command:

- admin: everything, people, limits and a model's network access included;
- member: reads what they can see, creates datasets, models, tasks and predictions,
  changes and deletes only what they own;
- viewer: reads and downloads what they can see.

"What they can see": team records, their own private ones; admins see all. A
record someone may not see answers exactly like a missing one (``get_visible``),
so ids cannot be probed. Records without an owner (made before sign-in existed)
are team records that only admins change.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_, true
from sqlmodel import Session

from shared.core.errors import Msg, NotFoundError, PermissionDenied, Term
from shared.core.i18n import N_
from shared.records import (
    Action,
    AuditAction,
    Dataset,
    ModelPackage,
    Outcome,
    Prediction,
    Role,
    Task,
    User,
    Visibility,
)
from shared.records.labels import term
from shared.services import audit
from shared.services.audit import KINDS

Owned = TypeVar("Owned", Dataset, ModelPackage, Task, Prediction)

OWNED_KINDS: tuple[type, ...] = (Dataset, ModelPackage, Task, Prediction)
_READ = {Action.view, Action.download}
_OWNER = {Action.change, Action.delete}
_ADMIN_ONLY = {Action.manage_users, Action.set_limits, Action.allow_network, Action.view_audit}
# Each starts the sentence a refused person reads (``denial``), hence the capital.
_VERBS = {Action.view: Msg(N_("Seeing")), Action.download: Msg(N_("Downloading")),
          Action.create: Msg(N_("Creating")), Action.change: Msg(N_("Changing")), Action.delete: Msg(N_("Deleting")),
          Action.manage_users: Msg(N_("Managing people")), Action.set_limits: Msg(N_("Setting sandbox limits")),
          Action.allow_network: Msg(N_("Giving a model network access")),
          Action.view_audit: Msg(N_("Reading the audit log"))}
_YOU_ARE = {Role.admin: Msg(N_("you are an admin")), Role.member: Msg(N_("you are a member")),
            Role.viewer: Msg(N_("you are a viewer"))}


def _active(user: User | None) -> bool:
    return user is not None and not user.disabled


def is_visible(user: User | None, obj: Any) -> bool:
    if not _active(user):
        return False
    if user.role == Role.admin or not isinstance(obj, OWNED_KINDS):
        return True
    return obj.visibility == Visibility.team or (obj.owner_id is not None and obj.owner_id == user.id)


def owns(user: User | None, obj: Any) -> bool:
    return _active(user) and getattr(obj, "owner_id", None) is not None and obj.owner_id == user.id


def can(user: User | None, action: Action | str, obj: Any = None) -> bool:
    """May ``user`` do ``action`` on ``obj``: a record, a record class (``can(u, Action.create, Task)``)
    or None (an action on the platform, like ``manage_users``)."""
    action = Action(action)
    if not _active(user):
        return False
    if user.role == Role.admin:
        return True
    if action in _ADMIN_ONLY:
        return False
    record = obj if obj is not None and not isinstance(obj, type) else None
    if record is not None and not is_visible(user, record):
        return False
    if action in _READ:
        return True
    if user.role != Role.member:
        return False
    if action == Action.create:
        return True
    if action in _OWNER:
        return record is not None and owns(user, record)
    return False


def _kind_name(obj: Any) -> Term:
    cls = obj if isinstance(obj, type) else type(obj)
    kind = KINDS.get(cls)
    return term(kind.value if kind is not None else "record")


def denial_error(user: User | None, action: Action | str, obj: Any = None) -> PermissionDenied:
    """The refusal a person reads: the action, and the role (or ownership) it needs."""
    action = Action(action)
    params: dict[str, Any] = {"verb": _VERBS[action], "kind": _kind_name(obj) if obj is not None else None}
    if not _active(user):
        if obj is None:
            return PermissionDenied(N_("{verb} needs a signed-in, enabled account; sign in again."), params=params)
        if isinstance(obj, type):
            return PermissionDenied(N_("{verb} a {kind} needs a signed-in, enabled account; sign in again."),
                                    params=params)
        return PermissionDenied(N_("{verb} this {kind} needs a signed-in, enabled account; sign in again."),
                                params=params)
    params["you_are"] = _YOU_ARE[Role(user.role)]
    if action in _ADMIN_ONLY:
        params["need"] = Msg(N_("the admin role"))
    elif action in _READ:
        params["need"] = Msg(N_("being its owner or the admin role (it is private)"))
    elif action == Action.create:
        params["need"] = Msg(N_("the member or admin role"))
    elif user.role == Role.viewer:
        params["need"] = Msg(N_("the member role and owning it, or the admin role"))
    else:
        params["need"] = Msg(N_("owning it or the admin role"))
    if obj is None:
        return PermissionDenied(N_("{verb} needs {need}; {you_are}. Ask an admin if you need more."), params=params)
    if isinstance(obj, type):
        return PermissionDenied(N_("{verb} a {kind} needs {need}; {you_are}. Ask an admin if you need more."),
                                params=params)
    return PermissionDenied(N_("{verb} this {kind} needs {need}; {you_are}. Ask an admin if you need more."),
                            params=params)


def denial(user: User | None, action: Action | str, obj: Any = None) -> str:
    """The sentence a refused person reads, in the current language (the page shows it)."""
    return denial_error(user, action, obj).localized()


def require(user: User | None, action: Action | str, obj: Any = None) -> None:
    """Raise ``PermissionDenied`` (naming the role needed) unless ``can``."""
    if not can(user, action, obj):
        raise denial_error(user, action, obj)


def require_audited(*, session: Session, user: User | None, action: Action | str, obj: Any,
                    event: AuditAction, detail: str = "") -> None:
    """``require``, writing the refusal to the audit log (for checks made outside ``audit.audited``)."""
    if not can(user, action, obj):
        audit.record(session=session, user=user, action=event, obj=obj, outcome=Outcome.denied,
                     detail=str(denial_error(user, action, obj)) if not detail  # the log keeps English
                     else f"{detail}: {denial_error(user, action, obj)}")
        require(user, action, obj)


def visible_filter(user: User | None, model: type[Owned]) -> ColumnElement[bool]:
    """The WHERE clause for lists of ``model``: team records and the user's own; admins see all;
    nobody signed in (or disabled) sees nothing."""
    if not _active(user):
        return model.id.is_(None)  # matches no stored row
    if user.role == Role.admin:
        return true()
    return or_(model.visibility == Visibility.team, model.owner_id == user.id)


def get_visible(*, session: Session, user: User | None, model: type[Owned], obj_id: int) -> Owned:
    """The record, or ``NotFoundError`` worded exactly as for a missing one when it is not visible."""
    # populate_existing: a long-lived session (UI, CLI wait loops) must see workers' writes.
    obj = session.get(model, obj_id, populate_existing=True)
    if obj is None or not is_visible(user, obj):
        raise missing_error(model, obj_id)
    return obj


def missing_error(model: type, obj_id: int) -> NotFoundError:
    """"task 7 does not exist" and the like, each kind's own message (so the kind reads translated too)."""
    if model is Task:
        return NotFoundError(N_("task {task_id} does not exist"), params={"task_id": obj_id})
    if model is ModelPackage:
        return NotFoundError(N_("model {model_id} does not exist"), params={"model_id": obj_id})
    if model is Dataset:
        return NotFoundError(N_("dataset {dataset_id} does not exist"), params={"dataset_id": obj_id})
    if model is Prediction:
        return NotFoundError(N_("prediction {prediction_id} does not exist"), params={"prediction_id": obj_id})
    return NotFoundError(N_("{kind} {obj_id} does not exist"), params={"kind": _kind_name(model), "obj_id": obj_id})


def stamp_owner(obj: Owned, user: User | None, visibility: Visibility | str = Visibility.team) -> Owned:
    """Set owner and visibility on a record being created (before its commit)."""
    obj.owner_id = user.id if user is not None else None
    obj.visibility = Visibility(visibility)
    return obj
