"""Status badges: one colour and icon per status, the same on every page."""

from __future__ import annotations

from enum import Enum

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


# Table cells draw no icons or badges; a coloured dot keeps the status scannable there.
_DOTS = {"gray": "⚪", "blue": "🔵", "green": "🟢", "red": "🔴", "orange": "🟠", "violet": "🟣"}


def _value(status: str | Enum) -> str:
    return status.value if isinstance(status, Enum) else str(status)


def status_label(status: str | Enum) -> str:
    """Plain text: 'timed out'."""
    return _value(status).replace("_", " ")


def status_cell(status: str | Enum) -> str:
    """For table cells: a coloured dot and the status."""
    v = _value(status)
    return f"{_DOTS[_COLOURS.get(v, 'gray')]} {status_label(v)}"


def status_badge(status: str | Enum) -> str:
    """Markdown for a coloured badge with an icon, usable inside any st.markdown text."""
    v = _value(status)
    icon = f":material/{_ICONS[v]}: " if v in _ICONS else ""
    return f":{_COLOURS.get(v, 'gray')}-badge[{icon}{status_label(v)}]"
