"""Named exceptions. Each carries a user-facing message that says what is wrong,
where (file, line, field) and, where possible, what to do about it.

They are raised deep and caught once at a boundary: the RQ job stores the
message on the row, the CLI prints it to stderr, a page shows ``st.error``.
"""

from __future__ import annotations


class TrainyardError(Exception):
    """Base class: ``str(err)`` is the user-facing message."""

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {d}" for d in self.details)


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

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.field_message = message


class NotFoundError(TrainyardError):
    """A record asked for by id does not exist."""


class ConflictError(TrainyardError):
    """The action is refused in the record's current state (e.g. deleting a model in use)."""


class PermissionDenied(TrainyardError):
    """The signed-in person's role (or not owning the record) does not allow the action."""


class SignInError(TrainyardError):
    """A sign-in, sign-up or session was refused. ``retry_after_s`` is set when failures are being slowed down."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class MigrationError(TrainyardError):
    """The database cannot be brought to the schema this release needs."""


class BackupError(TrainyardError):
    """A backup or restore cannot be made (missing tool, wrong target, unreadable archive)."""


class ImportDirError(TrainyardError):
    """A file asked for from the server's import folder is not one that may be imported."""


class StoreError(TrainyardError):
    """DATA_DIR is not the platform's shared store (its marker is missing or names another store)."""


class JoinRefused(TrainyardError):
    """A worker joining from another host cannot work with this setting; the message names it and the fix."""
