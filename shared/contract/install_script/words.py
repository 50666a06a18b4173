"""What the parsers hand the checker: words with their line and source spelling, simple commands."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

ASSIGN_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=(.*)$", re.DOTALL)
VAR_RE = re.compile(r"^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})$")
ARRAY_START_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=$")


@dataclass(frozen=True)
class ScriptViolation:
    line: int
    command: str  # the forbidden-list entry ("rm", "set -e") or the refused spelling's kind ("alias")
    message: str


class Word(NamedTuple):
    text: str  # as the shell sees it after quote removal (bashlex's reading, or the lexer's)
    line: int
    raw: str | None = None  # as written in the script, quotes and expansions included; None: same as text

    @property
    def spelling(self) -> str:
        return self.text if self.raw is None else self.raw


@dataclass
class Cmd:
    words: list[Word] = field(default_factory=list)
    heredoc: tuple[str, int] | None = None  # body, line of its first body line

# Words that may precede a command without being one.
PREFIX = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "(", "fi", "done",
                    "esac", "coproc"})
NOT_COMMANDS = frozenset({"for", "select", "case", "[[", "]]", "in", ";;"})
