"""Spellings that hid a forbidden command from the check (issue 13 item 7): a command word that is
not a plain name, wrappers that run their argument, other names of a forbidden job, aliases and
inline interpreter code. Each is refused with its line, through bashlex and through the lexer."""

from __future__ import annotations

import pytest

from shared.contract.install_script import assert_install_script_ok, check_in_process, check_install_script
from shared.core.errors import PackageError

NL = "non-literal command"
INLINE = "inline code"

# (script, [(line, command), ...]); the line before each case is an ordinary install step.
SPELLINGS: list[tuple[str, list[tuple[int, str]]]] = [
    # 1-9: the command word is not a plain name
    ("$'\\x72\\x6d' -rf /tmp/x", [(2, NL)]),
    ("$'rm' -rf /tmp/x", [(2, NL)]),
    ('$"rm" -rf /tmp/x', [(2, NL)]),
    ("r${X}m -rf /tmp/x", [(2, NL)]),
    ("${R:-rm} -rf /tmp/x", [(2, NL)]),
    ("$(echo rm) -rf /tmp/x", [(2, NL)]),
    ("`echo rm` -rf /tmp/x", [(2, NL)]),
    ("$CMD -rf /tmp/x", [(2, NL)]),
    ("/bin/r? -rf /tmp/x", [(2, NL)]),
    # 10-14: wrappers and other names of the same job
    ("busybox rm -rf /tmp/x", [(2, "rm")]),
    ("find /tmp/x -delete", [(2, "rm")]),
    ("pkill -f python", [(2, "kill")]),
    ("killall python", [(2, "kill")]),
    ("unlink /tmp/x", [(2, "rm")]),
    # 15-18: code handed to an interpreter, or an alias
    ("python3 -c \"import shutil; shutil.rmtree('/tmp/x')\"", [(2, INLINE)]),
    ("python -c 'import os; os.system(\"rm -rf /tmp/x\")'", [(2, INLINE)]),
    ("python3 - <<EOF\nimport os\nEOF", [(2, INLINE)]),
    ("alias x=rm\nx -rf /tmp/x", [(2, "alias")]),
    # 19-20: through a variable or a string
    ("R=$'\\x72\\x6d'\n$R -rf /tmp/x", [(3, NL)]),
    ("bash -c \"$(echo rm) -rf /tmp/x\"", [(2, NL)]),
]

# Every wrapper that runs its argument is checked as the command it runs.
WRAPPERS: list[tuple[str, list[tuple[int, str]]]] = [
    ("busybox sh -c 'rm -rf /tmp/x'", [(2, "rm")]),
    ("env $(echo rm) x", [(2, NL)]),
    ("ls | xargs -n1 $'\\x72\\x6d'", [(2, NL)]),
    ("find . -name '*.o' -exec busybox rm {} +", [(2, "rm")]),
    ("sh -c 'pkill python'", [(2, "kill")]),
    ("bash -c 'python3 -c \"import os\"'", [(2, INLINE)]),
    ("nohup perl -e 'unlink 1' &", [(2, INLINE)]),
    ("timeout 5 r${X}m x", [(2, NL)]),
    ("sudo -E busybox mv a b", [(2, "mv")]),
    ("command busybox rm x", [(2, "rm")]),
    ("exec busybox rm x", [(2, "exec"), (2, "rm")]),
    ("E=\n$E rm x", [(3, "rm")]),
]

# Still fine: the contract's own ways of calling the environment's tools.
ALLOWED: list[str] = [
    "${python_path}/bin/pip install x",
    "$1/bin/pip install x",
    "\"$1/bin/mim\" install mmcv",
    "PY=${python_path}/bin/python\n$PY -m pip install -U pip",
    "export PIP=\"$1/bin/pip\"\n$PIP install x",
    "$1/bin/python setup.py develop",
    "$1/bin/python --version",
    "[ -d \"$1\" ] || exit 1",
    "find . -name '*.whl' -print",
    "alias",
]

TABLE = [(f"$1/bin/pip install numpy\n{script}", expected) for script, expected in SPELLINGS + WRAPPERS]
IDS = [f"s{i + 1}" for i in range(len(SPELLINGS))] + [f"w{i + 1}" for i in range(len(WRAPPERS))]


def test_the_table_holds_twenty_spellings() -> None:
    assert len(SPELLINGS) == 20


@pytest.mark.parametrize(("script", "expected"), TABLE, ids=IDS)
def test_refused_through_bashlex(script: str, expected: list[tuple[int, str]]) -> None:
    got = [(v.line, v.command) for v in check_install_script(text=script)]
    assert sorted(got) == sorted(expected)


@pytest.mark.parametrize(("script", "expected"), TABLE, ids=IDS)
def test_refused_through_the_lexer(script: str, expected: list[tuple[int, str]]) -> None:
    got = [(v.line, v.command) for v in check_in_process(text=script, filename="install_dependencies.sh",
                                                         use_bashlex=False)]
    assert sorted(got) == sorted(expected)


@pytest.mark.parametrize("script", ALLOWED)
def test_contract_spellings_stay_allowed(script: str) -> None:
    assert check_in_process(text=script, filename="install_dependencies.sh") == []
    assert check_in_process(text=script, filename="install_dependencies.sh", use_bashlex=False) == []


@pytest.mark.parametrize(("script", "written", "fix"), [
    ("echo a\nr${X}m -rf /tmp/x\n", "`r${X}m`", "Write the command's name literally"),
    ("echo a\n$'\\x72\\x6d' x\n", "`$'\\x72\\x6d'`", "ANSI-C quoting"),
    ("echo a\npython3 -c 'import os'\n", "`python3 -c`", "Put the code in a file in the package"),
    ("echo a\nalias x=rm\n", "`alias x=rm`", "call the command by its own name"),
    ("echo a\nbusybox rm x\n", "`rm`", "Remove it;"),
])
def test_message_names_command_line_and_fix(script: str, written: str, fix: str) -> None:
    [v] = check_in_process(text=script, filename="deps.sh")
    assert v.message.startswith("deps.sh line 2: ")
    assert written in v.message and fix in v.message


def test_assert_ok_refuses_a_hidden_rm() -> None:
    with pytest.raises(PackageError) as exc:
        assert_install_script_ok(text="$1/bin/pip install x\n$(printf 'r%s' m) -rf /tmp/x\n")
    assert exc.value.message.startswith("install_dependencies.sh uses spellings that hide the command run "
                                        "(non-literal command); fix each line below")
    assert exc.value.details[0].startswith("install_dependencies.sh line 2: the command `$(printf 'r%s' m)`")
