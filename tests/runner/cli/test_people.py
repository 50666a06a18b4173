"""People on the command line: the operator only while no account exists, ``--as`` (or TRAINYARD_AS)
for everything after, each role's rights, the ``user`` group and ``audit``. Refusals exit 1 with the
reason on stderr."""

from __future__ import annotations

import pytest

from tests.support.pkgs import write_dataset, write_package

PW = "correct horse battery"


@pytest.fixture
def team(cli):
    """root (admin, made by the operator on the fresh install), alice and bob (members), val (viewer)."""
    r = cli("user", "add", "root", "--role", "admin", "--password-stdin", "--json", input=PW + "\n")
    assert r.code == 0, r.stderr
    assert r.data["role"] == "admin" and r.data["password"] is True
    for name, role in (("alice", "member"), ("bob", "member"), ("val", "viewer")):
        assert cli("--as", "root", "user", "add", name, "--role", role, "--no-password").code == 0


def test_the_operator_acts_only_while_nobody_has_an_account(cli):
    r = cli("user", "add", "first", "--role", "member", "--no-password")
    assert r.code == 1 and "the first account must be an admin" in r.stderr
    assert cli("user", "add", "root", "--role", "admin", "--password-stdin", input=PW + "\n").code == 0
    r = cli("dataset", "list")
    assert r.code == 1
    assert "add --as NAME (or set TRAINYARD_AS=NAME)" in r.stderr
    r = cli("--as", "nobody", "dataset", "list")
    assert r.code == 1 and "--as nobody: no enabled person has that name" in r.stderr
    assert cli("--as", "root", "dataset", "list").stdout == "no datasets\n"
    assert cli("dataset", "list", env={"TRAINYARD_AS": "root"}).stdout == "no datasets\n"


def test_short_passwords_and_taken_names_are_refused(cli, team):
    r = cli("--as", "root", "user", "add", "carol", "--password-stdin", "--json", input="short\n")
    assert r.code == 1 and r.error["field"] == "password"
    r = cli("--as", "root", "user", "add", "Alice", "--no-password", "--json")
    assert r.code == 1 and "'alice' is taken" in r.error["error"]


def test_private_records_answer_like_missing_ones(cli, team, tmp_path):
    r = cli("--as", "alice", "dataset", "add", str(write_dataset(tmp_path / "d.zip")), "--visibility", "private",
            "--json")
    assert r.code == 0, r.stderr
    assert cli("--as", "alice", "dataset", "add", str(write_dataset(tmp_path / "e.zip"))).code == 0
    hidden = cli("--as", "bob", "dataset", "show", "1", "--json")
    missing = cli("--as", "bob", "dataset", "show", "99", "--json")
    assert (hidden.code, hidden.error) == (1, {"error": "dataset 1 does not exist", "field": None})
    assert (missing.code, missing.error) == (1, {"error": "dataset 99 does not exist", "field": None})
    assert [d["id"] for d in cli("--as", "bob", "dataset", "list", "--json").data] == [2]
    assert [d["id"] for d in cli("--as", "val", "dataset", "list", "--json").data] == [2]
    assert [d["id"] for d in cli("--as", "alice", "dataset", "list", "--json").data] == [2, 1]
    assert [d["id"] for d in cli("--as", "root", "dataset", "list", "--json").data] == [2, 1]


def test_each_role_on_uploads(cli, team, tmp_path):
    ds, pkg = str(write_dataset(tmp_path / "d.zip")), str(write_package(tmp_path / "m.zip"))
    r = cli("--as", "val", "dataset", "add", ds)
    assert r.code == 1
    assert r.stderr == ("error: Creating a dataset needs the member or admin role; you are a viewer. "
                        "Ask an admin if you need more.\n")
    r = cli("--as", "alice", "model", "add", pkg, "--network")
    assert r.code == 1 and "Giving a model network access needs the admin role; you are a member" in r.stderr
    assert cli("--as", "alice", "model", "add", pkg).code == 0
    r = cli("--as", "bob", "model", "delete", "1")
    assert r.code == 1 and "Deleting this model needs owning it or the admin role; you are a member" in r.stderr
    r = cli("--as", "val", "model", "templates", "1", "--set", "fast", "--value", "x=0.3")
    assert r.code == 1 and "you are a viewer" in r.stderr
    assert cli("--as", "root", "model", "add", pkg, "--network", "--json").data["network"] is True
    assert cli("--as", "root", "model", "delete", "1").code == 0


def test_tasks_for_each_role(cli, team, burst, tmp_path):
    assert cli("--as", "alice", "dataset", "add", str(write_dataset(tmp_path / "d.zip"))).code == 0
    assert cli("--as", "alice", "model", "add", str(write_package(tmp_path / "m.zip"))).code == 0
    burst()
    create = ("task", "create", "--model", "1", "--dataset", "1", "--epochs", "1")
    r = cli("--as", "val", *create, "--name", "v")
    assert r.code == 1 and "Creating a task needs the member or admin role; you are a viewer" in r.stderr
    assert cli("--as", "alice", *create, "--name", "secret", "--visibility", "private", "--runs", "2",
               "--param", "x=[0, 1]:search", "--eval-metric", "score", "--max-parallel", "1").code == 0
    assert cli("--as", "alice", *create, "--name", "shared", "--runs", "2", "--param", "x=[0, 1]:search",
               "--eval-metric", "score", "--max-parallel", "1").code == 0
    # bob: the private task does not exist for him; the team one he sees but may not stop.
    assert cli("--as", "bob", "task", "show", "1").stderr == "error: task 1 does not exist\n"
    assert cli("--as", "bob", "task", "stop", "1").stderr == "error: task 1 does not exist\n"
    assert [t["id"] for t in cli("--as", "bob", "task", "list", "--json").data["tasks"]] == [2]
    r = cli("--as", "bob", "task", "stop", "2")
    assert r.code == 1 and "Changing this task needs owning it or the admin role; you are a member" in r.stderr
    r = cli("--as", "bob", "task", "clone", "2")
    assert r.code == 1 and "you are a member" in r.stderr
    # The platform's ceiling binds every role (an admin too): no role may ask for more.
    for who in ("alice", "root"):
        r = cli("--as", who, *create, "--name", "big", "--max-procs", "100000")
        assert r.code == 1 and "max_procs: 100,000 is over the platform's ceiling" in r.stderr
    # Owner and admin stop.
    assert cli("--as", "alice", "task", "stop", "1", "--json").data["status"] == "stopped"
    assert cli("--as", "root", "task", "stop", "2", "--json").data["status"] == "stopped"
    assert cli("--as", "root", "task", "show", "1", "--json").data["name"] == "secret"


def test_weights_download_by_a_viewer(cli, team, burst, tmp_path):
    assert cli("--as", "alice", "dataset", "add", str(write_dataset(tmp_path / "d.zip"))).code == 0
    assert cli("--as", "alice", "model", "add", str(write_package(tmp_path / "m.zip"))).code == 0
    burst()
    base = ("task", "create", "--model", "1", "--dataset", "1", "--epochs", "1", "--param", "x=0.3",
            "--eval-metric", "score")
    assert cli("--as", "alice", *base, "--name", "team").code == 0
    assert cli("--as", "alice", *base, "--name", "mine", "--visibility", "private").code == 0
    burst()
    r = cli("--as", "val", "task", "weights", "1", "-o", str(tmp_path / "w.zip"), "--json")
    assert r.code == 0, r.stderr
    assert (tmp_path / "w.zip").is_file()
    r = cli("--as", "val", "task", "weights", "2", "-o", str(tmp_path / "x.zip"))
    assert r.stderr == "error: task 2 does not exist\n" and not (tmp_path / "x.zip").exists()


def test_user_management_is_for_admins(cli, team):
    for argv in (("user", "list"), ("user", "set-role", "bob", "admin"), ("user", "disable", "bob"),
                 ("user", "add", "eve", "--no-password"), ("audit",)):
        r = cli("--as", "alice", *argv)
        assert r.code == 1 and "needs the admin role; you are a member" in r.stderr, argv
    r = cli("--as", "root", "user", "list", "--json")
    assert [(u["name"], u["role"]) for u in r.data] == [("alice", "member"), ("bob", "member"), ("root", "admin"),
                                                        ("val", "viewer")]
    assert cli("--as", "root", "user", "set-role", "val", "member", "--json").data["role"] == "member"
    assert cli("--as", "root", "user", "disable", "bob").stdout == "bob is disabled\n"
    r = cli("--as", "bob", "dataset", "list")
    assert r.code == 1 and "no enabled person has that name" in r.stderr
    assert cli("--as", "root", "user", "enable", "bob").stdout == "bob is enabled\n"
    r = cli("--as", "root", "user", "set-role", "root", "member")
    assert r.code == 1 and "root is the only admin" in r.stderr
    assert cli("--as", "root", "user", "passwd", "alice", "--password-stdin", input=PW + " 2\n").code == 0
    r = cli("--as", "alice", "user", "passwd", "bob", "--password-stdin", input=PW + "\n")
    assert r.code == 1 and "needs the admin role" in r.stderr
    assert cli("--as", "alice", "user", "passwd", "alice", "--password-stdin", input=PW + " 3\n").code == 0


def test_audit_lists_what_happened_with_filters(cli, team, tmp_path):
    assert cli("--as", "val", "dataset", "add", str(write_dataset(tmp_path / "d.zip"))).code == 1
    assert cli("--as", "alice", "dataset", "add", str(write_dataset(tmp_path / "d.zip"))).code == 0
    events = cli("--as", "root", "audit", "--json").data
    assert [(e["user"], e["action"], e["outcome"]) for e in events][:2] == [("alice", "create", "ok"),
                                                                            ("val", "create", "denied")]
    made = [e for e in events if e["action"] == "create_user"]
    assert [(e["user"], e["detail"]) for e in made][-1] == ("operator", "root as admin") and len(made) == 4
    denied = cli("--as", "root", "audit", "--outcome", "denied", "--json").data
    assert [(e["user"], e["object_kind"]) for e in denied] == [("val", "dataset")]
    mine = cli("--as", "root", "audit", "--user", "alice", "--action", "create", "--object", "dataset",
               "--object-id", "1", "--json").data
    assert [(e["user"], e["object_id"]) for e in mine] == [("alice", 1)]
    assert cli("--as", "root", "audit", "--since", "2999-01-01").stdout == "no events\n"
    assert cli("--as", "root", "audit", "--since", "yesterday").code == 2
    text = cli("--as", "root", "audit", "--outcome", "denied").stdout
    assert "val" in text and "denied" in text and "you are a viewer" in text
