"""Errors shown the one way: the service's message, then every detail line it
carries (a dataset with 40 problems lists all 40)."""

from __future__ import annotations

import streamlit as st

from shared.core.errors import TrainyardError


def error_text(exc: BaseException) -> str:
    if isinstance(exc, TrainyardError):
        lines = [exc.message] + [f"- {d}" for d in exc.details]
        return "\n".join(lines)
    return f"{type(exc).__name__}: {exc}"


def show_error(exc: BaseException, *, prefix: str = "") -> None:
    st.error((prefix + "\n\n" if prefix else "") + error_text(exc).replace("\n", "  \n"), icon=":material/block:")
