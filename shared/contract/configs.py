"""A package's config files: which arguments take one, which files are offered,
and where global variables sit in them (CONTRACT §2.3, applied beyond train.py).

MM-style scripts take their settings, the dataset path included, from a config
file (``data_root = 'DATA_PATH'`` in ``configs/…/x.py``), so the variables are
found, and at run time replaced, in ``*.py``, ``*.yaml``, ``*.yml`` and ``*.json``
files as well. The rule is the one train.py has: a whole string literal (a
string scalar, in YAML and JSON) equal to a variable's name; never a substring,
a comment or an f-string piece. Positions come from the file's own parser
(``ast``, PyYAML's composer, a JSON string scan checked by ``json``), so text
that only looks like a literal is never touched.
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from shared.contract.names import CONFIG_DIR, CONFIG_SUFFIXES, GLOBAL_VARIABLES, PREDICT_SCRIPT, TRAIN_SCRIPT
from shared.core.errors import FieldError, PackageError
from shared.core.i18n import N_

_CONFIG_WORD = re.compile(r"(?:^|[-_])(config|cfg|configs)(?:$|[-_])", re.IGNORECASE)
_HELP_WORD = re.compile(r"\bconfig(?:uration)?s?\b", re.IGNORECASE)
# JSON strings: the text is valid JSON (checked first), so every '"' outside a string opens one.
_YAML_PROPERTY = re.compile(r"[&!][^\s,\[\]{}]*\s+")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_MAX_FILES = 5000
_MAX_BYTES = 8 * 1024 * 1024  # larger files are data, not settings


@dataclass(frozen=True)
class Span:
    start: int  # character offsets into the text
    end: int
    value: str


def is_config_arg(spec: Any) -> bool:
    """A single-value text argument whose name or help says config (MM's positional ``config``)."""
    if getattr(spec, "role", None) or getattr(spec, "choices", None):
        return False
    if getattr(spec, "action", None) not in (None, "store") or getattr(spec, "type", "str") not in ("str", "Path"):
        return False
    nargs = getattr(spec, "nargs", None)
    if nargs not in (None, 1) and not (nargs == "?" and getattr(spec, "const", None) is None):
        return False
    names = [getattr(spec, "name", ""), getattr(spec, "dest", ""), *(getattr(spec, "flags", None) or [])]
    if any(_CONFIG_WORD.search(n.lstrip("-")) for n in names if n):
        return True
    return bool(_HELP_WORD.search(getattr(spec, "help", None) or ""))


def list_config_files(root: Path) -> list[str]:
    """Every file with a config suffix in the package, as sorted relative POSIX paths (links never followed)."""
    root = Path(root)
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in sorted(filenames):
            path = Path(dirpath) / f
            if path.suffix.lower() in CONFIG_SUFFIXES and not path.is_symlink():
                found.append(path.relative_to(root).as_posix())
                if len(found) >= _MAX_FILES:
                    return sorted(found)
    return sorted(found)


def offered(config_files: list[str]) -> list[str]:
    """The files a config picker offers: those under ``configs/``, ``_base_`` fragments last."""
    under = [f for f in config_files if PurePosixPath(f).parts[:1] == (CONFIG_DIR,)]
    return sorted(under, key=lambda f: ("_base_" in PurePosixPath(f).parts, f))


def check_config_value(value: str, config_files: list[str], *, field: str) -> str:
    """The chosen config file, normalised; a FieldError naming the argument when it is not in the package."""
    text = str(value).strip()
    rel = PurePosixPath(text[2:] if text.startswith("./") else text).as_posix()
    if rel in config_files:
        return rel
    if not rel.lower().endswith(CONFIG_SUFFIXES):
        # Not a file name at all (an inline JSON text, a hex blob, a preset name such as "yolov5s"):
        # the argument takes it as it is; only a named config file has to be in the package.
        return text
    shown = offered(config_files) or config_files
    if not shown:
        raise FieldError(field, N_("{text!r} is not a config file of the model package, which has none ({suffixes} "
                                   "files)"),
                                params={"text": text, "suffixes": ', '.join(CONFIG_SUFFIXES)})
    listing = ", ".join(shown[:12]) + (f" and {len(shown) - 12} more" if len(shown) > 12 else "")
    raise FieldError(field, N_("{text!r} is not a config file of the model package; pick one of {listing}"),
                            params={"text": text, "listing": listing})


# --------------------------------------------------------------------------- literal positions


def _python_spans(text: str, filename: str) -> list[Span]:
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        raise PackageError(N_("{filename} line {line}: SyntaxError: {msg}"),
                           params={"filename": filename, "line": exc.lineno, "msg": exc.msg}) from None
    except ValueError as exc:  # NUL bytes
        raise PackageError(N_("{filename}: {exc}"), params={"filename": filename, "exc": exc}) from None
    in_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            in_fstrings.update(id(n) for n in ast.walk(node))
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:
        # ast columns are UTF-8 byte offsets within the line.
        line = lines[lineno - 1] if lineno - 1 < len(lines) else ""
        return starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))

    spans = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_fstrings
                and node.end_lineno is not None and node.end_col_offset is not None):
            spans.append(Span(offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset),
                              node.value))
    return spans


def _yaml_spans(text: str, filename: str) -> list[Span]:
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise PackageError(N_("{filename}{where}: not valid YAML ({problem})"),
                           params={"filename": filename, "where": where,
                                   "problem": getattr(exc, 'problem', None) or exc}) from None
    spans: dict[int, Span] = {}
    seen: set[int] = set()
    stack: list[yaml.Node] = [d for d in docs if d is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias is the same node again
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            # Plain and quoted string scalars only: a block scalar's span runs to the next line's indent.
            if node.tag == "tag:yaml.org,2002:str" and node.style in (None, "'", '"'):
                start, end = node.start_mark.index, node.end_mark.index
                # The node's span starts at its anchor or tag (`&root DATA_PATH`): those stay as written.
                while (m := _YAML_PROPERTY.match(text, start, end)) is not None:
                    start = m.end()
                spans[start] = Span(start, end, node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    return list(spans.values())


def _json_spans(text: str, filename: str) -> list[Span]:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise PackageError(N_("{filename} line {line}: not valid JSON ({msg})"),
                           params={"filename": filename, "line": exc.lineno, "msg": exc.msg}) from None
    return [Span(m.start(), m.end(), json.loads(m.group())) for m in _JSON_STRING.finditer(text)]


def literal_spans(text: str, *, filename: str) -> list[Span]:
    """Every whole string literal (Python) or string scalar (YAML, JSON) in ``text``, by the file's suffix."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix == ".py":
        return _python_spans(text, filename)
    if suffix in (".yaml", ".yml"):
        return _yaml_spans(text, filename)
    if suffix == ".json":
        return _json_spans(text, filename)
    raise PackageError(N_("{filename}: not a config file ({suffixes})"),
                       params={"filename": filename, "suffixes": ', '.join(CONFIG_SUFFIXES)})


def read_config_text(path: Path) -> str | None:
    """A config file's text, or None when it cannot hold a global variable (too big, not UTF-8, no name in it)."""
    try:
        if path.is_symlink() or path.stat().st_size > _MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if not any(name.encode() in data for name in GLOBAL_VARIABLES):
        return None  # the cheap test first: most files never mention a variable
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def globals_in_files(root: Path, config_files: list[str], names: tuple[str, ...] = GLOBAL_VARIABLES
                     ) -> tuple[dict[str, list[str]], list[str]]:
    """``({relative path: [variables used]}, warnings)`` over the package's config files.
    train.py and predict.py are left out: their own reports list theirs."""
    found: dict[str, list[str]] = {}
    warnings: list[str] = []
    for rel in config_files:
        if rel in (TRAIN_SCRIPT, PREDICT_SCRIPT):
            continue
        text = read_config_text(Path(root) / rel)
        if text is None:
            continue
        try:
            used = {s.value for s in literal_spans(text, filename=rel) if s.value in names}
        except PackageError as exc:
            if any(n in text for n in names):
                warnings.append(N_("{error}; the global variables in it are not replaced").format(error=exc))
            continue
        if used:
            found[rel] = [n for n in names if n in used]
    return found, warnings
