"""The import rules and the module size limit, read from the product code's
AST (function-level imports included), so a break names its file, line and rule.

Product code is every ``.py`` under ``shared/``, ``runner/`` and
``streamlit_app/``; tests, examples and bench are not product code."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("shared", "runner", "streamlit_app")
PROJECT = ("shared", "runner", "streamlit_app", "examples", "bench", "tests")
MAX_LINES = 400


def product_files(root: Path = ROOT) -> list[Path]:
    return sorted(p for top in PRODUCT for p in (root / top).rglob("*.py") if "__pycache__" not in p.parts)


def rel(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root).as_posix()


@dataclass(frozen=True)
class Use:
    """One imported module (``from a import b`` gives ``a`` and ``a.b``: b may be a module)."""

    file: str
    line: int
    module: str


def imports(path: Path, root: Path = ROOT) -> Iterator[Use]:
    name = rel(path, root)
    package = list(Path(name).parent.parts)  # what a relative import counts up from
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):  # every level: module, function and class bodies
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Use(name, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] + ([node.module] if node.module else [])
                module = ".".join(base)
            else:
                module = node.module or ""
            yield Use(name, node.lineno, module)
            for alias in node.names:
                yield Use(name, node.lineno, f"{module}.{alias.name}")


def _under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Rule:
    text: str
    applies: Callable[[str], bool]      # to a file (posix path from the root)
    forbidden: Callable[[str], bool]    # for an imported module


RULES = [
    Rule("streamlit_app imports only `shared` among the project's packages (never `runner`)",
         lambda f: f.startswith("streamlit_app/"),
         lambda m: _under(m, *PROJECT) and not _under(m, "shared", "streamlit_app")),
    Rule("streamlit_app goes through shared/services: no RQ, no `select`, no shared.core.queue",
         lambda f: f.startswith("streamlit_app/"),
         lambda m: _under(m, "rq", "shared.core.queue", "sqlmodel.select", "sqlalchemy.select")),
    Rule("runner never imports streamlit",
         lambda f: f.startswith("runner/"),
         lambda m: _under(m, "streamlit")),
    Rule("shared/contract is pure: no sqlmodel, sqlalchemy, redis, rq, shared.core.db, shared.core.queue "
         "or shared.services",
         lambda f: f.startswith("shared/contract/"),
         lambda m: _under(m, "sqlmodel", "sqlalchemy", "redis", "rq", "shared.core.db", "shared.core.queue",
                          "shared.services")),
    Rule("shared never imports runner or streamlit",
         lambda f: f.startswith("shared/"),
         lambda m: _under(m, "runner", "streamlit")),
]


def violations(rule: Rule, files: list[Path], root: Path = ROOT) -> list[str]:
    out = []
    for path in files:
        if not rule.applies(rel(path, root)):
            continue
        seen: set[tuple[int, str]] = set()
        for use in imports(path, root):
            if rule.forbidden(use.module) and (use.line, use.module) not in seen:
                seen.add((use.line, use.module))
                out.append(f"{use.file}:{use.line}: imports {use.module}: breaks the rule: {rule.text}")
    return out


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.text.split(":")[0][:60])
def test_import_rule(rule):
    found = violations(rule, product_files())
    assert not found, "\n" + "\n".join(found)


def test_streamlit_app_runs_no_queries():
    """``session.exec`` belongs in shared/services, whatever name the session goes by."""
    found = []
    for path in product_files():
        if not rel(path).startswith("streamlit_app/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("exec", "execute", "select"):
                found.append(f"{rel(path)}:{node.lineno}: calls .{node.attr}: breaks the rule: pages and "
                             "components call shared/services, which run the queries")
    assert not found, "\n" + "\n".join(found)


@pytest.mark.parametrize("path", product_files(), ids=rel)
def test_module_size(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, (f"{rel(path)}:{MAX_LINES + 1}: {n} lines: breaks the rule: no product module over "
                            f"{MAX_LINES} lines (split it by concern)")


# --------------------------------------------------------------------------- the checker itself


def test_the_checker_sees_function_level_and_relative_imports(tmp_path):
    """A rule that never fires is no rule: plant each break and see it named with its line."""
    planted = {
        "streamlit_app/views/bad.py": "import os\n\ndef f():\n    from runner import jobs\n",
        "streamlit_app/components/q.py": "from sqlmodel import Session, select\n",
        "runner/x.py": "def g():\n    import streamlit as st\n",
        "shared/contract/y.py": "from ..core import queue\n",
        "shared/services/z.py": "from runner.context import current\n",
        "tests/t.py": "import runner\n",  # not product code
    }
    for name, text in planted.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    files = product_files(tmp_path)
    assert [rel(f, tmp_path) for f in files] == sorted(n for n in planted if not n.startswith("tests/"))
    found = [v for rule in RULES for v in violations(rule, files, tmp_path)]
    assert any(v.startswith("streamlit_app/views/bad.py:4: imports runner") and "never `runner`" in v for v in found)
    assert any(v.startswith("streamlit_app/components/q.py:1: imports sqlmodel.select") for v in found)
    assert any(v.startswith("runner/x.py:2: imports streamlit") for v in found)
    assert any(v.startswith("shared/contract/y.py:1: imports shared.core.queue") for v in found)
    assert any(v.startswith("shared/services/z.py:1: imports runner.context") for v in found)
    assert not any("imports os" in v for v in found)
