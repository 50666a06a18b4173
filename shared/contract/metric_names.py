"""Metric names a ``train.py`` prints, read statically (CONTRACT §2.5).

The script is parsed with ``ast`` and never imported or run, as the argument
reader does. Every ``print(...)``, ``logging``/``logger.*(...)``,
``sys.stdout.write(...)`` and ``tqdm.write(...)`` call is rendered the way it
would print, with a number standing for every value it formats (f-strings,
``"loss: %.4f" % x``, ``"loss: {}".format(x)``, ``print("loss:", x)``), and the
rendered line goes through the run's own metric parser
(``shared.contract.metrics.parse_line``). So a name is offered exactly when a
run would chart it; a pair the parser would skip (``loss=0.3``, or two pairs
not separated by a comma) becomes a warning naming the line and the fix.

Names built at run time are followed one step: ``", ".join(f"{k}: {v}" for k, v
in metrics.items())`` yields the keys written into ``metrics`` as literals
(``{"loss": ...}``, ``metrics["acc"] = ...``, a comprehension over another
such dict). Anything else unknown is rendered as a number, so it adds no name.
"""

from __future__ import annotations

import ast
import re
import string
from dataclasses import dataclass, field
from typing import Any

from shared.contract.argparse_reader import dotted_name
from shared.contract.metrics import parse_line
from shared.contract.scriptargs import parse_source
from shared.core.i18n import N_

_VALUE = "0.5"  # what every formatted value prints as: any number the parser reads
_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "critical", "exception", "log"}
_PERCENT_RE = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")
# A name followed by ':' or '=' and a rendered value: what a reader would take for a metric.
_CANDIDATE_RE = re.compile(r"(?<![\w./\-\[\]])([A-Za-z_][\w./\-\[\]]*)[ \t]*([:=])[ \t]*" + re.escape(_VALUE)
                           + r"(?![\d.])")
_DYNAMIC_RE = re.compile(re.escape(_VALUE) + r"[ \t]*:[ \t]*" + re.escape(_VALUE))
_MAX_DEPTH = 8


@dataclass
class MetricNames:
    names: list[str] = field(default_factory=list)  # in the order the script first prints them
    warnings: list[str] = field(default_factory=list)  # "train.py line 12: ..." with the fix
    dynamic_lines: list[int] = field(default_factory=list)  # lines printing names only known at run time

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "warnings": list(self.warnings), "dynamic_lines": list(self.dynamic_lines)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> MetricNames:
        data = data or {}
        return cls(names=list(data.get("names") or []), warnings=list(data.get("warnings") or []),
                   dynamic_lines=list(data.get("dynamic_lines") or []))


def read_metric_names(*, source: str, filename: str = "train.py") -> MetricNames:
    """The metric names ``source`` prints. Raises PackageError (file, line, column) on a syntax error."""
    tree = parse_source(source=source, filename=filename)
    reader = _Reader(tree)
    out = MetricNames()
    seen: set[str] = set()
    warned: set[tuple[int, str]] = set()
    calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset))
    for node in calls:
        for text in reader.printed(node):
            parsed = parse_line(text)
            for name in parsed:
                if name not in seen:
                    seen.add(name)
                    out.names.append(name)
            for m in _CANDIDATE_RE.finditer(text):
                name, sep = m.group(1), m.group(2)
                if name in parsed or (node.lineno, name) in warned:
                    continue
                warned.add((node.lineno, name))
                out.warnings.append(_unread(filename, node.lineno, name, sep, text[m.end():]))
            if _DYNAMIC_RE.search(text) and node.lineno not in out.dynamic_lines:
                out.dynamic_lines.append(node.lineno)
    return out


def _unread(filename: str, line: int, name: str, sep: str, after: str) -> str:
    place = filename + " " + N_("line {line}").format(line=line)
    if sep == "=":
        return place + ": " + N_("'{name}' is printed as '{name}=value', which is not charted; print it as "
                                 "'{name}: value'").format(name=name)
    after = after.split(",", 1)[0].rstrip()[:30].replace(_VALUE, "<value>")
    return place + ": " + N_("'{name}' is not charted because its value is followed by '{after}'; end each pair "
                             "with a comma or the end of the line, e.g. '{name}: 0.1, acc: 0.9'").format(
        name=name, after=after)


class _Reader:
    """Renders the text a call prints, following names bound to strings and literal-keyed dicts."""

    def __init__(self, tree: ast.Module) -> None:
        self.strings: dict[str, list[ast.expr]] = {}  # name -> string expressions assigned to it
        # name -> (line, literal key) ever stored in it / (line, dict its comprehension iterates)
        self.dict_keys: dict[str, list[tuple[int, str]]] = {}
        self.dict_sources: dict[str, list[tuple[int, str]]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
                self._bind(node.target, node.value)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            for t in target.elts:
                self._bind(t, value)
            return
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            key = target.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                self.dict_keys.setdefault(target.value.id, []).append((target.lineno, key.value))
            return
        if not isinstance(target, ast.Name):
            return
        if isinstance(value, ast.Dict):
            keys = [(k.lineno, k.value) for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            self.dict_keys.setdefault(target.id, []).extend(keys)
        elif isinstance(value, ast.DictComp) and (source := _iterated_dict(value.generators)):
            self.dict_sources.setdefault(target.id, []).append((target.lineno, source))
        elif isinstance(value, ast.JoinedStr | ast.BinOp | ast.Call) or (
                isinstance(value, ast.Constant) and isinstance(value.value, str)):
            self.strings.setdefault(target.id, []).append(value)

    def keys_of(self, name: str, depth: int = 0) -> list[str]:
        """The literal keys of dict ``name`` in source order (a comprehension's keys at its own line)."""
        keys = list(self.dict_keys.get(name, []))
        if depth < _MAX_DEPTH:
            for line, source in self.dict_sources.get(name, []):
                keys += [(line, k) for k in self.keys_of(source, depth + 1)]
        return list(dict.fromkeys(k for _line, k in sorted(keys, key=lambda lk: lk[0])))

    # ------------------------------------------------------------------ calls that print
    def printed(self, call: ast.Call) -> list[str]:
        func = call.func
        if isinstance(func, ast.Name) and func.id == "print":
            if any(k.arg == "file" and not _is_std_stream(k.value) for k in call.keywords):
                return []  # written to a file, not to the run's output
            sep = next((k.value.value for k in call.keywords if k.arg == "sep" and isinstance(k.value, ast.Constant)
                        and isinstance(k.value.value, str)), " ")
            if any(isinstance(a, ast.Starred) for a in call.args):
                return []
            parts = [self.render(a, {}) for a in call.args]
            return [sep.join(p) for p in _product(parts)]
        if not isinstance(func, ast.Attribute):
            return []
        owner = dotted_name(func.value, through_calls=True)  # logging.getLogger(__name__).info(...)
        if func.attr == "write" and owner in ("sys.stdout", "sys.stderr", "tqdm", "tqdm.tqdm") and call.args:
            return self.render(call.args[0], {})
        if func.attr in _LOG_METHODS and owner and "log" in owner.rsplit(".", 1)[-1].lower():
            args = call.args[1:] if func.attr == "log" else call.args
            if not args:
                return []
            if len(args) > 1 and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                return [_percent(args[0].value)]  # logging %-formats its message with the extra args
            return self.render(args[0], {})
        return []

    # ------------------------------------------------------------------ expressions
    def render(self, node: ast.expr, env: dict[str, str], depth: int = 0) -> list[str]:
        """Every text ``node`` may print (several when a name is bound more than once)."""
        if depth > _MAX_DEPTH:
            return [_VALUE]
        if isinstance(node, ast.Constant):
            return [node.value if isinstance(node.value, str) else _VALUE]
        if isinstance(node, ast.JoinedStr):
            pieces: list[list[str]] = []
            for part in node.values:
                if isinstance(part, ast.Constant):
                    pieces.append([str(part.value)])
                elif isinstance(part, ast.FormattedValue):
                    inner = part.value
                    pieces.append([env[inner.id]] if isinstance(inner, ast.Name) and inner.id in env else [_VALUE])
            return ["".join(p) for p in _product(pieces)]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return ["".join(p) for p in _product([self.render(node.left, env, depth + 1),
                                                   self.render(node.right, env, depth + 1)])]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) \
                and isinstance(node.left.value, str):
            return [_percent(node.left.value)]
        if isinstance(node, ast.Name):
            if node.id in env:
                return [env[node.id]]
            bound = self.strings.get(node.id)
            if bound:
                return [t for expr in bound for t in self.render(expr, env, depth + 1)][:64]
            return [_VALUE]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            if isinstance(base, ast.Constant) and isinstance(base.value, str):
                if node.func.attr == "format":
                    return [_brace(base.value)]
                if node.func.attr == "join" and node.args:
                    return self._join(base.value, node.args[0], env, depth)
        return [_VALUE]

    def _join(self, sep: str, arg: ast.expr, env: dict[str, str], depth: int) -> list[str]:
        """``sep.join(f"{k}: {v}" for k, v in d.items())``: one element per literal key of ``d``."""
        if not isinstance(arg, ast.GeneratorExp | ast.ListComp) or len(arg.generators) != 1:
            return [_VALUE]
        gen = arg.generators[0]
        source = _iterated_dict(arg.generators)
        key_var = gen.target.elts[0] if isinstance(gen.target, ast.Tuple) and gen.target.elts else gen.target
        if source is None or not isinstance(key_var, ast.Name):
            return [_VALUE]
        items = []
        for key in self.keys_of(source):
            items.append(self.render(arg.elt, {**env, key_var.id: key}, depth + 1)[0])
        return [sep.join(items)] if items else [_VALUE]


def _iterated_dict(generators: list[ast.comprehension]) -> str | None:
    """The dict a comprehension walks: ``d``, ``d.items()`` or ``d.keys()`` -> "d"."""
    it = generators[0].iter if generators else None
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr in ("items", "keys") \
            and isinstance(it.func.value, ast.Name):
        return it.func.value.id
    return it.id if isinstance(it, ast.Name) else None


def _percent(fmt: str) -> str:
    return _PERCENT_RE.sub(lambda m: "%" if m.group(1) == "%" else _VALUE, fmt)


def _brace(fmt: str) -> str:
    try:
        parts = list(string.Formatter().parse(fmt))
    except ValueError:
        return fmt
    return "".join(literal + (_VALUE if name is not None else "") for literal, name, _spec, _conv in parts)


def _is_std_stream(node: ast.expr) -> bool:
    return dotted_name(node, through_calls=True) in ("sys.stdout", "sys.stderr")


def _product(parts: list[list[str]], limit: int = 64) -> list[list[str]]:
    """Every combination of the alternatives, capped: a name bound many times must not explode."""
    out: list[list[str]] = [[]]
    for alternatives in parts:
        out = [prefix + [a] for prefix in out for a in alternatives][:limit]
    return out
