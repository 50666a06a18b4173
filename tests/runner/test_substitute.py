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
