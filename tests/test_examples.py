"""The example model packages, end to end without the platform around them:
zip the package, unzip it as a workspace, build its real environment with
runner.envs (torch==2.13.0 CPU from the local wheel), run train.py on a
generated dataset, then predict.py on a few images.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from examples.make_dataset import make_dataset
from examples.packages import EXAMPLES_DIR, _included, available, build_package_zip
from runner.envs import EnvResult, ensure_env, env_python
from shared.contract.metrics import parse_line
from shared.core.settings import Settings
from tests.support.paths import UV_CACHE

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ["circle", "square", "triangle"]
LABEL_CLASS = json.dumps({str(i): n for i, n in enumerate(SHAPES)})


def _requirements(name: str) -> list[str]:
    return (EXAMPLES_DIR / name / "requirements.txt").read_text().splitlines()


@pytest.fixture(scope="module")
def env_settings(tmp_path_factory) -> Settings:
    # uv's cache persists between sessions (tests/conftest.py), so torch is unpacked once, then hardlinked.
    UV_CACHE.mkdir(parents=True, exist_ok=True)
    return Settings(data_dir=tmp_path_factory.mktemp("examples-data"), uv_cache_dir=UV_CACHE)


@pytest.fixture(scope="module")
def torch_env(env_settings) -> EnvResult:
    return ensure_env(settings=env_settings, requirements=_requirements("classification"))


def _workspace(name: str, tmp_path: Path) -> Path:
    """The package as the platform would see it: zipped, then unpacked."""
    zip_path = build_package_zip(name=name, dest=tmp_path / f"{name}.zip")
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp_path / "unzipped")
    return tmp_path / "unzipped" / name


def _run(env: EnvResult, cwd: Path, *args: str) -> list[str]:
    proc = subprocess.run([str(env_python(env.path)), *args], cwd=cwd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{args[0]} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout.splitlines()


def _metric_lines(lines: list[str]) -> list[dict[str, float]]:
    metrics = []
    for line in lines:
        parsed = parse_line(line)
        if line.startswith("epoch: "):
            # Every comma-separated segment is a key: value pair.
            assert len(parsed) == line.count(",") + 1, line
            metrics.append(parsed)
        else:
            assert parsed == {}, f"an info line would be read as metrics: {line!r}"
    return metrics


def _assert_drawn(src_dir: Path, out_dir: Path, names: list[str]) -> None:
    for name in names:
        out = out_dir / name
        assert out.is_file(), f"no output image for {name}: {sorted(p.name for p in out_dir.iterdir())}"
        with Image.open(src_dir / name) as a, Image.open(out) as b:
            assert a.size == b.size
            diff = np.abs(np.asarray(a.convert("RGB"), dtype=int) - np.asarray(b.convert("RGB"), dtype=int))
        assert diff.max() > 100, f"{name}: nothing was drawn onto the image"


def _pick_images(split_dir: Path, dest: Path, n: int) -> list[str]:
    dest.mkdir(parents=True)
    names = []
    for src in sorted(p for p in split_dir.rglob("*") if p.suffix in (".png", ".jpg"))[:n]:
        (dest / src.name).write_bytes(src.read_bytes())
        names.append(src.name)
    return names


@pytest.mark.slow
def test_classification_trains_and_predicts(torch_env, tmp_path):
    assert any(f.startswith("torch==2.13.0") for f in torch_env.freeze)
    ws = _workspace("classification", tmp_path)
    ds = make_dataset(task_type="classification", dest=tmp_path / "ds", n_train=24, n_val=8)
    lines = _run(torch_env, ws, "train.py", "--work-dir", "work_dir", "--data", str(ds),
                 "--train-data", str(ds / "train"), "--val-data", str(ds / "val"),
                 "--label-class", LABEL_CLASS, "--label-class-count", "3",
                 "--epochs", "2", "--batch-size", "8", "--learning-rate", "0.01", "--device", "cpu",
                 "--seed", "1", "--optimizer", "sgd")
    metrics = _metric_lines(lines)
    assert [m["epoch"] for m in metrics] == [1, 2]
    for m in metrics:
        assert set(m) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
        assert 0 <= m["accuracy"] <= 1 and 0 <= m["val_accuracy"] <= 1 and m["loss"] > 0
    assert (ws / "work_dir" / "best.pt").is_file() and (ws / "work_dir" / "last.pt").is_file()

    src = tmp_path / "to-predict"
    names = _pick_images(ds / "val", src, 2)
    out_lines = _run(torch_env, ws, "predict.py", "--source", str(src), "--out-dir", str(tmp_path / "out"),
                     "--weights", str(ws / "work_dir" / "best.pt"), "--confidence", "0.5", "--device", "cpu")
    _assert_drawn(src, tmp_path / "out", names)
    assert sum(" -> " in line for line in out_lines) == 2


@pytest.mark.slow
def test_classification_reads_meta_txt_layout(torch_env, tmp_path):
    ws = _workspace("classification", tmp_path)
    ds = make_dataset(task_type="classification", dest=tmp_path / "ds", n_train=12, n_val=0,
                      classification_layout="meta")
    lines = _run(torch_env, ws, "train.py", "--work-dir", str(tmp_path / "wd"), "--data", str(ds),
                 "--train-data", str(ds / "train"), "--train-label", str(ds / "meta" / "train.txt"),
                 "--epochs", "1")
    (metrics,) = _metric_lines(lines)
    assert set(metrics) == {"epoch", "loss", "accuracy"}  # no val split: no val metrics
    assert any("12 training and 0 validation images in 3 classes (circle, square, triangle)" in ln for ln in lines)
    assert (tmp_path / "wd" / "best.pt").is_file()


@pytest.mark.slow
def test_detection_trains_and_predicts(torch_env, env_settings, tmp_path):
    # Same requirements as the classifier: the environment is shared, not rebuilt.
    again = ensure_env(settings=env_settings, requirements=_requirements("detection"))
    assert again.key == torch_env.key and not again.built
    ws = _workspace("detection", tmp_path)
    ds = make_dataset(task_type="detection", dest=tmp_path / "ds", n_train=24, n_val=8)
    lines = _run(torch_env, ws, "train.py", "--work-dir", "work_dir", "--data", str(ds),
                 "--train-data", str(ds / "images" / "train"), "--train-label", str(ds / "annotations" / "train.json"),
                 "--val-data", str(ds / "images" / "val"), "--val-label", str(ds / "annotations" / "val.json"),
                 "--label-class", LABEL_CLASS, "--label-class-count", "3", "--epochs", "2", "--device", "cpu")
    metrics = _metric_lines(lines)
    assert [m["epoch"] for m in metrics] == [1, 2]
    for m in metrics:
        assert set(m) == {"epoch", "loss", "box_loss", "cls_loss", "obj_loss", "mAP50", "val_loss"}
        assert 0 <= m["mAP50"] <= 1
        assert m["loss"] == pytest.approx(m["box_loss"] + m["cls_loss"] + m["obj_loss"], abs=2e-3)
    assert (ws / "work_dir" / "best.pt").is_file() and (ws / "work_dir" / "last.pt").is_file()

    src = tmp_path / "to-predict"
    names = _pick_images(ds / "images" / "val", src, 2)
    # A single file as --source (the classifier test gives a folder); only that image is written.
    _run(torch_env, ws, "predict.py", "--source", str(src / names[0]), "--out-dir", str(tmp_path / "out"),
         "--weights", str(ws / "work_dir" / "best.pt"), "--confidence", "0.05", "--device", "cpu")
    assert [p.name for p in (tmp_path / "out").iterdir()] == [names[0]]
    _assert_drawn(src, tmp_path / "out", names[:1])


@pytest.mark.slow
def test_map50_on_known_detections(torch_env, tmp_path):
    """The mAP50 the detector reports, checked against hand-computed values."""
    code = (
        "import torch, json; from model import map50\n"
        "gt = [torch.tensor([[0, 0.5, 0.5, 0.2, 0.2]]), torch.tensor([[1, 0.25, 0.25, 0.1, 0.1]])]\n"
        "hit = (0.4, 0.4, 0.6, 0.6, 0.9, 0)\n"
        "miss = (0.0, 0.0, 0.1, 0.1, 0.95, 0)\n"
        "cls1 = (0.2, 0.2, 0.3, 0.3, 0.8, 1)\n"
        "print(json.dumps([map50([[hit], [cls1]], gt, 2), map50([[miss, hit], [cls1]], gt, 2),"
        " map50([[hit], []], gt, 2), map50([[], []], gt, 2)]))\n"
    )
    out = _run(torch_env, EXAMPLES_DIR / "detection", "-B", "-c", code)
    perfect, ranked_below_fp, one_class, none = json.loads(out[-1])
    assert perfect == pytest.approx(1.0)
    assert ranked_below_fp == pytest.approx(0.75)  # class 0: precision 1/2 at recall 1 -> AP 0.5
    assert one_class == pytest.approx(0.5)
    assert none == 0.0


def test_package_zip_has_one_top_folder_and_the_required_files(tmp_path):
    assert {"classification", "detection"} <= set(available())
    for name in ("classification", "detection"):
        zip_path = build_package_zip(name=name, dest=tmp_path / f"{name}.zip")
        names = zipfile.ZipFile(zip_path).namelist()
        assert all(n.startswith(f"{name}/") for n in names)
        for required in ("train.py", "predict.py", "requirements.txt", "weights/", "README.md"):
            assert f"{name}/{required}" in names
        assert any(n.startswith(f"{name}/weights/") and n != f"{name}/weights/" for n in names)  # not empty
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        assert "torch==2.13.0" in zipfile.ZipFile(zip_path).read(f"{name}/requirements.txt").decode()
    # Same sources, same bytes.
    again = build_package_zip(name="detection", dest=tmp_path / "again.zip")
    assert again.read_bytes() == (tmp_path / "detection.zip").read_bytes()
    with pytest.raises(ValueError, match="no example package 'nope'"):
        build_package_zip(name="nope", dest=tmp_path / "x.zip")


@pytest.mark.parametrize("rel, included", [
    ("train.py", True),
    ("weights/README.md", True),
    ("configs/base/model.py", True),
    ("__pycache__/model.cpython-311.pyc", False),
    ("pkg/__pycache__/x.pyc", False),
    ("model.pyc", False),
    (".DS_Store", False),
    ("work_dir/best.pt", False),
    ("predictions/a.png", False),
])
def test_package_zip_exclusions(rel, included):
    assert _included(Path(rel)) is included


def test_packages_cli(tmp_path):
    venv_python = ROOT / ".venv" / "bin" / "python"
    proc = subprocess.run([str(venv_python), "-m", "examples.packages", "classification", str(tmp_path / "c.zip")],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert zipfile.is_zipfile(tmp_path / "c.zip")
    bad = subprocess.run([str(venv_python), "-m", "examples.packages", "nope", str(tmp_path / "n.zip")],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "classification" in bad.stderr and not (tmp_path / "n.zip").exists()
