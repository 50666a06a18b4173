"""``model add|show|list|redeploy|delete|templates`` through click."""

from __future__ import annotations

from tests.support.pkgs import write_package
from tests.support.procs import start_worker, stop_worker


def test_failed_deploy_with_wait_prints_the_model_and_exits_1(cli, settings, tmp_path):
    pkg = write_package(tmp_path / "m.zip", requirements="nonexistent-pkg-xyz==1.0\n")
    worker = start_worker(settings)
    try:
        r = cli("model", "add", str(pkg), "--wait", "--timeout", "300", "--json")
    finally:
        stop_worker(worker)
    assert r.code == 1
    assert r.data["status"] == "failed" and "nonexistent-pkg-xyz" in r.data["reason"]
    assert r.stderr.startswith("deploy failed: ") and "nonexistent-pkg-xyz" in r.stderr


def test_wait_past_the_timeout_exits_1_and_names_the_status(cli, tmp_path):
    # No worker: the deploy stays queued.
    r = cli("model", "add", str(write_package(tmp_path / "m.zip")), "--wait", "--timeout", "0")
    assert r.code == 1
    assert "no worker is running" in r.stderr and "error: model 1 still waiting after 0 s" in r.stderr


def test_redeploy_of_a_queued_model_is_refused_then_delete(cli, tmp_path):
    added = cli("model", "add", str(write_package(tmp_path / "m.zip")), "--name", "m", "--network", "--json")
    assert added.code == 0, added.stderr
    assert (added.data["name"], added.data["status"], added.data["network"]) == ("m", "waiting", True)
    # No worker took the first deploy: a redeploy now would queue a second build of the same model.
    r = cli("model", "redeploy", "1", "--json")
    assert r.code == 1 and "already queued to deploy" in r.error["error"]
    r = cli("model", "delete", "1")
    assert (r.code, r.stdout) == (0, "model 1 deleted\n")
    r = cli("model", "show", "1", "--json")
    assert r.code == 1 and r.error == {"error": "model 1 does not exist", "field": None}
    assert cli("model", "list").stdout == "no models\n"


def test_templates_list_empty_save_one_and_refuse_a_duplicate_name(cli, tmp_path):
    cli("model", "add", str(write_package(tmp_path / "m.zip")))
    assert cli("model", "templates", "1").stdout == "no templates\n"
    r = cli("model", "templates", "1", "--set", "t", "--value", "x = 0.2", "--json")
    assert r.code == 0, r.stderr
    assert r.data == [{"id": 1, "name": "t", "values": {"x": 0.2}}]
    r = cli("model", "templates", "1", "--set", "t", "--value", "x=0.1", "--json")
    assert r.code == 1 and r.error["field"] == "template name" and "already has a template" in r.error["error"]
