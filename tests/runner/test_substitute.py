import ast

import pytest

from runner.substitute import substitute
from shared.core.errors import PackageError

VALUES = {"DATA_PATH": "/dataset", "WORK_DIR_PATH": "/workspace/work_dir", "LABEL_CLASS": '{"0": "cat"}',
          "LABEL_CLASS_COUNT": 3, "TRAIN_DATA_PATH": "/data/it's \"quoted\"\\x"}


@pytest.mark.parametrize("source,expected", [
    ('p = "DATA_PATH"', "p = '/dataset'"),
    ("p = 'DATA_PATH'", "p = '/dataset'"),
    ('p = """DATA_PATH"""', "p = '/dataset'"),
    ('p = "MY_DATA_PATH"', 'p = "MY_DATA_PATH"'),
    ('p = "DATA_PATH/x"', 'p = "DATA_PATH/x"'),
    ('# DATA_PATH here\np = 1', '# DATA_PATH here\np = 1'),
    ('p = f"{x}DATA_PATH"', 'p = f"{x}DATA_PATH"'),
    ('n = int("LABEL_CLASS_COUNT")', "n = int(3)"),
    ('c = "LABEL_CLASS"', "c = '{\"0\": \"cat\"}'"),
    ('d = {"DATA_PATH": 1}', "d = {'/dataset': 1}"),
    ('é = "é"; p = "WORK_DIR_PATH"', "é = \"é\"; p = '/workspace/work_dir'"),
    ('p = ("DATA_"\n     "PATH")', "p = ('/dataset')"),
    ('def f(a="DATA_PATH"):\n    return a', "def f(a='/dataset'):\n    return a"),
    ('x = "OTHER"', 'x = "OTHER"'),
])
def test_substitute(source, expected):
    out, _ = substitute(source=source, values=VALUES)
    assert out == expected


def test_escaping_round_trips():
    out, replaced = substitute(source='t = "TRAIN_DATA_PATH"', values=VALUES)
    assert replaced == ["TRAIN_DATA_PATH"]
    tree = ast.parse(out)
    assert tree.body[0].value.value == VALUES["TRAIN_DATA_PATH"]


def test_syntax_error_names_line():
    with pytest.raises(PackageError, match="train.py line 2"):
        substitute(source="x = 1\ndef (:\n", values=VALUES)


# --------------------------------------------------------------------------- config files

CONFIG_CASES = [
    # .py configs: the same rule as train.py
    ("configs/ds.py", "data_root = 'DATA_PATH'\nn = 'LABEL_CLASS_COUNT'\n", "data_root = '/dataset'\nn = 3\n"),
    ("configs/ds.py", "data_root = 'DATA_PATH' + '/train'  # DATA_PATH\nx = f'{1}DATA_PATH'\n",
     "data_root = '/dataset' + '/train'  # DATA_PATH\nx = f'{1}DATA_PATH'\n"),
    ("configs/ds.py", "root = 'MY_DATA_PATH'\n", "root = 'MY_DATA_PATH'\n"),
    # YAML: string scalars, plain or quoted, keys included; everything else as written
    ("configs/ds.yaml", "path: DATA_PATH  # DATA_PATH\ntrain: 'TRAIN_DATA_PATH'\nnc: LABEL_CLASS_COUNT\n",
     "path: \"/dataset\"  # DATA_PATH\ntrain: \"/data/it's \\\"quoted\\\"\\\\x\"\nnc: 3\n"),
    ("configs/ds.yml", "names: [DATA_PATH, \"WORK_DIR_PATH\", other]\nsub: DATA_PATH/x\n",
     "names: [\"/dataset\", \"/workspace/work_dir\", other]\nsub: DATA_PATH/x\n"),
    ("configs/ds.yaml", "a: &root DATA_PATH\nb: *root\nc: |-\n  DATA_PATH\n",
     "a: &root \"/dataset\"\nb: *root\nc: |-\n  DATA_PATH\n"),
    ("configs/ds.yaml", "n: 'LABEL_CLASS_COUNT'\nm: !custom DATA_PATH\nk: !!str\n  DATA_PATH\n",
     "n: 3\nm: !custom DATA_PATH\nk: !!str\n  \"/dataset\"\n"),
    # JSON: string values and keys; a longer string holding the name stays
    ("configs/ds.json", '{"root": "DATA_PATH", "DATA_PATH": ["DATA_PATH/x", "LABEL_CLASS"], "n": "LABEL_CLASS_COUNT"}',
     '{"root": "/dataset", "/dataset": ["DATA_PATH/x", "{\\"0\\": \\"cat\\"}"], "n": 3}'),
    ("configs/ds.json", '{"a": "say \\"DATA_PATH\\"", "b": "DATA_\\u0050ATH"}',
     '{"a": "say \\"DATA_PATH\\"", "b": "/dataset"}'),
]


@pytest.mark.parametrize(("filename", "source", "expected"), CONFIG_CASES)
def test_substitute_config_files(filename, source, expected):
    import json

    import yaml

    from runner.substitute import substitute_text

    out, _ = substitute_text(text=source, values=VALUES, filename=filename)
    assert out == expected
    # The replaced file still parses, and holds the real values.
    if filename.endswith(".json"):
        json.loads(out)
    elif filename.endswith((".yaml", ".yml")):
        loaded = yaml.safe_load(out.replace("!custom ", ""))
        if "train" in loaded:
            assert loaded["train"] == VALUES["TRAIN_DATA_PATH"]
    else:
        ast.parse(out)


def test_substitute_package_writes_only_the_config_files_that_use_variables(tmp_path):
    from runner.substitute import substitute_package

    files = {
        "train.py": "p = 'DATA_PATH'\n",  # train.py has its own pass
        "configs/_base_/ds.py": "data_root = 'DATA_PATH'\n",
        "configs/model.yaml": "nc: LABEL_CLASS_COUNT\n",
        "meta/classes.json": '{"names": "LABEL_CLASS"}',
        "configs/broken.py": "x = 'DATA_PATH'\ndef (:\n",  # left alone: its upload warned about it
        "configs/plain.py": "lr = 0.1\n",
        "notes.txt": "DATA_PATH\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    done = substitute_package(root=tmp_path, values=VALUES)
    assert done == {"configs/_base_/ds.py": ["DATA_PATH"], "configs/model.yaml": ["LABEL_CLASS_COUNT"],
                    "meta/classes.json": ["LABEL_CLASS"]}
    assert (tmp_path / "configs/_base_/ds.py").read_text() == "data_root = '/dataset'\n"
    assert (tmp_path / "configs/model.yaml").read_text() == "nc: 3\n"
    for rel in ("train.py", "configs/broken.py", "configs/plain.py", "notes.txt"):
        assert (tmp_path / rel).read_text() == files[rel]
