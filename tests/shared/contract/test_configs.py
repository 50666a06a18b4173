"""Config parameters, the package's config files, and where global variables sit in them."""

from __future__ import annotations

import pytest

from shared.contract.argspec import ArgSpec
from shared.contract.configs import check_config_value, globals_in_files, is_config_arg, list_config_files, offered
from shared.contract.package import check_package
from shared.core.errors import FieldError


@pytest.mark.parametrize(("spec", "expected"), [
    (ArgSpec(flags=["config"], dest="config", name="config", positional=True, help="train config file path"), True),
    (ArgSpec(flags=["--cfg"], dest="cfg", name="cfg", help="model.yaml path"), True),
    (ArgSpec(flags=["--model-config"], dest="model_config", name="model-config"), True),
    (ArgSpec(flags=["--setup"], dest="setup", name="setup", help="the experiment's configuration file"), True),
    (ArgSpec(flags=["--cfg-options"], dest="cfg_options", name="cfg-options", nargs="+", action="DictAction",
             help="override settings in the config"), False),
    (ArgSpec(flags=["--resume"], dest="resume", name="resume", nargs="?", const="auto"), False),
    (ArgSpec(flags=["--configure"], dest="configure", name="configure", action="store_true", type="bool"), False),
    (ArgSpec(flags=["--config-scale"], dest="config_scale", name="config-scale", type="float"), False),
    (ArgSpec(flags=["--config"], dest="config", name="config", choices=["a", "b"]), False),
    (ArgSpec(flags=["--lr"], dest="lr", name="lr", type="float", help="learning rate"), False),
    (ArgSpec(flags=["--configurator"], dest="configurator", name="configurator"), False),
])
def test_is_config_arg(spec, expected):
    assert is_config_arg(spec) is expected


def _tree(root, files: dict[str, str]):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_config_files_listed_offered_and_checked(tmp_path):
    _tree(tmp_path, {"configs/a.py": "", "configs/_base_/b.py": "", "configs/x/c.yaml": "", "configs/d.txt": "",
                     "data/hyp.yml": "", "train.py": "", "meta.json": "{}"})
    files = list_config_files(tmp_path)
    assert files == ["configs/_base_/b.py", "configs/a.py", "configs/x/c.yaml", "data/hyp.yml", "meta.json",
                     "train.py"]
    assert offered(files) == ["configs/a.py", "configs/x/c.yaml", "configs/_base_/b.py"]
    assert check_config_value("./configs/a.py", files, field="config") == "configs/a.py"
    assert check_config_value("data/hyp.yml", files, field="cfg") == "data/hyp.yml"  # any package config file
    with pytest.raises(FieldError) as err:
        check_config_value("configs/missing.py", files, field="config")
    assert err.value.field == "config"
    assert "'configs/missing.py' is not a config file of the model package; pick one of configs/a.py" in str(err.value)
    with pytest.raises(FieldError, match="which has none"):
        check_config_value("a.py", [], field="config")
    # Not a config file name: passed as given (inline JSON, a preset name, an encoded blob).
    assert check_config_value('{"lr": 0.1}', files, field="cfg") == '{"lr": 0.1}'
    assert check_config_value("yolov5s", files, field="cfg") == "yolov5s"


def test_globals_found_in_config_files_and_reported_with_the_package(tmp_path):
    pkg = _tree(tmp_path / "pkg", {
        "train.py": "import argparse\np = argparse.ArgumentParser()\np.add_argument('config')\n"
                    "p.add_argument('--work-dir')\np.add_argument('--epochs', type=int)\n",
        "predict.py": "import argparse\np = argparse.ArgumentParser()\np.add_argument('--source')\n"
                      "p.add_argument('--out-dir')\n",
        "requirements.txt": "",
        "weights/README.md": "",
        "configs/_base_/data.py": "data_root = 'DATA_PATH'  # TRAIN_DATA_PATH in a comment\nn = 'LABEL_CLASS_COUNT'\n",
        "configs/model.yaml": "nc: LABEL_CLASS_COUNT\nname: 'MY_DATA_PATH'\n",
        "configs/meta.json": '{"classes": "LABEL_CLASS"}',
        "configs/broken.yaml": "a: [DATA_PATH\n",
        "configs/plain.py": "lr = 0.1\n",
    })
    found, warnings = globals_in_files(pkg, list_config_files(pkg))
    assert found == {"configs/_base_/data.py": ["DATA_PATH", "LABEL_CLASS_COUNT"],
                     "configs/meta.json": ["LABEL_CLASS"], "configs/model.yaml": ["LABEL_CLASS_COUNT"]}
    assert len(warnings) == 1 and warnings[0].startswith("configs/broken.yaml line 2: not valid YAML")
    report = check_package(root=pkg)
    assert report.config_globals == found
    assert "configs/model.yaml" in report.config_files
    # DATA_PATH in a config counts: no "cannot be told where the dataset is" warning.
    assert not any("where the dataset is" in w for w in report.warnings)
    assert any("broken.yaml" in w for w in report.warnings)
    assert type(report).from_dict(report.to_dict()) == report
