"""Every named exception's message is a catalog entry: each construction of a
``TrainyardError`` subclass in shared/ and runner/ passes ``N_("literal template")``
(parameters in ``params``), never an f-string or a built string, and the template is in
shared/locale/trainyard.pot (``python3 dev.py i18n`` was run). Then a few messages read
in Chinese with their parameters filled."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shared.core.errors import FieldError, NotFoundError, PermissionDenied
from shared.core.i18n import Language, catalog, use_language

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "shared" / "locale" / "trainyard.pot"


def _sources() -> list[Path]:
    return sorted([*(ROOT / "shared").rglob("*.py"), *(ROOT / "runner").rglob("*.py")])


def error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """TrainyardError and every class deriving from it (by name, across the two packages)."""
    names = {"TrainyardError"}
    bases = {node.name: {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
             for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    grew = True
    while grew:
        found = {name for name, of in bases.items() if of & names} - names
        names |= found
        grew = bool(found)
    return names


def _template_arg(call: ast.Call, cls: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg in ("message", "template"):
            return kw.value
    idx = 1 if cls == "FieldError" else 0
    return call.args[idx] if len(call.args) > idx else None


def bad_constructions(tree: ast.Module, classes: set[str]) -> list[tuple[int, str]]:
    """(line, why) for each construction whose message is not ``N_("literal")``; the literals found go to ``seen``."""
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in classes:
            continue
        arg = _template_arg(node, name)
        if arg is None:
            bad.append((node.lineno, f"{name}() without a message"))
        elif not (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "N_"
                  and len(arg.args) == 1 and isinstance(arg.args[0], ast.Constant)
                  and isinstance(arg.args[0].value, str)):
            bad.append((node.lineno, f"{name}() message is {type(arg).__name__}, not N_(\"literal template\")"))
    return bad


def templates(tree: ast.Module, classes: set[str]) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            arg = _template_arg(node, name) if name in classes else None
            if isinstance(arg, ast.Call) and arg.args and isinstance(arg.args[0], ast.Constant):
                out.append(arg.args[0].value)
    return out


@pytest.fixture(scope="module")
def trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8"), filename=str(p)) for p in _sources()}


def test_every_error_message_is_a_literal_template(trees):
    classes = error_classes(trees)
    assert {"FieldError", "PermissionDenied", "CliError", "RedisAuthError"} <= classes
    bad = [f"{p.relative_to(ROOT)}:{line}: {why}" for p, tree in trees.items()
           for line, why in bad_constructions(tree, classes)]
    assert not bad, "messages must be N_(\"template\") with params={...}:\n" + "\n".join(bad)


def test_the_check_catches_built_messages():
    tree = ast.parse('raise NotFoundError(f"task {x} does not exist")\n'
                     'raise FieldError("name", "a " + b)\n'
                     'raise ConflictError(N_("fine {x}"), params={"x": 1})\n'
                     'raise PackageError(message)\n')
    lines = [line for line, _why in bad_constructions(tree, {"NotFoundError", "FieldError", "ConflictError",
                                                             "PackageError"})]
    assert lines == [1, 2, 4]


def test_every_template_is_in_the_catalog_template(trees):
    from babel.messages.pofile import read_po

    with open(POT, "rb") as fh:
        ids = {m.id for m in read_po(fh) if m.id}
    classes = error_classes(trees)
    missing = sorted({t for tree in trees.values() for t in templates(tree, classes)} - ids)
    assert not missing, "run `python3 dev.py i18n` and translate:\n" + "\n".join(missing)


def test_every_template_has_a_chinese_translation_keeping_its_placeholders(trees):
    import string

    zh = catalog(Language.zh_CN)
    classes = error_classes(trees)
    problems = []
    for t in sorted({t for tree in trees.values() for t in templates(tree, classes)}):
        if t not in zh:
            problems.append(f"untranslated: {t!r}")
            continue
        names = {f for _lit, f, _spec, _conv in string.Formatter().parse(t) if f}
        got = {f for _lit, f, _spec, _conv in string.Formatter().parse(zh[t]) if f}
        if names != got:
            problems.append(f"placeholders {sorted(names)} became {sorted(got)}: {t!r}")
    assert not problems, "\n".join(problems)


def test_errors_read_in_chinese_with_their_params():
    err = NotFoundError("task {task_id} does not exist", params={"task_id": 999})
    field = FieldError("time limit", "{text!r} is not a duration; write e.g. 90m, 2h, 1h30m or 45s",
                       params={"text": "soon"})
    with use_language("zh-CN"):
        assert err.localized() == catalog(Language.zh_CN)["task {task_id} does not exist"].format(task_id=999)
        assert "999" in err.localized() and "任务" in err.localized()
        assert "'soon'" in field.localized_field_message() and "90m" in field.localized_field_message()
        assert field.localized().startswith("time limit: ")
    # str() and the English reading do not change
    assert str(err) == err.localized() == "task 999 does not exist"
    assert str(field) == "time limit: 'soon' is not a duration; write e.g. 90m, 2h, 1h30m or 45s"


def test_shared_fixes_and_denials_are_translated_too():
    from shared.contract.zipentries import clean_parts
    from shared.core.errors import ArchiveError
    from shared.records import Action, Role, User
    from shared.services.access import denial_error

    viewer = User(id=1, name="vera", role=Role.viewer, disabled=False)
    err = denial_error(viewer, Action.delete, None)
    assert isinstance(err, PermissionDenied)
    assert str(err) == ("Deleting needs the member role and owning it, or the admin role; you are a viewer. "
                        "Ask an admin if you need more.")
    with use_language("zh-CN"):
        text = err.localized()
    assert "Deleting" not in text and "viewer" not in text and "管理员" in text

    with pytest.raises(ArchiveError) as caught:
        clean_parts("bad\x00name.txt")
    assert str(caught.value).endswith("re-create the zip from the folder with a standard tool (`zip -r`, Finder or "
                                      "Explorer 'Compress')")
    with use_language("zh-CN"):
        text = caught.value.localized()
    assert "re-create" not in text and "zip -r" in text
