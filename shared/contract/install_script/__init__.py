"""install_dependencies.sh checker (CONTRACT §2.2).

A forbidden command is flagged where it is *invoked*: as a command word
anywhere a command can start (after ``;`` ``&&`` ``||`` ``|``, in ``$(...)``
and backticks, in if/for/while/case/function bodies, subshells and brace
groups), behind wrappers that run their argument (``sudo``, ``env``,
``xargs``, ``timeout``, ``nohup``, ``command``, ``exec``, ``busybox``,
``find -exec``), inside ``bash -c '...'`` strings, when called by path
(``/bin/rm``), under another name of the same job (``pkill``, ``find
-delete``) or through a variable holding its name (``R=rm; $R x``).
The same word inside a string, a comment, or as an argument
(``echo "don't rm this"``, ``pip install remove``) is not a violation.

A command word the check cannot read as a plain name is refused with its
line: ANSI-C or locale quoting (``$'\\x72\\x6d'``), a command substitution
(``$(echo rm)``), a variable never assigned a plain value (``r${X}m``), glob
characters; so are alias definitions and code handed inline to an
interpreter (``python3 -c``), since they hide what runs.

bashlex parses most scripts (rules, wrappers and the walk: ``rules``,
``wrappers``, ``checker``); for the valid bash it cannot parse (``[[``,
arrays, ``case``, ``$((...))``, ``time``) a small lexer of our own
(``lexer``) takes over and still finds every command word.

This is the platform's contract check, not its security boundary: a check
over shell text can always be out-spelled, and user code, the install script
included, runs in the sandbox either way. The sandbox is the boundary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from shared.contract.install_script.checker import BASHLEX_BUDGET_S, Checker
from shared.contract.install_script.words import ScriptViolation
from shared.contract.names import FORBIDDEN_COMMANDS, INSTALL_SCRIPT
from shared.core.errors import PackageError, Term
from shared.core.i18n import N_, _

__all__ = ["FORBIDDEN_COMMANDS", "ScriptViolation", "assert_install_script_ok", "check_install_script"]


def check_install_script(*, text: str, filename: str = INSTALL_SCRIPT) -> list[ScriptViolation]:
    """Every invocation of a forbidden command and every refused spelling, in line order.

    bashlex runs in a child process that is killed past its budget: the trace
    hook that stops it in-process is not reliable in every host process (a
    process with audit hooks or greenlets may drop it), and an upload must not
    be able to hang or exhaust the UI or a worker. Without an answer from the
    child, the fallback lexer checks the script in-process.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    root = str(Path(__file__).resolve().parents[3])
    try:
        proc = subprocess.run([sys.executable, "-m", "shared.contract.install_script", filename], input=text,
                              capture_output=True, text=True, timeout=BASHLEX_BUDGET_S + 8, cwd=root,
                              env={"PYTHONPATH": root, "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        if proc.returncode == 0:
            return [ScriptViolation(**v) for v in json.loads(proc.stdout)]
    except (subprocess.TimeoutExpired, OSError, ValueError, TypeError):
        pass
    return check_in_process(text=text, filename=filename, use_bashlex=False)


def check_in_process(*, text: str, filename: str, use_bashlex: bool = True) -> list[ScriptViolation]:
    checker = Checker(filename, use_bashlex=use_bashlex)
    checker.shebang(text)
    checker.check_text(text, line0=0, depth=0)
    return checker.violations()


def assert_install_script_ok(*, text: str, filename: str = INSTALL_SCRIPT) -> None:
    violations = check_install_script(text=text, filename=filename)
    if violations:
        forbidden = ", ".join(dict.fromkeys(f"`{v.command}`" for v in violations if v.command in FORBIDDEN_COMMANDS))
        kinds = list(dict.fromkeys(v.command for v in violations if v.command not in FORBIDDEN_COMMANDS))

        def said(translate: Callable[[str], str]) -> str:
            # The kinds of hidden spelling are words ("inline code"): a reader sees them in their language.
            hidden = ", ".join(translate(k) for k in kinds)
            if forbidden and hidden:
                return translate(N_("forbidden commands ({forbidden}) and spellings that hide the command run "
                                    "({hidden})")).format(forbidden=forbidden, hidden=hidden)
            if forbidden:
                return translate(N_("forbidden commands ({commands})")).format(commands=forbidden)
            return translate(N_("spellings that hide the command run ({commands})")).format(commands=hidden)

        what = Term(said(lambda s: s), lambda: said(_))
        raise PackageError(N_("{filename} uses {what}; fix each line below"), details=[v.message for v in violations],
                           params={"filename": filename, "what": what})
