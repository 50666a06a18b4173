"""``task delete`` through click: refused while the task runs and for anyone but its owner or an admin
(exit 1, the reason on stderr), then its rows, files and study are gone. The runs are real (``burst``)."""

from __future__ import annotations

import optuna

from shared.services import search
from tests.support.pkgs import write_dataset, write_package

PW = "correct horse battery"


def test_task_delete_refusals_then_the_owner_and_an_admin_delete(cli, settings, burst, tmp_path):
    assert cli("user", "add", "root", "--role", "admin", "--password-stdin", input=PW + "\n").code == 0
    for name, role in (("alice", "member"), ("bob", "member"), ("val", "viewer")):
        assert cli("--as", "root", "user", "add", name, "--role", role, "--no-password").code == 0
    assert cli("--as", "alice", "dataset", "add", str(write_dataset(tmp_path / "d.zip"))).code == 0
    assert cli("--as", "alice", "model", "add", str(write_package(tmp_path / "m.zip"))).code == 0
    burst()
    create = ("--as", "alice", "task", "create", "--model", "1", "--dataset", "1", "--epochs", "1",
              "--eval-metric", "score", "--max-parallel", "1")
    assert cli(*create, "--name", "search", "--runs", "2", "--param", "x=[0, 1]:search", "--seed", "1").code == 0
    assert cli(*create, "--name", "plain", "--param", "x=0.3").code == 0

    r = cli("--as", "alice", "task", "delete", "1", "--json")  # create scheduled it: running, a run queued
    assert r.code == 1 and r.error == {"error": "task 1 is running; stop it first, then delete it once it has ended",
                                       "field": None}
    burst()
    assert cli("--as", "alice", "task", "show", "1", "--json").data["status"] == "completed"
    runs_dir = settings.data_dir / "runs" / "1"
    assert runs_dir.is_dir()
    r = cli("--as", "bob", "task", "delete", "1")
    assert r.code == 1 and r.stderr == ("error: Deleting this task needs owning it or the admin role; you are a "
                                        "member. Ask an admin if you need more.\n")
    r = cli("--as", "val", "task", "delete", "1")
    assert r.code == 1 and "you are a viewer" in r.stderr

    r = cli("--as", "alice", "task", "delete", "1", "--json")
    assert r.code == 0, r.stderr
    assert r.data == {"deleted": 1, "runs": 2, "predictions": 0, "unlinked": [], "left_on_disk": 0}
    assert not runs_dir.exists()
    names = optuna.get_all_study_names(storage=search.storage(settings.database_url))
    assert "trainyard-task-1" not in names
    r = cli("--as", "alice", "task", "show", "1", "--json")
    assert r.code == 1 and r.error == {"error": "task 1 does not exist", "field": None}

    r = cli("--as", "root", "task", "delete", "2")
    assert (r.code, r.stdout, r.stderr) == (0, "task 2 deleted (runs: 1, predictions: 0)\n", "")
    assert cli("--as", "root", "task", "list").stdout == "no tasks\n"
    shown = cli("--as", "root", "audit", "--action", "delete", "--object", "task", "--json").data
    assert [(e["user"], e["outcome"], e["object_id"]) for e in shown] == [
        ("root", "ok", 2), ("alice", "ok", 1), ("val", "denied", 1), ("bob", "denied", 1), ("alice", "failed", 1)]


def test_task_delete_help_says_what_goes_and_what_is_refused(cli):
    r = cli("task", "delete", "--help")
    assert r.code == 0
    assert "Delete task ID for good" in r.stdout and "stop it first" in r.stdout and "--json" in r.stdout
