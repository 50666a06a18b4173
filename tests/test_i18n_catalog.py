"""The gettext catalogs: every marked message extracted from the code is in both catalogs, zh-CN has a
translation with the same ``{placeholders}``, the .po files parse, and the converted UI modules hand no
bare English literal to a Streamlit call."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "shared" / "locale"
CATALOGS = {lang: LOCALE / lang / "LC_MESSAGES" / "trainyard.po" for lang in ("en", "zh_CN")}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _extracted() -> set[str]:
    out: set[str] = set()
    for folder in ("streamlit_app", "shared", "runner"):
        for _fn, _line, msg, _comments, _ctx in extract_from_dir(ROOT / folder, method_map=[("**.py", "python")]):
            out.add(msg if isinstance(msg, str) else msg[0])
    return out


def _catalog(lang: str):
    with open(CATALOGS[lang], "rb") as fh:
        return read_po(fh, locale="zh_Hans_CN" if lang == "zh_CN" else "en")


@pytest.mark.parametrize("lang", sorted(CATALOGS))
def test_po_files_parse(lang):
    assert len([m for m in _catalog(lang) if m.id]) > 100


def test_every_message_is_in_both_catalogs_and_translated():
    wanted = _extracted()
    en = {m.id for m in _catalog("en") if m.id}
    zh = {m.id: m for m in _catalog("zh_CN") if m.id}
    assert not wanted - en, f"run `python3 dev.py i18n`: not in the en catalog: {sorted(wanted - en)[:10]}"
    assert not wanted - set(zh), f"run `python3 dev.py i18n`: not in zh_CN: {sorted(wanted - set(zh))[:10]}"
    untranslated = sorted(i for i in wanted if not zh[i].string or zh[i].fuzzy)
    assert not untranslated, f"zh_CN msgstr missing or fuzzy: {untranslated[:10]}"
    broken = sorted(i for i in wanted if set(PLACEHOLDER.findall(i)) != set(PLACEHOLDER.findall(zh[i].string)))
    assert not broken, f"zh_CN placeholders differ from the msgid: {broken[:10]}"


def test_translations_have_chinese_and_keep_terms():
    zh = {m.id: m.string for m in _catalog("zh_CN") if m.id}
    assert zh["Task name"] == "任务名称" and zh["timed out"] == "执行超时" and zh["Image classification"] == "图像分类"
    assert zh["Downloads"] == "权重下载" and zh["Predict"] == "模型预测"


# --------------------------------------------------------------------------- the UI lint

# Streamlit calls whose first argument (or these keywords) is text a person reads.
TEXT_CALLS = {"title", "header", "subheader", "markdown", "caption", "write", "text", "info", "warning", "error",
              "success", "button", "download_button", "form_submit_button", "text_input", "text_area",
              "number_input", "selectbox", "multiselect", "radio", "checkbox", "toggle", "slider", "file_uploader",
              "date_input", "expander", "popover", "metric", "page_link", "spinner", "status", "progress",
              "segmented_control", "tabs", "update"}
TEXT_KEYWORDS = {"label", "help", "placeholder", "text", "title", "caption"}
# Technical tokens a literal may be: nothing but punctuation/numbers/format specs, a Material icon, or these.
ALLOWED = {"Trainyard", ":material/train: Trainyard"}
_TECHNICAL = re.compile(r"^[\s\W\d_]*$|^:material/[a-z_]+:$")
# Markup around the values an f-string fills in: HTML tags and entities, Markdown, Material icons.
_MARKUP = re.compile(r"<[^>]*>|&\w+;|:material/[a-z_]+:")
UI_MODULES = sorted(str(p.relative_to(ROOT / "streamlit_app")) for p in (ROOT / "streamlit_app").rglob("*.py"))


def _is_words(node: ast.AST) -> bool:
    """A literal a person would read: a string constant, or an f-string whose own text (less markup) has letters."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value not in ALLOWED and not _TECHNICAL.match(node.value)
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return not _TECHNICAL.match(_MARKUP.sub("", text))
    return False


def _bare_texts(path: Path) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr not in TEXT_CALLS or "getLogger" in ast.unparse(node.func.value):
            continue  # log lines are for operators, in English
        first = [] if node.func.attr == "page_link" else list(node.args[:1])  # page_link's first is a path
        args = first + [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
        for arg in args:
            items = arg.elts if isinstance(arg, ast.List) else [arg]
            for item in items:
                if _is_words(item):
                    bad.append(f"{path.relative_to(ROOT)}:{item.lineno}: {ast.unparse(item)[:60]}")
    return bad


def test_every_ui_module_is_linted():
    assert len(UI_MODULES) > 25 and "views/predict.py" in UI_MODULES and "components/gallery.py" in UI_MODULES


@pytest.mark.parametrize("module", UI_MODULES)
def test_ui_text_goes_through_gettext(module):
    assert _bare_texts(ROOT / "streamlit_app" / module) == []


def test_the_lint_catches_a_bare_literal(tmp_path):
    page = tmp_path / "page.py"
    page.write_text('import streamlit as st\nst.title("Datasets")\nst.button(f"Open {x}")\n'
                    'st.caption(_("ok"))\nst.page_link("p.py", icon=":material/home:", label=_("Home"))\n'
                    'st.markdown(f"<small>{a}</small> **{b}** &nbsp; :material/home: {c}")\n'
                    'st.markdown(f"<b>{a}</b> rows")\n')
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        assert len(_bare_texts(page)) == 3  # the title, "Open {x}" and "{a} rows"; the markup alone passes
    finally:
        ROOT = old


# --------------------------------------------------------------------------- live fragments

def _fragments(path: Path) -> list[ast.FunctionDef]:
    def is_fragment(dec: ast.expr) -> bool:
        target = dec.func if isinstance(dec, ast.Call) else dec
        return isinstance(target, ast.Attribute) and target.attr == "fragment"

    return [n for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.FunctionDef) and any(is_fragment(d) for d in n.decorator_list)]


def _first_call(fn: ast.FunctionDef) -> str:
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]  # docstring
    return ast.unparse(body[0]) if body else ""


def test_every_fragment_reapplies_the_language_first():
    """A fragment's own rerun skips the router (and runs where the language is back at English): each one
    sets the page's language again before it draws anything, or a zh-CN page turns English every tick."""
    found = {f"{p.relative_to(ROOT)}:{fn.name}": _first_call(fn)
             for p in (ROOT / "streamlit_app").rglob("*.py") for fn in _fragments(p)}
    assert len(found) >= 4, found  # task charts, task run, model deploy, prediction
    assert {k: v for k, v in found.items() if v != "language.reapply()"} == {}


def test_the_fragment_check_sees_a_fragment_without_it(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("import streamlit as st\n@st.fragment(run_every=2)\ndef live():\n    '''doc'''\n"
                    "    st.write(1)\n@st.fragment\ndef ok():\n    language.reapply()\n")
    assert {fn.name: _first_call(fn) for fn in _fragments(page)} == {"live": "st.write(1)",
                                                                      "ok": "language.reapply()"}
