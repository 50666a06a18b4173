"""Plain Python config files, loaded the way MM projects load theirs.

A config file is Python that binds names; ``_base_`` (a path or a list of
paths, relative to the file) names configs to start from, and dicts in the
file are merged into the bases' key by key. ``DictAction`` reads
``--cfg-options key.sub=value`` pairs into overrides merged the same way.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import types
from typing import Any

BASE_KEY = "_base_"


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str) -> dict[str, Any]:
    """The config at ``path`` with its bases merged in (bases first, in the order listed)."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"config file {path} does not exist")
    namespace: dict[str, Any] = {"__file__": path}
    with open(path, encoding="utf-8") as fh:
        exec(compile(fh.read(), path, "exec"), namespace)  # noqa: S102 - the user's own config file
    own = {k: v for k, v in namespace.items()
           if not k.startswith("__") and k != BASE_KEY and not isinstance(v, types.ModuleType)}
    bases = namespace.get(BASE_KEY) or []
    merged: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        merged = _merge(merged, load_config(os.path.join(os.path.dirname(path), base)))
    return _merge(merged, own)


def set_option(cfg: dict, dotted: str, value: Any) -> None:
    """``cfg['a']['b'] = value`` for ``a.b``, creating dicts on the way."""
    *parents, last = dotted.split(".")
    node = cfg
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def _scalar(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets: 'a,[b,c]' -> ['a', '[b,c]']."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_value(text: str) -> Any:
    """'1' -> 1, 'True' -> True, '[a,b]' -> ['a', 'b'], '(1,2)' -> (1, 2), 'a,b' -> ['a', 'b'],
    a quoted or bracketed Python literal as Python reads it."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    if text[:1] in "[(" and text[-1:] in "])":
        items = [parse_value(p) for p in _split_top(text[1:-1])]
        return tuple(items) if text[0] == "(" else items
    if "," in text:
        return [parse_value(p) for p in _split_top(text)]
    return _scalar(text)


class DictAction(argparse.Action):
    """``--cfg-options a.b=1 c=[x,y]`` -> ``{'a.b': 1, 'c': ['x', 'y']}``."""

    def __call__(self, parser, namespace, values, option_string=None):
        options = dict(getattr(namespace, self.dest, None) or {})
        for pair in values:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                parser.error(f"{option_string}: {pair!r} is not key=value")
            options[key] = parse_value(value)
        setattr(namespace, self.dest, options)
