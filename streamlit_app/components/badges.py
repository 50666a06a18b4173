"""Status badges: one colour and icon per status, the same on every page."""

from __future__ import annotations

from enum import Enum

import pandas as pd

from shared.core.i18n import _
from shared.records.labels import STATUS_LABELS

_COLOURS = {
    "waiting": "gray", "queued": "gray", "deploying": "blue", "running": "blue",
    "deployed": "green", "completed": "green",
    "failed": "red", "timed_out": "orange", "stopped": "orange", "pruned": "violet", "cancelled": "gray",
}
# Material icons: drawn from Streamlit's bundled font, so they show on machines without emoji fonts.
_ICONS = {
    "waiting": "schedule", "queued": "schedule", "deploying": "build", "running": "play_circle",
    "deployed": "check_circle", "completed": "check_circle", "failed": "error", "timed_out": "timer_off",
    "stopped": "stop_circle", "pruned": "content_cut", "cancelled": "cancel",
}



# Table cells draw no icons, badges or markdown; the status text is coloured by a Styler instead
# (Streamlit's own palette). No emoji anywhere: they show as boxes on machines without an emoji font.
_CSS = {"gray": "#808495", "blue": "#1c83e1", "green": "#21c354", "red": "#ff4b4b", "orange": "#ffa421",
        "violet": "#803df5"}


def _value(status: str | Enum) -> str:
    return status.value if isinstance(status, Enum) else str(status)


def status_label(status: str | Enum) -> str:
    """Plain text in the current language: 'timed out', '执行超时'."""
    v = _value(status)
    return _(STATUS_LABELS[v]) if v in STATUS_LABELS else v.replace("_", " ")


def status_cell(status: str | Enum) -> str:
    """For table cells: the status as plain text ('timed out'); ``styled`` colours it."""
    return status_label(status)


def status_colour(label: str) -> str:
    """CSS for a status cell, from its text (in whichever language it was drawn)."""
    value = next((v for v in STATUS_LABELS if label in (status_label(v), v.replace("_", " "))), "")
    return f"color: {_CSS[_COLOURS.get(value, 'gray')]}; font-weight: 600"


def styled(frame: pd.DataFrame, column: str = "status"):
    """The frame with its status column coloured (st.dataframe draws a pandas Styler's colours)."""
    if column not in frame.columns or frame.empty:
        return frame
    return frame.style.map(status_colour, subset=[column])


def status_badge(status: str | Enum) -> str:
    """Markdown for a coloured badge with an icon, usable inside any st.markdown text."""
    v = _value(status)
    icon = f":material/{_ICONS[v]}: " if v in _ICONS else ""
    return f":{_COLOURS.get(v, 'gray')}-badge[{icon}{status_label(v)}]"
