"""Argument shapes real framework scripts use, read from excerpts written in their
style: several-value options (``nargs='+'`` with a DictAction), optional-value
switches (``nargs='?'`` with ``const``), a launcher's ``--local_rank`` and a
required positional config. Each row goes reader -> form text -> value -> argv,
and the argv is parsed back by the excerpt's own argparse parser."""

from __future__ import annotations

import argparse
import textwrap

import pytest

from shared.contract.configs import is_config_arg
from shared.contract.params import coerce, is_multi, is_switch, parse_setting, to_argv, words_text
from shared.contract.scriptargs import arg_for, read_arguments
from shared.core.errors import FieldError

# Written for these tests in the style of YOLOv5's train.py/classify/train.py and MM tools/train.py.
EXCERPT = textwrap.dedent('''
    import argparse


    class KeyValues(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            setattr(namespace, self.dest, dict(v.split("=", 1) for v in values))


    def options():
        ap = argparse.ArgumentParser()
        ap.add_argument("config", help="path of the training config")
        ap.add_argument("--overrides", nargs="+", action=KeyValues, help="key=value pairs merged into the config")
        ap.add_argument("--freeze", nargs="+", type=int, default=[0], help="layers to freeze")
        ap.add_argument("--tags", nargs="*", default=[], help="free-form tags")
        ap.add_argument("--resume", nargs="?", const=True, default=False, help="resume the latest run or a path")
        ap.add_argument("--upload_dataset", nargs="?", const=True, default=False, help="upload; 'val' for val only")
        ap.add_argument("--pretrained", nargs="?", const=True, default=True, help="start from pretrained weights")
        ap.add_argument("--evolve", type=int, nargs="?", const=300, help="evolve for x generations")
        ap.add_argument("--checkpoint", nargs="?", type=str, const="auto", help="resume from here")
        ap.add_argument("--local_rank", "--local-rank", type=int, default=-1, help="DDP, do not modify")
        ap.add_argument("--lr", type=float, default=0.01)
        return ap
''')


@pytest.fixture(scope="module")
def read():
    return read_arguments(source=EXCERPT, filename="train.py")


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    namespace: dict = {}
    exec(compile(EXCERPT, "excerpt", "exec"), namespace)  # our own excerpt, run to check argv round trips
    return namespace["options"]()


def _parse(parser, argv: list[str]) -> argparse.Namespace:
    return parser.parse_args(["configs/a.py", *argv])


# (argument, form text, value after coerce, argv, what the script's argparse then holds)
ROWS = [
    ("overrides", "custom_imports.imports=[a,b] model.depth=18",
     ["custom_imports.imports=[a,b]", "model.depth=18"],
     ["--overrides", "custom_imports.imports=[a,b]", "model.depth=18"],
     {"custom_imports.imports": "[a,b]", "model.depth": "18"}),
    ("overrides", "'name=my run' x=1,2,3", ["name=my run", "x=1,2,3"],
     ["--overrides", "name=my run", "x=1,2,3"], {"name": "my run", "x": "1,2,3"}),
    ("freeze", "0 1 2", [0, 1, 2], ["--freeze", "0", "1", "2"], [0, 1, 2]),
    ("tags", "", [], ["--tags"], []),
    ("resume", "true", True, ["--resume"], True),
    ("resume", "False", False, [], False),
    ("resume", "runs/exp3/last.pt", "runs/exp3/last.pt", ["--resume", "runs/exp3/last.pt"], "runs/exp3/last.pt"),
    ("upload_dataset", "on", True, ["--upload_dataset"], True),
    ("upload_dataset", "off", False, [], False),
    ("upload_dataset", "val", "val", ["--upload_dataset", "val"], "val"),
    # Default on: off cannot be "nothing"; the word the script's own help documents is passed.
    ("pretrained", "false", False, ["--pretrained", "False"], "False"),
    ("pretrained", "true", True, ["--pretrained"], True),
    ("evolve", "true", True, ["--evolve"], 300),
    ("evolve", "50", 50, ["--evolve", "50"], 50),
    ("evolve", "1", 1, ["--evolve", "1"], 1),  # a typed switch: digits are values, not on/off
    ("checkpoint", "yes", True, ["--checkpoint"], "auto"),
    ("checkpoint", "no", False, [], None),
    ("config", "configs/b.py", "configs/b.py", ["configs/b.py"], "configs/b.py"),
]


@pytest.mark.parametrize(("name", "text", "value", "argv", "parsed"), ROWS,
                         ids=[f"{r[0]}={r[1]!r}" for r in ROWS])
def test_form_text_to_argv_round_trips_through_the_scripts_parser(read, parser, name, text, value, argv, parsed):
    spec = arg_for(read, name)
    setting = parse_setting(spec, text, search=False, field=name)
    assert setting == {"value": value, "search": False}
    assert to_argv(spec, setting["value"]) == argv
    if spec.positional:
        got = parser.parse_args(argv)
    else:
        got = _parse(parser, argv)
    assert getattr(got, spec.dest) == parsed


@pytest.mark.parametrize(("name", "multi", "switch", "config"), [
    ("config", False, False, True),
    ("overrides", True, False, False),
    ("freeze", True, False, False),
    ("resume", False, True, False),
    ("evolve", False, True, False),
    ("checkpoint", False, True, False),
    ("lr", False, False, False),
])
def test_shapes_are_told_apart(read, name, multi, switch, config):
    spec = arg_for(read, name)
    assert (is_multi(spec), is_switch(spec), is_config_arg(spec)) == (multi, switch, config)


def test_an_untyped_switch_reads_as_bool_and_the_launcher_argument_is_not_a_user_parameter(read):
    assert arg_for(read, "resume").type == "bool" and arg_for(read, "evolve").type == "int"
    assert [a.name for a in read.launcher] == ["local_rank"]
    assert "local_rank" not in [a.name for a in read.user]
    assert arg_for(read, "config").required and arg_for(read, "config").positional


def test_several_values_are_never_split_at_commas_and_round_trip_as_one_line(read):
    spec = arg_for(read, "overrides")
    values = coerce(spec, "a=[1,2] 'b=x y' c=\"q\"", field="overrides")
    assert values == ["a=[1,2]", "b=x y", "c=q"]
    assert coerce(spec, words_text(values), field="overrides") == values
    assert words_text(values) == "'a=[1,2]' 'b=x y' c=q"


def test_several_value_errors_name_the_field(read):
    with pytest.raises(FieldError) as err:
        coerce(arg_for(read, "overrides"), "a='unclosed", field="overrides")
    assert err.value.field == "overrides" and "quote" in err.value.field_message
    with pytest.raises(FieldError, match="not an integer"):
        coerce(arg_for(read, "freeze"), "0,1", field="freeze")  # commas are not separators
    with pytest.raises(FieldError, match="cannot be searched"):
        parse_setting(arg_for(read, "freeze"), "[0, 3]", search=True, field="freeze")


def test_a_switch_can_be_searched_on_and_off(read):
    setting = parse_setting(arg_for(read, "resume"), "{true, false}", search=True, field="resume")
    assert setting["choices"] == [True, False]
