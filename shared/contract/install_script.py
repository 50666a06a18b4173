"""install_dependencies.sh checker (CONTRACT §2.2).

A forbidden command is flagged where it is *invoked*: as a command word
anywhere a command can start (after ``;`` ``&&`` ``||`` ``|``, in ``$(...)``
and backticks, in if/for/while/case/function bodies, subshells and brace
groups), behind wrappers such as ``sudo``, ``env``, ``xargs``, ``timeout`` or
``find -exec``, inside ``bash -c '...'`` strings, and when called by path
(``/bin/rm``) or through a variable holding its name (``R=rm; $R x``).
The same word inside a string, a comment, or as an argument
(``echo "don't rm this"``, ``pip install remove``) is not a violation.

bashlex parses most scripts; for the valid bash it cannot parse (``[[``,
arrays, ``case``, ``$((...))``, ``time``) a small lexer of our own takes over
and still finds every command word.

This is the platform's contract check, not its security boundary: user code
runs in the sandbox either way.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import bashlex

from shared.core.errors import PackageError

FORBIDDEN_COMMANDS: tuple[str, ...] = (
    "rm", "kill", "remove", "mv", "reboot", "shutdown", "gcc", "g++", "clang++", "cmake", "make",
    "chown", "chmod", "chgrp", "source", "crontab", "eval", "exec", "set -e", "mkfs", "fdisk",
)
_SINGLE = frozenset(c for c in FORBIDDEN_COMMANDS if " " not in c)
_LIST = ", ".join(FORBIDDEN_COMMANDS)

_ONLY_INSTALL = "the script may only install packages into the environment it is given as $1"
_NO_BUILD = ("install prebuilt packages instead (`${python_path}/bin/pip install ...` or "
             "`${python_path}/bin/mim install ...`); pip may still build a package's own extensions")
_NO_PERMS = "files in the package are usable as they are; run scripts with `bash script.sh`"
_HINTS = {
    "rm": "it runs once in a fresh environment, so there is nothing to delete or clean up",
    "mv": "it runs once in a fresh environment; write files where they are needed instead of moving them",
    "remove": _ONLY_INSTALL, "kill": _ONLY_INSTALL, "reboot": _ONLY_INSTALL, "shutdown": _ONLY_INSTALL,
    "crontab": _ONLY_INSTALL, "mkfs": _ONLY_INSTALL, "fdisk": _ONLY_INSTALL,
    "gcc": _NO_BUILD, "g++": _NO_BUILD, "clang++": _NO_BUILD, "cmake": _NO_BUILD, "make": _NO_BUILD,
    "chown": _NO_PERMS, "chmod": _NO_PERMS, "chgrp": _NO_PERMS,
    "source": "call the environment's tools by path instead of activating it, "
              "e.g. `${python_path}/bin/pip install ...`",
    "eval": "run the command directly",
    "exec": "run the command directly (to redirect output, redirect each command)",
    "set -e": "to stop at a failing step write `command || exit 1`",
}

_ASSIGN_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=(.*)$", re.DOTALL)
_VAR_RE = re.compile(r"^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})$")
_ARRAY_START_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=$")
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "ash", "mksh"})
# Words that may precede a command without being one.
_PREFIX = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "(", "fi", "done",
                     "esac", "coproc"})
_NOT_COMMANDS = frozenset({"for", "select", "case", "[[", "]]", "in", ";;"})
_DECLARE = frozenset({"export", "declare", "typeset", "local", "readonly"})
_MAX_DEPTH = 5
_BASHLEX_BUDGET_S = 2.0


class _TooSlow(BaseException):
    """Raised by the trace hook; a BaseException so that no ``except Exception`` in bashlex eats it."""


@dataclass(frozen=True)
class ScriptViolation:
    line: int
    command: str  # the forbidden-list entry, e.g. "rm" or "set -e"
    message: str


class _Word(NamedTuple):
    text: str
    line: int


@dataclass
class _Cmd:
    words: list[_Word] = field(default_factory=list)
    heredoc: tuple[str, int] | None = None  # body, line of its first body line


def check_install_script(*, text: str, filename: str = "install_dependencies.sh") -> list[ScriptViolation]:
    """Every invocation of a forbidden command, in line order.

    bashlex runs in a child process that is killed past its budget: the trace
    hook that stops it in-process is not reliable in every host process (a
    process with audit hooks or greenlets may drop it), and an upload must not
    be able to hang or exhaust the UI or a worker. Without an answer from the
    child, the fallback lexer checks the script in-process.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    root = str(Path(__file__).resolve().parent.parent)
    try:
        proc = subprocess.run([sys.executable, "-m", "shared.contract.install_script", filename], input=text,
                              capture_output=True, text=True, timeout=_BASHLEX_BUDGET_S + 8, cwd=root,
                              env={"PYTHONPATH": root, "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        if proc.returncode == 0:
            return [ScriptViolation(**v) for v in json.loads(proc.stdout)]
    except (subprocess.TimeoutExpired, OSError, ValueError, TypeError):
        pass
    return _check_in_process(text=text, filename=filename, use_bashlex=False)


def _check_in_process(*, text: str, filename: str, use_bashlex: bool = True) -> list[ScriptViolation]:
    checker = _Checker(filename)
    if not use_bashlex:
        checker.deadline = 0.0
    checker.shebang(text)
    checker.check_text(text, line0=0, depth=0)
    return sorted(checker.found.values(), key=lambda v: (v.line, FORBIDDEN_COMMANDS.index(v.command)))


def assert_install_script_ok(*, text: str, filename: str = "install_dependencies.sh") -> None:
    violations = check_install_script(text=text, filename=filename)
    if violations:
        names = ", ".join(dict.fromkeys(f"`{v.command}`" for v in violations))
        raise PackageError(f"{filename} uses forbidden commands ({names}); fix each line below",
                           details=[v.message for v in violations])


class _Checker:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.found: dict[tuple[int, str], ScriptViolation] = {}
        self.assigned: dict[str, str] = {}
        self.deadline = time.monotonic() + _BASHLEX_BUDGET_S

    # -- reporting ----------------------------------------------------------
    def flag(self, line: int, command: str, written: str | None = None) -> None:
        key = (line, command)
        if key in self.found:
            return
        shown = f"`{command}`" if written in (None, command) else f"`{written}` ({command})"
        msg = (f"{self.filename} line {line}: {shown} is not allowed (forbidden commands: {_LIST}). "
               f"Remove it; {_HINTS[command]}")
        self.found[key] = ScriptViolation(line=line, command=command, message=msg)

    def shebang(self, text: str) -> None:
        first = text.split("\n", 1)[0]
        if not first.startswith("#!"):
            return
        tokens = first[2:].split()
        seen_shell = False
        for tok in tokens:
            if tok.rsplit("/", 1)[-1] in _SHELLS:
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
            starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
            walker = _BashlexWalker(self, starts, line0, depth)
            for node in nodes:
                walker.walk(node)
            return
        lexer = _Lexer(text, line0)
        lexer.run()
        for cmd in lexer.commands:
            self.command(cmd.words, cmd.heredoc, depth)

    # -- analysis -----------------------------------------------------------
    def command(self, words: list[_Word], heredoc: tuple[str, int] | None, depth: int) -> None:
        i = 0
        while i < len(words) and (words[i].text in _PREFIX or words[i].text == "time"):
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
        if i >= len(words) or words[i].text in _NOT_COMMANDS:
            return
        while i < len(words) and (m := _ASSIGN_RE.match(words[i].text)):
            self.assigned[m.group(1)] = m.group(3)
            i += 1
        self.invoke(words[i:], heredoc, depth)

    def resolve(self, text: str) -> str:
        m = _VAR_RE.match(text)
        if m:
            value = self.assigned.get(m.group(1) or m.group(2) or "")
            if value:
                parts = value.split()
                return parts[0] if parts else value
        return text

    def invoke(self, words: list[_Word], heredoc: tuple[str, int] | None, depth: int) -> None:
        if not words or depth > _MAX_DEPTH:
            return
        w, args = words[0], words[1:]
        base = self.resolve(w.text).rsplit("/", 1)[-1]
        canon = _canonical(base)
        if canon:
            self.flag(w.line, canon, w.text if w.text != canon else None)
        handler = _WRAPPERS.get(base)
        if handler is not None:
            handler(self, w, args, heredoc, depth)
        elif base in _DECLARE:
            for a in args:
                m = _ASSIGN_RE.match(a.text)
                if m:
                    self.assigned[m.group(1)] = m.group(3)

    def script(self, text: str, line: int, depth: int) -> None:
        """A string that a shell will run (``bash -c``, ``trap``, ``eval``, ``su -c``)."""
        self.check_text(text, line0=line - 1, depth=depth + 1)


def _canonical(base: str) -> str | None:
    if base in _SINGLE:
        return base
    if base == ".":
        return "source"
    if base.startswith("mkfs."):
        return "mkfs"
    return None


def _skip_options(args: list[_Word], short_values: str = "", long_values: frozenset[str] = frozenset()) -> int:
    """Index of the first argument that is not an option (or an option's value)."""
    j = 0
    while j < len(args):
        a = args[j].text
        if a == "--":
            return j + 1
        if a.startswith("--"):
            j += 1 if "=" in a or a[2:] not in long_values else 2
            continue
        if a.startswith("-") and len(a) > 1:
            letters = a[1:]
            for k, letter in enumerate(letters):
                if letter in short_values:
                    j += 1 if k < len(letters) - 1 else 2  # value attached, or the next word
                    break
            else:
                j += 1
            continue
        return j
    return j


def _skip_assignments(args: list[_Word], j: int) -> int:
    while j < len(args) and _ASSIGN_RE.match(args[j].text):
        j += 1
    return j


def _wrap(short_values: str = "", long_values: tuple[str, ...] = (), *, assignments: bool = False,
          operands: int = 0) -> Any:
    longs = frozenset(long_values)

    def handler(ch: _Checker, w: _Word, args: list[_Word], heredoc: tuple[str, int] | None, depth: int) -> None:
        j = _skip_options(args, short_values, longs)
        if assignments:
            j = _skip_assignments(args, j)
        j += operands
        ch.invoke(args[j:], heredoc, depth + 1)

    return handler


def _set(ch: _Checker, w: _Word, args: list[_Word], heredoc: tuple[str, int] | None, depth: int) -> None:
    written = " ".join([w.text, *(a.text for a in args)])
    j = 0
    while j < len(args):
        a = args[j].text
        if a in ("--", "-"):
            break
        if a.startswith("-") and len(a) > 1:
            if "e" in a[1:]:
                ch.flag(w.line, "set -e", written)
            if "o" in a[1:]:
                if j + 1 < len(args) and args[j + 1].text == "errexit":
                    ch.flag(w.line, "set -e", written)
                j += 1
        elif a.startswith("+"):
            if "o" in a[1:]:
                j += 1
        else:
            break
        j += 1


def _env(ch: _Checker, w: _Word, args: list[_Word], heredoc: tuple[str, int] | None, depth: int) -> None:
    for k, a in enumerate(args):  # env -S 'cmd args' splits its string into a command line
        split = None
        if a.text in ("-S", "--split-string") and k + 1 < len(args):
            split = args[k + 1]
        elif a.text.startswith("--split-string="):
            split = _Word(a.text.split("=", 1)[1], a.line)
        elif a.text.startswith("-S") and len(a.text) > 2:
            split = _Word(a.text[2:], a.line)
        if split is not None:
            try:
                words = [_Word(t, split.line) for t in shlex.split(split.text)]
            except ValueError:
                words = []
            ch.invoke(_skip_assign_words(words), heredoc, depth + 1)
            return
    j = _skip_options(args, "uCS", frozenset({"unset", "chdir", "split-string"}))
    j = _skip_assignments(args, j)
    ch.invoke(args[j:], heredoc, depth + 1)


def _skip_assign_words(words: list[_Word]) -> list[_Word]:
    return words[_skip_assignments(words, 0):]


def _command(ch: _Checker, w: _Word, args: list[_Word], heredoc: tuple[str, int] | None, depth: int) -> None:
    j = 0
    while j < len(args) and args[j].text.startswith("-") and args[j].text != "--":
        if "v" in args[j].text or "V" in args[j].text:
            return  # `command -v make` only looks the name up
        j += 1
    if j < len(args) and args[j].text == "--":
        j += 1
    ch.invoke(args[j:], heredoc, depth + 1)


def _shell(ch: _Checker, w: _Word, args: list[_Word], heredoc: tuple[str, int] | None, depth: int) -> None:
    has_c = False
    j = 0
    while j < len(args):
        a = args[j].text
        if a == "--":
            j += 1
            break
        if a.startswith("--"):
            j += 2 if a in ("--rcfile", "--init-file") else 1
            continue
        if a[:1] in ("-", "+") and len(a) > 1:
            has_c = has_c or "c" in a[1:]
            j += 2 if a[1:] in ("o", "O") else 1
            continue
        break
    if has_c:
        if j < len(args):
            ch.script(args[j].text, args[j].line, depth)
    elif j >= len(args) and heredoc is not None:
        ch.script(heredoc[0], heredoc[1], depth)  # bash <<EOF ... EOF runs the body


def _find(ch: _Checker, w: _Word, args: list[_Word], heredoc: tuple[str, int] | None, depth: int) -> None:
    j = 0
    while j < len(args):
        if args[j].text in ("-exec", "-execdir", "-ok", "-okdir"):
            end = j + 1
            while end < len(args) and args[end].text not in (";", "+"):
                end += 1
            ch.invoke(args[j + 1:end], None, depth + 1)
            j = end
        j += 1


def _string_arg(option: str | None) -> Any:
    """trap 'cmd' SIG / eval words / su -c 'cmd': the string is shell code."""

    def handler(ch: _Checker, w: _Word, args: list[_Word], heredoc: tuple[str, int] | None, depth: int) -> None:
        if option is None:  # eval: its arguments, joined, are the code
            if args:
                ch.script(" ".join(a.text for a in args), args[0].line, depth)
            return
        if option == "":  # trap: the first non-option argument
            rest = [a for a in args if not a.text.startswith("-")]
            if rest and rest[0].text:
                ch.script(rest[0].text, rest[0].line, depth)
            return
        for k, a in enumerate(args):
            if a.text in (option, "--command") and k + 1 < len(args):
                ch.script(args[k + 1].text, args[k + 1].line, depth)
            elif a.text.startswith("--command="):
                ch.script(a.text.split("=", 1)[1], a.line, depth)

    return handler


_WRAPPERS: dict[str, Any] = {
    "sudo": _wrap("ugCDhprtTU", ("user", "group", "close-from", "chdir", "host", "prompt", "role", "type",
                                 "command-timeout", "other-user"), assignments=True),
    "doas": _wrap("uC"),
    "env": _env,
    "nohup": _wrap(),
    "time": _wrap("fo", ("format", "output")),
    "nice": _wrap("n", ("adjustment",)),
    "ionice": _wrap("cn"),
    "timeout": _wrap("sk", ("signal", "kill-after"), operands=1),
    "xargs": _wrap("adEILnPs", ("arg-file", "delimiter", "max-args", "max-procs", "max-chars",
                                "process-slot-var")),
    "command": _command,
    "builtin": _wrap(),
    "exec": _wrap("a"),
    "stdbuf": _wrap("ioe", ("input", "output", "error")),
    "chroot": _wrap("", ("userspec", "groups"), operands=1),
    "setsid": _wrap(),
    "set": _set,
    "find": _find,
    "trap": _string_arg(""),
    "eval": _string_arg(None),
    "su": _string_arg("-c"),
    **{s: _shell for s in _SHELLS},
}


class _BashlexWalker:
    def __init__(self, checker: _Checker, starts: list[int], line0: int, depth: int) -> None:
        self.ch = checker
        self.starts = starts
        self.line0 = line0
        self.depth = depth

    def line(self, pos: int) -> int:
        return self.line0 + bisect.bisect_right(self.starts, pos)

    def walk(self, node: Any) -> None:
        kind = getattr(node, "kind", None)
        if kind == "command":
            words: list[_Word] = []
            heredoc: tuple[str, int] | None = None
            for part in node.parts:
                if part.kind in ("word", "assignment"):
                    words.append(_Word(part.word, self.line(part.pos[0])))
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


_REDIRECTS = ("&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">&", ">>", ">|", "<", ">")


class _Lexer:
    """Enough of bash's lexer to split a script into simple commands, with
    quotes, comments, heredocs, substitutions, arithmetic, arrays, ``[[ ]]``
    and ``case`` patterns handled, for the scripts bashlex cannot parse."""

    def __init__(self, text: str, line0: int) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.line = line0 + 1
        self.commands: list[_Cmd] = []
        self.pending: list[tuple[str, bool, _Cmd]] = []  # heredoc delimiter, strip tabs, its command

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
        cmd = _Cmd()
        buf: list[str] | None = None
        bline = self.line
        depth = 0
        cases: list[bool] = []  # per open `case`: is a pattern expected next?
        target: str | None = None  # "redir" or "heredoc"/"heredoc-" for the next word
        dbracket = False

        def start() -> list[str]:
            nonlocal buf, bline
            if buf is None:
                buf = []
                bline = self.line
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
            heads = [w.text for w in cmd.words if w.text not in _PREFIX]
            if text == "[[" and not heads:
                dbracket = True
            elif text == "]]":
                dbracket = False
            if text == "esac" and not heads and cases:
                cases.pop()
                return
            cmd.words.append(_Word(text, bline))
            if text == "in" and len(cmd.words) >= 3 and cmd.words[-3].text == "case":
                cmd = _Cmd()  # `case WORD in`: what follows is a pattern
                cases.append(True)

        def end_cmd() -> None:
            nonlocal cmd
            end_word()
            if cmd.words or cmd.heredoc:
                self.commands.append(cmd)
            cmd = _Cmd()

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
                    if text is not None and (_ARRAY_START_RE.match(text) or text[-1:] in ("@", "!", "?", "*", "+")):
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
                    self.i += 1
                    end_word()  # may be `esac`, which closes the case before this ')'
                    if cases and cases[-1]:
                        cmd = _Cmd()  # that was a case pattern, not a command
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


if __name__ == "__main__":
    # The child of check_install_script: the script on stdin, the violations as JSON on stdout.
    _found = _check_in_process(text=sys.stdin.read(), filename=sys.argv[1] if len(sys.argv) > 1 else
                               "install_dependencies.sh")
    print(json.dumps([{"line": v.line, "command": v.command, "message": v.message} for v in _found]))
