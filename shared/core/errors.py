"""Named exceptions. Each carries a user-facing message that says what is wrong,
where (file, line, field) and, where possible, what to do about it.

They are raised deep and caught once at a boundary: the RQ job stores the
message on the row, the CLI prints it to stderr, a page shows ``st.error``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Msg(str):
    """A message id used as a parameter of another message (a fix shared by several errors):
    ``str(err)`` keeps the English, ``err.localized()`` shows it translated too. Mark the
    literal for extraction: ``_FIX = Msg(N_("re-create the zip ..."))``."""


class Term(str):
    """A stored value named inside a message (a status, a record kind): ``str()`` is the value itself, so
    the English message, the row and the CLI's JSON keep ``timed_out``; ``localized()`` shows ``label()``
    ("timed out", 执行超时: its catalog entry in the reader's language). Made by ``shared.records.labels.term``."""

    label: Callable[[], str]

    def __new__(cls, value: str, label: Callable[[], str]) -> Term:
        obj = super().__new__(cls, value)
        obj.label = label
        return obj


class Stored(str):
    """English a check wrote as a whole line (a package problem) used as a message parameter: ``localized()``
    reads it back through the catalog templates it was made from (``shared.core.relocalize``)."""


def localize_param(value: Any) -> Any:
    """A message parameter as the reader reads it: a Msg translated, a Term by its label, others as they are."""
    from shared.core.i18n import _

    if isinstance(value, Term):
        return value.label()
    if isinstance(value, Msg):
        return _(value)
    if isinstance(value, Stored):
        from shared.core.relocalize import relocalize

        return relocalize(value)
    return value


def _localize(msgid: str, params: dict[str, Any]) -> str:
    from shared.core.i18n import _

    if not params:
        return _(msgid)
    return _(msgid, **{k: localize_param(v) for k, v in params.items()})


class TrainyardError(Exception):
    """Base class: ``str(err)`` is the user-facing message in English.

    The message is a template with ``str.format`` placeholders, and ``params`` fill them:
    ``NotFoundError("task {id} does not exist", params={"id": 7})``. The template is the
    gettext message id, so ``err.localized()`` shows it in the reader's language (the UI,
    the CLI); logs, JSON and the rows the jobs write keep the English.
    """

    def __init__(self, message: str, *, details: list[str] | None = None,
                 params: dict[str, Any] | None = None) -> None:
        self.msgid = message
        self.params = dict(params or {})
        self.message = message.format(**self.params) if self.params else message
        super().__init__(self.message)
        self.details = list(details or [])

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {d}" for d in self.details)

    def localized(self) -> str:
        """The message in the current language (see ``shared.core.i18n``), and its detail lines (English the
        checks wrote, read back through the catalog: ``shared.core.relocalize``)."""
        from shared.core.relocalize import relocalize

        text = _localize(self.msgid, self.params)
        if not self.details:
            return text
        return text + "\n" + "\n".join(f"  - {relocalize(d)}" for d in self.details)


class ArchiveError(TrainyardError):
    """An uploaded zip is unsafe, malformed or over a limit."""


class PackageError(TrainyardError):
    """A model package breaks the contract (missing file, syntax error, bad requirement)."""


class DatasetFormatError(TrainyardError):
    """A dataset does not match its task type's format."""


class EnvBuildError(TrainyardError):
    """Building a model's environment failed; the message holds the installer's own error line."""


class SandboxError(TrainyardError):
    """The sandbox cannot start, so user code is not run."""


class FieldError(TrainyardError):
    """A form or CLI field is invalid. ``field`` names it so a page can show the error beside it."""

    def __init__(self, field: str, message: str, *, params: dict[str, Any] | None = None) -> None:
        super().__init__(message, params=params)
        self.field = field
        self.field_message = self.message
        # str(err) names the field first, as the CLI prints it; the page shows field_message beside it.
        self.args = (f"{field}: {self.message}",)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def localized(self) -> str:
        return f"{self.field}: {self.localized_field_message()}"

    def localized_field_message(self) -> str:
        return _localize(self.msgid, self.params)


class NotFoundError(TrainyardError):
    """A record asked for by id does not exist."""


class ConflictError(TrainyardError):
    """The action is refused in the record's current state (e.g. deleting a model in use)."""


class PermissionDenied(TrainyardError):
    """The signed-in person's role (or not owning the record) does not allow the action."""


class SignInError(TrainyardError):
    """A sign-in, sign-up or session was refused. ``retry_after_s`` is set when failures are being slowed down."""

    def __init__(self, message: str, *, retry_after_s: float | None = None,
                 params: dict[str, Any] | None = None) -> None:
        super().__init__(message, params=params)
        self.retry_after_s = retry_after_s


class MigrationError(TrainyardError):
    """The database cannot be brought to the schema this release needs."""


class BackupError(TrainyardError):
    """A backup or restore cannot be made (missing tool, wrong target, unreadable archive)."""


class OutputError(TrainyardError):
    """A file cannot be written where the user asked (an unwritable folder, a full disk)."""


class ImportDirError(TrainyardError):
    """A file asked for from the server's import folder is not one that may be imported."""


class StoreError(TrainyardError):
    """DATA_DIR is not the platform's shared store (its marker is missing or names another store)."""


class JoinRefused(TrainyardError):
    """A worker joining from another host cannot work with this setting; the message names it and the fix."""
