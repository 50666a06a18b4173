"""Predictions end to end: a trained task's weights, uploaded images, predict.py
in the sandbox through the worker, outputs matched to inputs by name; and
every bad request refused before anything is stored or queued."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from rq import Queue
from sqlmodel import select

from runner import context
from runner.cli import main
from shared.contract.runlog import read_log
from shared.core.errors import FieldError, NotFoundError
from shared.core.queue import PREDICT_QUEUE, enqueue_deploy, enqueue_prediction
from shared.records import Prediction, PredictionStatus, TaskStatus
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from shared.services.predictions import (
    Upload,
    create_prediction,
    get_prediction,
    history,
    input_dir,
    output_dir,
    outputs_zip,
)
from shared.services.tasks import TaskIn, create_task, get_task
from shared.services.weights import pick_run, weight_files
from tests.support.paths import ROOT
from tests.support.people import OP
from tests.support.pkgs import PREDICT, write_dataset, write_package

# Prints its argv, then copies the inputs like tests.support.pkgs.PREDICT does.
ARGV_PREDICT = "import json, sys\nprint('argv', json.dumps(sys.argv[1:]), flush=True)\n" + PREDICT

SILENT_PREDICT = '''
import argparse
p = argparse.ArgumentParser()
p.add_argument("--source")
p.add_argument("--out-dir")
p.add_argument("--weights")
a = p.parse_args()
print("loaded", a.weights, "but wrote nothing", flush=True)
'''

PARTIAL_PREDICT = '''
import argparse, os, shutil
p = argparse.ArgumentParser()
p.add_argument("--source")
p.add_argument("--out-dir")
a = p.parse_args()
shutil.copy(os.path.join(a.source, "a.png"), os.path.join(a.out_dir, "a.png"))
shutil.copy(os.path.join(a.source, "b.png"), os.path.join(a.out_dir, "b.jpg"))  # same stem, other extension
with open(os.path.join(a.out_dir, "summary.txt"), "w") as f:
    f.write("3 images")
'''

CRASHING_PREDICT = '''
import argparse, sys
p = argparse.ArgumentParser()
p.add_argument("--source")
p.add_argument("--out-dir")
p.add_argument("--weights")
a = p.parse_args()
print("loading", a.weights, flush=True)
print("Traceback (most recent call last):\\nRuntimeError: checkpoint has the wrong shape", file=sys.stderr, flush=True)
sys.exit(1)
'''

GLOBALS_PREDICT = '''
import os, shutil
source = "SOURCE_PATH"
out_dir = "OUT_DIR_PATH"
print("paths", source, out_dir, flush=True)
for name in sorted(os.listdir(source)):
    shutil.copy(os.path.join(source, name), os.path.join(out_dir, name))
'''

# Trains like tests.support.pkgs.QUADRATIC_TRAIN but leaves only a text file in the work dir.
NO_WEIGHTS_TRAIN = '''
import argparse, os
p = argparse.ArgumentParser()
p.add_argument("--work-dir")
p.add_argument("--epochs", type=int, default=1)
a = p.parse_args()
os.makedirs(a.work_dir, exist_ok=True)
print("epoch: 1, score: 0.5", flush=True)
with open(os.path.join(a.work_dir, "notes.txt"), "w") as f:
    f.write("no checkpoint here")
'''


def png(colour: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (12, 10), colour).save(buf, fmt)
    return buf.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def train_task(*, session, settings, ctx, burst, tmp_path: Path, **pkg):
    """A completed task of a freshly deployed stdlib package, trained through the in-process worker."""
    ds = add_dataset(session=session, settings=settings, zip_path=write_dataset(tmp_path / "d.zip"),
                     name="tiny", task_type="classification", actor=OP)
    model = add_model(session=session, settings=settings, name="m", task_type="classification",
                      zip_path=write_package(tmp_path / "m.zip", **pkg), actor=OP)
    enqueue_deploy(model.id, connection=ctx.redis)
    burst()
    session.refresh(model)
    assert model.status.value == "deployed", model.reason
    task = create_task(session=session, task_in=TaskIn(name="t", model_id=model.id, dataset_id=ds.id, epochs=1,
                                                      eval_metric="score",
                                                      params={"x": ("0.3", False)} if "train" not in pkg else {}),
                       actor=OP)
    context.current().schedule(task.id)
    burst()
    session.expire_all()
    task = get_task(session=session, task_id=task.id)
    assert task.status == TaskStatus.completed, task.reason
    return task


@pytest.fixture
def trained(settings, ctx, session, burst, tmp_path):
    return lambda **pkg: train_task(session=session, settings=settings, ctx=ctx, burst=burst, tmp_path=tmp_path,
                                    **pkg)


def predict(session, settings, ctx, burst, task, uploads, **kw) -> Prediction:
    pred = create_prediction(session=session, settings=settings, task_id=task.id, uploads=uploads, **kw, actor=OP)
    enqueue_prediction(pred.id, connection=ctx.redis)
    burst()
    session.expire_all()
    return get_prediction(session=session, prediction_id=pred.id)


def nothing_stored(session, settings, ctx) -> None:
    assert session.exec(select(Prediction)).all() == []
    root = settings.data_dir / "predictions"
    if root.exists():  # at most the empty staging folder
        assert [p.relative_to(root) for p in root.rglob("*")] in ([], [Path(".incoming")])
    assert Queue(PREDICT_QUEUE, connection=ctx.redis).count == 0


def test_outputs_match_inputs_by_name_with_per_image_status(trained, settings, ctx, session, burst, tmp_path):
    task = trained(predict=ARGV_PREDICT)
    run = pick_run(session=session, task=task, run_id=None)
    assert weight_files(settings, run) == ["best.pt"]
    images = {"a.png": png((255, 0, 0)), "b.jpg": png((0, 255, 0), "JPEG")}
    zipped = {"c.png": png((0, 0, 255)), "sub/d.webp": png((9, 9, 9), "WEBP"), "__MACOSX/._c.png": b"junk"}
    pred = create_prediction(session=session, actor=OP, settings=settings, task_id=task.id, confidence=0.4,
                             uploads=[Upload(n, d) for n, d in images.items()] + [Upload("more.zip", zip_of(zipped))])
    assert pred.status == PredictionStatus.queued and pred.weights == "best.pt" and pred.run_id == run.id
    assert pred.images == ["a.png", "b.jpg", "c.png", "d.webp"]
    enqueue_prediction(pred.id, connection=ctx.redis)
    assert Queue(PREDICT_QUEUE, connection=ctx.redis).count == 1  # its own queue, served before training
    burst()
    session.expire_all()
    pred = get_prediction(session=session, prediction_id=pred.id)
    assert pred.status == PredictionStatus.completed, pred.reason
    assert pred.reason is None and pred.started_at and pred.finished_at
    assert pred.outputs["extra"] == []
    assert pred.outputs["images"] == {n: {"output": n, "status": "ok"} for n in pred.images}
    sent = {**images, "c.png": zipped["c.png"], "d.webp": zipped["sub/d.webp"]}
    for name, data in sent.items():
        assert (input_dir(settings, pred) / name).read_bytes() == data
        assert (output_dir(settings, pred) / name).read_bytes() == data
    log = read_log(log_path=settings.path(pred.path) / "predict.log")
    argv = json.loads(next(text for _s, text in log if text.startswith("argv ")).split(" ", 1)[1])
    assert argv[argv.index("--weights") + 1] == "/weights/best.pt"
    assert argv[argv.index("--confidence") + 1] == "0.4"
    assert argv[argv.index("--device") + 1] == "cpu"
    assert {text for _s, text in log if text.startswith("predicted ")} == {f"predicted {n}" for n in pred.images}
    with zipfile.ZipFile(outputs_zip(settings, pred, tmp_path / "out.zip")) as zf:
        assert sorted(zf.namelist()) == [f"prediction{pred.id}/{n}" for n in pred.images]
    assert [p.id for p in history(session=session, model_id=task.model_id, actor=OP)] == [pred.id]
    assert history(session=session, model_id=task.model_id + 1, actor=OP) == []


def test_predict_py_that_writes_nothing_completes_with_a_flag_per_image(trained, settings, ctx, session, burst):
    task = trained(predict=SILENT_PREDICT)
    pred = predict(session, settings, ctx, burst, task, [Upload("x.png", png()), Upload("y.png", png((1, 2, 3)))])
    assert pred.status == PredictionStatus.completed
    assert pred.reason == "predict.py wrote no image for 2 of 2 inputs"
    assert pred.outputs["images"] == {
        n: {"output": None, "status": "missing", "note": f"predict.py wrote no image for {n}"}
        for n in ("x.png", "y.png")}
    assert any("but wrote nothing" in text for _s, text in read_log(log_path=settings.path(pred.path) / "predict.log"))


def test_renamed_missing_and_extra_outputs_are_told_apart(trained, settings, ctx, session, burst):
    task = trained(predict=PARTIAL_PREDICT)
    pred = predict(session, settings, ctx, burst, task, [Upload(n, png()) for n in ("a.png", "b.png", "c.png")])
    assert pred.status == PredictionStatus.completed
    assert pred.reason == "predict.py wrote no image for 1 of 3 inputs"
    assert pred.outputs["images"] == {
        "a.png": {"output": "a.png", "status": "ok"},
        "b.png": {"output": "b.jpg", "status": "ok", "note": "saved as b.jpg"},
        "c.png": {"output": None, "status": "missing", "note": "predict.py wrote no image for c.png"},
    }
    assert pred.outputs["extra"] == ["summary.txt"]


def test_predict_py_that_exits_1_fails_with_reason_and_log(trained, settings, ctx, session, burst):
    task = trained(predict=CRASHING_PREDICT)
    pred = predict(session, settings, ctx, burst, task, [Upload("x.png", png())])
    assert pred.status == PredictionStatus.failed
    assert pred.reason.startswith("exit code 1: RuntimeError: checkpoint has the wrong shape") and pred.finished_at
    log = {("e" if stream in ("e", "stderr") else "o", text)
           for stream, text in read_log(log_path=settings.path(pred.path) / "predict.log")}
    assert ("o", "loading /weights/best.pt") in log
    assert ("e", "RuntimeError: checkpoint has the wrong shape") in log
    assert pred.outputs["images"]["x.png"]["status"] == "missing"
    assert (input_dir(settings, pred) / "x.png").is_file()  # the inputs are kept for a retry


def test_source_and_out_dir_globals_are_substituted(trained, settings, ctx, session, burst):
    task = trained(predict=GLOBALS_PREDICT)
    pred = predict(session, settings, ctx, burst, task, [Upload("g.png", png())])
    assert pred.status == PredictionStatus.completed, pred.reason
    assert pred.outputs["images"] == {"g.png": {"output": "g.png", "status": "ok"}}
    [line] = [text for _s, text in read_log(log_path=settings.path(pred.path) / "predict.log")
              if text.startswith("paths ")]
    assert "SOURCE_PATH" not in line and "OUT_DIR_PATH" not in line
    _, source, out = line.split()
    assert source.endswith("/in") and out.endswith("/out")


BIG = b"\0" * 300  # appended to a PNG: over the 200 B limit of the case below

# (uploads, extra create_prediction kwargs, field, names the message must list, names it must not)
REFUSALS = [
    ([Upload("good.png", png()), Upload("notes.txt", b"hello"), Upload("fake.jpg", b"not a jpeg at all"),
      Upload("empty.png", b"")], {}, "images", ["notes.txt", "fake.jpg", "empty.png", "not an image file",
                                                "not a readable image", "the file is empty"], ["good.png"]),
    ([Upload("ok.png", png()), Upload("bundle.zip", zip_of({"in/a.png": png(), "in/readme.md": b"# hi"}))], {},
     "images", ["readme.md"], ["ok.png", "a.png"]),
    ([Upload("broken.zip", b"PK\x03\x04 not really a zip")], {}, "images", ["broken.zip"], []),
    ([], {}, "images", ["no images were uploaded"], []),
    ([Upload("junk-only.zip", zip_of({"__MACOSX/._a.png": b"x", ".DS_Store": b"x"}))], {}, "images",
     ["no images were uploaded"], []),
    ([Upload("a.png", png()), Upload("z.zip", zip_of({"x/a.png": png()}))], {}, "images", ["a.png", "rename"], []),
    ([Upload("small.png", png()), Upload("big.png", png() + BIG)], {"max_image_bytes": 200}, "images",
     ["big.png", "over the image size limit of 200 B"], ["small.png"]),
    ([Upload("a.png", png())], {"confidence": 1.5}, "confidence", ["outside 0..1"], []),
    ([Upload("a.png", png())], {"run_id": 10_000}, None, ["run 10000"], []),
]


def test_bad_requests_are_refused_at_their_field_and_nothing_is_stored(trained, settings, ctx, session):
    from shared.core.errors import TrainyardError

    task = trained()
    for uploads, kw_in, field, named, not_named in REFUSALS:
        kw = dict(kw_in)
        s = settings.model_copy(update={"max_image_bytes": kw.pop("max_image_bytes")}) if "max_image_bytes" in kw \
            else settings
        with pytest.raises(TrainyardError) as err:
            create_prediction(session=session, settings=s, task_id=task.id, uploads=uploads, **kw, actor=OP)
        text = getattr(err.value, "field_message", str(err.value))
        assert getattr(err.value, "field", None) == field, text
        for name in named:
            assert name in text, (name, text)
        for name in not_named:
            assert name not in text, (name, text)
        nothing_stored(session, settings, ctx)


def test_run_without_weights_file_is_refused_before_anything_runs(trained, settings, ctx, session, burst):
    task = trained(train=NO_WEIGHTS_TRAIN)
    run = pick_run(session=session, task=task, run_id=None)
    assert weight_files(settings, run) == []
    with pytest.raises(FieldError) as err:
        create_prediction(session=session, settings=settings, task_id=task.id, uploads=[Upload("a.png", png())],
                          actor=OP)
    assert err.value.field == "weights"
    assert f"run {run.id}" in err.value.field_message and "no weights file" in err.value.field_message
    with pytest.raises(NotFoundError, match="no file"):
        create_prediction(session=session, settings=settings, task_id=task.id, weights="../../trainyard.db",
                          uploads=[Upload("a.png", png())], actor=OP)
    nothing_stored(session, settings, ctx)
    # Any file of the work dir can still be chosen explicitly.
    pred = predict(session, settings, ctx, burst, task, [Upload("a.png", png())], weights="notes.txt")
    assert pred.status == PredictionStatus.completed, pred.reason
    assert pred.weights == "notes.txt"


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runner", *args], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_cli_predict_end_to_end_with_a_subprocess_worker(trained, settings, ctx, session, tmp_path, capsys):
    task = trained()
    # A folder with a non-image is refused whole, with the field and the file's name, before anything is queued.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "fine.png").write_bytes(png())
    (bad / "report.pdf").write_bytes(b"%PDF-1.4")
    # (In-process: the same main() as `python -m runner`, without paying for another interpreter start.)
    assert main(["predict", "--task", str(task.id), "--images", str(bad), "--json"]) == 1
    stdout, stderr = capsys.readouterr()
    assert stdout == ""
    err = json.loads(stderr.strip().splitlines()[-1])
    assert err["field"] == "images" and "report.pdf" in err["error"] and "fine.png" not in err["error"]
    nothing_stored(session, settings, ctx)

    src = tmp_path / "imgs"
    src.mkdir()
    sent = {"one.png": png((1, 1, 1)), "two.jpg": png((2, 2, 2), "JPEG")}
    for name, data in sent.items():
        (src / name).write_bytes(data)
    out = tmp_path / "results"
    cli = _cli("predict", "--task", str(task.id), "--images", str(src), "-o", str(out), "--confidence", "0.3",
               "--json", "--timeout", "120")
    try:
        deadline = time.monotonic() + 60
        while Queue(PREDICT_QUEUE, connection=ctx.redis).count == 0:
            assert cli.poll() is None, cli.stderr.read()
            assert time.monotonic() < deadline, "the CLI never queued the prediction"
            time.sleep(0.1)
        worker = subprocess.run([sys.executable, "-m", "runner", "worker", "--cpu", "--burst"], cwd=ROOT,
                                env=dict(os.environ), capture_output=True, text=True, timeout=120)
        assert worker.returncode == 0, worker.stderr
        stdout, stderr = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, stderr
    data = json.loads(stdout)
    assert data["status"] == "completed" and data["task"] == task.id and data["weights"] == "best.pt"
    assert data["output_dir"] == str(out)
    assert data["images"] == {n: {"output": n, "status": "ok"} for n in sorted(sent)}
    assert data["extra_outputs"] == []
    for name, payload in sent.items():
        assert (out / name).read_bytes() == payload


@pytest.mark.slow
def test_example_classification_package_predicts_end_to_end(settings, ctx, session, burst, tmp_path):
    from PIL import Image, ImageChops

    from examples.make_dataset import make_dataset
    from examples.packages import build_package_zip

    dz = make_dataset(task_type="classification", dest=tmp_path / "shapes.zip", as_zip=True, n_train=24, n_val=8)
    ds = add_dataset(session=session, settings=settings, zip_path=dz, name="shapes", task_type="classification",
                     actor=OP)
    model = add_model(session=session, settings=settings, name="cls", task_type="classification",
                      zip_path=build_package_zip(name="classification", dest=tmp_path / "cls.zip"), actor=OP)
    enqueue_deploy(model.id, connection=ctx.redis)
    burst()
    session.refresh(model)
    assert model.status.value == "deployed", model.reason
    task = create_task(session=session, task_in=TaskIn(name="shapes", model_id=model.id, dataset_id=ds.id, epochs=1,
                                                      eval_metric="accuracy", params={"batch-size": ("8", False)}),
                       actor=OP)
    context.current().schedule(task.id)
    burst()
    session.expire_all()
    task = get_task(session=session, task_id=task.id)
    assert task.status == TaskStatus.completed, task.reason
    with zipfile.ZipFile(dz) as zf:
        names = sorted(n for n in zf.namelist() if "/val/" in n and n.endswith(".png"))[:3]
        uploads = [Upload(Path(n).name, zf.read(n)) for n in names]
    pred = predict(session, settings, ctx, burst, task, uploads, confidence=0.1)
    assert pred.status == PredictionStatus.completed, pred.reason
    assert pred.weights in ("best.pt", "last.pt")
    assert all(r["status"] == "ok" for r in pred.outputs["images"].values()) and len(pred.outputs["images"]) == 3
    for up in uploads:
        with Image.open(io.BytesIO(up.data)) as a, Image.open(output_dir(settings, pred) / up.name) as b:
            assert a.size == b.size
            assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is not None  # drawn on
