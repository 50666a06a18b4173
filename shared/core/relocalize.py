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
_SENTENCE_END = re.compile(r"\. [A-Z][a-z]")
# A template must say something besides its values to be matched: "{field}: {message}" would match any
# line with a colon in it.
_MIN_LETTERS = 3
_MAX_LINE = 2000
_MAX_DEPTH = 3
_MAX_CALLS = 200
# Stored sentences joined by the platform's separators, each part translated on its own when no template
# covers the whole ("exit code 1: RuntimeError: boom", "<reason>. <what to do>").
_JOINS = ((". ", "。"), ("; ", "；"), (" (", " ("), (": ", "："))
# A value the stored English carries raw ("timed_out"): its label is the words ("timed out").
_PATH = re.compile(r"[^\s:]*[/.][^\s:]*( |$)")  # a file or folder name first
_SNAKE = re.compile(r"[a-z]+(?:_[a-z]+)+")


@dataclass(frozen=True)
class _Template:
    msgid: str
    every: tuple[str, ...]  # the placeholders in order, a repeated one each time
    parts: tuple[str, ...]  # the literal text around them: len(every) + 1 pieces
    anchor: str  # its longest literal part: a line without it cannot match
    letters: int


def _compile(msgid: str) -> _Template | None:
    if "{{" in msgid or "}}" in msgid or "\n" in msgid:
        return None
    stripped = _PLACEHOLDER.sub("", msgid)
    if "{" in stripped or "}" in stripped:  # a format spec ({n:,}) or a conversion ({x!r}): not read back
        return None
    every = tuple(_PLACEHOLDER.findall(msgid))
    if not every:
        return None
    letters = sum(c.isalpha() for c in stripped)
    if letters < _MIN_LETTERS:
        return None
    parts = tuple(_PLACEHOLDER.split(msgid)[::2])
    if any(not p for p in parts[1:-1]):  # "{a}{b}": no text between two values tells where one ends
        return None
    return _Template(msgid, every, parts, max(parts, key=len), letters)


def _match(t: _Template, text: str) -> dict[str, str] | None:
    """The values of ``text`` read as ``t``, or None. Each literal piece is found left to right, once,
    with no backtracking: a regular expression with several lazy groups takes time to the power of their
    number on a crafted line, and these lines can hold what user code printed (a run's last error)."""
    head, tail = t.parts[0], t.parts[-1]
    end = len(text) - len(tail)
    if not text.startswith(head) or not text.endswith(tail) or end <= len(head):
        return None
    values: list[str] = []
    pos = len(head)
    for lit in t.parts[1:-1]:
        at = text.find(lit, pos + 1, end)  # pos + 1: a value is never empty
        if at < 0:
            return None
        values.append(text[pos:at])
        pos = at + len(lit)
    if pos >= end:
        return None
    values.append(text[pos:end])
    found: dict[str, str] = {}
    for name, value in zip(t.every, values, strict=True):
        if _SENTENCE_END.search(value) or found.setdefault(name, value) != value:
            return None
    return found


@cache
def _templates(lang: Language) -> tuple[_Template, ...]:
    """The catalog's templates with values, the most specific (most literal letters) first."""
    found = (_compile(m) for m in catalog(lang))
    return tuple(sorted((t for t in found if t is not None), key=lambda t: -t.letters))


class _Budget:
    """How many pieces one stored line may be read as: splitting at every '. ' and ': ' of a long line,
    three levels deep, would otherwise cost the cube of their number."""

    def __init__(self, calls: int = _MAX_CALLS) -> None:
        self.left = calls

    def spend(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _line(text: str, lang: Language, depth: int, budget: _Budget) -> str | None:
    """The line translated, or None when nothing in the catalog covers it (cut at most ``_MAX_DEPTH``
    deep and ``_MAX_CALLS`` pieces, so a long line of output that nothing covers costs little)."""
    cat = catalog(lang)
    stripped = text.strip()
    if not stripped or depth > _MAX_DEPTH or len(stripped) > _MAX_LINE or not budget.spend():
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
    if found and (named or _PATH.match(place)) and (said := _line(message, lang, depth + 1, budget)) is not None:
        return lead + (cat[place] if named else _place(place, lang, depth, budget)) + "：" + said + trail
    for t in _templates(lang):
        if t.anchor not in stripped or (m := _match(t, stripped)) is None:
            continue
        values = {name: _line(v, lang, depth + 1, budget) or v for name, v in m.items()}
        try:
            return lead + cat[t.msgid].format(**values) + trail
        except (KeyError, IndexError, ValueError):
            return None
    for sep, joined in _JOINS:
        at = stripped.find(sep)
        while at > 0 and budget.left > 0:
            left = _line(stripped[:at], lang, depth + 1, budget)
            if left is not None:
                rest = stripped[at + len(sep):]
                if sep == " (":  # a parenthesis after a sentence ("... (found 'Train.py': ...)") is one piece
                    rest, joined = "(" + rest, " "
                return lead + left + joined + (_line(rest, lang, depth + 1, budget) or rest) + trail
            at = stripped.find(sep, at + 1)
    return None


def _place(place: str, lang: Language, depth: int, budget: _Budget) -> str:
    """"labels/a.txt line 3": the path as it is, the line (or column) read like any message."""
    path, _sp, where = place.partition(" ")
    said = _line(where, lang, depth + 1, budget) if where else None
    return f"{path} {said}" if said is not None else place


@lru_cache(maxsize=4096)
def _cached(text: str, lang: Language) -> str:
    return "\n".join(_line(line, lang, 0, _Budget()) or line for line in text.split("\n"))


def relocalize(text: str | None) -> str:
    """``text`` (English the platform wrote) in the current language, line by line; '' for None."""
    if not text:
        return ""
    lang = current_language()
    if lang is Language.en:
        return text
    return _cached(text, lang)
