"""Translations: gettext catalogs (``shared/locale/<lang>/LC_MESSAGES/trainyard.po``),
read with Babel, and locale-aware numbers and dates.

- ``_("Task name")`` translates now, into the current language.
- ``N_("Task name")`` only marks a module-level constant for extraction; call
  ``_(CONSTANT)`` where it is shown.
- Placeholders are ``str.format`` names: ``_("{n} runs", n=3)``. Translators keep them.
- The current language is a context variable: the UI sets it per script run (query
  parameter, the user's choice, the browser, then ``TRAINYARD_LANGUAGE``), the CLI once
  at start. English is the source language: a missing translation shows the English.

The ``.po`` files are the source of truth (translators use their own tools on them);
they are parsed once per process, so no compiled ``.mo`` file is kept in git.
``python3 dev.py i18n`` re-extracts the messages and updates both catalogs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "trainyard"


class Language(str, Enum):
    en = "en"
    zh_CN = "zh-CN"

    @property
    def babel_locale(self) -> str:
        return "zh_Hans_CN" if self is Language.zh_CN else "en"

    @property
    def catalog_dir(self) -> str:
        return "zh_CN" if self is Language.zh_CN else "en"

    @property
    def label(self) -> str:
        return "中文" if self is Language.zh_CN else "English"


DEFAULT = Language.en
_CTX = "\x04"  # gettext's separator of a message's context and its id
_current: ContextVar[Language] = ContextVar("trainyard_language", default=DEFAULT)


def parse_language(value: str | None) -> Language | None:
    """``zh-CN``, ``zh_CN``, ``zh``, ``zh-Hans``, ``en-US``... to a supported language; None if none fits."""
    if not value:
        return None
    v = value.strip().replace("_", "-").lower()
    if v.startswith("zh"):
        return Language.zh_CN
    if v.startswith("en"):
        return Language.en
    return None


def negotiate(*candidates: str | None) -> Language:
    """The first candidate that names a supported language (each may be an Accept-Language header)."""
    for cand in candidates:
        if not cand:
            continue
        for part in cand.split(","):
            lang = parse_language(part.split(";")[0])
            if lang is not None:
                return lang
    return DEFAULT


def current_language() -> Language:
    return _current.get()


def set_language(lang: Language | str | None) -> Language:
    chosen = lang if isinstance(lang, Language) else (parse_language(lang) or DEFAULT)
    _current.set(chosen)
    return chosen


@contextlib.contextmanager
def use_language(lang: Language | str | None) -> Iterator[Language]:
    token = _current.set(lang if isinstance(lang, Language) else (parse_language(lang) or DEFAULT))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


@cache
def catalog(lang: Language) -> dict[str, str]:
    """msgid -> msgstr of one language (fuzzy and empty entries left out, as gettext does)."""
    from babel.messages.pofile import read_po

    path = LOCALE_DIR / lang.catalog_dir / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return {}
    with open(path, "rb") as fh:
        cat = read_po(fh, locale=lang.babel_locale.split("_")[0] if lang is Language.en else "zh_Hans_CN")
    out: dict[str, str] = {}
    for msg in cat:
        if not msg.id or msg.fuzzy or not isinstance(msg.id, str):
            continue
        if isinstance(msg.string, str) and msg.string:
            out[f"{msg.context}{_CTX}{msg.id}" if msg.context else msg.id] = msg.string
    return out


def translate(msgid: str, lang: Language | None = None) -> str:
    return catalog(lang or current_language()).get(msgid, msgid)


def pgettext(context: str, msgid: str, /) -> str:
    """``msgid`` as meant in ``context``, where one English word has two translations ("model" the
    column is 算法名称, "model" the kind of record is 算法)."""
    return catalog(current_language()).get(f"{context}{_CTX}{msgid}", msgid)


def _(msgid: str, /, **params: Any) -> str:
    """``msgid`` in the current language, with ``params`` filled in."""
    text = translate(msgid)
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):  # a broken translation must not break the page
        return msgid.format(**params)


def N_(msgid: str, /) -> str:  # noqa: N802 - the gettext convention extractors look for
    """Mark ``msgid`` for extraction without translating it (module-level constants)."""
    return msgid


def fmt_number(value: float | int, *, digits: int | None = None) -> str:
    from babel.numbers import format_decimal

    loc = current_language().babel_locale
    if digits is None:
        return format_decimal(value, locale=loc)
    return format_decimal(value, format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale=loc)


def fmt_datetime(value: datetime | None, *, fmt: str = "medium") -> str:
    if value is None:
        return ""
    from babel.dates import format_datetime

    return format_datetime(value, format=fmt, locale=current_language().babel_locale)
