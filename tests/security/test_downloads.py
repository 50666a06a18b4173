"""Downloads of files that user code wrote (a run's work dir, predict.py's out
dir): regular files only, read through directory fds, so a folder that the
running train.py swaps for a symlink is skipped, never followed; names that are
not UTF-8 are served escaped; a running run's zip is a marked snapshot.

The swap is raced for real: a thread flips ``ckpt/`` between a folder and a
symlink to a "host" folder holding files of the same names, while the service
zips and reads the run's files in a loop."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared.core.errors import NotFoundError
from shared.records import (
    Prediction,
    PredictionStatus,
    Run,
    RunStatus,
    Task,
    TaskStatus,
)
from shared.services.predictions import output_bytes, outputs_zip
from shared.services.weights import list_files, read_file, weight_files, write_weights_zip
from tests.support.people import OP
from tests.support.rows import task_with_run

ROUNDS = 150
RAW_NAME = b"w\xff.pt"  # not UTF-8
SHOWN_NAME = "w\\xff.pt"


def _records(session, *, status: RunStatus) -> tuple[Task, Run]:
    return task_with_run(session, task_status=TaskStatus.running, run_status=status)


def _host_secret(settings) -> tuple[Path, str]:
    """A folder outside the work dir, with files named like the checkpoint's."""
    token = f"host-secret-{uuid.uuid4().hex}"
    host = settings.data_dir / "host-only"
    host.mkdir()
    for name in ("w.pt", "opt.pt"):
        (host / name).write_text(token)
    return host, token


class Swapper(threading.Thread):
    """Flips ``ckpt`` between the real folder and a link to ``target`` as fast as it can."""

    def __init__(self, work: Path, target: Path) -> None:
        super().__init__(daemon=True)
        self.work, self.target = work, target
        self.stop = threading.Event()
        self.flips = 0

    def run(self) -> None:
        ckpt, real = self.work / "ckpt", self.work / "ckpt.real"
        while not self.stop.is_set():
            os.rename(ckpt, real)
            os.symlink(self.target, ckpt)
            os.unlink(ckpt)
            os.rename(real, ckpt)
            self.flips += 1


@pytest.fixture
def running(settings, session):
    task, run = _records(session, status=RunStatus.running)
    work = settings.path(run.work_dir)
    (work / "ckpt").mkdir(parents=True)
    for name in ("w.pt", "opt.pt"):
        (work / "ckpt" / name).write_text("real-weights")
    (work / "log.txt").write_text("epoch 1")
    return task, run, work


def test_a_folder_swapped_for_a_link_during_the_download_is_never_followed(settings, session, running, tmp_path):
    task, run, work = running
    host, token = _host_secret(settings)
    before = write_weights_zip(actor=OP, session=session, settings=settings, task_id=task.id, run_id=run.id,
                               dest=tmp_path / "before.zip")
    with zipfile.ZipFile(before.path) as zf:  # without the race, the real checkpoint is in the zip
        assert any(n.endswith("ckpt/w.pt") for n in zf.namelist()), zf.namelist()
    swapper = Swapper(work, host)
    swapper.start()
    leaked: list[str] = []

    def one_round(i: int) -> None:
        made = write_weights_zip(actor=OP, session=session, settings=settings, task_id=task.id, run_id=run.id,
                                 dest=tmp_path / f"w{i}.zip")
        with zipfile.ZipFile(made.path) as zf:
            for name in zf.namelist():
                data = zf.read(name).decode(errors="replace")
                if token in data:
                    leaked.append(f"zip {i}: {name}")
        made.path.unlink()
        try:
            if token in read_file(settings, run, "ckpt/w.pt").decode(errors="replace"):
                leaked.append(f"single file {i}")
        except NotFoundError:
            pass  # it was a link at that instant: refused, which is right

    try:
        for i in range(ROUNDS):
            one_round(i)
    finally:
        swapper.stop.set()
        swapper.join(10)
    assert swapper.flips > ROUNDS, "the swapping thread hardly ran; the race was not exercised"
    assert leaked == [], f"the host folder behind the swapped-in link was read: {leaked[:5]}"


def test_a_running_runs_zip_is_a_snapshot_that_says_so(settings, session, running, tmp_path, monkeypatch):
    task, run, work = running
    made = write_weights_zip(actor=OP, session=session, settings=settings, task_id=task.id, run_id=run.id,
                             dest=tmp_path / "w.zip")
    top = f"task{task.id}-run{run.id}"
    with zipfile.ZipFile(made.path) as zf:
        names = set(zf.namelist())
        note = zf.read(f"{top}/PARTIAL.txt").decode()
    assert made.partial and {f"{top}/ckpt/w.pt", f"{top}/log.txt", f"{top}/PARTIAL.txt"} <= names
    assert f"Run {run.id} was running" in note and "snapshot" in note
    from runner.cli import cli

    res = CliRunner().invoke(cli, ["task", "weights", str(task.id), "--run", str(run.id), "-o",
                                   str(tmp_path / "cli.zip")])
    assert res.exit_code == 0, res.output
    assert "partial snapshot" in res.output and "PARTIAL.txt" in res.output
    run.status = RunStatus.completed
    session.add(run)
    session.commit()
    done = write_weights_zip(actor=OP, session=session, settings=settings, task_id=task.id, run_id=run.id,
                             dest=tmp_path / "done.zip")
    with zipfile.ZipFile(done.path) as zf:
        assert not done.partial and f"{top}/PARTIAL.txt" not in zf.namelist()


def test_links_and_fifos_in_the_work_dir_are_left_out(settings, session, running, tmp_path):
    task, run, work = running
    host, token = _host_secret(settings)
    os.symlink(host / "w.pt", work / "link.pt")
    os.symlink(host, work / "linkdir")
    os.mkfifo(work / "pipe.pt")  # opening it for a blocking read would hang the download
    made = write_weights_zip(actor=OP, session=session, settings=settings, task_id=task.id, run_id=run.id,
                             dest=tmp_path / "w.zip")
    with zipfile.ZipFile(made.path) as zf:
        names = [n.split("/", 1)[1] for n in zf.namelist()]
    assert sorted(names) == ["PARTIAL.txt", "ckpt/opt.pt", "ckpt/w.pt", "log.txt"]
    assert made.skipped == 3
    assert list_files(settings, run) == ["ckpt/opt.pt", "ckpt/w.pt", "log.txt"]
    for rel in ("link.pt", "linkdir/w.pt", "pipe.pt"):
        with pytest.raises(NotFoundError):
            read_file(settings, run, rel)


def test_names_that_are_not_utf8_are_served_escaped(settings, session, tmp_path):
    task, run = _records(session, status=RunStatus.completed)
    work = settings.path(run.work_dir)
    (work / "sub").mkdir(parents=True)
    raw_dir = os.fsencode(work)
    with open(os.path.join(raw_dir, RAW_NAME), "wb") as f:
        f.write(b"odd-name-weights")
    with open(os.path.join(raw_dir, b"sub", b"\xfe\xfd.txt"), "wb") as f:
        f.write(b"nested")
    assert list_files(settings, run) == ["sub/\\xfe\\xfd.txt", SHOWN_NAME]
    assert weight_files(settings, run) == [SHOWN_NAME]
    assert read_file(settings, run, SHOWN_NAME) == b"odd-name-weights"
    made = write_weights_zip(actor=OP, session=session, settings=settings, task_id=task.id, run_id=run.id,
                             dest=tmp_path / "w.zip")
    top = f"task{task.id}-run{run.id}"
    with zipfile.ZipFile(made.path) as zf:
        assert zf.read(f"{top}/{SHOWN_NAME}") == b"odd-name-weights"
        assert zf.read(f"{top}/sub/\\xfe\\xfd.txt") == b"nested"


def test_prediction_outputs_are_regular_files_only_with_escaped_names(settings, session, tmp_path):
    task, run = _records(session, status=RunStatus.completed)
    pred = Prediction(task_id=task.id, run_id=run.id, model_id=task.model_id, weights="w.pt", path="predictions/1",
                      status=PredictionStatus.completed)
    session.add(pred)
    session.commit()
    out = settings.path(pred.path) / "work" / "out"
    out.mkdir(parents=True)
    (out / "a.png").write_bytes(b"png-bytes")
    with open(os.path.join(os.fsencode(out), b"b\xff.png"), "wb") as f:
        f.write(b"odd")
    host, token = _host_secret(settings)
    os.symlink(host / "w.pt", out / "c.png")
    with zipfile.ZipFile(outputs_zip(settings, pred, tmp_path / "o.zip")) as zf:
        assert sorted(zf.namelist()) == [f"prediction{pred.id}/a.png", f"prediction{pred.id}/b\\xff.png"]
    assert output_bytes(settings, pred, "b\\xff.png") == b"odd"
    assert output_bytes(settings, pred, "c.png") is None
    shutil.rmtree(host)
