"""Who sees what: the visibility choice on every upload and task form."""

from __future__ import annotations

import streamlit as st

from shared.core.i18n import N_, _
from shared.records import Visibility

_LABELS = {Visibility.team: N_("Team: everyone signed in sees and uses it"),
           Visibility.private: N_("Private: only you and the admins")}


def visibility_choice(key: str) -> Visibility:
    return st.radio(_("Visibility"), list(Visibility), format_func=lambda v: _(_LABELS[v]), key=key,
                    horizontal=True)
