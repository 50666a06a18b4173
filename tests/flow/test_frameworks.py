"""Real frameworks as their users write them, through the worker: a YOLO script
reads the dataset's data.yaml, a run that tries to download is told the
sandbox is offline and what to do, colour codes never reach a reason."""

from __future__ import annotations

import pytest

from examples.make_dataset import make_dataset
from runner import context
from shared.contract.datasets.yolo import VIEW_DIR
from shared.contract.runlog import read_log
from shared.core.queue import enqueue_deploy
from shared.records import RunStatus
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from shared.services.tasks import TaskIn, create_task, task_runs
from tests.support.people import OP
from tests.support.pkgs import write_package

YOLO_TRAIN = '''
import argparse, os
p = argparse.ArgumentParser()
p.add_argument("--data")
p.add_argument("--data-yaml")
p.add_argument("--work-dir", default="out")
p.add_argument("--epochs", type=int, default=1)
a = p.parse_args()
# What Ultralytics does with data=: read the yaml, find images/ and the labels/ beside them.
doc = dict(line.split(": ", 1) for line in open(a.data_yaml).read().splitlines()
           if ": " in line and not line.startswith(("#", " ", "-")))
base = doc["path"]
images = labels = boxes = 0
for dirpath, _dirs, files in os.walk(os.path.join(base, doc["train"])):
    for f in files:
        images += 1
        label = os.path.join(dirpath.replace("/images/", "/labels/", 1), os.path.splitext(f)[0] + ".txt")
        with open(label) as fh:
            boxes += sum(1 for line in fh if len(line.split()) == 5)
        labels += 1
print("YAML", a.data_yaml, "DATA", a.data, "PATH", base, flush=True)
print(f"images: {images}, labels: {labels}, boxes: {boxes}", flush=True)
'''

OFFLINE_TRAIN = '''
import sys, urllib.request
print("\\x1b[32mepoch: 1, loss: 0.5\\x1b[0m", flush=True)
print("\\x1b[34mDownloading https://github.com/ultralytics/assets/releases/download/v8.2.0/yolov8n.pt\\x1b[0m",
      file=sys.stderr, flush=True)
try:
    urllib.request.urlopen("https://github.com/ultralytics/assets/releases/download/v8.2.0/yolov8n.pt", timeout=10)
except OSError as exc:
    print(f"\\x1b[31mConnectionError: Download failure for yolov8n.pt ({exc}). "
          "Environment may be offline.\\x1b[0m", file=sys.stderr, flush=True)
    sys.exit(1)
'''


@pytest.fixture
def run_one(settings, ctx, session, burst, tmp_path):
    def run(*, task_type: str, train: str, **dataset_kw):
        zip_path = make_dataset(task_type=task_type, dest=tmp_path / f"{task_type}.zip", as_zip=True, **dataset_kw)
        ds = add_dataset(session=session, actor=OP, settings=settings, zip_path=zip_path, name="d", task_type=task_type)
        model = add_model(session=session, actor=OP, settings=settings,
                          zip_path=write_package(tmp_path / "m.zip", train=train), name="m", task_type=task_type)
        enqueue_deploy(model.id, connection=ctx.redis)
        burst()
        session.refresh(model)
        assert model.status.value == "deployed", model.reason
        task = create_task(session=session, actor=OP, task_in=TaskIn(name="t", model_id=model.id, dataset_id=ds.id,
                                                                     epochs=1, metrics=["loss", "boxes"]))
        context.current().schedule(task.id)
        burst()
        session.expire_all()
        [r] = task_runs(session=session, task_id=task.id)
        log = [text for _s, text in read_log(log_path=settings.path(r.log_path))]
        return ds, r, log

    return run


def test_a_yolo_script_gets_the_data_yaml_and_reads_images_and_labels(run_one, settings):
    ds, run, log = run_one(task_type="detection", train=YOLO_TRAIN, n_train=5, n_val=2)
    assert run.status == RunStatus.completed, (run.reason, log)
    line = next(t for t in log if t.startswith("YAML "))
    inside = str(settings.path(ds.path)) if settings.unsafe_no_sandbox else "/dataset"
    assert line == f"YAML {inside}/{VIEW_DIR}/data.yaml DATA {inside} PATH {inside}/{VIEW_DIR}"
    counts = next(t for t in log if t.startswith("images: "))
    images, labels, boxes = (int(p.split(": ")[1]) for p in counts.split(", "))
    assert images == labels == 5 and boxes >= 5
    # Built under the dataset, once: the next run of another task reuses it.
    assert (settings.path(ds.path) / VIEW_DIR / ".complete").is_file()


def test_data_yaml_on_a_dataset_without_a_yolo_view_fails_by_name(run_one):
    _ds, run, _log = run_one(task_type="text_recognition", train=YOLO_TRAIN, n_train=2, n_val=0)
    assert run.status == RunStatus.failed
    assert "text recognition dataset has no YOLO view" in run.reason and "--data" in run.reason


def test_a_download_in_an_offline_run_says_why_and_what_to_do(run_one):
    _ds, run, log = run_one(task_type="classification", train=OFFLINE_TRAIN, n_train=3, n_val=0)
    assert run.status == RunStatus.failed
    headline = run.reason.splitlines()[0]
    assert headline.startswith("exit code 1: ConnectionError: Download failure for yolov8n.pt")
    assert "the sandbox is offline on purpose" in headline and "/workspace/weights/" in headline
    assert "ask an admin to allow network for this model" in headline
    assert "\x1b" not in run.reason and "[31m" not in run.reason
    # The raw log keeps the colours (the log view renders them); the metric line was still read.
    assert any("\x1b[34m" in t for t in log)
    assert run.metric_names == ["epoch", "loss"]


def test_a_download_that_fails_in_the_install_script_says_what_to_do(settings, ctx, session, burst, tmp_path):
    # .invalid never resolves (RFC 2606), with or without a network on this machine.
    script = 'curl -fsS -o "$1/model.pt" http://weights.invalid/model.pt\n'
    model = add_model(session=session, actor=OP, settings=settings, name="m", task_type="classification",
                      zip_path=write_package(tmp_path / "m.zip", extra={"install_dependencies.sh": script}))
    enqueue_deploy(model.id, connection=ctx.redis)
    burst()
    session.refresh(model)
    assert model.status.value == "failed"
    # curl's own words depend on the path out (no DNS: "Could not resolve host"; the worker's egress
    # proxy: "returned error: 403"): the reason must carry the product's hint either way.
    assert "install_dependencies.sh could not download a file" in model.reason
    assert "installs reach only the hosts the operator's egress rules allow" in model.reason
    assert "Put the file in the model package and install it from there" in model.reason
    assert "ask an admin to allow that host" in model.reason
