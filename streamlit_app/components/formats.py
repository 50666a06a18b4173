"""How numbers, durations and run counts read on every page."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from shared.core.i18n import N_, _

_ORDER = ("running", "queued", "completed", "pruned", "failed", "timed_out", "stopped", "cancelled")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return _("{s}s", s=s)
    m, s = divmod(s, 60)
    if m < 60:
        return _("{m}m {s}s", m=m, s=f"{s:02d}")
    h, m = divmod(m, 60)
    if h < 48:
        return _("{h}h {m}m", h=h, m=f"{m:02d}")
    d, h = divmod(h, 24)
    return _("{d}d {h}h", d=d, h=h)


def between(start: datetime | None, end: datetime | None, now: datetime) -> float | None:
    if start is None:
        return None
    return ((end or now) - start).total_seconds()


def score(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"{value:.6g}"


# "3 running": the count, then the status in the person's words (the status values of RunStatus).
_COUNTED = {"running": N_("{n} running"), "queued": N_("{n} queued"), "completed": N_("{n} completed"),
            "pruned": N_("{n} pruned"), "failed": N_("{n} failed"), "timed_out": N_("{n} timed out"),
            "stopped": N_("{n} stopped"), "cancelled": N_("{n} cancelled")}


def run_counts(counts: dict[str, int]) -> str:
    parts = [_(_COUNTED[k], n=counts[k]) for k in _ORDER if counts.get(k)]
    parts += [f"{n} {k}" for k, n in counts.items() if k not in _ORDER and n]
    return " · ".join(parts) or _("no runs yet")


def params_text(params: dict[str, Any]) -> str:
    def one(v: Any) -> str:
        if isinstance(v, dict):
            if "range" in v:
                return f"[{v['range'][0]}, {v['range'][1]}]" + (" (log)" if v.get("log") else "")
            if "choices" in v:
                return "{" + ", ".join(map(str, v["choices"])) + "}"
            return str(v.get("value"))
        return f"{v:.6g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k}={one(v)}" for k, v in params.items()) or _("defaults")


def first_line(text: str | None, limit: int = 160) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
