"""The CLI speaks the reader's language (TRAINYARD_LANGUAGE, else LC_ALL/LC_MESSAGES/LANG):
errors and text output in Chinese, ``--json`` in English whatever the language."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from runner.cli import cli_language
from shared.core.i18n import Language, current_language
from tests.support.paths import ROOT


def _runner(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runner", *argv], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def test_task_show_of_a_missing_task_in_chinese_and_json_in_english(settings):
    zh = _runner("task", "show", "999", env={"TRAINYARD_LANGUAGE": "zh-CN"})
    assert zh.returncode == 1 and zh.stdout == ""
    assert zh.stderr.strip() == "错误：任务 999 不存在"
    as_json = _runner("task", "show", "999", "--json", env={"TRAINYARD_LANGUAGE": "zh-CN"})
    assert as_json.returncode == 1
    assert json.loads(as_json.stderr) == {"error": "task 999 does not exist", "field": None}
    by_locale = _runner("task", "show", "999", env={"TRAINYARD_LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "",
                                                    "LANG": "zh_CN.UTF-8"})
    assert by_locale.stderr.strip() == "错误：任务 999 不存在"


def test_text_output_and_field_errors_in_chinese(cli, monkeypatch):
    monkeypatch.setenv("TRAINYARD_LANGUAGE", "zh-CN")
    assert cli("dataset", "list").stdout == "暂无数据集\n"
    assert cli("task", "list").stdout == "暂无任务\n"
    assert cli("dataset", "list", "--json").stdout.strip() == "[]"
    r = cli("model", "templates", "1", "--set", "fast", "--value", "lr")
    assert r.code == 1 and "'lr'：请写成 name=value" in r.stderr and r.stderr.startswith("错误：--value: ")
    # the language was the command's only: the test process is back to English
    assert current_language() is Language.en
    monkeypatch.setenv("TRAINYARD_LANGUAGE", "en")
    assert cli("dataset", "list").stdout == "no datasets\n"


def test_the_language_comes_from_the_setting_then_the_locale_as_posix_ranks_it():
    assert cli_language({}) is Language.en
    assert cli_language({"LANG": "zh_CN.UTF-8"}) is Language.zh_CN
    assert cli_language({"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}) is Language.en  # LC_ALL wins, C is English
    assert cli_language({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}) is Language.zh_CN
    assert cli_language({"LANG": "zh_CN.UTF-8", "TRAINYARD_LANGUAGE": "en"}) is Language.en
