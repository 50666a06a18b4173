"""Errors shown the one way: the service's message, then every detail line it
carries (a dataset with 40 problems lists all 40)."""

from __future__ import annotations

import streamlit as st

from shared.core.errors import TrainyardError
from shared.core.i18n import _
from shared.core.relocalize import relocalize


def error_text(exc: BaseException) -> str:
    """In the reader's language (``localized``), the checks' detail lines too."""
    if isinstance(exc, TrainyardError):
        lines = [exc.localized().split("\n", 1)[0] if exc.details else exc.localized()]
        return "\n".join(lines + [f"- {relocalize(d)}" for d in exc.details])
    return f"{type(exc).__name__}: {exc}"


def error_message(exc: BaseException) -> str:
    """One exception as a single message: a ``FieldError`` names its field first."""
    return exc.localized() if isinstance(exc, TrainyardError) else str(exc)


def field_text(field: str, message: str) -> str:
    """A field's error where no widget of that field is beside it: the field's label, then the message."""
    return _("{field}: {message}", field=field, message=message)


def show_error(exc: BaseException, *, prefix: str = "") -> None:
    st.error((prefix + "\n\n" if prefix else "") + error_text(exc).replace("\n", "  \n"), icon=":material/block:")
