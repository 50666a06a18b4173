from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path

import pytest

from shared.contract.archive import ArchiveLimits
from shared.contract.package import REQUIRED, PackageReport, check_package, validate_package_zip
from shared.core.errors import ArchiveError, PackageError

LIMITS = ArchiveLimits(max_compressed_bytes=None, max_uncompressed_bytes=None, max_entries=1000, max_ratio=200.0)

TRAIN = '''import argparse


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work-dir", default="runs")
    parser.add_argument("--data", default="data")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.01, help="learning rate")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    print(f"loss: {0.5:.4f}")
'''

PREDICT = '''import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--weights", default="weights/best.pt")
parser.add_argument("--confidence", type=float, default=0.25)
parser.add_argument("--device", default="cpu")
args = parser.parse_args()
source = "SOURCE_PATH"
out_dir = "OUT_DIR_PATH"
'''

INSTALL = '''#!/bin/bash
python_path=$1
PIP=${python_path}/bin/pip
$PIP install openmim
${python_path}/bin/mim install "mmcv>=2.0.0rc4,<2.2.0"
'''


def package(**overrides: str | bytes | None) -> dict[str, str | bytes | None]:
    files: dict[str, str | bytes | None] = {
        "train.py": TRAIN, "predict.py": PREDICT, "requirements.txt": "-r requirements/base.txt\n",
        "requirements/base.txt": "numpy>=1.23.5\npillow>=10.3.0\n", "weights/": "",
        "install_dependencies.sh": INSTALL, "models/net.py": "import torch\n",
    }
    files.update(overrides)
    return {k: v for k, v in files.items() if v is not None}


def make_zip(path: Path, files: dict[str, str | bytes], prefix: str = "") -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, content in files.items():
                if isinstance(name, zipfile.ZipInfo):
                    zf.writestr(name, content)
                    continue
                zf.writestr(prefix + name, content)
    return path


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        p = root / name
        if name.endswith("/"):
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


@pytest.fixture
def out(tmp_path: Path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    return d


def assert_nothing_left(out: Path) -> None:
    assert sorted(os.listdir(out)) == []


def test_valid_wrapped_package(tmp_path: Path, out: Path) -> None:
    files = package()
    files["__MACOSX/mymodel/._train.py"] = "junk"
    z = make_zip(tmp_path / "m.zip", {("mymodel/" + k if not k.startswith("__") else k): v
                                      for k, v in files.items()})
    report = validate_package_zip(zip_path=z, dest=out / "m1", limits=LIMITS)
    assert report.unwrapped == "mymodel"
    assert report.requirements.requirements == ["numpy>=1.23.5", "pillow>=10.3.0"]
    assert report.requirements.files == ["requirements.txt", "requirements/base.txt"]
    assert report.has_install_script and report.install_script_violations == []
    assert [a.name for a in report.train_args.platform] == ["work-dir", "data"]
    assert [a.name for a in report.train_args.user] == ["batch-size", "learning-rate"]
    assert report.train_args.epochs.default == 10 and report.train_args.device.default == "cpu"
    assert report.predict_args.globals_used == ["SOURCE_PATH", "OUT_DIR_PATH"]
    assert [a.name for a in report.predict_args.user] == ["weights", "confidence"]
    assert report.warnings == []
    assert report.tree == ["install_dependencies.sh", "models/", "models/net.py", "predict.py", "requirements/",
                           "requirements/base.txt", "requirements.txt", "train.py", "weights/"]
    assert sorted(os.listdir(out)) == ["m1"]
    assert (out / "m1" / "train.py").read_text() == TRAIN
    again = PackageReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report


def test_required_names() -> None:
    assert REQUIRED == ("train.py", "predict.py", "requirements.txt", "weights/")


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"predict.py": None}, "the package has no predict.py at its root (after unwrapping the single top folder "
                           "'pkg/'): add predict.py"),
    ({"train.py": None}, "the package has no train.py at its root (after unwrapping the single top folder "
                         "'pkg/'): add train.py"),
    ({"requirements.txt": None}, "the package has no requirements.txt at its root"),
    ({"weights/": None}, "the package has no weights/ folder at its root (after unwrapping the single top folder "
                         "'pkg/'): add a weights/ folder (it may be empty)"),
    ({"weights/": None, "weights": "not a folder"}, "weights at its root (after unwrapping the single top folder "
                                                    "'pkg/') is a file, but it must be a folder"),
    ({"train.py": None, "Train.py": TRAIN}, "add train.py (found 'Train.py': the name must be exactly train.py)"),
    ({"predict.py": None, "tools/predict.py": PREDICT},
     "add predict.py (found 'tools/predict.py': it must be at the package root; zip the contents of 'tools/'"),
    ({"train.py": None, "train.py/x": "x"}, "train.py at its root (after unwrapping the single top folder 'pkg/') "
                                            "is a folder, but it must be a file"),
])
def test_single_problem(tmp_path: Path, out: Path, overrides, expected: str) -> None:
    z = make_zip(tmp_path / "m.zip", package(**overrides), prefix="pkg/")
    with pytest.raises(PackageError) as exc:
        validate_package_zip(zip_path=z, dest=out / "m1", limits=LIMITS)
    assert expected in str(exc.value)
    assert_nothing_left(out)


def test_unwrapped_note_only_when_unwrapped(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "m.zip", package(**{"predict.py": None}))
    with pytest.raises(PackageError, match=r"^the package has no predict.py at its root: add predict.py$"):
        validate_package_zip(zip_path=z, dest=out / "m1", limits=LIMITS)
    assert_nothing_left(out)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"train.py": "import os\n\n\n\n\n\n\n\n\n\n\ndef f(:\n    pass\n"},
     "train.py line 12: SyntaxError: invalid syntax (column 7)\n    def f(:\n          ^"),
    ({"predict.py": "def f():\n    pass\nreturn 1\n"}, "predict.py line 3: SyntaxError: 'return' outside function"),
    ({"train.py": "x = 1\n# caf\xe9\n".encode("latin-1")},
     "train.py line 2: the file is not UTF-8 text (byte 0xe9); save it with UTF-8 encoding"),
    ({"train.py": "# -*- coding: gbk -*-\nname = '训练'\n".encode("gbk")},
     "train.py line 2: the file is not UTF-8 text (byte 0xc1) (it declares `coding: gbk`)"),
    ({"predict.py": "x = '\x00'\n"}, "predict.py line 1: the file contains a NUL byte"),
    ({"install_dependencies.sh": "pip install x\nrm -rf /tmp/cache\n"},
     "install_dependencies.sh line 2: `rm` is not allowed (forbidden commands: rm, kill,"),
    ({"install_dependencies.sh": "set -e\n"}, "install_dependencies.sh line 1: `set -e` is not allowed"),
    ({"install_dependencies.sh": b"echo \xff\n"}, "install_dependencies.sh line 1: the file is not UTF-8 text"),
    ({"requirements/base.txt": "numpy\n-r ../../outside.txt\n"},
     "requirements/base.txt line 2: `-r ../../outside.txt` points outside the package"),
    ({"requirements.txt": "-r requirements/missing.txt\n"},
     "requirements.txt line 1: `-r requirements/missing.txt` does not exist in the package"),
])
def test_script_problems(tmp_path: Path, out: Path, overrides, expected: str) -> None:
    z = make_zip(tmp_path / "m.zip", package(**overrides))
    with pytest.raises(PackageError) as exc:
        validate_package_zip(zip_path=z, dest=out / "m1", limits=LIMITS)
    assert expected in str(exc.value)
    assert_nothing_left(out)


def test_every_problem_is_reported_at_once(tmp_path: Path, out: Path) -> None:
    z = make_zip(tmp_path / "m.zip", package(**{
        "predict.py": None, "weights/": None, "train.py": "def f(:\n",
        "install_dependencies.sh": "make\nsudo chmod +x a\n", "requirements.txt": "-r https://x.org/r.txt\n"}))
    with pytest.raises(PackageError) as exc:
        validate_package_zip(zip_path=z, dest=out / "m1", limits=LIMITS)
    err = exc.value
    assert err.message == "the model package has 6 problems; fix them and upload it again"
    assert [d.split(":")[0] for d in err.details] == [
        "the package has no predict.py at its root", "the package has no weights/ folder at its root",
        "train.py line 1", "requirements.txt line 1", "install_dependencies.sh line 1",
        "install_dependencies.sh line 2"]
    assert any("`make` is not allowed" in d for d in err.details)
    assert any("`chmod` is not allowed" in d for d in err.details)
    assert any("includes a URL" in d for d in err.details)
    assert_nothing_left(out)


def test_warnings_for_what_the_platform_cannot_do(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "pkg", package(**{
        "train.py": "import argparse\np = argparse.ArgumentParser()\np.add_argument('--lr', type=float)\n",
        "predict.py": "print('no args')\n", "requirements.txt": "# nothing\n",
        "install_dependencies.sh": "echo hi\r\necho there\r\n"}))
    report = check_package(root=root)
    assert report.warnings == [
        "requirements.txt lists no packages; the environment gets only what install_dependencies.sh installs",
        "install_dependencies.sh has Windows (CRLF) line endings; bash reads the '\\r' as part of each command. "
        "Save it with Unix (LF) line endings",
        "train.py declares no --epochs argument; the task form's epochs value cannot be passed to it",
        "train.py neither declares --work-dir nor uses \"WORK_DIR_PATH\"; the weights it saves may not be found "
        "after training",
        "train.py neither declares --data/--train-data nor uses \"DATA_PATH\"/\"TRAIN_DATA_PATH\"; it cannot be "
        "told where the dataset is",
        "predict.py neither declares --source nor uses \"SOURCE_PATH\"; the prediction page cannot pass it the "
        "images",
        "predict.py neither declares --out-dir nor uses \"OUT_DIR_PATH\"; its result images cannot be collected",
    ]
    assert report.predict_args.warnings[0].startswith("predict.py declares no argparse arguments")


def test_misnamed_install_script_warns(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "pkg", package(**{"install_dependencies.sh": None,
                                                   "Install_Dependencies.sh": "rm -rf /\n"}))
    report = check_package(root=root)
    assert report.has_install_script is False
    assert report.warnings == ["'Install_Dependencies.sh' is not run: the install script must be named exactly "
                               "install_dependencies.sh"]


def test_no_install_script_is_fine(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "pkg", package(**{"install_dependencies.sh": None}))
    report = check_package(root=root)
    assert report.has_install_script is False and report.warnings == []


def test_symlinked_script_in_a_folder_is_refused(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "pkg", package(**{"train.py": None}))
    (tmp_path / "elsewhere.py").write_text(TRAIN)
    os.symlink(tmp_path / "elsewhere.py", root / "train.py")
    with pytest.raises(PackageError, match="train.py at its root is a symbolic link"):
        check_package(root=root)


def sym(name: str) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name)
    zi.create_system = 3
    zi.external_attr = 0o120777 << 16
    return zi


@pytest.mark.parametrize(("extra", "limits", "expected"), [
    ({sym("pkg/weights/best.pt"): "/etc/passwd"}, LIMITS, "'pkg/weights/best.pt' is a symbolic link"),
    ({"../evil.py": "x"}, LIMITS, "'../evil.py' has a '..' component"),
    ({"/abs/evil.py": "x"}, LIMITS, "'/abs/evil.py' has an absolute path"),
    ({zipfile.ZipInfo("pkg/train.py"): "dup"}, LIMITS, "'pkg/train.py' appears twice"),
    ({"pkg/TRAIN.py": "dup"}, LIMITS, "differ only in upper/lower case"),
    ({"pkg/weights/zeros.pt": bytes(50 * 1024 * 1024)}, LIMITS, "'pkg/weights/zeros.pt' expands"),
    ({}, ArchiveLimits(max_compressed_bytes=None, max_uncompressed_bytes=None, max_entries=3, max_ratio=200),
     "entries; the limit is 3"),
])
def test_hostile_zips_leave_nothing(tmp_path: Path, out: Path, extra, limits: ArchiveLimits, expected: str) -> None:
    files: dict = {"pkg/" + k: v for k, v in package().items()}
    files.update(extra)
    z = make_zip(tmp_path / "m.zip", files)
    with pytest.raises(ArchiveError) as exc:
        validate_package_zip(zip_path=z, dest=out / "m1", limits=limits)
    assert expected in str(exc.value)
    assert_nothing_left(out)


def test_not_a_zip(tmp_path: Path, out: Path) -> None:
    z = tmp_path / "model.zip"
    z.write_bytes(b"\x89PNG\r\n\x1a\n not a zip")
    with pytest.raises(ArchiveError, match=r"^model.zip is not a zip archive"):
        validate_package_zip(zip_path=z, dest=out / "m1", limits=LIMITS)
    assert_nothing_left(out)


def test_scripts_are_never_run(tmp_path: Path, out: Path) -> None:
    marker = tmp_path / "ran"
    evil = f"open({str(marker)!r}, 'w').write('x')\n" + TRAIN
    z = make_zip(tmp_path / "m.zip", package(**{"train.py": evil, "predict.py": evil + PREDICT}))
    validate_package_zip(zip_path=z, dest=out / "m1", limits=LIMITS)
    assert not marker.exists()
