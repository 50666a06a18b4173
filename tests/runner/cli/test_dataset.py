"""``dataset add|show|list`` through click: refusals exit 1 naming the file,
usage errors exit 2, and nothing is stored on a refusal."""

from __future__ import annotations

from tests.support.pkgs import write_dataset


def test_a_bad_zip_is_refused_with_exit_1_and_nothing_is_stored(cli, tmp_path):
    notzip = tmp_path / "x.zip"
    notzip.write_text("hello")
    r = cli("dataset", "add", str(notzip), "--type", "classification", "--json")
    assert r.code == 1 and r.stdout == ""
    assert "not a zip" in r.error["error"] and r.error["field"] is None
    r = cli("dataset", "add", str(notzip), "--type", "nope")
    assert r.code == 1 and r.stderr.startswith("error: ") and "unknown task type" in r.stderr
    assert cli("dataset", "list", "--json").data == []
    assert cli("dataset", "list").stdout == "no datasets\n"


def test_name_defaults_to_the_file_stem_and_type_to_other(cli, tmp_path):
    r = cli("dataset", "add", str(write_dataset(tmp_path / "flowers.zip")), "--json")
    assert r.code == 0, r.stderr
    assert (r.data["name"], r.data["task_type"], r.data["images"]) == ("flowers", "other", 8)
    assert cli("dataset", "show", str(r.data["id"]), "--json").data == r.data


def test_usage_errors_exit_2_before_anything_runs(cli):
    r = cli("dataset", "show", "one")
    assert r.code == 2 and "'one' is not a valid integer" in r.stderr
    assert cli("dataset", "add").code == 2
    assert cli("dataset", "frobnicate").code == 2
    r = cli("dataset", "add", "--help")
    assert r.code == 0 and "--type" in r.stdout and "--json" in r.stdout
