"""Commands that run other commands (``sudo``, ``env``, ``xargs``, ``find -exec``, ``bash -c``, ``busybox``,
...): each is checked as the command it runs. Also ``set`` (its ``-e``), ``alias`` and inline interpreter code."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from shared.contract.install_script.rules import (
    ALIAS,
    INLINE_CODE,
    QUERY_ARGS,
    Interpreter,
    alias_message,
    inline_code_message,
)
from shared.contract.install_script.words import ASSIGN_RE, Word

if TYPE_CHECKING:
    from shared.contract.install_script.checker import Checker

SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "ash", "mksh"})


def _skip_options(args: list[Word], short_values: str = "", long_values: frozenset[str] = frozenset()) -> int:
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


def _skip_assignments(args: list[Word], j: int) -> int:
    while j < len(args) and ASSIGN_RE.match(args[j].text):
        j += 1
    return j


def _wrap(short_values: str = "", long_values: tuple[str, ...] = (), *, assignments: bool = False,
          operands: int = 0) -> Any:
    longs = frozenset(long_values)

    def handler(ch: Checker, w: Word, args: list[Word], heredoc: tuple[str, int] | None, depth: int) -> None:
        j = _skip_options(args, short_values, longs)
        if assignments:
            j = _skip_assignments(args, j)
        j += operands
        ch.invoke(args[j:], heredoc, depth + 1)

    return handler


def _set(ch: Checker, w: Word, args: list[Word], heredoc: tuple[str, int] | None, depth: int) -> None:
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


def _env(ch: Checker, w: Word, args: list[Word], heredoc: tuple[str, int] | None, depth: int) -> None:
    for k, a in enumerate(args):  # env -S 'cmd args' splits its string into a command line
        split = None
        if a.text in ("-S", "--split-string") and k + 1 < len(args):
            split = args[k + 1]
        elif a.text.startswith("--split-string="):
            split = Word(a.text.split("=", 1)[1], a.line)
        elif a.text.startswith("-S") and len(a.text) > 2:
            split = Word(a.text[2:], a.line)
        if split is not None:
            try:
                words = [Word(t, split.line) for t in shlex.split(split.text)]
            except ValueError:
                words = []
            ch.invoke(_skip_assign_words(words), heredoc, depth + 1)
            return
    j = _skip_options(args, "uCS", frozenset({"unset", "chdir", "split-string"}))
    j = _skip_assignments(args, j)
    ch.invoke(args[j:], heredoc, depth + 1)


def _skip_assign_words(words: list[Word]) -> list[Word]:
    return words[_skip_assignments(words, 0):]


def _command(ch: Checker, w: Word, args: list[Word], heredoc: tuple[str, int] | None, depth: int) -> None:
    j = 0
    while j < len(args) and args[j].text.startswith("-") and args[j].text != "--":
        if "v" in args[j].text or "V" in args[j].text:
            return  # `command -v make` only looks the name up
        j += 1
    if j < len(args) and args[j].text == "--":
        j += 1
    ch.invoke(args[j:], heredoc, depth + 1)


def _shell(ch: Checker, w: Word, args: list[Word], heredoc: tuple[str, int] | None, depth: int) -> None:
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


def _find(ch: Checker, w: Word, args: list[Word], heredoc: tuple[str, int] | None, depth: int) -> None:
    j = 0
    while j < len(args):
        if args[j].text == "-delete":
            ch.flag(w.line, "rm", f"{w.text} -delete")  # find's own rm
        if args[j].text in ("-exec", "-execdir", "-ok", "-okdir"):
            end = j + 1
            while end < len(args) and args[end].text not in (";", "+"):
                end += 1
            ch.invoke(args[j + 1:end], None, depth + 1)
            j = end
        j += 1


def _string_arg(option: str | None) -> Any:
    """trap 'cmd' SIG / eval words / su -c 'cmd': the string is shell code."""

    def handler(ch: Checker, w: Word, args: list[Word], heredoc: tuple[str, int] | None, depth: int) -> None:
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


def _alias(ch: Checker, w: Word, args: list[Word], heredoc: tuple[str, int] | None, depth: int) -> None:
    for a in args:
        if "=" in a.text and not a.text.startswith("-"):  # `alias` and `alias -p` only list
            ch.refuse(a.line, ALIAS, alias_message(ch.filename, a.line, f"{w.text} {a.spelling}"), a.spelling)


def interpreter(ch: Checker, w: Word, spec: Interpreter, args: list[Word], heredoc: tuple[str, int] | None) -> None:
    """Refuse code handed to a language runtime on its command line or on stdin (see inline_code_message)."""
    if any(a.text in QUERY_ARGS for a in args):
        return

    def refuse(upto: int) -> None:
        written = " ".join([w.spelling, *(x.spelling for x in args[:upto])])
        ch.refuse(w.line, INLINE_CODE, inline_code_message(ch.filename, w.line, written), written)

    j = 0
    while j < len(args):
        t = args[j].text
        if t in spec.code_longs or any(t.startswith(f"{long}=") for long in spec.code_longs):
            return refuse(j + 1)
        if t == "-":
            break  # the code comes from stdin
        if t.startswith("--"):
            j += 1
            continue
        if not t.startswith("-") or len(t) < 2:
            return None  # the script file: its own arguments follow
        j += 1
        for k, letter in enumerate(t[1:]):
            if letter in spec.code:
                return refuse(j)
            if letter in spec.stop:
                return None  # python -m module runs an installed module, e.g. `python -m pip install ...`
            if letter in spec.values:
                j += 1 if k == len(t) - 2 else 0  # the value is the next word unless attached
                break
    # No script file: the code comes from stdin (a heredoc, a pipe).
    return refuse(len(args))


WRAPPERS: dict[str, Any] = {
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
    "alias": _alias,
    # Multi-call binaries: the first operand is the tool they run (`busybox rm`, `busybox sh -c ...`).
    "busybox": _wrap(),
    "toybox": _wrap(),
    **{s: _shell for s in SHELLS},
}
