"""``task create|show|list|stop|clone|rerun|weights`` through click. Deploys
and runs go through the same job code a worker runs (``burst``), or a real
worker process where the CLI itself waits."""

from __future__ import annotations

import pytest

from tests.support.pkgs import write_dataset, write_package
from tests.support.procs import start_worker, stop_worker


@pytest.fixture
def deployed(cli, burst, tmp_path):
    """Dataset 1 and deployed model 1."""
    assert cli("dataset", "add", str(write_dataset(tmp_path / "d.zip"))).code == 0
    assert cli("model", "add", str(write_package(tmp_path / "m.zip"))).code == 0
    burst()
    assert cli("model", "show", "1", "--json").data["status"] == "deployed"


CREATE = ("task", "create", "--name", "t", "--model", "1", "--dataset", "1", "--epochs", "1")


def test_a_failed_run_is_rerun_and_the_task_cloned(cli, deployed, burst):
    r = cli(*CREATE, "--param", "fail=true", "--eval-metric", "score:min", "--score", "best", "--json")
    assert r.code == 0, r.stderr
    assert (r.data["status"], r.data["direction"], r.data["score_mode"]) == ("waiting", "min", "best")
    burst()
    shown = cli("task", "show", "1", "--json").data
    assert shown["status"] == "failed" and shown["runs"][0]["status"] == "failed"
    text = cli("task", "show", "1").stdout
    assert text.startswith("task 1 t: failed") and "reason=" in text
    r = cli("task", "rerun", str(shown["runs"][0]["id"]), "--json")
    assert r.data == {"run": shown["runs"][0]["id"], "task": 1, "status": "queued"}
    burst()
    assert cli("task", "show", "1", "--json").data["runs"][0]["status"] == "failed"
    r = cli("task", "clone", "1", "--name", "again", "--json")
    assert r.code == 0 and r.data == {"id": 2, "name": "again", "status": "waiting"}
    r = cli("task", "clone", "1")
    assert r.stdout == "task 3 created\n"
    assert cli("task", "show", "3", "--json").data["name"] == "t (copy)"


def test_stop_a_waiting_task_then_stopping_again_is_refused(cli, deployed):
    assert cli(*CREATE, "--runs", "2", "--param", "x=[0, 1]:search", "--eval-metric", "score", "--seed", "1",
               "--max-parallel", "1").code == 0
    r = cli("task", "stop", "1", "--json")
    assert r.code == 0 and r.data == {"id": 1, "status": "stopped"}
    r = cli("task", "stop", "1", "--json")
    assert r.code == 1 and r.error == {"error": "task 1 is already stopped", "field": None}
    r = cli("task", "list", "--status", "stopped", "--json")
    assert r.data["total"] == 1 and r.data["tasks"][0]["id"] == 1
    assert cli("task", "list", "--search", "nothing-like-this").stdout == "no tasks\n"


def test_options_reach_the_task(cli, deployed):
    r = cli(*CREATE, "--time-limit", "90m", "--metrics", "loss, score", "--sampler", "random", "--no-prune",
            "--memory-limit", "1GiB", "--max-procs", "64", "--json")
    assert r.code == 0, r.stderr
    d = r.data
    assert (d["time_limit_s"], d["metrics"], d["sampler"], d["prune"]) == (5400, ["loss", "score"], "random", False)
    assert d["limits"] == {"memory_limit": 1 << 30, "max_procs": 64}


def test_bad_values_exit_1_at_their_field_or_2_as_usage_errors(cli, deployed):
    r = cli(*CREATE, "--time-limit", "soon", "--json")
    assert r.code == 1 and r.error["field"] and "soon" in r.error["error"]
    assert cli(*CREATE, "--sampler", "bayes").code == 2
    assert cli("task", "create", "--name", "t").code == 2
    assert cli("task", "list", "--json").data == {"total": 0, "tasks": []}


def test_wait_exits_1_unless_the_task_completed(cli, settings, deployed):
    worker = start_worker(settings)
    try:
        r = cli(*CREATE, "--param", "fail=true", "--wait", "--timeout", "120", "--json")
    finally:
        stop_worker(worker)
    assert r.code == 1
    assert r.data["status"] == "failed" and r.data["runs"][0]["exit_code"] == 3
    r = cli("task", "weights", "1", "-o", "w.zip")
    assert r.code == 1 and "has no best run" in r.stderr


def test_weights_into_a_folder_and_a_clear_error_where_it_cannot_write(cli, deployed, burst, tmp_path):
    import zipfile

    assert cli(*CREATE, "--eval-metric", "score").code == 0
    burst()
    run_id = cli("task", "show", "1", "--json").data["runs"][0]["id"]
    folder = tmp_path / "out"
    folder.mkdir()
    r = cli("task", "weights", "1", "-o", str(folder), "--json")
    assert r.code == 0, r.stderr
    zip_path = folder / f"task-1-run-{run_id}.zip"
    assert r.data["zip"] == str(zip_path) and sorted(p.name for p in folder.iterdir()) == [zip_path.name]
    with zipfile.ZipFile(zip_path) as zf:
        assert f"task1-run{run_id}/best.pt" in zf.namelist()
    # A trailing slash names a folder that does not exist yet.
    r = cli("task", "weights", "1", "-o", f"{tmp_path}/new/")
    assert r.code == 0 and (tmp_path / "new" / zip_path.name).is_file(), r.stderr
    # A regular file where a folder is needed: the user's error, said plainly, and no .part left.
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    r = cli("task", "weights", "1", "-o", str(blocker / "w.zip"), "--json")
    assert r.code == 1
    assert r.error["error"].startswith(f"cannot write the weights zip {blocker / 'w.zip'}: ")
    assert "choose a folder you can write to" in r.error["error"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part")) == []
    # An existing file is replaced, atomically, with no .part next to it.
    target = tmp_path / "w.zip"
    target.write_text("old")
    assert cli("task", "weights", "1", "-o", str(target)).code == 0
    assert zipfile.is_zipfile(target) and not (tmp_path / "w.zip.part").exists()
