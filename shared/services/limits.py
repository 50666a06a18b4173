"""Per-run limits a task may set, under the operator's ceilings.

Each ``TRAINYARD_<LIMIT>`` setting is both the default and the ceiling: a task
may ask for less, never for more, and never for "none" while the setting has a
value. One knob per limit, because a separate default and ceiling would let an
operator raise the default above what they meant to allow, and because "what a
run gets unless it asks for less" is the one number an operator has to pick.
An operator who wants no ceiling on a limit sets it to ``none`` (then tasks may
too). The task's time limit works the same with ``TRAINYARD_MAX_TIME_LIMIT``,
except that it has no default ceiling (training times vary too much for one).

The service refuses a task over a ceiling (``FieldError`` naming the field, the
ceiling and the setting); the runner clamps again with ``clamp_limits`` when it
builds a run's limits, so a task stored before a ceiling was lowered still runs
under it.
"""

from __future__ import annotations

from typing import Any

from shared.core.errors import FieldError
from shared.core.i18n import N_
from shared.core.settings import Settings, format_size, parse_size

# The Task.limits keys; each is also the name of its ceiling on Settings.
LIMIT_FIELDS = ("memory_limit", "max_procs", "max_open_files", "max_file_bytes", "max_disk_bytes", "max_log_bytes",
                "max_files")
COUNT_FIELDS = ("max_procs", "max_open_files", "max_files")
_OFF = ("none", "off", "unlimited", "0")


def setting_name(key: str) -> str:
    return f"TRAINYARD_{key.upper()}"


def shown(key: str, value: int | None) -> str:
    if value is None:
        return "unlimited"
    return f"{value:,}" if key in COUNT_FIELDS else format_size(value)


def _parse(key: str, raw: Any) -> int | None:
    if isinstance(raw, bool):
        raise FieldError(key, N_("{raw!r} is not a limit"), params={"raw": raw})
    if isinstance(raw, str) and raw.strip().lower() in _OFF:
        return None
    try:
        value = int(raw) if key in COUNT_FIELDS else parse_size(raw)
    except (TypeError, ValueError) as exc:
        if key in COUNT_FIELDS:
            raise FieldError(key, N_("{raw!r} is not a whole number"), params={"raw": raw}) from None
        raise FieldError(key, N_("{error}"), params={"error": str(exc)}) from None  # parse_size names the value
    if value is not None and value <= 0:
        raise FieldError(key, N_("must be positive"))
    return value


def check_ceiling(key: str, value: int | None, ceiling: int | None, *, setting: str) -> None:
    """Refuse ``value`` above ``ceiling``, or off (None) while there is a ceiling."""
    if ceiling is None:
        return
    if value is None:
        raise FieldError(key, N_("cannot be switched off: the platform's ceiling is {ceiling} ({setting}); give a "
                                 "value up to it, or leave the field empty for that default"),
                              params={"ceiling": shown(key, ceiling), "setting": setting})
    if value > ceiling:
        raise FieldError(key, N_("{value} is over the platform's ceiling of {ceiling} ({setting}); ask for at most "
                                 "that, or ask the operator to raise {setting}"),
                              params={"value": shown(key, value), "ceiling": shown(key, ceiling), "setting": setting})


def parse_limits(limits: dict[str, Any] | None, settings: Settings) -> dict[str, int | None]:
    """A task's limit overrides, checked against the ceilings. Empty values keep the default."""
    out: dict[str, int | None] = {}
    for key, raw in (limits or {}).items():
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if key not in LIMIT_FIELDS:
            raise FieldError(key, N_("unknown limit; known: {known}"), params={"known": ', '.join(LIMIT_FIELDS)})
        value = _parse(key, raw)
        check_ceiling(key, value, getattr(settings, key), setting=setting_name(key))
        out[key] = value
    return out


def check_time_limit(raw: Any, seconds: int | None, settings: Settings) -> int | None:
    """The task's time limit under ``TRAINYARD_MAX_TIME_LIMIT``: empty takes the ceiling."""
    ceiling = settings.max_time_limit
    if ceiling is None:
        return seconds
    if seconds is None and (raw is None or (isinstance(raw, str) and not raw.strip())):
        return ceiling
    if seconds is None:
        raise FieldError("time limit", N_("cannot be switched off: the platform's ceiling is {ceiling} s "
                                          "(TRAINYARD_MAX_TIME_LIMIT); give a duration up to it, or leave it empty"),
                                       params={"ceiling": ceiling})
    if seconds > ceiling:
        raise FieldError("time limit", N_("{seconds} s is over the platform's ceiling of {ceiling} s "
                                          "(TRAINYARD_MAX_TIME_LIMIT); ask for at most that"),
                                       params={"seconds": seconds, "ceiling": ceiling})
    return seconds


def clamp_limits(limits: dict[str, Any] | None, settings: Settings) -> dict[str, int]:
    """What the runner applies: the task's overrides that stay under their ceiling. An
    override that is off or over the ceiling (a row stored before the ceiling was
    lowered, or written past the service) is dropped, so the ceiling applies."""
    out: dict[str, int] = {}
    for key, value in (limits or {}).items():
        if key not in LIMIT_FIELDS or isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            continue
        ceiling = getattr(settings, key)
        if ceiling is None or value <= ceiling:
            out[key] = value
    return out


def clamp_time_limit(seconds: int | None, settings: Settings) -> int | None:
    ceiling = settings.max_time_limit
    if ceiling is None:
        return seconds
    return ceiling if seconds is None else min(seconds, ceiling)
