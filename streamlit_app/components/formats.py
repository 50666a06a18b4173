"""How numbers, durations and run counts read on every page."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

_ORDER = ("running", "queued", "completed", "pruned", "failed", "timed_out", "stopped", "cancelled")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h}h"


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


def run_counts(counts: dict[str, int]) -> str:
    parts = [f"{counts[k]} {k.replace('_', ' ')}" for k in _ORDER if counts.get(k)]
    parts += [f"{n} {k}" for k, n in counts.items() if k not in _ORDER and n]
    return " · ".join(parts) or "no runs yet"


def params_text(params: dict[str, Any]) -> str:
    def one(v: Any) -> str:
        if isinstance(v, dict):
            if "range" in v:
                return f"[{v['range'][0]}, {v['range'][1]}]" + (" (log)" if v.get("log") else "")
            if "choices" in v:
                return "{" + ", ".join(map(str, v["choices"])) + "}"
            return str(v.get("value"))
        return f"{v:.6g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k}={one(v)}" for k, v in params.items()) or "defaults"


def first_line(text: str | None, limit: int = 160) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
