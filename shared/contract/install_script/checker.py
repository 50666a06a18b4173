"""The walk over a script: bashlex's tree when it parses (within its time budget), else the lexer's
commands; each simple command's words go through the rules and the wrappers."""

from __future__ import annotations

import bisect
import re
import sys
import time
from typing import Any

import bashlex

from shared.contract.install_script.lexer import Lexer
from shared.contract.install_script.rules import (
    INTERPRETERS,
    NON_LITERAL,
    RULE_ORDER,
    canonical,
    forbidden_message,
    non_literal_message,
    why_not_literal,
)
from shared.contract.install_script.words import ASSIGN_RE, NOT_COMMANDS, PREFIX, VAR_RE, ScriptViolation, Word
from shared.contract.install_script.wrappers import SHELLS, WRAPPERS, interpreter

_DECLARE = frozenset({"export", "declare", "typeset", "local", "readonly"})
_MAX_DEPTH = 5
BASHLEX_BUDGET_S = 2.0


class _TooSlow(BaseException):
    """Raised by the trace hook; a BaseException so that no ``except Exception`` in bashlex eats it."""


class Checker:
    def __init__(self, filename: str, *, use_bashlex: bool = True) -> None:
        self.filename = filename
        self.found: dict[tuple[int, str, str], ScriptViolation] = {}
        self.assigned: dict[str, tuple[str, str]] = {}  # variable -> (value after quote removal, as written)
        self.deadline = time.monotonic() + BASHLEX_BUDGET_S if use_bashlex else 0.0

    def violations(self) -> list[ScriptViolation]:
        return sorted(self.found.values(), key=lambda v: (v.line, RULE_ORDER.index(v.command)))

    # -- reporting ----------------------------------------------------------
    def flag(self, line: int, command: str, written: str | None = None) -> None:
        """A command of the forbidden list, ``written`` as the script spells it when that differs."""
        self.found.setdefault((line, command, ""), ScriptViolation(
            line=line, command=command, message=forbidden_message(self.filename, line, command, written)))

    def refuse(self, line: int, kind: str, message: str, written: str) -> None:
        """A spelling that hides which command runs (rules.NON_LITERAL, ALIAS, INLINE_CODE)."""
        self.found.setdefault((line, kind, written), ScriptViolation(line=line, command=kind, message=message))

    def shebang(self, text: str) -> None:
        first = text.split("\n", 1)[0]
        if not first.startswith("#!"):
            return
        seen_shell = False
        for tok in first[2:].split():
            if tok.rsplit("/", 1)[-1] in SHELLS:
                seen_shell = True
            elif seen_shell and re.fullmatch(r"-[A-Za-z]*e[A-Za-z]*", tok):
                self.flag(1, "set -e", first.strip())

    # -- parsing ------------------------------------------------------------
    def parse(self, text: str) -> list[Any] | None:
        """bashlex's tree, or None when it cannot parse the text or runs past the time budget.

        bashlex backtracks exponentially on some inputs (nested, unbalanced
        substitutions), and an upload must not be able to hang validation; a
        trace hook stops it at the deadline and the lexer takes over.
        """
        if time.monotonic() >= self.deadline:
            return None
        deadline = self.deadline
        calls = 0

        def tracer(frame: Any, event: str, arg: Any) -> None:
            nonlocal calls
            calls += 1
            if calls & 0xFF == 0 and time.monotonic() > deadline:
                raise _TooSlow
            return None

        previous = sys.gettrace()
        sys.settrace(tracer)
        try:
            return bashlex.parse(text)
        except _TooSlow:
            self.deadline = 0.0  # spent: the rest of this script goes to the lexer directly
            return None
        except Exception:  # noqa: BLE001 - bashlex raises many kinds on bash it does not support
            return None
        finally:
            sys.settrace(previous)

    def check_text(self, text: str, *, line0: int, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        nodes = self.parse(text)
        if nodes is not None:
            walker = _BashlexWalker(self, text, line0, depth)
            for node in nodes:
                walker.walk(node)
            return
        lexer = Lexer(text, line0)
        lexer.run()
        for cmd in lexer.commands:
            self.command(cmd.words, cmd.heredoc, depth)

    # -- analysis -----------------------------------------------------------
    def assign(self, word: Word) -> bool:
        m = ASSIGN_RE.match(word.text)
        if m is None:
            return False
        raw = ASSIGN_RE.match(word.spelling)
        self.assigned[m.group(1)] = (m.group(3), raw.group(3) if raw else m.group(3))
        return True

    def command(self, words: list[Word], heredoc: tuple[str, int] | None, depth: int) -> None:
        i = 0
        while i < len(words) and (words[i].text in PREFIX or words[i].text == "time"):
            if words[i].text == "time":
                i += 1
                while i < len(words) and words[i].text in ("-p", "--"):
                    i += 1
                continue
            i += 1
        if i < len(words) and words[i].text == "function":
            i += 2
            while i < len(words) and words[i].text in ("()", "{"):
                i += 1
        if i >= len(words) or words[i].text in NOT_COMMANDS:
            return
        while i < len(words) and self.assign(words[i]):
            i += 1
        self.invoke(words[i:], heredoc, depth)

    def resolve(self, word: Word) -> tuple[str, str] | None:
        """(text, spelling) of the command a word runs, through variables assigned earlier
        (``R=rm; $R x``); None when it expands to nothing, so that the next word is the command."""
        text, raw = word.text, word.spelling
        for _ in range(_MAX_DEPTH):
            m = VAR_RE.match(text)
            value = self.assigned.get(m.group(1) or m.group(2) or "") if m else None
            if value is None:
                break
            texts, raws = value[0].split(), value[1].split()
            if not texts:
                return None
            text, raw = texts[0], raws[0] if raws else texts[0]
        return text, raw

    def invoke(self, words: list[Word], heredoc: tuple[str, int] | None, depth: int) -> None:
        if not words or depth > _MAX_DEPTH:
            return
        w, args = words[0], words[1:]
        resolved = self.resolve(w)
        if resolved is None:  # `E=; $E rm x` runs `rm x`
            self.invoke(args, heredoc, depth)
            return
        text, raw = resolved
        why = why_not_literal(raw)
        if why is not None:
            self.refuse(w.line, NON_LITERAL, non_literal_message(self.filename, w.line, w.spelling, why), w.spelling)
            return
        base = text.rsplit("/", 1)[-1]
        canon = canonical(base)
        if canon:
            self.flag(w.line, canon, w.text if w.text != canon else None)
        spec = next((s for s in INTERPRETERS if s.name.match(base)), None)
        if spec is not None:
            interpreter(self, w, spec, args, heredoc)
            return
        handler = WRAPPERS.get(base)
        if handler is not None:
            handler(self, w, args, heredoc, depth)
        elif base in _DECLARE:
            for a in args:
                self.assign(a)

    def script(self, text: str, line: int, depth: int) -> None:
        """A string that a shell will run (``bash -c``, ``trap``, ``eval``, ``su -c``)."""
        self.check_text(text, line0=line - 1, depth=depth + 1)


class _BashlexWalker:
    def __init__(self, checker: Checker, text: str, line0: int, depth: int) -> None:
        self.ch = checker
        self.text = text
        self.starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        self.line0 = line0
        self.depth = depth

    def line(self, pos: int) -> int:
        return self.line0 + bisect.bisect_right(self.starts, pos)

    def walk(self, node: Any) -> None:
        kind = getattr(node, "kind", None)
        if kind == "command":
            words: list[Word] = []
            heredoc: tuple[str, int] | None = None
            for part in node.parts:
                if part.kind in ("word", "assignment"):
                    start, end = part.pos
                    words.append(Word(part.word, self.line(start), self.text[start:end]))
                elif part.kind == "redirect" and getattr(part, "heredoc", None) is not None:
                    body = part.heredoc.value.rsplit("\n", 1)[0] if "\n" in part.heredoc.value else ""
                    heredoc = (body, self.line(part.heredoc.pos[0]))
            self.ch.command(words, heredoc, self.depth)
        if kind in ("commandsubstitution", "processsubstitution"):
            self.walk(node.command)
        if kind == "parameter" and ("$(" in node.value or "`" in node.value):
            # bashlex leaves ${x:-$(cmd)} unparsed; as the argument of `:` only the substitution runs.
            self.ch.check_text(": " + node.value, line0=self.line(node.pos[0]) - 1, depth=self.depth + 1)
        if kind == "redirect":
            out = getattr(node, "output", None)
            if hasattr(out, "kind"):
                self.walk(out)
        for attr in ("parts", "list"):
            for child in getattr(node, attr, None) or []:
                self.walk(child)
