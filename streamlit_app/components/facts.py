"""A row of short labelled facts: like st.metric, but for text values that
must not be cut off ("Image classification", "score (max, final)")."""

from __future__ import annotations

import streamlit as st


def facts_row(items: list[tuple[str, str]]) -> None:
    cols = st.columns(len(items))
    for col, (label, value) in zip(cols, items, strict=True):
        col.markdown(f"<small>{label}</small><br>**{value}**", unsafe_allow_html=True)
