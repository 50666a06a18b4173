"""Global-variable substitution (CONTRACT §2.3): in a *copy* of the script,
every whole string literal equal to a variable name (``"DATA_PATH"``) is
replaced by the real value, written as a correctly escaped Python literal.
``"MY_DATA_PATH"``, comments and substrings are left alone. The positions come
from ``ast``, so strings inside strings or comments are never touched.

``substitute_package`` applies the same rule to the package's config files
(``*.py``, ``*.yaml``, ``*.yml``, ``*.json``), writing each value in that
file's own syntax: MM-style configs hold ``data_root = 'DATA_PATH'``.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path, PurePosixPath

from shared.contract.configs import list_config_files, literal_spans, read_config_text
from shared.contract.names import TRAIN_SCRIPT
from shared.core.errors import PackageError
from shared.core.i18n import N_


def _literal(name: str, value: object) -> str:
    if name == "LABEL_CLASS_COUNT":
        # The contract types it as int: an int literal works both as int("…") and as a number.
        try:
            return repr(int(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return repr(str(value))
    return repr(str(value))


def _in_fstring_ranges(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            for child in ast.walk(node):
                ids.add(id(child))
    return ids


def substitute(*, source: str, values: dict[str, object], filename: str = TRAIN_SCRIPT) -> tuple[str, list[str]]:
    """Return (new_source, names_replaced). ``values`` maps global names to real values."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise PackageError(N_("{filename} line {line}: SyntaxError: {msg}"),
                           params={"filename": filename, "line": exc.lineno, "msg": exc.msg}) from exc
    skip = _in_fstring_ranges(tree)
    hits: list[tuple[int, int, int, int, str]] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in values
                and id(node) not in skip and node.end_lineno is not None and node.end_col_offset is not None):
            hits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, node.value))
    if not hits:
        return source, []
    # ast offsets are UTF-8 byte offsets within a line: edit bytes, line by line, from the end.
    lines = source.encode("utf-8").splitlines(keepends=True)
    for lineno, col, end_lineno, end_col, name in sorted(hits, reverse=True):
        lit = _literal(name, values[name]).encode("utf-8")
        first, last = lines[lineno - 1], lines[end_lineno - 1]
        lines[lineno - 1] = first[:col] + lit + last[end_col:]
        for i in range(lineno, end_lineno):
            lines[i] = b""
    replaced = sorted({h[4] for h in hits})
    return b"".join(lines).decode("utf-8"), replaced


def _config_literal(name: str, value: object, suffix: str) -> str:
    if suffix == ".py":
        return _literal(name, value)
    if name == "LABEL_CLASS_COUNT":
        try:
            return str(int(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    # A JSON string is also a valid YAML double-quoted scalar; ASCII escapes keep it so in both.
    return json.dumps(str(value), ensure_ascii=True)


def substitute_text(*, text: str, values: dict[str, object], filename: str) -> tuple[str, list[str]]:
    """Replace in one config file's text by its suffix; (new text, names replaced). PackageError when it
    does not parse."""
    suffix = PurePosixPath(filename).suffix.lower()
    hits = sorted((s for s in literal_spans(text, filename=filename) if s.value in values),
                  key=lambda s: s.start, reverse=True)
    for span in hits:
        text = text[:span.start] + _config_literal(span.value, values[span.value], suffix) + text[span.end:]
    return text, sorted({s.value for s in hits})


def substitute_package(*, root: Path, values: dict[str, object], skip: tuple[str, ...] = (TRAIN_SCRIPT,)
                       ) -> dict[str, list[str]]:
    """Replace the variables in every config file of a package copy, in place; ``{file: names}``.

    A file that does not parse is left as it is: its upload already warned that its variables are
    not replaced, and the script may never read it."""
    done: dict[str, list[str]] = {}
    for rel in list_config_files(root):
        if rel in skip:
            continue
        path = Path(root) / rel
        text = read_config_text(path)
        if text is None:
            continue
        try:
            new, replaced = substitute_text(text=text, values=values, filename=rel)
        except PackageError:
            continue
        if replaced:
            path.write_text(new, encoding="utf-8")
            done[rel] = replaced
    return done
