"""The metric names train.py prints, read without running it: one row per way
of printing, each checked against what the run's own parser would chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.contract.metric_names import MetricNames, read_metric_names
from shared.contract.metrics import parse_line
from shared.core.errors import PackageError

ROOT = Path(__file__).resolve().parents[3]

CASES = [
    # (id, source, names, warning pieces)
    ("f-string", 'print(f"loss: {loss:.4f}")', ["loss"], []),
    ("f-string several, commas", 'print(f"epoch: {e}, loss: {l}, acc: {a}")', ["epoch", "loss", "acc"], []),
    ("f-string several, no comma", 'print(f"loss: {l} acc: {a}")', ["acc"],
     ["line 1: 'loss' is not charted because its value is followed by ' acc: <value>'", "end each pair with a comma"]),
    ("prefix text", 'print(f"[train] step {s} loss: {l}")', ["loss"], []),
    ("percent tuple", 'print("loss: %.4f, mAP50: %f" % (l, m))', ["loss", "mAP50"], []),
    ("percent dict", 'print("top1: %(t).2f" % d)', ["top1"], []),
    ("percent literal", 'print("rate: %d%%, err: %d" % (r, e))', ["err"], ["'rate' is not charted because its value is "
                                                                              "followed by '%'"]),
    ("str.format", 'print("val_loss: {:.3f}, f1: {f}".format(v, f=f1))', ["val_loss", "f1"], []),
    ("print args", 'print("lr:", lr)', ["lr"], []),
    ("print sep", 'print("lr", lr, sep=": ")', ["lr"], []),
    ("concatenation", 'print("loss: " + str(l) + ", acc: " + str(a))', ["loss", "acc"], []),
    ("logging module", 'import logging\nlogging.info("top1: %.2f", t)', ["top1"], []),
    ("logger f-string", 'log = logging.getLogger(__name__)\nlog.info(f"top5: {t}")', ["top5"], []),
    ("self.logger", 'self.logger.warning("miou: %s, loss: %s", m, l)', ["miou", "loss"], []),
    ("getLogger chain", 'logging.getLogger("x").info(f"dice: {d}")', ["dice"], []),
    ("logger.log level", 'logger.log(20, f"psnr: {p}")', ["psnr"], []),
    ("stdout write", 'import sys\nsys.stdout.write(f"wer: {w}\\n")', ["wer"], []),
    ("tqdm write", 'tqdm.write(f"cer: {c}")', ["cer"], []),
    ("stderr print", 'print(f"recall: {r}", file=sys.stderr)', ["recall"], []),
    ("to a file: not printed", 'print(f"secret: {s}", file=fh)', [], []),
    ("variable", 'msg = f"precision: {p}"\nprint(msg)', ["precision"], []),
    ("built up", 'line = f"epoch: {e}"\nline += f", loss: {l}"\nprint(line)', ["epoch", "loss"], []),
    ("dict join", 'm = {"loss": l, "accuracy": a}\nm["val_loss"] = v\n'
                  'print(", ".join(f"{k}: {v:.4f}" for k, v in m.items()))', ["loss", "accuracy", "val_loss"], []),
    ("dict comprehension", 's = {"box": 0.0, "cls": 0.0}\nm = {k: v / n for k, v in s.items()}\n'
                           'm["mAP"] = 1\nprint(", ".join(f"{k}: {m[k]}" for k in m))', ["box", "cls", "mAP"], []),
    ("key=value", 'print(f"f1={f}")', [], ["line 1: 'f1' is printed as 'f1=value'", "print it as 'f1: value'"]),
    ("names from run-time values", 'for k, v in d.items():\n    print(f"{k}: {v}")', [], []),
    ("no metrics", 'print("hello")\nprint(f"saved to {path}")', [], []),
    ("in a function, several times", 'def fit():\n    print(f"loss: {l}")\nprint(f"loss: {l}, iou: {i}")',
     ["loss", "iou"], []),
]


@pytest.mark.parametrize(("source", "names", "warnings"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_metric_names(source, names, warnings):
    got = read_metric_names(source=source)
    assert got.names == names
    text = "\n".join(got.warnings)
    for piece in warnings:
        assert piece in text, f"{piece!r} not in {text!r}"
    if not warnings:
        assert got.warnings == []


def test_names_agree_with_the_parser():
    """The reader renders a line as the run would print it; the parser then reads the same names."""
    got = read_metric_names(source='print(f"loss: {l:.3f}, acc: {a}")')
    assert list(parse_line("loss: 0.123, acc: 0.9")) == got.names


def test_run_time_names_are_marked():
    got = read_metric_names(source='x = 1\nfor k, v in d.items():\n    print(f"{k}: {v}")')
    assert got.dynamic_lines == [3]


@pytest.mark.parametrize(("path", "names"), [
    ("examples/classification/train.py", ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]),
    ("examples/detection/train.py", ["epoch", "loss", "box_loss", "cls_loss", "obj_loss", "mAP50", "val_loss"]),
])
def test_example_models(path, names):
    assert read_metric_names(source=(ROOT / path).read_text()).names == names


def test_syntax_error_names_the_line():
    with pytest.raises(PackageError, match="train.py line 2"):
        read_metric_names(source='print("ok")\nprint(f"loss: {l}"\n')


def test_round_trip():
    got = read_metric_names(source='print(f"loss: {l} acc: {a}")')
    assert MetricNames.from_dict(got.to_dict()) == got
    assert MetricNames.from_dict(None) == MetricNames()
