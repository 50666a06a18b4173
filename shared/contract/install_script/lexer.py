"""Enough of bash's lexer to find every simple command, for the valid bash that bashlex cannot parse
(``[[``, arrays, ``case``, ``$((...))``, ``time``) and for scripts that make bashlex run past its budget."""

from __future__ import annotations

import re

from shared.contract.install_script.words import ARRAY_START_RE, PREFIX, Cmd, Word

_REDIRECTS = ("&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">&", ">>", ">|", "<", ">")


class Lexer:
    """Enough of bash's lexer to split a script into simple commands, with
    quotes, comments, heredocs, substitutions, arithmetic, arrays, ``[[ ]]``
    and ``case`` patterns handled, for the scripts bashlex cannot parse."""

    def __init__(self, text: str, line0: int) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.line = line0 + 1
        self.commands: list[Cmd] = []
        self.pending: list[tuple[str, bool, Cmd]] = []  # heredoc delimiter, strip tabs, its command

    def run(self) -> None:
        while self.i < self.n:
            self._lex(None)
            if self.i < self.n:
                self.i += 1  # a stray closing ')' or '`' at top level

    def _advance_text(self, start: int, end: int) -> str:
        chunk = self.s[start:end]
        self.line += chunk.count("\n")
        return chunk

    def _heredocs(self) -> None:
        for delim, strip, cmd in self.pending:
            body: list[str] = []
            first = self.line
            while self.i < self.n:
                j = self.s.find("\n", self.i)
                j = self.n if j < 0 else j
                raw = self.s[self.i:j]
                self.i = min(j + 1, self.n)
                self.line += 1
                if (raw.lstrip("\t") if strip else raw) == delim:
                    break
                body.append(raw)
            cmd.heredoc = ("\n".join(body), first)
        self.pending = []

    def _lex(self, stop: str | None) -> None:
        s = self.s
        cmd = Cmd()
        buf: list[str] | None = None
        bline = self.line
        bstart = self.i  # where the word starts in the source, for its raw spelling
        depth = 0
        cases: list[bool] = []  # per open `case`: is a pattern expected next?
        target: str | None = None  # "redir" or "heredoc"/"heredoc-" for the next word
        dbracket = False

        def start() -> list[str]:
            nonlocal buf, bline, bstart
            if buf is None:
                buf = []
                bline = self.line
                bstart = self.i
            return buf

        def end_word() -> None:
            nonlocal buf, target, dbracket, cmd
            if buf is None:
                return
            text = "".join(buf)
            buf = None
            if target == "redir":
                target = None
                return
            if target in ("heredoc", "heredoc-"):
                self.pending.append((text, target == "heredoc-", cmd))
                target = None
                return
            heads = [w.text for w in cmd.words if w.text not in PREFIX]
            if text == "[[" and not heads:
                dbracket = True
            elif text == "]]":
                dbracket = False
            if text == "esac" and not heads and cases:
                cases.pop()
                return
            cmd.words.append(Word(text, bline, s[bstart:self.i]))
            if text == "in" and len(cmd.words) >= 3 and cmd.words[-3].text == "case":
                cmd = Cmd()  # `case WORD in`: what follows is a pattern
                cases.append(True)

        def end_cmd() -> None:
            nonlocal cmd
            end_word()
            if cmd.words or cmd.heredoc:
                self.commands.append(cmd)
            cmd = Cmd()

        while self.i < self.n:
            c = s[self.i]
            nxt = s[self.i + 1] if self.i + 1 < self.n else ""
            if c == "\\":
                if nxt == "\n":
                    self.i += 2
                    self.line += 1
                    continue
                start().append(nxt)
                self.i += 2
                continue
            if c == "\n":
                end_cmd()
                self.i += 1
                self.line += 1
                if self.pending:
                    self._heredocs()
                continue
            if c in " \t":
                end_word()
                self.i += 1
                continue
            if c == "#" and buf is None:
                j = s.find("\n", self.i)
                self.i = self.n if j < 0 else j
                continue
            if c == "'":
                b = start()
                j = s.find("'", self.i + 1)
                j = self.n if j < 0 else j
                b.append(self._advance_text(self.i + 1, j))
                self.i = j + 1
                continue
            if c == '"':
                start().append(self._dquote())
                continue
            if c == "`":
                if stop == "`":
                    end_cmd()
                    self.i += 1
                    return
                b = start()
                self.i += 1
                begin = self.i
                self._lex("`")
                b.append("`" + s[begin:self.i])
                continue
            if c == "$":
                b = start()
                if s.startswith("$((", self.i):
                    begin = self.i
                    self.i += 3
                    self._group(2)
                    b.append(s[begin:self.i])
                elif nxt == "(":
                    begin = self.i
                    self.i += 2
                    self._lex(")")
                    b.append(s[begin:self.i])
                elif nxt == "{":
                    begin = self.i
                    self.i += 2
                    self._braces()
                    b.append(s[begin:self.i])
                elif nxt == "'":
                    self.i += 2
                    b.append(self._ansi_c())
                elif nxt == '"':
                    self.i += 1
                else:
                    b.append("$")
                    self.i += 1
                continue
            if c in "<>" and nxt == "(" and not dbracket:
                b = start()
                begin = self.i
                self.i += 2
                self._lex(")")
                b.append(s[begin:self.i])
                continue
            if (c in "<>" or (c == "&" and nxt == ">")) and not dbracket:
                if buf is not None and ("".join(buf).isdigit() or re.fullmatch(r"\{\w+\}", "".join(buf))):
                    buf = None  # the fd number of `2>&1` or `{fd}>file`
                else:
                    end_word()
                op = next(o for o in _REDIRECTS if s.startswith(o, self.i))
                self.i += len(op)
                target = {"<<": "heredoc", "<<-": "heredoc-"}.get(op, "redir")
                continue
            if c in ";&|()":
                if dbracket and c in "&|()":
                    start().append(c)
                    self.i += 1
                    continue
                if c == "(":
                    text = "".join(buf) if buf is not None else None
                    if text is not None and (ARRAY_START_RE.match(text) or text[-1:] in ("@", "!", "?", "*", "+")):
                        begin = self.i
                        self.i += 1
                        self._group(1)  # arr=( ... ) or an extglob @( ... )
                        start().append(s[begin:self.i])
                        continue
                    if buf is None and nxt == "(":
                        begin = self.i
                        self.i += 2
                        self._group(2)  # (( arithmetic ))
                        start().append(s[begin:self.i])
                        continue
                    if cases and cases[-1] and buf is None and not cmd.words:
                        self.i += 1  # the optional '(' before a case pattern
                        continue
                    end_cmd()
                    depth += 1
                    self.i += 1
                    continue
                if c == ")":
                    end_word()  # may be `esac`, which closes the case before this ')'
                    self.i += 1
                    if cases and cases[-1]:
                        cmd = Cmd()  # that was a case pattern, not a command
                        cases[-1] = False
                        continue
                    end_cmd()
                    if depth > 0:
                        depth -= 1
                        continue
                    if stop == ")":
                        return
                    continue
                if c == "|" and cases and cases[-1]:
                    end_word()  # pattern alternation a|b)
                    self.i += 1
                    continue
                op = next(o for o in (";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|") if s.startswith(o, self.i))
                end_cmd()
                self.i += len(op)
                if op in (";;", ";&", ";;&") and cases:
                    cases[-1] = True
                continue
            start().append(c)
            self.i += 1
        end_cmd()

    def _dquote(self) -> str:
        s = self.s
        out: list[str] = []
        self.i += 1
        while self.i < self.n:
            c = s[self.i]
            nxt = s[self.i + 1] if self.i + 1 < self.n else ""
            if c == '"':
                self.i += 1
                break
            if c == "\\" and nxt in '"\\$`\n':
                if nxt == "\n":
                    self.line += 1
                else:
                    out.append(nxt)
                self.i += 2
                continue
            if c == "$" and s.startswith("$((", self.i):
                begin = self.i
                self.i += 3
                self._group(2)
                out.append(s[begin:self.i])
                continue
            if c == "$" and nxt == "(":
                begin = self.i
                self.i += 2
                self._lex(")")
                out.append(s[begin:self.i])
                continue
            if c == "$" and nxt == "{":
                begin = self.i
                self.i += 2
                self._braces()
                out.append(s[begin:self.i])
                continue
            if c == "`":
                begin = self.i
                self.i += 1
                self._lex("`")
                out.append(s[begin:self.i])
                continue
            if c == "\n":
                self.line += 1
            out.append(c)
            self.i += 1
        return "".join(out)

    def _ansi_c(self) -> str:
        out: list[str] = []
        while self.i < self.n and self.s[self.i] != "'":
            if self.s[self.i] == "\\" and self.i + 1 < self.n:
                out.append(self.s[self.i:self.i + 2])
                self.i += 2
                continue
            if self.s[self.i] == "\n":
                self.line += 1
            out.append(self.s[self.i])
            self.i += 1
        self.i += 1
        return "".join(out)

    def _nested(self) -> bool:
        """Handle quotes and substitutions inside ${...}, $((...)), arr=(...); True if one was consumed."""
        s, c = self.s, self.s[self.i]
        nxt = s[self.i + 1] if self.i + 1 < self.n else ""
        if c == "\\":
            self._advance_text(self.i, min(self.i + 2, self.n))
            self.i += 2
            return True
        if c == "'":
            j = s.find("'", self.i + 1)
            j = self.n if j < 0 else j
            self._advance_text(self.i, j)
            self.i = j + 1
            return True
        if c == '"':
            self._dquote()
            return True
        if c == "`":
            self.i += 1
            self._lex("`")
            return True
        if c == "$" and nxt == "(" and not s.startswith("$((", self.i):
            self.i += 2
            self._lex(")")
            return True
        if c == "\n":
            self.line += 1
        return False

    def _group(self, depth: int) -> None:
        while self.i < self.n and depth > 0:
            if self._nested():
                continue
            c = self.s[self.i]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            self.i += 1

    def _braces(self) -> None:
        depth = 1
        while self.i < self.n and depth > 0:
            if self._nested():
                continue
            c = self.s[self.i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            self.i += 1
