"""What the install-script check refuses, and how each refusal is worded.

Two kinds of refusal: a command on the contract's forbidden list (CONTRACT
§2.2), and a spelling that hides which command runs (a command word built
from an expansion, an alias, code handed inline to an interpreter). Every
message names the file, the line, what was written, and the fix.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from shared.contract.names import FORBIDDEN_COMMANDS
from shared.core.i18n import N_

SINGLE = frozenset(c for c in FORBIDDEN_COMMANDS if " " not in c)
_LIST = ", ".join(FORBIDDEN_COMMANDS)

# Labels of the refused spellings (ScriptViolation.command), after the forbidden list in sort order.
NON_LITERAL = N_("non-literal command")
ALIAS = N_("alias")
INLINE_CODE = N_("inline code")
RULE_ORDER = (*FORBIDDEN_COMMANDS, NON_LITERAL, ALIAS, INLINE_CODE)

# Other names of a forbidden command's job: they are refused as that command.
_SYNONYMS = {"pkill": "kill", "killall": "kill", "unlink": "rm"}

# Every message is a catalog template (the code in it a value: `${python_path}` has braces of its own), so
# that a page reads it back in the reader's language (shared.core.relocalize); the English is the record.
_PIP = "`${python_path}/bin/pip install ...`"
_ONLY_INSTALL = N_("the script may only install packages into the environment it is given as $1")
_NO_BUILD = N_("install prebuilt packages instead ({pip} or {mim}); pip may still build a package's own "
               "extensions").format(pip=_PIP, mim="`${python_path}/bin/mim install ...`")
_NO_PERMS = N_("files in the package are usable as they are; run scripts with {example}").format(
    example="`bash script.sh`")
HINTS = {
    "rm": N_("it runs once in a fresh environment, so there is nothing to delete or clean up"),
    "mv": N_("it runs once in a fresh environment; write files where they are needed instead of moving them"),
    "remove": _ONLY_INSTALL, "kill": _ONLY_INSTALL, "reboot": _ONLY_INSTALL, "shutdown": _ONLY_INSTALL,
    "crontab": _ONLY_INSTALL, "mkfs": _ONLY_INSTALL, "fdisk": _ONLY_INSTALL,
    "gcc": _NO_BUILD, "g++": _NO_BUILD, "clang++": _NO_BUILD, "cmake": _NO_BUILD, "make": _NO_BUILD,
    "chown": _NO_PERMS, "chmod": _NO_PERMS, "chgrp": _NO_PERMS,
    "source": N_("call the environment's tools by path instead of activating it, e.g. {example}").format(
        example=_PIP),
    "eval": N_("run the command directly"),
    "exec": N_("run the command directly (to redirect output, redirect each command)"),
    "set -e": N_("to stop at a failing step write {example}").format(example="`command || exit 1`"),
}


class Interpreter(NamedTuple):
    """A language runtime and how its command line hands it code: ``code`` letters take the code
    itself (``-c``), ``values`` letters take some other value, ``stop`` letters end the options."""

    name: re.Pattern[str]
    code: str
    values: str = ""
    stop: str = ""
    code_longs: frozenset[str] = frozenset()


INTERPRETERS: tuple[Interpreter, ...] = (
    Interpreter(re.compile(r"^(python|pypy)[0-9.]*$"), code="c", values="WX", stop="m"),
    Interpreter(re.compile(r"^perl[0-9.]*$"), code="eE", values="IMmxlCdDi0"),
    Interpreter(re.compile(r"^ruby[0-9.]*$"), code="e", values="IrEFxC0"),
    Interpreter(re.compile(r"^(node|nodejs)$"), code="ep", values="r", code_longs=frozenset({"--eval", "--print"})),
)
# Asking an interpreter for its version or help runs no code.
QUERY_ARGS = frozenset({"-V", "-v", "--version", "-h", "--help"})

# In the command's own name (after the last '/'): expansions, globs, brace expansion, extglob.
_NAME_NOT_LITERAL = re.compile(r"[$*?\[\]{}()]")


def canonical(base: str) -> str | None:
    """The forbidden-list entry that running ``base`` amounts to, if any."""
    if base in SINGLE:
        return base
    if base == ".":
        return "source"
    if base.startswith("mkfs."):
        return "mkfs"
    return _SYNONYMS.get(base)


def why_not_literal(raw: str) -> str | None:
    """Why the command word, as written, does not name its command literally; None when it does.

    A parameter in the directory part (``${python_path}/bin/pip``, ``$1/bin/pip``) is how the
    contract itself calls the environment's tools, so only the name after the last '/' must be
    literal; substitutions and ANSI-C or locale quoting are refused anywhere in the word, since
    they can produce a '/' of their own.
    """
    if raw in ("[", "[[") or raw.startswith("(("):
        return None  # the test command, and an arithmetic command (its `$(( ))` is a number, not a name)
    if "$(" in raw or "`" in raw:
        return N_("it is the output of a command substitution")
    if "$'" in raw:
        return N_("it uses ANSI-C quoting $'...', which can spell any name with escapes")
    if '$"' in raw:
        return N_("it uses $\"...\" quoting, which the locale may translate into another name")
    name = raw.rsplit("/", 1)[-1]
    if "$" in name:
        return N_("its name comes from a variable that is not assigned a plain value before this line")
    if _NAME_NOT_LITERAL.search(name):
        return N_("its name contains glob, brace or pattern characters, which expand to other names")
    return None


def _place(filename: str, line: int) -> str:
    """"install_dependencies.sh line 3: ", the place relocalize keeps apart from the message."""
    return filename + " " + N_("line {line}").format(line=line) + ": "


def forbidden_message(filename: str, line: int, command: str, written: str | None) -> str:
    shown = f"`{command}`" if written in (None, command) else f"`{written}` ({command})"
    return _place(filename, line) + N_("{shown} is not allowed (forbidden commands: {commands}). Remove it; "
                                       "{hint}").format(shown=shown, commands=_LIST, hint=HINTS[command])


def non_literal_message(filename: str, line: int, written: str, why: str) -> str:
    return _place(filename, line) + N_(
        "the command {written} is not a plain name: {why}, so the check cannot tell which command runs. Write "
        "the command's name literally, e.g. {example}, or assign it to a variable first ({assign}, then {use})"
    ).format(written=f"`{written}`", why=why, example=_PIP, assign="`PIP=${python_path}/bin/pip`",
             use="`$PIP install ...`")


def alias_message(filename: str, line: int, written: str) -> str:
    return _place(filename, line) + N_(
        "{written} is not allowed: an alias gives a command another name, so the check cannot see which "
        "command runs. Remove the alias and call the command by its own name").format(written=f"`{written}`")


def inline_code_message(filename: str, line: int, written: str) -> str:
    # Refused outright rather than scanned for forbidden calls: a pattern check over Python (or Perl,
    # Ruby, JS) is defeated by string arithmetic (getattr(__import__('o'+'s'), 'sys'+'tem')), and the
    # fix costs one file, which the package then shows to whoever reviews it.
    return _place(filename, line) + N_(
        "{written} is not allowed: code passed inline to an interpreter cannot be checked. Put the code in a file "
        "in the package and run that file, e.g. {example}").format(
        written=f"`{written}`", example="`${python_path}/bin/python setup_step.py`")
