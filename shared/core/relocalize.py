"""English the platform stored (a run's or task's reason, a deploy's error, a dataset's problem lines) read
in the reader's language. The rows, the dataset report and the CLI's JSON keep the English, which stays
stable; a page translates it when it shows it, by matching each line against the catalog's templates it
was made from (``"{failed} of {total} runs failed"``) and filling the translated template with the values
found, each of them read the same way in turn. What matches no template (a Python traceback line, a file
name, the installer's own output) stays as it was written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from shared.core.i18n import Language, catalog, current_language

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# A value inside a sentence does not run past its end: "exit code {code}" must not swallow the sentence after it.
_VALUE = r"(?:(?!\. [A-Z][a-z]).)+?"
# A template must say something besides its values to be matched: "{field}: {message}" would match any
# line with a colon in it.
_MIN_LETTERS = 3
_MAX_LINE = 2000
_MAX_DEPTH = 3
# Stored sentences joined by the platform's separators, each part translated on its own when no template
# covers the whole ("exit code 1: RuntimeError: boom", "<reason>. <what to do>").
_JOINS = ((". ", "。"), ("; ", "；"), (" (", " ("), (": ", "："))
# A value the stored English carries raw ("timed_out"): its label is the words ("timed out").
_PATH = re.compile(r"[^\s:]*[/.][^\s:]*( |$)")  # a file or folder name first
_SNAKE = re.compile(r"[a-z]+(?:_[a-z]+)+")


@dataclass(frozen=True)
class _Template:
    msgid: str
    names: tuple[str, ...]
    pattern: re.Pattern[str]
    anchor: str  # its longest literal part: a line without it cannot match
    letters: int


def _compile(msgid: str) -> _Template | None:
    if "{{" in msgid or "}}" in msgid or "\n" in msgid:
        return None
    stripped = _PLACEHOLDER.sub("", msgid)
    if "{" in stripped or "}" in stripped:  # a format spec ({n:,}) or a conversion ({x!r}): not read back
        return None
    every = _PLACEHOLDER.findall(msgid)
    names = tuple(dict.fromkeys(every))  # a value named twice ("add {name}") is the same text both times
    if not names:
        return None
    letters = sum(c.isalpha() for c in stripped)
    if letters < _MIN_LETTERS:
        return None
    parts = _PLACEHOLDER.split(msgid)[::2]
    groups = [f"(?P={n})" if n in every[:i] else f"(?P<{n}>{_VALUE})" for i, n in enumerate(every)]
    regex = "".join(re.escape(p) + (groups[i] if i < len(groups) else "") for i, p in enumerate(parts))
    return _Template(msgid, names, re.compile(regex, re.S), max(parts, key=len), letters)


@cache
def _templates(lang: Language) -> tuple[_Template, ...]:
    """The catalog's templates with values, the most specific (most literal letters) first."""
    found = (_compile(m) for m in catalog(lang))
    return tuple(sorted((t for t in found if t is not None), key=lambda t: -t.letters))


def _line(text: str, lang: Language, depth: int) -> str | None:
    """The line translated, or None when nothing in the catalog covers it (cut at most ``_MAX_DEPTH``
    deep, so a long line of output that nothing covers costs little)."""
    cat = catalog(lang)
    stripped = text.strip()
    if not stripped or depth > _MAX_DEPTH or len(stripped) > _MAX_LINE:
        return None
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()):]
    if stripped.startswith("- "):  # a detail line under its message
        lead, stripped = lead + "- ", stripped[2:]
    if stripped in cat:
        return lead + cat[stripped] + trail
    if _SNAKE.fullmatch(stripped) and stripped.replace("_", " ") in cat:
        return lead + cat[stripped.replace("_", " ")] + trail
    # "<file> line 3: <message>", a dataset problem: the place is a path (perhaps with a line) or a place the
    # catalog names ("(dataset root)"), the rest a message.
    place, found, message = stripped.partition(": ")
    named = found and place in cat
    if found and (named or _PATH.match(place)) and (said := _line(message, lang, depth + 1)) is not None:
        return lead + (cat[place] if named else _place(place, lang, depth)) + "：" + said + trail
    for t in _templates(lang):
        if t.anchor not in stripped:
            continue
        m = t.pattern.fullmatch(stripped)
        if m is None:
            continue
        values = {name: _line(v, lang, depth + 1) or v for name, v in m.groupdict().items()}
        try:
            return lead + cat[t.msgid].format(**values) + trail
        except (KeyError, IndexError, ValueError):
            return None
    for sep, joined in _JOINS:
        at = stripped.find(sep)
        while at > 0:
            left = _line(stripped[:at], lang, depth + 1)
            if left is not None:
                rest = stripped[at + len(sep):]
                if sep == " (":  # a parenthesis after a sentence ("... (found 'Train.py': ...)") is one piece
                    rest, joined = "(" + rest, " "
                return lead + left + joined + (_line(rest, lang, depth + 1) or rest) + trail
            at = stripped.find(sep, at + 1)
    return None


def _place(place: str, lang: Language, depth: int) -> str:
    """"labels/a.txt line 3": the path as it is, the line (or column) read like any message."""
    path, _sp, where = place.partition(" ")
    said = _line(where, lang, depth + 1) if where else None
    return f"{path} {said}" if said is not None else place


@lru_cache(maxsize=4096)
def _cached(text: str, lang: Language) -> str:
    return "\n".join(_line(line, lang, 0) or line for line in text.split("\n"))


def relocalize(text: str | None) -> str:
    """``text`` (English the platform wrote) in the current language, line by line; '' for None."""
    if not text:
        return ""
    lang = current_language()
    if lang is Language.en:
        return text
    return _cached(text, lang)
