import math

import pytest

from shared.contract.metrics import guess_direction, looks_like_metrics, parse_line


@pytest.mark.parametrize("line,expected", [
    ("bbox_mAP: 0.0830, bbox_mAP_50: 0.2360, loss: 0.2754, loss_cls: 0.1174",
     {"bbox_mAP": 0.083, "bbox_mAP_50": 0.236, "loss": 0.2754, "loss_cls": 0.1174}),
    ("epoch: 1, loss: 0.5", {"epoch": 1.0, "loss": 0.5}),
    ("loss: 3", {"loss": 3.0}),
    ("loss:3", {"loss": 3.0}),
    ("lr: 1e-3, momentum: .9", {"lr": 0.001, "momentum": 0.9}),
    ("loss: -0.5, gain: +2.5E+02", {"loss": -0.5, "gain": 250.0}),
    ("2024-05-01 12:00:01 INFO epoch: 3, acc: 0.9", {"epoch": 3.0, "acc": 0.9}),
    ("val/acc: 0.75, train.loss: 0.2", {"val/acc": 0.75, "train.loss": 0.2}),
    ("loss: 0.5 ", {"loss": 0.5}),
    ("loss: 0.5, note: fine", {"loss": 0.5}),
    ("hello world", {}),
    ("loss=0.3", {}),
    ("time 12:30", {}),
    ("loss: abc", {}),
    ("Epoch 1/10 loss: 0.3", {"loss": 0.3}),
    ("Epoch(train) [1][50/100] lr: 1.0e-02 eta: 0:00:10 loss: 0.27", {"loss": 0.27}),
    ("loss: 0.5 , acc: 0.9\r", {"loss": 0.5, "acc": 0.9}),
    ("a: 1, a: 2", {"a": 2.0}),
    ("", {}),
])
def test_parse_line(line, expected):
    assert parse_line(line) == pytest.approx(expected)


@pytest.mark.parametrize("line", ["loss: nan", "loss: NaN", "loss: inf, acc: -inf"])
def test_nan_and_inf_are_kept(line):
    values = parse_line(line)
    assert values and all(math.isnan(v) or math.isinf(v) for v in values.values())


@pytest.mark.parametrize("line,looks", [("loss=0.3", True), ("acc = 0.9", True), ("hello", False),
                                        ("step 10 done", False)])
def test_looks_like_metrics(line, looks):
    assert looks_like_metrics(line) is looks


@pytest.mark.parametrize("name,direction", [("loss", "min"), ("val_loss", "min"), ("error_rate", "min"),
                                            ("mAP50", "max"), ("accuracy", "max"), ("cer", "min")])
def test_guess_direction(name, direction):
    assert guess_direction(name) == direction
