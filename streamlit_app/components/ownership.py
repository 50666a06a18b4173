"""Who sees what: the visibility choice on every upload and task form."""

from __future__ import annotations

import streamlit as st

from shared.records import Visibility

_LABELS = {Visibility.team: "Team: everyone signed in sees and uses it",
           Visibility.private: "Private: only you and the admins"}


def visibility_choice(key: str) -> Visibility:
    return st.radio("Visibility", list(Visibility), format_func=_LABELS.get, key=key, horizontal=True)
