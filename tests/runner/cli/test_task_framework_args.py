"""``task create`` with a framework-shaped train.py: a required positional config
picked from the package, several-value overrides, switches, a launcher's
--local_rank; the run's argv and its config files as the script sees them."""

from __future__ import annotations

import json
import re

import pytest

from shared.contract.runlog import read_log
from tests.support.pkgs import write_dataset, write_package

MM_TRAIN = '''
import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument("config", help="train config file path")
p.add_argument("--work-dir")
p.add_argument("--cfg-options", nargs="+", help="key=value overrides")
p.add_argument("--resume", nargs="?", const=True, default=False)
p.add_argument("--local_rank", "--local-rank", type=int, default=0)
a = p.parse_args()
print("argv", json.dumps(sys.argv[1:]), flush=True)
seen = {}
for rel in ("configs/_base_/data.py", "configs/data.yaml", "configs/meta.json"):
    with open(rel) as fh:
        seen[rel] = fh.read()
print("configs", json.dumps(seen), flush=True)
os.makedirs(a.work_dir, exist_ok=True)
print("epoch: 1, score: 0.5", flush=True)
'''

CONFIGS = {
    "configs/main.py": "_base_ = ['_base_/data.py']\n",
    "configs/_base_/data.py": "data_root = 'DATA_PATH'\nnum_classes = 'LABEL_CLASS_COUNT'\n",
    "configs/data.yaml": "path: DATA_PATH\nnc: LABEL_CLASS_COUNT\n",
    "configs/meta.json": '{"work": "WORK_DIR_PATH"}',
}


@pytest.fixture
def deployed(cli, burst, tmp_path):
    assert cli("dataset", "add", str(write_dataset(tmp_path / "d.zip"))).code == 0
    assert cli("model", "add", str(write_package(tmp_path / "m.zip", train=MM_TRAIN, extra=CONFIGS))).code == 0
    burst()
    shown = cli("model", "show", "1", "--json").data
    assert shown["status"] == "deployed"
    return shown


CREATE = ("task", "create", "--name", "t", "--model", "1", "--dataset", "1", "--epochs", "1", "--json")


def test_the_model_lists_config_files_with_globals_and_hides_the_launcher_argument(deployed):
    assert [a["name"] for a in deployed["user_parameters"]] == ["config", "cfg-options", "resume"]
    assert [a["name"] for a in deployed["launcher_parameters"]] == ["local_rank"]
    assert deployed["config_choices"] == {"config": ["configs/data.yaml", "configs/main.py", "configs/meta.json",
                                                     "configs/_base_/data.py"]}
    assert deployed["globals_used"]["configs/_base_/data.py"] == ["DATA_PATH", "LABEL_CLASS_COUNT"]
    assert deployed["globals_used"]["configs/meta.json"] == ["WORK_DIR_PATH"]


@pytest.mark.parametrize(("params", "field", "message"), [
    ((), "config", "train.py requires the positional argument 'config': give it a value; pick one of the "
                   "package's config files: configs/data.yaml, configs/main.py"),
    (("config=configs/nope.py",), "config", "'configs/nope.py' is not a config file of the model package; "
                                            "pick one of configs/data.yaml"),
    (("config=configs/main.py", "cfg-options=a='b"), "cfg-options", "No closing quotation"),
    (("config=configs/main.py", "local_rank=1"), "local_rank", "train.py declares no user parameter 'local_rank'"),
])
def test_create_refuses_with_the_field_named(cli, deployed, params, field, message):
    r = cli(*CREATE, *(x for p in params for x in ("--param", p)))
    assert r.code == 1
    assert r.error["field"] == field, r.error
    assert message in r.error["error"], r.error


def test_the_run_gets_its_config_overrides_and_switch_and_replaced_configs(cli, deployed, burst, settings):
    r = cli(*CREATE, "--param", "cfg-options=custom_imports.imports=[a,b] 'name=two words'",
            "--param", "resume=true", "--param", "config=./configs/main.py")
    assert r.code == 0, r.stderr
    assert r.data["params"]["config"] == {"value": "configs/main.py", "search": False}
    burst()
    task = cli("task", "show", "1", "--json").data
    assert task["status"] == "completed", task
    run_dir = settings.data_dir / "runs" / "1" / str(task["runs"][0]["id"])
    lines = [text for _stream, text in read_log(log_path=run_dir / "run.log")]
    argv = json.loads(next(ln for ln in lines if ln.startswith("argv ")).split(" ", 1)[1])
    # The positional first (the several-value option would swallow it), the launcher's argument never.
    assert argv[0] == "configs/main.py"
    assert argv[argv.index("--cfg-options") + 1:][:2] == ["custom_imports.imports=[a,b]", "name=two words"]
    after_resume = argv[argv.index("--resume") + 1:][:1]  # the bare flag: nothing, or the next option
    assert after_resume == [] or after_resume[0].startswith("--")
    assert not any("local" in a for a in argv)
    configs = json.loads(next(ln for ln in lines if ln.startswith("configs ")).split(" ", 1)[1])
    # The dataset's real values, in each file's own syntax (the class count as a number).
    assert re.fullmatch(r"data_root = '/\S+'\nnum_classes = \d+\n", configs["configs/_base_/data.py"])
    assert re.fullmatch(r'path: "/\S+"\nnc: \d+\n', configs["configs/data.yaml"])
    assert json.loads(configs["configs/meta.json"])["work"].endswith("work_dir")
    # The upload itself is untouched: only the run's copy is replaced.
    assert "'DATA_PATH'" in next(settings.data_dir.glob("models/*/configs/_base_/data.py")).read_text()
