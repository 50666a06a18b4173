"""The ``ast`` walk behind ``read_arguments``: parsers, groups and subparsers are followed by name,
every ``add_argument`` call becomes an ``ArgSpec``; literals (and module-level constants) are
evaluated statically, anything else is kept as source text and marked computed."""

from __future__ import annotations

import ast
import math
from typing import Any

from shared.contract.argspec import ArgSpec
from shared.core.i18n import N_

_PARSER_CLASSES = {"ArgumentParser", "ArgParser"}


_GROUP_METHODS = {"add_argument_group", "add_mutually_exclusive_group"}


_NARGS_CONSTANTS = {"OPTIONAL": "?", "ZERO_OR_MORE": "*", "ONE_OR_MORE": "+", "REMAINDER": "...",
                    "PARSER": "A..."}


_TYPE_NAMES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "Path": "Path",
               "pathlib.Path": "Path", "PosixPath": "Path"}


_SKIPPED_ACTIONS = {"help", "version"}


_MAX_RANGE_CHOICES = 1000


def dotted_name(node: ast.AST, *, through_calls: bool = False) -> str | None:
    """``a.b.c`` for a name or attribute chain, else None. ``through_calls`` reads a call as what it calls,
    so ``logging.getLogger(__name__).info`` is ``logging.getLogger.info``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value, through_calls=through_calls)
        return f"{base}.{node.attr}" if base else None
    if through_calls and isinstance(node, ast.Call):
        return dotted_name(node.func, through_calls=True)
    return None




def _jsonable(value: Any) -> tuple[bool, Any]:
    if value is None or isinstance(value, bool | int | str):
        return True, value
    if isinstance(value, float):
        return (math.isfinite(value), value)
    if isinstance(value, list | tuple):
        items = [_jsonable(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, set | frozenset):
        ok, items = _jsonable(list(value))
        try:
            return ok, sorted(items)
        except TypeError:
            return ok, items
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return False, None
        items = {k: _jsonable(v) for k, v in value.items()}
        return all(ok for ok, _ in items.values()), {k: v for k, (_, v) in items.items()}
    return False, None  # bytes, complex, Ellipsis


class ArgparseReader:
    def __init__(self, tree: ast.Module, source: str, filename: str) -> None:
        self.tree = tree
        self.source = source
        self.filename = filename
        self.warnings: list[str] = []
        self.kinds: dict[str, str] = {}  # receiver text -> parser | group | subparsers | subparser
        self.constants = self._module_constants()

    def text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ast.unparse(node)

    def warn(self, node: ast.AST, message: str) -> None:
        # "<file> line N: <message>", the dataset problems' shape, which relocalize reads back place first.
        where = N_("line {line}").format(line=getattr(node, "lineno", "?"))
        self.warnings.append(f"{self.filename} {where}: {message}")

    def _module_constants(self) -> dict[str, ast.AST]:
        """Names bound exactly once in the whole file, at module level, to a literal (MODELS = [...])."""
        counts: dict[str, int] = {}
        for node in ast.walk(self.tree):
            targets: list[ast.AST] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
                targets = [node.target]
            elif isinstance(node, ast.For | ast.comprehension):
                targets = [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        counts[n.id] = counts.get(n.id, 0) + 1
            if isinstance(node, ast.Global):
                for name in node.names:
                    counts[name] = counts.get(name, 0) + 2
        out: dict[str, ast.AST] = {}
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if counts.get(name) == 1 and self._literal(node.value, resolve=False)[0]:
                    out[name] = node.value
        return out

    def _literal(self, node: ast.AST, *, resolve: bool = True) -> tuple[bool, Any]:
        if resolve and isinstance(node, ast.Name) and node.id in self.constants:
            node = self.constants[node.id]
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False, None
        return _jsonable(value)

    # -- receivers --------------------------------------------------------
    def _kind_of_call(self, call: ast.Call) -> str | None:
        func = call.func
        dotted = dotted_name(func)
        if dotted and dotted.rsplit(".", 1)[-1] in _PARSER_CLASSES:
            return "parser"
        if isinstance(func, ast.Attribute):
            base = self._kind_of(func.value)
            if func.attr in _GROUP_METHODS:
                return "subgroup" if base in ("subparser", "subgroup") else "group"
            if func.attr == "add_subparsers":
                return "subparsers"
            if func.attr == "add_parser" and base == "subparsers":
                return "subparser"
        return None

    def _kind_of(self, node: ast.AST) -> str:
        if isinstance(node, ast.Call):
            return self._kind_of_call(node) or "unknown"
        return self.kinds.get(ast.unparse(node), "unknown")

    def _bind(self, node: ast.AST) -> None:
        value: ast.AST | None = None
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            value, targets = node.value, node.targets
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            value, targets = node.value, [node.target]
        if not isinstance(value, ast.Call):
            return
        kind = self._kind_of_call(value)
        if kind is None:
            return
        for t in targets:
            if isinstance(t, ast.Name | ast.Attribute):
                self.kinds[ast.unparse(t)] = kind

    # -- reading ----------------------------------------------------------
    def read(self) -> list[ArgSpec]:
        events: list[ast.AST] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr):
                events.append(node)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("add_argument", "set_defaults"):
                events.append(node)
        # Source order, and a binding before the calls on its own line (`g = p.add_argument_group()`).
        events.sort(key=lambda n: (n.lineno, n.col_offset, 0 if not isinstance(n, ast.Call) else 1))
        specs: list[ArgSpec] = []
        by_dest: dict[str, ArgSpec] = {}
        warned_sub: set[str] = set()
        for node in events:
            if not isinstance(node, ast.Call):
                self._bind(node)
                continue
            func = node.func
            if not isinstance(func, ast.Attribute):
                continue
            receiver = func.value
            kind = self._kind_of(receiver)
            if kind in ("subparser", "subgroup", "subparsers"):
                key = ast.unparse(receiver)
                if key not in warned_sub:
                    warned_sub.add(key)
                    self.warn(node, N_("arguments of the sub-command parser `{parser}` are not shown; the platform "
                                       "runs the script without a sub-command, so give the main parser the "
                                       "arguments instead").format(parser=key))
                continue
            if func.attr == "set_defaults":
                self._set_defaults(node, by_dest)
                continue
            spec = self._argument(node)
            if spec is None:
                continue
            first = by_dest.get(spec.dest)
            if first is not None:
                self.warn(node, N_("`{flag}` stores into `{dest}`, which `{other}` on line {line} already uses; "
                                   "only the first one is shown").format(flag=spec.flags[0], dest=spec.dest,
                                                                         other=first.flags[0], line=first.line))
                continue
            by_dest[spec.dest] = spec
            specs.append(spec)
        return specs

    def _set_defaults(self, node: ast.Call, by_dest: dict[str, ArgSpec]) -> None:
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in by_dest:
                continue  # a default for an argument not declared yet is picked up by argparse later
            spec = by_dest[kw.arg]
            self._apply_default(spec, kw.value)

    def _apply_default(self, spec: ArgSpec, node: ast.AST) -> None:
        ok, value = self._literal(node)
        spec.default_text = self.text(node)
        if ok:
            if isinstance(value, str) and spec.type in ("int", "float") and spec.nargs is None:
                # argparse runs string defaults through `type`, so default="0.01" is 0.01.
                try:
                    value = int(value) if spec.type == "int" else float(value)
                except ValueError:
                    pass
            spec.default, spec.default_computed = value, False
        else:
            spec.default, spec.default_computed = None, True

    def _argument(self, node: ast.Call) -> ArgSpec | None:
        flags: list[str] = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                self.warn(node, N_("`{call}` unpacks its names at run time; write the option strings out so the "
                                   "platform can read the argument").format(call=f"add_argument({self.text(a)}, ...)"))
                return None
            if not (isinstance(a, ast.Constant) and isinstance(a.value, str)):
                self.warn(node, N_("the argument name `{name}` is not a string literal; it is not shown").format(
                    name=self.text(a)))
                return None
            flags.append(a.value)
        if not flags:
            self.warn(node, N_("`add_argument()` without a name is skipped"))
            return None
        kw: dict[str, ast.AST] = {}
        for k in node.keywords:
            if k.arg is None:
                self.warn(node, N_("keyword arguments from `{value}` are not read; write them out to show their "
                                   "type, default and help").format(value=f"**{self.text(k.value)}"))
            else:
                kw[k.arg] = k.value
        action = self._action(kw.get("action"))
        if action in _SKIPPED_ACTIONS:
            return None
        positional = len(flags) == 1 and not flags[0].startswith("-")
        if positional:
            dest = name = flags[0]
        else:
            longs = [f for f in flags if f.startswith("--") and len(f) > 2]
            primary = longs[0] if longs else flags[0]
            name = primary.lstrip("-")
            dest = name.replace("-", "_")
        if "dest" in kw and not positional:
            ok, value = self._literal(kw["dest"])
            if ok and isinstance(value, str) and value:
                dest = value
            else:
                self.warn(node, N_("`{given}` is not a string literal; using `{dest}`").format(
                    given=f"dest={self.text(kw['dest'])}", dest=dest))
        spec = ArgSpec(flags=flags, dest=dest, name=name, positional=positional, action=action,
                       line=node.lineno)
        spec.nargs = self._nargs(kw.get("nargs"))
        if "const" in kw:
            spec.const = self._literal(kw["const"])[1]
        spec.type = self._type(kw.get("type"), action, spec.const)
        if "type" not in kw and spec.nargs == "?" and isinstance(spec.const, bool):
            # YOLOv5's `--resume`: nargs='?', const=True, no type. A switch, not a string field.
            spec.type = "bool"
        if "default" in kw:
            self._apply_default(spec, kw["default"])
        elif action == "store_true":
            spec.default = False
        elif action == "store_false":
            spec.default = True
        if "choices" in kw:
            self._choices(spec, kw["choices"])
        spec.required = self._required(kw.get("required"), positional, spec.nargs)
        if "help" in kw:
            spec.help = self._help(kw["help"])
        if "metavar" in kw:
            ok, value = self._literal(kw["metavar"])
            spec.metavar = value if ok and isinstance(value, str) else None
        return spec

    def _action(self, node: ast.AST | None) -> str | None:
        if node is None:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        dotted = dotted_name(node)
        if dotted and dotted.startswith("argparse."):
            return dotted[len("argparse."):]
        return dotted or self.text(node)

    def _type(self, node: ast.AST | None, action: str | None, const: Any) -> str:
        if node is None:
            if action in ("store_true", "store_false", "BooleanOptionalAction"):
                return "bool"
            if action == "count":
                return "int"
            if action in ("store_const", "append_const") and isinstance(const, bool | int | float):
                return type(const).__name__
            return "str"
        if isinstance(node, ast.Lambda):
            return "lambda"
        dotted = dotted_name(node)
        if dotted is not None:
            if dotted in _TYPE_NAMES:
                return _TYPE_NAMES[dotted]
            if dotted.endswith(".Path"):
                return "Path"
            return dotted
        return self.text(node)

    def _nargs(self, node: ast.AST | None) -> str | int | None:
        if node is None:
            return None
        ok, value = self._literal(node)
        if ok and isinstance(value, str | int) and not isinstance(value, bool):
            return value
        dotted = dotted_name(node)
        if dotted and dotted.rsplit(".", 1)[-1] in _NARGS_CONSTANTS:
            return _NARGS_CONSTANTS[dotted.rsplit(".", 1)[-1]]
        return self.text(node)

    def _choices(self, spec: ArgSpec, node: ast.AST) -> None:
        spec.choices_text = self.text(node)
        ok, value = self._literal(node)
        if ok and isinstance(value, list | dict):
            spec.choices = list(value)
            return
        if isinstance(node, ast.Call) and dotted_name(node.func) == "range" and not node.keywords:
            parts = [self._literal(a) for a in node.args]
            if 1 <= len(parts) <= 3 and all(ok and isinstance(v, int) for ok, v in parts):
                r = range(*(v for _, v in parts))
                if len(r) <= _MAX_RANGE_CHOICES:
                    spec.choices = list(r)
                    return
        spec.choices, spec.choices_computed = None, True

    def _required(self, node: ast.AST | None, positional: bool, nargs: str | int | None) -> bool:
        if positional:
            return nargs not in ("?", "*", "...")
        if node is None:
            return False
        ok, value = self._literal(node)
        return bool(value) if ok else False

    def _help(self, node: ast.AST) -> str | None:
        if dotted_name(node) in ("argparse.SUPPRESS", "SUPPRESS"):
            return None
        ok, value = self._literal(node)
        if ok and isinstance(value, str):
            return value
        return self.text(node)
