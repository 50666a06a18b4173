"""User parameter values: typed against the arguments train.py declares
(read statically by ``shared.contract.scriptargs``), single values or search ranges,
and their rendering into argv.

Forms a value can take (task form, CLI ``--param``, templates):
    ``10``            a single value
    ``[5, 10]``       a range (numbers); needs the search flag to be searched
    ``{sgd, adam}``   a set of choices to search over

Argument shapes: a several-value argument (``nargs='+'``, ``'*'``, ``N``, ``append``)
takes one line split like a shell (``a=1 'b=[x,y]'``), never at commas, since
values such as ``custom_imports.imports=[a,b]`` hold commas themselves. An
optional-value argument with a ``const`` (``nargs='?'``) is a switch: on passes
the bare flag, off passes nothing, any other text is passed as its value.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from typing import Any

from shared.core.errors import FieldError
from shared.core.i18n import N_

_RANGE_RE = re.compile(r"^\s*\[\s*([^,\]]+)\s*,\s*([^,\]]+)\s*\]\s*$")
_SET_RE = re.compile(r"^\s*\{(.*)\}\s*$")
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def _spec_type(spec: Any) -> str:
    if spec is None:
        return "str"
    return getattr(spec, "type", None) or "str"


_SWITCH_ON = {"true", "yes", "on"}
_SWITCH_OFF = {"false", "no", "off"}


def _is_flag(spec: Any) -> bool:
    return getattr(spec, "action", None) in ("store_true", "store_false", "store_const", "count")


def is_multi(spec: Any) -> bool:
    """An argument that takes several values (nargs '+', '*', N > 1, REMAINDER, or action append/extend)."""
    nargs = getattr(spec, "nargs", None)
    return nargs not in (None, 1, "?") or getattr(spec, "action", None) in ("append", "extend")


def is_switch(spec: Any) -> bool:
    """``nargs='?'`` with a ``const``: the bare flag means on (YOLOv5's ``--resume``, MM's ``--resume``)."""
    return (getattr(spec, "nargs", None) == "?" and getattr(spec, "const", None) is not None
            and getattr(spec, "action", None) in (None, "store") and not getattr(spec, "positional", False))


def split_words(raw: Any, *, field: str) -> list[str]:
    """A several-value line split like a shell: quotes group, commas are part of a value."""
    if isinstance(raw, list | tuple):
        return [str(v) for v in raw]
    try:
        return shlex.split(str(raw))
    except ValueError as exc:
        raise FieldError(field, N_("{raw!r}: {exc}; close the quote, or quote a value that holds spaces"),
                                params={"raw": raw, "exc": exc}) from None


def words_text(values: Any) -> str:
    """A several-value setting as the one line the form and the CLI take (inverse of ``split_words``)."""
    if not isinstance(values, list | tuple):
        return "" if values is None else str(values)
    return shlex.join(_fmt(v) for v in values)


def coerce(spec: Any, raw: Any, *, field: str) -> Any:
    """One value, converted to the argument's type; FieldError says what is expected."""
    typ = _spec_type(spec)
    action = getattr(spec, "action", None)
    if is_multi(spec):
        single = _single(spec, typ, action="store")
        return [coerce(single, item, field=field) for item in split_words(raw, field=field)]
    if is_switch(spec):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip()
        # Digits are values for a typed switch (`--evolve 50`), on/off only for an untyped one.
        on, off = (_TRUE, _FALSE) if typ == "bool" else (_SWITCH_ON, _SWITCH_OFF)
        if text.lower() in on:
            return True
        if text.lower() in off:
            return False
        return coerce(_single(spec, "str" if typ == "bool" else typ, action="store"), text, field=field)
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
        raise FieldError(field, N_("{raw!r} is not a boolean; use true or false"), params={"raw": raw})
    if typ == "int":
        if isinstance(raw, bool):
            raise FieldError(field, N_("{raw!r} is not an integer"), params={"raw": raw})
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
                    raise FieldError(field, N_("{raw!r} is not an integer (e.g. 16)"), params={"raw": raw}) from None
                if not f.is_integer():
                    raise FieldError(field, N_("{raw!r} is not an integer (e.g. 16)"), params={"raw": raw}) from None
                value = int(f)
    elif typ == "float":
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise FieldError(field, N_("{raw!r} is not a number (e.g. 0.01 or 1e-3)"), params={"raw": raw}) from None
        if math.isnan(value):
            raise FieldError(field, N_("nan is not a usable value"))
    else:
        value = raw if isinstance(raw, str) else str(raw)
    choices = getattr(spec, "choices", None)
    if choices and not getattr(spec, "choices_computed", False) and value not in choices:
        # argparse compares after type conversion; choices read from source are literals.
        if str(value) not in [str(c) for c in choices]:
            raise FieldError(field, N_("{raw!r} is not one of the choices: {choices}"),
                                    params={"raw": raw, "choices": ', '.join(map(str, choices))})
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
    if is_multi(spec):
        if search:
            raise FieldError(field, N_("this argument takes several values in one line, which cannot be searched; "
                                    "turn the search flag off"))
        return {"value": coerce(spec, raw, field=field), "search": False}
    text = raw if not isinstance(raw, str) else raw.strip()
    if isinstance(text, list) and len(text) == 2 and typ in ("int", "float"):
        text = f"[{text[0]}, {text[1]}]"
    if isinstance(text, str) and (m := _RANGE_RE.match(text)):
        if typ not in ("int", "float") or _is_flag(spec):
            raise FieldError(field, N_("a range {text} needs a number argument; this one is {typ}. Give a single "
                                       "value, or a set of choices like {{a, b}}"),
                                    params={"text": text, "typ": typ})
        lo, hi = coerce(spec, m.group(1), field=field), coerce(spec, m.group(2), field=field)
        if lo > hi:
            raise FieldError(field, N_("range {text}: the low end is above the high end; write [{hi}, {lo}]"),
                                    params={"text": text, "hi": hi, "lo": lo})
        log = lo > 0 and hi / lo > 100  # more than two decades: sample on a log scale
        if not search:
            raise FieldError(field, N_("{text} is a range: turn the search flag on, or give a single value"),
                                    params={"text": text})
        return {"range": [lo, hi], "log": log, "type": typ, "search": True}
    if isinstance(text, str) and (m := _SET_RE.match(text)):
        items = [p.strip() for p in m.group(1).split(",") if p.strip()]
        if len(items) < 1:
            raise FieldError(field, N_("an empty set of choices; write {a, b}"))
        values = [coerce(spec, item, field=field) for item in items]
        if not search:
            if len(values) == 1:
                return {"value": values[0], "search": False}
            raise FieldError(field, N_("{text} is a set of choices: turn the search flag on, or give one value"),
                                    params={"text": text})
        return {"choices": values, "type": typ, "search": True}
    if search:
        declared = getattr(spec, "choices", None)
        if (text in ("", "*", None)) and declared and not getattr(spec, "choices_computed", False):
            return {"choices": list(declared), "type": typ, "search": True}
        raise FieldError(field, N_("search is on but the value is not a range: write [low, high] "
                                "(numbers) or {a, b} (choices)"))
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
    if is_switch(spec) and isinstance(value, bool):
        if value:
            return [flag]
        if getattr(spec, "default", None) and not getattr(spec, "default_computed", False):
            # Off, but the script's default is on (YOLOv5 classify's `--pretrained`): passing nothing would
            # keep it on, so pass the word its help asks for.
            return [flag, "False"]
        return []
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
