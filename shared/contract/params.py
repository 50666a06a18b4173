"""User parameter values: typed against the arguments train.py declares
(read statically by ``shared.contract.scriptargs``), single values or search ranges,
and their rendering into argv.

Forms a value can take (task form, CLI ``--param``, templates):
    ``10``            a single value
    ``[5, 10]``       a range (numbers); needs the search flag to be searched
    ``{sgd, adam}``   a set of choices to search over
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from shared.core.errors import FieldError

_RANGE_RE = re.compile(r"^\s*\[\s*([^,\]]+)\s*,\s*([^,\]]+)\s*\]\s*$")
_SET_RE = re.compile(r"^\s*\{(.*)\}\s*$")
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def _spec_type(spec: Any) -> str:
    if spec is None:
        return "str"
    return getattr(spec, "type", None) or "str"


def _is_flag(spec: Any) -> bool:
    return getattr(spec, "action", None) in ("store_true", "store_false", "store_const", "count")


def coerce(spec: Any, raw: Any, *, field: str) -> Any:
    """One value, converted to the argument's type; FieldError says what is expected."""
    typ = _spec_type(spec)
    action = getattr(spec, "action", None)
    nargs = getattr(spec, "nargs", None)
    if nargs not in (None, 1, "?") or action == "append":
        items = raw if isinstance(raw, list) else [p for p in re.split(r"[\s,]+", str(raw).strip()) if p]
        single = _single(spec, typ, action="store")
        return [coerce(single, item, field=field) for item in items]
    if action == "count":
        typ = "int"
    if typ == "bool" or action in ("store_true", "store_false"):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise FieldError(field, f"{raw!r} is not a boolean; use true or false")
    if typ == "int":
        if isinstance(raw, bool):
            raise FieldError(field, f"{raw!r} is not an integer")
        if isinstance(raw, int):
            value: Any = raw
        else:
            text = str(raw).strip()
            try:
                value = int(text)
            except ValueError:
                try:
                    f = float(text)
                except ValueError:
                    raise FieldError(field, f"{raw!r} is not an integer (e.g. 16)") from None
                if not f.is_integer():
                    raise FieldError(field, f"{raw!r} is not an integer (e.g. 16)") from None
                value = int(f)
    elif typ == "float":
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise FieldError(field, f"{raw!r} is not a number (e.g. 0.01 or 1e-3)") from None
        if math.isnan(value):
            raise FieldError(field, "nan is not a usable value")
    else:
        value = raw if isinstance(raw, str) else str(raw)
    choices = getattr(spec, "choices", None)
    if choices and not getattr(spec, "choices_computed", False) and value not in choices:
        # argparse compares after type conversion; choices read from source are literals.
        if str(value) not in [str(c) for c in choices]:
            raise FieldError(field, f"{raw!r} is not one of the choices: {', '.join(map(str, choices))}")
    return value


def _single(spec: Any, typ: str, *, action: str) -> Any:
    @dataclass
    class _One:
        type: str
        action: str | None
        nargs: Any = None
        choices: Any = None
        choices_computed: bool = False

    return _One(type=typ, action=action, choices=getattr(spec, "choices", None),
                choices_computed=getattr(spec, "choices_computed", False))


def parse_setting(spec: Any, raw: Any, *, search: bool, field: str) -> dict[str, Any]:
    """A stored parameter setting: ``{"value": v}``, ``{"range": [a, b], "log": bool}``
    or ``{"choices": [...]}``, plus ``"search"``."""
    typ = _spec_type(spec)
    text = raw if not isinstance(raw, str) else raw.strip()
    if isinstance(text, list) and len(text) == 2 and typ in ("int", "float"):
        text = f"[{text[0]}, {text[1]}]"
    if isinstance(text, str) and (m := _RANGE_RE.match(text)):
        if typ not in ("int", "float") or _is_flag(spec):
            raise FieldError(field, f"a range {text} needs a number argument; this one is {typ}. "
                                    "Give a single value, or a set of choices like {a, b}")
        lo, hi = coerce(spec, m.group(1), field=field), coerce(spec, m.group(2), field=field)
        if lo > hi:
            raise FieldError(field, f"range {text}: the low end is above the high end; write [{hi}, {lo}]")
        log = lo > 0 and hi / lo > 100  # more than two decades: sample on a log scale
        if not search:
            raise FieldError(field, f"{text} is a range: turn the search flag on, or give a single value")
        return {"range": [lo, hi], "log": log, "type": typ, "search": True}
    if isinstance(text, str) and (m := _SET_RE.match(text)):
        items = [p.strip() for p in m.group(1).split(",") if p.strip()]
        if len(items) < 1:
            raise FieldError(field, "an empty set of choices; write {a, b}")
        values = [coerce(spec, item, field=field) for item in items]
        if not search:
            if len(values) == 1:
                return {"value": values[0], "search": False}
            raise FieldError(field, f"{text} is a set of choices: turn the search flag on, or give one value")
        return {"choices": values, "type": typ, "search": True}
    if search:
        declared = getattr(spec, "choices", None)
        if (text in ("", "*", None)) and declared and not getattr(spec, "choices_computed", False):
            return {"choices": list(declared), "type": typ, "search": True}
        raise FieldError(field, "search is on but the value is not a range: write [low, high] "
                                "(numbers) or {a, b} (choices)")
    return {"value": coerce(spec, text, field=field), "search": False}


def is_grid_searchable(settings: dict[str, dict[str, Any]]) -> bool:
    searched = [s for s in settings.values() if s.get("search")]
    return bool(searched) and all("choices" in s or s.get("type") == "int" for s in searched)


def to_argv(spec: Any, value: Any) -> list[str]:
    """Render one value as argparse would read it back."""
    flags = list(getattr(spec, "flags", []) or [])
    positional = getattr(spec, "positional", False)
    flag = None if positional else (next((f for f in flags if f.startswith("--")), None) or flags[0])
    action = getattr(spec, "action", None)
    if action == "store_true":
        return [flag] if value else []
    if action == "store_false":
        return [] if value else [flag]
    if action == "store_const":
        return [flag] if value else []
    if action == "count":
        return [flag] * int(value or 0)
    if action == "append":
        out: list[str] = []
        for item in value if isinstance(value, list) else [value]:
            out += [flag, _fmt(item)]
        return out
    items = [_fmt(v) for v in value] if isinstance(value, list) else [_fmt(value)]
    return items if positional else [flag, *items]


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, float):
        return repr(v)
    return str(v)
