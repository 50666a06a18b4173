"""Every status, record kind and task type in the person's words: what a page, an error message or a
stored reason shows in place of the raw Enum value (``timed_out`` reads "timed out", 执行超时). The values
themselves stay what the DB, the CLI's JSON and the logs keep."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from shared.core.errors import Term
from shared.core.i18n import N_, _, pgettext
from shared.records.enums import TASK_TYPE_LABELS, TaskType

# Every value of TaskStatus, RunStatus, DeployStatus and PredictionStatus (catalog msgids).
STATUS_LABELS: dict[str, str] = {
    "waiting": N_("waiting"), "queued": N_("queued"), "deploying": N_("deploying"), "running": N_("running"),
    "deployed": N_("deployed"), "completed": N_("completed"), "failed": N_("failed"),
    "timed_out": N_("timed out"), "stopped": N_("stopped"), "pruned": N_("pruned"), "cancelled": N_("cancelled"),
}
# ObjectKind values (and "record" for anything else) as a permission or not-found message names them. Each
# has its context: the column header "model" reads 算法名称, the kind of record 算法.
KIND_LABELS: dict[str, Callable[[], str]] = {
    "dataset": lambda: pgettext("record kind", "dataset"),
    "model": lambda: pgettext("record kind", "model"),
    "task": lambda: pgettext("record kind", "task"),
    "prediction": lambda: pgettext("record kind", "prediction"),
    "user": lambda: pgettext("record kind", "user"),
    "record": lambda: pgettext("record kind", "record"),
}
# The states of an RQ job that is still waiting or on a worker (JobState.active), as "still {state}" names them.
# Their own context: "started" the column header reads 开始时间.
JOB_STATE_LABELS: dict[str, Callable[[], str]] = {
    "started": lambda: pgettext("job state", "started"),
    "deferred": lambda: pgettext("job state", "deferred"),
    "scheduled": lambda: pgettext("job state", "scheduled"),
    "rate_limited": lambda: pgettext("job state", "rate limited"),
    "ready_to_enqueue": lambda: pgettext("job state", "ready to enqueue"),
}
# Direction values: a task's evaluation metric is maximized or minimized.
DIRECTION_LABELS: dict[str, str] = {"max": N_("maximize"), "min": N_("minimize")}


def _msgid(msgid: str) -> Callable[[], str]:
    return lambda: _(msgid)


# One map for every value a message may carry (the value sets do not overlap).
_LABELS: dict[str, Callable[[], str]] = {
    **{v: _msgid(m) for v, m in STATUS_LABELS.items()}, **KIND_LABELS,
    **{v: _msgid(m) for v, m in DIRECTION_LABELS.items()}, **JOB_STATE_LABELS,
    **{t.value: _msgid(m) for t, m in TASK_TYPE_LABELS.items()},
}


def _value(value: str | Enum) -> str:
    return value.value if isinstance(value, Enum) else str(value)


def term(value: str | Enum) -> Term:
    """``value`` as a message parameter: its raw value in ``str()``, its label once localized."""
    v = _value(value)
    return Term(v, _LABELS.get(v) or (lambda: v.replace("_", " ")))


def task_type_term(task_type: TaskType) -> Term:
    """A task type inside a sentence: "image classification" in the English, 图像分类 once localized."""
    msgid = TASK_TYPE_LABELS[task_type]
    return Term(msgid.lower(), _msgid(msgid))


def label(value: str | Enum) -> str:
    """``value`` in the current language ("timed out", 执行超时); an unknown value as it is, spaced."""
    return term(value).label()
