"""The list page's "open one" picker: a selectbox that follows the link's ``?id=`` on
entry and writes the chosen id back, so the address can be shared."""

from __future__ import annotations

import streamlit as st


def pick_id(label: str, names: dict[int, str], *, key: str) -> int:
    """The chosen id among ``names`` (id -> shown text, non-empty). An upload sets
    ``st.session_state[key]`` to the new id first, and the picker follows it."""
    ids = list(names)
    if st.session_state.get(key) not in ids:  # entering the page: the link's ?id= picks the item
        wanted = st.query_params.get("id")
        st.session_state[key] = int(wanted) if wanted and wanted.isdigit() and int(wanted) in ids else ids[0]
    chosen = st.selectbox(label, ids, format_func=names.get, key=key)
    st.query_params["id"] = str(chosen)
    return chosen
