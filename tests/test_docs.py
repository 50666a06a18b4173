"""The docs cannot rot silently.

The package templates in both user guides (the fenced block after each
``<!-- template: NAME -->`` marker) are checked with the product's own code:
they compile, the static argparse reader finds the documented arguments, the
package check accepts them without a warning, and they run end to end on a
generated dataset with the argv the worker would build. The operator guides
name every setting; no file points outside the repository; relative links
resolve.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from examples.make_dataset import make_dataset
from runner.jobs.predict import build_predict_argv
from runner.jobs.train import build_argv
from shared.contract.datasets import validate_dataset
from shared.contract.install_script import check_install_script
from shared.contract.metrics import parse_line
from shared.contract.names import DATA_YAML_FLAG
from shared.contract.names import PLATFORM_PREDICT_FLAGS as PLATFORM_PREDICT_ARGS
from shared.contract.names import PLATFORM_TRAIN_FLAGS as PLATFORM_TRAIN_ARGS
from shared.contract.package import check_package
from shared.contract.scriptargs import read_arguments
from shared.core.settings import Settings
from shared.records import Dataset, ModelPackage, Run, Task, TaskType
from shared.services.predictions import match_outputs
from shared.services.weights import WEIGHT_EXTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
USER_GUIDES = [DOCS / "user-guide.md", DOCS / "user-guide.zh-CN.md"]
OPERATOR_GUIDES = [DOCS / "operator-guide.md", DOCS / "operator-guide.zh-CN.md"]
TEMPLATE_NAMES = {"train.py", "predict.py", "requirements.txt", "install_dependencies.sh"}
_TEMPLATE_RE = re.compile(r"<!-- template: (\S+) -->[ \t]*\n```[^\n]*\n(.*?)\n```", re.DOTALL)
_FENCE_RE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_LINK_RE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# Built from parts so this file does not contain what it looks for.
_OUTSIDE_REF = b"../" + b"shared"
# Generated or external trees: not part of the repository's own files.
_SKIP_DIRS = {".git", ".venv", ".cache", "data", "__pycache__", ".pytest_cache", ".ruff_cache", "test-results",
              "node_modules", "out", "_work"}


def templates(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for m in _TEMPLATE_RE.finditer(path.read_text(encoding="utf-8")):
        name, body = m.group(1), m.group(2) + "\n"
        assert name not in found, f"{path.name}: two templates named {name}"
        found[name] = body
    return found


@pytest.fixture(params=USER_GUIDES, ids=lambda p: p.name)
def guide(request) -> dict[str, str]:
    found = templates(request.param)
    assert set(found) == TEMPLATE_NAMES, f"{request.param.name}: templates found {sorted(found)}"
    return found


def _write_package(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "weights").mkdir()
    return root


def test_templates_compile(guide):
    for name in ("train.py", "predict.py"):
        compile(guide[name], name, "exec", dont_inherit=True)


def test_static_reader_finds_the_documented_arguments(guide):
    train = read_arguments(source=guide["train.py"], filename="train.py")
    # --data-yaml is the optional YOLO extension; the plain template declares every contract flag but it.
    assert sorted(a.role for a in train.platform) == sorted(f for f in PLATFORM_TRAIN_ARGS if f != DATA_YAML_FLAG)
    assert train.epochs is not None and train.device is not None
    assert {"weights", "batch-size", "learning-rate", "optimizer"} <= {a.name for a in train.user}
    assert train.warnings == []

    predict = read_arguments(source=guide["predict.py"], filename="predict.py")
    assert sorted(a.role for a in predict.platform) == sorted(PLATFORM_PREDICT_ARGS)
    assert predict.device is not None
    assert {"weights", "confidence"} <= {a.name for a in predict.user}
    assert predict.warnings == []


def test_templates_make_a_package_the_upload_check_accepts_without_warnings(guide, tmp_path):
    report = check_package(root=_write_package(tmp_path / "pkg", guide))
    assert report.warnings == []
    assert report.has_install_script and report.install_script_violations == []
    assert report.requirements.requirements == guide["requirements.txt"].split()
    assert check_install_script(text=guide["install_dependencies.sh"], filename="install_dependencies.sh") == []


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # The worker runs argv[0] = the env's python; here the platform's own one (it has pillow).
    return subprocess.run([sys.executable, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


def test_templates_train_and_predict_with_the_argv_the_worker_builds(guide, tmp_path):
    ds_root = make_dataset(task_type=TaskType.classification, dest=tmp_path / "dataset", n_train=4, n_val=2)
    ds_report = validate_dataset(root=ds_root, task_type=TaskType.classification)
    ws = _write_package(tmp_path / "workspace", guide)
    (ws / "work_dir").mkdir()
    pkg_report = check_package(root=ws)
    model = ModelPackage(name="docs", path="-", report=pkg_report.to_dict())
    dataset = Dataset(name="docs", task_type=TaskType.classification, path="-", report=ds_report.to_dict())
    task = Task(name="docs", model_id=1, dataset_id=1, epochs=2)
    run = Run(task_id=1, params={"learning-rate": 0.05, "optimizer": "adam"})

    argv = build_argv(python="python", task=task, run=run, model=model, dataset=dataset, device="cpu",
                      dataset_at=str(ds_root), workspace_at=str(ws))
    assert "--train-data" in argv and "--label-class" in argv and argv[argv.index("--epochs") + 1] == "2"
    trained = _run(argv, ws)
    assert trained.returncode == 0, trained.stderr
    assert "4 training and 2 validation images, 3 classes" in trained.stdout
    metrics = [m for m in map(parse_line, trained.stdout.splitlines()) if m]
    assert [m["epoch"] for m in metrics] == [1.0, 2.0]
    assert all({"loss", "accuracy"} <= set(m) for m in metrics)
    weights = sorted(p.name for p in (ws / "work_dir").iterdir())
    assert weights == ["best.pt", "last.pt"] and all(w.endswith(WEIGHT_EXTS) for w in weights)

    (ws / "in").mkdir()
    (ws / "out").mkdir()
    inputs = sorted(p.name for p in (ds_root / "val").rglob("*.png"))
    for p in (ds_root / "val").rglob("*.png"):
        shutil.copyfile(p, ws / "in" / p.name)
    argv = build_predict_argv(python="python", model=model, weights_inside=str(ws / "work_dir" / "best.pt"),
                              confidence=0.4, device="cpu", workspace_at=str(ws))
    assert argv[argv.index("--confidence") + 1] == "0.4"
    predicted = _run(argv, ws)
    assert predicted.returncode == 0, predicted.stderr
    outputs = sorted(p.name for p in (ws / "out").iterdir())
    result = match_outputs(inputs=inputs, outputs=outputs)
    assert result["extra"] == [] and all(r["status"] == "ok" for r in result["images"].values()), result
    for name in inputs:
        with Image.open(ws / "in" / name) as a, Image.open(ws / "out" / name) as b:
            assert a.size == b.size
    assert json.loads((ws / "work_dir" / "best.pt").read_text())["classes"] == ds_report.class_map()


@pytest.mark.parametrize("path", OPERATOR_GUIDES, ids=lambda p: p.name)
def test_operator_guide_names_every_setting(path):
    text = path.read_text(encoding="utf-8")
    names = [f"TRAINYARD_{field.upper()}" for field in Settings.model_fields]
    missing = [n for n in names if not re.search(rf"\b{n}\b", text)]
    assert not missing, f"{path.name} does not document {', '.join(missing)}"
    for alias in ("DATA_DIR", "DATABASE_URL", "REDIS_URL"):
        assert re.search(rf"(?<!TRAINYARD_)\b{alias}\b", text), f"{path.name} does not mention {alias}"


def _repo_files() -> list[Path]:
    out: list[Path] = []
    for path in sorted(ROOT.iterdir()):
        if path.is_symlink() or path.name in _SKIP_DIRS:
            continue
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()
                    and not _SKIP_DIRS & set(p.relative_to(ROOT).parts) and not p.name.endswith(".pyc")]
    return out


def test_nothing_points_outside_the_repository():
    files = _repo_files()
    assert ROOT / "README.md" in files and Path(__file__) in files
    bad = [str(p.relative_to(ROOT)) for p in files if _OUTSIDE_REF in p.read_bytes()]
    assert not bad, f"these files refer to {_OUTSIDE_REF.decode()}, which a clone does not have: {bad}"


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _links(path: Path) -> list[str]:
    text = _FENCE_RE.sub("", path.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)
    return [m.group(1) for m in _LINK_RE.finditer(text)]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    links = _links(path)
    broken = []
    for link in links:
        if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE) or link.startswith("#"):
            continue  # a URL, mailto:, or an anchor in the same file
        target = (path.parent / link.split("#", 1)[0]).resolve()
        if not target.exists():
            broken.append(link)
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


def test_docs_index_links_every_doc():
    linked = {(DOCS / link.split("#", 1)[0]).resolve() for link in _links(DOCS / "README.md")}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.name != "README.md" and p.resolve() not in linked]
    assert not missing, f"docs/README.md does not link {missing}"


def test_link_extraction_sees_links():
    # Guards the link tests against a regex that matches nothing.
    assert "docs/user-guide.md" in _links(ROOT / "README.md")
    assert "user-guide.zh-CN.md" in _links(DOCS / "user-guide.md")
