"""A row of short labelled facts: like st.metric, but for text values that
must not be cut off ("Image classification", "score (max, final)").

Values carry user text (a task's evaluation metric, names), so each is HTML
escaped and its Markdown punctuation is backslashed: it shows as typed, and
can neither add a tag nor a link."""

from __future__ import annotations

import html
import re

import streamlit as st

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:])")


def plain(text: object) -> str:
    """``text`` made inert inside ``st.markdown(..., unsafe_allow_html=True)``."""
    return html.escape(_MARKDOWN.sub(r"\\\1", str(text)), quote=True)


def facts_row(items: list[tuple[str, str]]) -> None:
    cols = st.columns(len(items))
    for col, (label, value) in zip(cols, items, strict=True):
        col.markdown(f"<small>{plain(label)}</small><br><strong>{plain(value)}</strong>", unsafe_allow_html=True)
