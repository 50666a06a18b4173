"""Global-variable substitution (CONTRACT §2.3): in a *copy* of the script,
every whole string literal equal to a variable name (``"DATA_PATH"``) is
replaced by the real value, written as a correctly escaped Python literal.
``"MY_DATA_PATH"``, comments and substrings are left alone. The positions come
from ``ast``, so strings inside strings or comments are never touched.
"""

from __future__ import annotations

import ast

from shared.contract.names import TRAIN_SCRIPT
from shared.core.errors import PackageError


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
        raise PackageError(f"{filename} line {exc.lineno}: SyntaxError: {exc.msg}") from exc
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
