"""Values inside zh-CN messages read Chinese: statuses and record kinds named in a refusal, the reasons a run
or task stores in English (explanations, limits, counts), a dataset's problem lines with the wrong-task-type
hint, and a model package's check lines. The stored and ``str()`` English stays as it was; only what a
reader sees changes. Real validators on real folders; the English detector is the zh-CN walk's."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest

from runner.envs.seal import EnvRefused, check_env
from runner.execute.explain import explain
from runner.sandbox import Limits, SandboxSpec
from shared.contract.datasets.validate import validate_dataset
from shared.contract.install_script import assert_install_script_ok
from shared.contract.names import FORBIDDEN_COMMANDS, INSTALL_SCRIPT
from shared.contract.package import check_package
from shared.core.errors import ConflictError, DatasetFormatError, EnvBuildError, PackageError
from shared.core.i18n import N_, use_language
from shared.core.relocalize import relocalize
from shared.records import Action, Dataset, ModelPackage, Role, Task, TaskStatus, TaskType, User
from shared.records.labels import term
from shared.services.access import denial_error, missing_error
from tests.shared.contract.datasets.test_validate import BROKEN, make
from tests.support.english import english_words

ZH = "zh-CN"


def _zh(text: str) -> str:
    with use_language(ZH):
        return text() if callable(text) else relocalize(text)


@pytest.mark.parametrize("record", [Dataset, ModelPackage, Task])
def test_refusals_name_the_record_kind_in_chinese(record):
    viewer = User(id=7, name="v", role=Role.viewer, password_hash="x")
    err = denial_error(viewer, Action.delete, record)
    assert " a " + {Dataset: "dataset", ModelPackage: "model", Task: "task"}[record] + " " in str(err)
    with use_language(ZH):
        text = err.localized()
    assert english_words(text) == [], text
    assert {Dataset: "数据集", ModelPackage: "算法", Task: "任务"}[record] in text


def test_a_status_inside_a_message_reads_chinese_and_stays_raw_in_english():
    err = ConflictError(N_("task {task_id} is already {task_status}"),
                        params={"task_id": 3, "task_status": term(TaskStatus.timed_out)})
    assert str(err) == "task 3 is already timed_out"  # the row, the log and the CLI's JSON keep the value
    with use_language(ZH):
        assert "执行超时" in err.localized() and english_words(err.localized()) == []
    assert "执行超时" not in err.localized()


def test_unknown_kind_reads_chinese():
    with use_language(ZH):
        text = missing_error(User, 4).localized()
    assert english_words(text) == [], text


def _spec(**limits) -> SandboxSpec:
    return SandboxSpec(argv=["python", "train.py"], workdir=Path("/tmp/none"), limits=Limits(**limits))


@pytest.mark.parametrize(("kw", "limits"), [
    ({"exit_code": 1, "sig": None, "recent": ["RuntimeError: boom"]}, {}),
    ({"exit_code": None, "sig": signal.SIGKILL, "recent": []}, {}),
    ({"exit_code": 1, "sig": None, "recent": ["MemoryError"]}, {"memory_bytes": 2 << 30}),
    ({"exit_code": 1, "sig": None, "recent": ["OSError: [Errno 24] Too many open files"]}, {"max_open_files": 64}),
    ({"exit_code": 1, "sig": None, "recent": ["socket.gaierror: [Errno -2] Name or service not known"]}, {}),
    ({"exit_code": 1, "sig": None, "recent": ["OSError: We couldn't connect to 'https://huggingface.co'"]}, {}),
])
def test_failure_explanations_read_chinese(kw, limits):
    stored = explain(spec=_spec(**limits), **kw)
    shown = _zh(stored)
    assert shown != stored
    for said in [*kw["recent"], "huggingface-cli download", "<model folder>"]:  # the user's line, code
        shown = shown.replace(said, "")
    assert english_words(shown) == [], f"{stored}\n→ {shown}"


@pytest.mark.parametrize("stored", [
    "stopped by user", "time limit 60 s reached", "2 of 3 runs failed",
    "all 2 runs failed; run 5: exit code 1: MemoryError",
    "1 of 2 runs failed; no run printed the evaluation metric 'score'",
    "cancelled: task time limit reached", "timed_out",
    "memory limit 2.0 GiB reached (the run used 2.5 GiB)",
    "re-queued: worker w1 lost (no heartbeat for 30 s)",
])
def test_stored_task_and_run_reasons_read_chinese(stored):
    shown = _zh(stored).replace("MemoryError", "")  # an exception's name is the user's code's
    assert english_words(shown) == [], f"{stored}\n→ {shown}"


def test_english_stays_english():
    assert relocalize("2 of 3 runs failed") == "2 of 3 runs failed"
    said = "RuntimeError: something only the user's code says"
    assert _zh(said) == said


def _classification_folders(root: Path) -> Path:
    from PIL import Image

    for cls in ("cat", "dog"):
        (root / "train" / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(root / "train" / cls / "a.png")
    return root


def test_wrong_task_type_and_its_problem_lines_read_chinese(tmp_path):
    root = _classification_folders(tmp_path / "ds")
    with pytest.raises(DatasetFormatError) as got:
        validate_dataset(root=root, task_type="detection")
    err = got.value
    assert "object detection" in str(err) and "Image classification" in str(err)  # the English is unchanged
    with use_language(ZH):
        text = err.localized()
    assert "图像分类" in text and "目标检测" in text
    assert english_words(text) == [], text


def _package(root: Path, *, weights: bool) -> Path:
    root.mkdir()
    (root / "Train.py").write_text("import argparse\n")
    (root / "predict.py").write_text("print(1)\n")
    (root / "requirements.txt").write_text("")
    if weights:
        (root / "weights").mkdir()
    return root


@pytest.mark.parametrize("weights", [True, False], ids=["one problem", "two problems"])
def test_a_bad_model_package_reads_chinese(tmp_path, weights):
    with pytest.raises(PackageError) as got:
        check_package(root=_package(tmp_path / "pkg", weights=weights))
    assert "the package has no train.py at its root" in str(got.value)
    with use_language(ZH):
        text = got.value.localized()
    assert english_words(text) == [], text


def test_package_warnings_read_chinese(tmp_path):
    root = _package(tmp_path / "pkg", weights=True)
    (root / "Train.py").rename(root / "train.py")
    (root / "install_dependencies").write_text("pip install x\n")  # not the exact name: not run
    report = check_package(root=root)
    mine = [w for w in report.warnings if w.startswith(("requirements.txt lists", "'install_dependencies'"))]
    assert len(mine) == 2, report.warnings
    for line in mine:
        shown = _zh(line)
        assert english_words(shown) == [], f"{line}\n→ {shown}"


# --------------------------------------------------------------------------- every dataset format, broken


def _without_tokens(text: str, *tokens: str) -> str:
    """``text`` less what is the user's or the format's own, not UI text: quoted file text ('x1 y1 ...',
    'zebra'), code in backticks, JSON paths (annotations[0]) and the names given."""
    text = re.sub(r"'[^']*'|`[^`]*`|\w+\[\d+\]", " ", text)
    for token in tokens:
        text = re.sub(rf"\b{re.escape(token)}\b", " ", text)
    return text


# COCO's keys and DOTA's field name, the dataset generator's class names, a JSON null read by Python.
_DATASET_TOKENS = ("images", "annotations", "categories", "size", "counts", "difficult", "circle", "square",
                   "triangle", "bar", "block", "None")


@pytest.mark.parametrize(("case", "task_type", "opts", "mutate", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_every_broken_dataset_reads_chinese(tmp_path, case, task_type, opts, mutate, expected):
    root = make(tmp_path, task_type, **opts)
    mutate(root)
    with pytest.raises(DatasetFormatError) as got:
        validate_dataset(root=root, task_type=task_type)
    english = "\n".join([str(got.value), *got.value.details])
    for said in expected:  # the stored English is the dataset tests' own, byte for byte
        assert said in english
    with use_language(ZH):
        text = got.value.localized()
    assert english_words(_without_tokens(text, *_DATASET_TOKENS)) == [], text


def test_dataset_warnings_and_their_place_read_chinese(tmp_path):
    root = make(tmp_path, TaskType.detection)
    doc = json.loads((root / "annotations/train.json").read_text())
    doc["annotations"][0]["bbox"] = [40, 40, 30, 30]  # leaves its 48x48 image
    doc["images"][1]["width"] = 50  # not the file's size
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] != doc["images"][2]["id"]]
    (root / "annotations/train.json").write_text(json.dumps(doc))
    shutil.copy(root / "images/train/img_0000.jpg", root / "images/train/extra.jpg")  # listed nowhere
    steps: list[str] = []
    report = validate_dataset(root=root, task_type=TaskType.detection, progress=steps.append)
    lines = [str(w) for w in report.warnings]
    assert any("box extends outside its image: [40, 40, 30, 30] in a 48x48 image" in w for w in lines), lines
    assert len(lines) >= 4, lines
    wheres = [w.where for w in report.warnings if w.where]  # "line 3" is words; a JSON path stays as it is
    for line in [*lines, *steps, *wheres]:
        shown = _zh(line)
        assert shown != line or line in wheres, line
        assert english_words(_without_tokens(shown, *_DATASET_TOKENS)) == [], f"{line}\n→ {shown}"


# --------------------------------------------------------------------------- packages and environments


def test_a_refused_install_script_reads_chinese(tmp_path):
    root = _package(tmp_path / "pkg", weights=True)
    (root / "Train.py").rename(root / "train.py")
    (root / INSTALL_SCRIPT).write_text('#!/bin/bash\nset -e\nrm -rf /tmp/x\nalias p=pip\n$(echo rm) y\n'
                                       'python3 -c "print(1)"\n')
    with pytest.raises(PackageError) as got:
        check_package(root=root)
    with pytest.raises(PackageError) as summed:
        assert_install_script_ok(text=(root / INSTALL_SCRIPT).read_text())
    for err in (got.value, summed.value):
        assert len(err.details) == 5, err.details
        assert err.details[1].startswith(f"{INSTALL_SCRIPT} line 3: `rm` is not allowed (forbidden commands: rm, ")
        with use_language(ZH):
            text = err.localized()
        assert "禁用的命令" in text
        assert english_words(_without_tokens(text, ", ".join(FORBIDDEN_COMMANDS))) == [], text
    assert str(summed.value).startswith(f"{INSTALL_SCRIPT} uses forbidden commands (`set -e`, `rm`) and spellings "
                                        "that hide the command run (")  # the English is unchanged


def test_contract_and_argparse_warnings_read_chinese(tmp_path):
    root = _package(tmp_path / "pkg", weights=True)
    (root / "Train.py").unlink()
    (root / "train.py").write_text(
        "import argparse\nNAMES = ['--lr']\np = argparse.ArgumentParser()\np.add_argument(*NAMES)\n"
        "p.add_argument('--batch', **{'type': int})\np.add_argument('--bs', dest='batch')\n"
        "print(f'loss={1}')\n")
    report = check_package(root=root)
    lines = [*report.warnings, *report.train_args.warnings, *report.predict_args.warnings,
             *report.metric_names.warnings]
    assert any(w.startswith("train.py declares no --epochs argument") for w in lines), lines
    assert any(w.startswith("train.py line 4: `add_argument(*NAMES, ...)` unpacks") for w in lines), lines
    assert len(lines) >= 6, lines
    for line in lines:
        shown = _zh(line)
        assert english_words(_without_tokens(shown)) == [], f"{line}\n→ {shown}"


def test_a_sealed_env_refusal_reads_chinese(tmp_path):
    env = tmp_path / "env"
    env.mkdir()
    os.mkfifo(env / "pipe")
    (env / "out").symlink_to("/etc/passwd")
    with pytest.raises(EnvRefused) as got:
        check_env(env, interpreters=set())
    assert sorted(got.value.problems) == ["out is a link to /etc/passwd, outside the environment", "pipe is a fifo"]
    headline = N_("{script} left files that no run may be given (a setuid or setgid file, a device node, or a "
                  "link out of the environment); remove them from the script").format(script=INSTALL_SCRIPT)
    stored = str(EnvBuildError(N_("Building the environment failed: {headline}.{hint}\n{body}\n(full log: {log})"),
                               params={"headline": headline, "hint": "", "body": "\n".join(got.value.problems),
                                       "log": "envs/failed-1.log"}))
    shown = _zh(stored)
    assert shown.count("\n") == stored.count("\n")
    assert english_words(_without_tokens(shown, "out", "pipe", "setuid", "setgid")) == [], f"{stored}\n→ {shown}"
