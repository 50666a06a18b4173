"""The test suite's own layout: no module imports from a conftest (a conftest is
pytest's, loaded once under its own rules; importing it again runs it twice and
hides where a fixture comes from). Plain helpers live in ``tests/support/``;
fixtures that several directories use are a plugin listed in the root
conftest's ``pytest_plugins``, the only place pytest accepts it. Read from each
file's AST (function-level imports included), so a break names file and line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _package(path: Path) -> list[str]:
    return list(path.relative_to(ROOT).with_suffix("").parts[:-1])


def conftest_imports(path: Path, source: str | None = None) -> list[str]:
    """``file:line: module`` for each import of a conftest module in ``path``."""
    tree = ast.parse(source if source is not None else path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(path)[:len(_package(path)) - (node.level - 1)] if node.level > 1 else _package(path)
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            modules = [prefix, *(f"{prefix}.{a.name}" for a in node.names)]
        else:
            continue
        if any("conftest" in m.split(".") for m in modules):
            found.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno}: {max(modules, key=len)}")
    return found


def test_no_module_imports_from_a_conftest():
    offenders = [hit for path in sorted(TESTS.rglob("*.py")) if "__pycache__" not in path.parts
                 for hit in conftest_imports(path)]
    assert not offenders, ("import helpers from tests/support/ (and list shared fixtures in tests/conftest.py's "
                           "pytest_plugins) instead of from a conftest:\n" + "\n".join(offenders))


def test_only_the_root_conftest_lists_plugins():
    listed = [p.relative_to(ROOT).as_posix() for p in sorted(TESTS.rglob("conftest.py"))
              if any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "pytest_plugins" for t in n.targets)
                     for n in ast.parse(p.read_text()).body)]
    assert listed in ([], ["tests/conftest.py"]), listed


@pytest.mark.parametrize("source", [
    "from tests.conftest import ROOT",
    "from tests.ui.conftest import make_model",
    "import tests.browser.conftest",
    "from tests.ui import conftest",
    "from .conftest import frame",
    "from . import conftest",
    "def f():\n    from tests.security.conftest import outcomes\n",
])
def test_the_check_sees_every_form_of_the_import(source):
    assert conftest_imports(TESTS / "ui" / "test_x.py", source)


@pytest.mark.parametrize("source", ["from tests.support.ui import make_model", "import tests.support.browser",
                                    "from tests.support import paths"])
def test_the_check_lets_support_imports_pass(source):
    assert not conftest_imports(TESTS / "ui" / "test_x.py", source)
