from __future__ import annotations

import bashlex
import pytest

from shared.contract.install_script import FORBIDDEN_COMMANDS, assert_install_script_ok, check_install_script
from shared.core.errors import PackageError

# The contract's own example (CONTRACT §2.2 / the original rules): must pass.
CONTRACT_EXAMPLE = """#!/bin/bash
# 定义 mim 的安装命令
python_path=$1
PIP=${python_path}/bin/pip
MIM=${python_path}/bin/mim
# 安装mim
$PIP install openmim -i https://pypi.tuna.tsinghua.edu.cn/simple
# 安装 torch、torchvision
$PIP install torch==2.1.0 torchvision==0.16.0 -i https://pypi.tuna.tsinghua.edu.cn/simple
# 安装 mmengine
$MIM install mmengine -i https://pypi.tuna.tsinghua.edu.cn/simple
# 安装 mmcv
$MIM install "mmcv>=2.0.0rc4,<2.2.0" -i https://pypi.tuna.tsinghua.edu.cn/simple
"""

# (script, [(line, command), ...])
CASES: list[tuple[str, list[tuple[int, str]]]] = [
    (CONTRACT_EXAMPLE, []),
    ("rm -rf build", [(1, "rm")]),
    ("echo a; rm x", [(1, "rm")]),
    ("true && mv a b || kill 1", [(1, "mv"), (1, "kill")]),
    ("ls | xargs rm", [(1, "rm")]),
    ("ls |& grep x | make", [(1, "make")]),
    ("X=$(rm -rf /tmp/x)", [(1, "rm")]),
    ("echo `chmod +x a`", [(1, "chmod")]),
    ('echo "result: $(chown u f)"', [(1, "chown")]),
    ("diff <(chgrp g f) b", [(1, "chgrp")]),
    ("if true; then\n  rm x\nfi", [(2, "rm")]),
    ("for f in a b; do\n  gcc $f\ndone", [(2, "gcc")]),
    ("while read l; do cmake .; done < list", [(1, "cmake")]),
    ("until false; do make; done", [(1, "make")]),
    ("build() {\n  g++ main.cpp\n}\nbuild", [(2, "g++")]),
    ("function b {\n  clang++ x.cc\n}", [(2, "clang++")]),
    ("( cd sub && make )", [(1, "make")]),
    ("{ echo x; crontab -l; }", [(1, "crontab")]),
    ("sudo rm x", [(1, "rm")]),
    ("sudo -u root -E rm x", [(1, "rm")]),
    ("env A=1 B=2 rm x", [(1, "rm")]),
    ("env -i -u HOME PATH=/bin mv a b", [(1, "mv")]),
    ("nohup shutdown now &", [(1, "shutdown")]),
    ("nice -n 10 make -j4", [(1, "make")]),
    ("timeout 30 make", [(1, "make")]),
    ("timeout -s KILL 5m reboot", [(1, "reboot")]),
    ("xargs -I{} -n 1 mv {} dest", [(1, "mv")]),
    ("command rm x", [(1, "rm")]),
    ("builtin eval 'ls'", [(1, "eval")]),
    ("exec > install.log 2>&1", [(1, "exec")]),
    ("exec make", [(1, "make"), (1, "exec")]),
    ("/bin/rm x", [(1, "rm")]),
    ("./make all", [(1, "make")]),
    ("/usr/sbin/mkfs.ext4 /dev/sdb", [(1, "mkfs")]),
    ("fdisk -l", [(1, "fdisk")]),
    ("source venv/bin/activate", [(1, "source")]),
    (". venv/bin/activate", [(1, "source")]),
    # eval runs what conda prints: the eval is forbidden, and the command it runs cannot be read.
    ("eval \"$(conda shell.bash hook)\"", [(1, "eval"), (1, "non-literal command")]),
    ('"rm" -f x', [(1, "rm")]),
    ("\\rm -f x", [(1, "rm")]),
    ("R=rm\n$R -rf x\n${R} y", [(2, "rm"), (3, "rm")]),
    ("bash -c 'rm -rf x'", [(1, "rm")]),
    ('sh -ec "make install"', [(1, "make")]),
    ("find . -name '*.o' -exec rm {} \\;", [(1, "rm")]),
    ("trap 'rm -f lock' EXIT", [(1, "rm")]),
    ("bash <<EOF\nmake\nEOF", [(2, "make")]),
    ("remove foo", [(1, "remove")]),
    # set -e, every spelling
    ("set -e", [(1, "set -e")]),
    ("set -eu", [(1, "set -e")]),
    ("set -xe", [(1, "set -e")]),
    ("set -euo pipefail", [(1, "set -e")]),
    ("set -o errexit", [(1, "set -e")]),
    ("set -o pipefail -e", [(1, "set -e")]),
    ("#!/bin/bash -e\necho hi", [(1, "set -e")]),
    ("set +e\nset -x\nset -o pipefail\nset -E\nset -- -e", []),
    # Not invocations
    ('echo "don\'t rm this"', []),
    ("echo rm mv kill", []),
    ("printf '%s\\n' make", []),
    ("# rm -rf /\necho hi  # make it so", []),
    ("pip install remove remove-bg", []),
    ("PIP=$1/bin/pip\n${PIP} install make cmake", []),
    ("PIP=\"${python_path}/bin/pip\"\n$PIP install -r requirements.txt --no-cache-dir", []),
    ("command -v make || echo missing", []),
    ("type rm; which gcc; hash make", []),
    ("apt-get remove -y foo", []),
    ("cat <<EOF > notes.txt\nrm -rf /\nmake\nEOF\necho ok", []),
    ("echo 'rm' \"mv\" $'kill'", []),
    ("mkdir -p weights && cp a.pt weights/", []),
    ("makedirs x; rmdir y; removed z; execute q; sourcer w", []),
]


@pytest.mark.parametrize(("script", "expected"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bashlex_path(script: str, expected: list[tuple[int, str]]) -> None:
    got = [(v.line, v.command) for v in check_install_script(text=script)]
    assert sorted(got) == sorted(expected)


# `: $((0))` is valid bash that bashlex cannot parse: prefixing it forces the fallback lexer
# on the whole script, which must find the same commands (one line further down).
FALLBACK_PREFIX = ": $((0))\n"


def test_prefix_really_defeats_bashlex() -> None:
    with pytest.raises(NotImplementedError):
        bashlex.parse(FALLBACK_PREFIX)


@pytest.mark.parametrize(("script", "expected"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_fallback_lexer_path(script: str, expected: list[tuple[int, str]]) -> None:
    if script.startswith("#!"):
        pytest.skip("a shebang only counts on the first line")
    got = [(v.line, v.command) for v in check_install_script(text=FALLBACK_PREFIX + script)]
    assert sorted(got) == sorted((line + 1, cmd) for line, cmd in expected)


# Valid bash that bashlex rejects outright; the fallback must still be right.
BASHLEX_FAILS = [
    ("time rm x", [(1, "rm")]),
    ("[[ -f x && -d y ]] && rm x", [(1, "rm")]),
    ("[[ $a == make || $b ]]", []),
    ("arr=(a b $(mv x y))\necho ${arr[@]}", [(1, "mv")]),
    ("PIP=$1/bin/pip\ndeclare -a pkgs=(numpy make)\nfor p in \"${pkgs[@]}\"; do $PIP install $p; done", []),
    ("case \"$1\" in\n  rm) echo remove ;;\n  make|cmake) gcc x ;;\n  *) kill 1 ;;\nesac\nmv a b",
     [(3, "gcc"), (4, "kill"), (6, "mv")]),
    ("x=$(case $a in (rm) echo;; esac); make", [(1, "make")]),
    ("echo $(( 1 + $(make -s) ))", [(1, "make")]),
    ("for ((i=0; i<3; i++)); do\n  chmod 644 f$i\ndone", [(2, "chmod")]),
    ("(( n > 1 )) && rm x", [(1, "rm")]),
    ("cat > a.txt <<- 'EOF'\n\trm x\n\tEOF\nmake", [(4, "make")]),
    ("select x in a b; do rm $x; done", [(1, "rm")]),
    ("echo ${x:-$(rm z)} \"${y/a/`mv a b`}\"", [(1, "rm"), (1, "mv")]),
    ("coproc make", [(1, "make")]),
    ("if [[ ! -d $1 ]]; then\n  echo \"no env\" >&2\n  exit 1\nfi\n$1/bin/pip install x", []),
    ("echo a \\\n  && rm b", [(2, "rm")]),
    ("shopt -s extglob\nls !(keep) | xargs rm", [(2, "rm")]),
]


@pytest.mark.parametrize(("script", "expected"), BASHLEX_FAILS, ids=[f"f{i}" for i in range(len(BASHLEX_FAILS))])
def test_scripts_bashlex_cannot_parse(script: str, expected: list[tuple[int, str]]) -> None:
    got = [(v.line, v.command) for v in check_install_script(text=script)]
    assert sorted(got) == sorted(expected)


def test_message_names_command_line_and_list() -> None:
    v = check_install_script(text="echo start\nPIP=$1/bin/pip; $PIP install x\n\nsudo /bin/rm -rf /tmp/x\n")
    assert len(v) == 1
    assert v[0].line == 4 and v[0].command == "rm"
    assert v[0].message.startswith("install_dependencies.sh line 4: `/bin/rm` (rm) is not allowed (forbidden "
                                   "commands: rm, kill, remove, mv,")
    assert "Remove it;" in v[0].message
    v = check_install_script(text="set -euo pipefail\n", filename="deps.sh")
    assert v[0].message.startswith("deps.sh line 1: `set -euo pipefail` (set -e) is not allowed")


def test_crlf_script() -> None:
    got = [(v.line, v.command) for v in check_install_script(text="echo a\r\nrm b\r\n")]
    assert got == [(2, "rm")]


def test_forbidden_list_is_the_contract_list() -> None:
    assert FORBIDDEN_COMMANDS == ("rm", "kill", "remove", "mv", "reboot", "shutdown", "gcc", "g++", "clang++",
                                  "cmake", "make", "chown", "chmod", "chgrp", "source", "crontab", "eval",
                                  "exec", "set -e", "mkfs", "fdisk")


@pytest.mark.parametrize("command", [c for c in FORBIDDEN_COMMANDS if c != "set -e"])
def test_every_forbidden_command_is_caught(command: str) -> None:
    got = check_install_script(text=f"echo ok\n{command} arg\n")
    assert [(v.line, v.command) for v in got] == [(2, command)]


def test_assert_ok_raises_with_every_violation() -> None:
    assert_install_script_ok(text=CONTRACT_EXAMPLE)
    with pytest.raises(PackageError) as exc:
        assert_install_script_ok(text="rm a\nmake\nset -e\n")
    err = exc.value
    assert err.message.startswith("install_dependencies.sh uses forbidden commands (`rm`, `make`, `set -e`)")
    assert [d.split(":")[0] for d in err.details] == ["install_dependencies.sh line 1",
                                                     "install_dependencies.sh line 2",
                                                     "install_dependencies.sh line 3"]


def test_garbage_does_not_crash() -> None:
    for text in ["", "\n\n", "# only a comment", "'unterminated", "$(", "echo \"$(", "case x in", "((", "<<",
                 "cat <<EOF\nno end", "}}}", ")))", "a=(", "``", "\\"]:
        check_install_script(text=text)


def test_bashlex_blowup_is_cut_short() -> None:
    # bashlex backtracks exponentially on this (valid-enough) text; the checker must still answer,
    # from the fallback lexer, and still see the rm on line 1.
    text = "rm x\nbash -c 'rm\\resac`@`;;((make $ m}${m((acase arr=(bbash -c )?<r)) ${\"'$;;b?\"@\n"
    got = [(v.line, v.command) for v in check_install_script(text=text)]
    assert (1, "rm") in got


def test_without_the_child_process_the_lexer_still_checks(monkeypatch) -> None:
    # If the bashlex child cannot run (or is killed past its budget), the in-process lexer answers.
    import shared.contract.install_script as mod  # the package: its check_install_script runs the child

    monkeypatch.setattr(mod.sys, "executable", "/nonexistent/python")
    got = [(v.line, v.command) for v in check_install_script(text="pip install x && rm -rf /\necho 'rm'\n")]
    assert got == [(1, "rm")]
