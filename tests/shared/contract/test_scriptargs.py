from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from shared.contract.names import PLATFORM_PREDICT_FLAGS, PLATFORM_TRAIN_FLAGS
from shared.contract.scriptargs import (
    ArgSpec,
    ScriptArgs,
    arg_for,
    read_arguments,
)
from shared.core.errors import PackageError

CONTRACT_TRAIN = '''
import argparse
import os
import sys
from pathlib import Path

FILE = Path(__file__).resolve()
ROOT = FILE.parents[0]  # root directory
ROOT = Path(os.path.relpath(ROOT, Path.cwd()))  # relative


def train(args):
    """训练逻辑"""
    data_path = "DATA_PATH"
    workspace_path = "WORK_DIR_PATH"


def parse_args(known=False):
    """训练脚本参数"""
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=str, default=ROOT / "yolov5s.pt", help="initial weights path")
    parser.add_argument("--work-dir", default=ROOT / "runs/train", help="save to project/name")
    parser.add_argument("--data", type=str, default=ROOT / "data/coco128.yaml", help="dataset.yaml path")
    parser.add_argument("--label-class", type=str, default="", help="label class")
    parser.add_argument("--label-class-count", type=int, default=1, help="label class count")
    parser.add_argument("--epochs", type=int, default=10, help="total training epochs")
    parser.add_argument("--batch-size", type=int, default=32, help="total batch size for all GPUs")
    args = parser.parse_args()
    return args


if __name__ == "__main__":
    args = parse_args()
    train(args)
'''

CONTRACT_PREDICT = '''
import argparse
from pathlib import Path
ROOT = Path(".")

def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", nargs="+", type=str, default=ROOT / "yolov5s.pt", help="model path")
    parser.add_argument("--source", type=str, default=ROOT / "data/images", help="file/dir/URL/glob")
    parser.add_argument("--confidence", type=float, default=0.25, help="confidence threshold")
    parser.add_argument("--out-dir", default=ROOT / "runs/detect", help="save results to project/name")
    parser.add_argument("--device", default="", help="cuda device, i.e. 0 or 0,1,2,3 or cpu")
    return parser.parse_args()

def predict(args):
    image_path = "SOURCE_PATH"
    output_path = "OUT_DIR_PATH"
'''

YOLOV5 = '''
import argparse
from pathlib import Path
ROOT = Path(__file__).resolve().parents[0]

def parse_opt(known=False):
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=str, default=ROOT / "yolov5s.pt", help="initial weights path")
    parser.add_argument("--cfg", type=str, default="", help="model.yaml path")
    parser.add_argument("--data", type=str, default=ROOT / "data/coco128.yaml", help="dataset.yaml path")
    parser.add_argument("--epochs", type=int, default=100, help="total training epochs")
    parser.add_argument("--batch-size", type=int, default=16, help="total batch size for all GPUs, -1 for autobatch")
    parser.add_argument("--imgsz", "--img", "--img-size", type=int, default=640, help="train, val image size (pixels)")
    parser.add_argument("--rect", action="store_true", help="rectangular training")
    parser.add_argument("--resume", nargs="?", const=True, default=False, help="resume most recent training")
    parser.add_argument("--evolve", type=int, nargs="?", const=300, help="evolve hyperparameters for x generations")
    parser.add_argument("--cache", type=str, nargs="?", const="ram", help="image --cache ram/disk")
    parser.add_argument("--device", default="", help="cuda device, i.e. 0 or 0,1,2,3 or cpu")
    parser.add_argument("--optimizer", type=str, choices=["SGD", "Adam", "AdamW"], default="SGD", help="optimizer")
    parser.add_argument("--project", default=ROOT / "runs/train", help="save to project/name")
    parser.add_argument("--label-smoothing", type=float, default=0.0, help="Label smoothing epsilon")
    parser.add_argument("--freeze", nargs="+", type=int, default=[0], help="Freeze layers: backbone=10, first3=0 1 2")
    parser.add_argument("--local_rank", type=int, default=-1, help="Automatic DDP Multi-GPU argument, do not modify")
    parser.add_argument("--entity", default=None, help="Entity")
    return parser.parse_known_args()[0] if known else parser.parse_args()

if __name__ == "__main__":
    opt = parse_opt()
'''

MMDET = """
import argparse
import os
from mmengine.config import Config, DictAction


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch >= 2.0 passes --local-rank instead of --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args
"""


def src(body: str) -> str:
    return "import argparse, os, pathlib\nfrom pathlib import Path\n" + textwrap.dedent(body)


# (id, source, filename, {flag: {attr: expected}}, classification)
SHAPES: list[tuple[str, str, str, dict[str, dict[str, Any]], dict[str, Any]]] = [
    ("contract train example", CONTRACT_TRAIN, "train.py", {
        "--weights": dict(type="str", default=None, default_computed=True, default_text='ROOT / "yolov5s.pt"',
                          help="initial weights path", name="weights", dest="weights"),
        "--work-dir": dict(dest="work_dir", role="--work-dir", default_computed=True),
        "--label-class-count": dict(type="int", default=1, role="--label-class-count"),
        "--epochs": dict(type="int", default=10, role="--epochs"),
        "--batch-size": dict(type="int", default=32, dest="batch_size", name="batch-size"),
    }, dict(platform=["work-dir", "data", "label-class", "label-class-count"], user=["weights", "batch-size"],
            epochs="epochs", device=None, globals=["WORK_DIR_PATH", "DATA_PATH"])),
    ("contract predict example", CONTRACT_PREDICT, "predict.py", {
        "--weights": dict(nargs="+", type="str", default_computed=True),
        "--confidence": dict(type="float", default=0.25),
        "--source": dict(role="--source"), "--out-dir": dict(role="--out-dir", dest="out_dir"),
        "--device": dict(default="", role="--device"),
    }, dict(platform=["source", "out-dir"], user=["weights", "confidence"], epochs=None, device="device",
            globals=["SOURCE_PATH", "OUT_DIR_PATH"])),
    ("yolov5 train.py", YOLOV5, "train.py", {
        "--imgsz": dict(flags=["--imgsz", "--img", "--img-size"], name="imgsz", dest="imgsz", type="int",
                        default=640),
        "--img-size": dict(name="imgsz"),
        "--rect": dict(action="store_true", type="bool", default=False),
        "--resume": dict(nargs="?", const=True, default=False, type="bool"),  # a switch, not a string
        "--evolve": dict(nargs="?", const=300, type="int", default=None, default_computed=False),
        "--optimizer": dict(choices=["SGD", "Adam", "AdamW"], default="SGD", choices_computed=False),
        "--data": dict(default_computed=True, default_text='ROOT / "data/coco128.yaml"', role="--data"),
        "--freeze": dict(nargs="+", type="int", default=[0]),
        "--local_rank": dict(default=-1, dest="local_rank", name="local_rank", role="--local_rank"),
        "--label-smoothing": dict(type="float", default=0.0),
        "--batch-size": dict(help="total batch size for all GPUs, -1 for autobatch"),
    }, dict(platform=["data"], epochs="epochs", device="device",
            user=["weights", "cfg", "batch-size", "imgsz", "rect", "resume", "evolve", "cache", "optimizer",
                  "project", "label-smoothing", "freeze", "entity"], launcher=["local_rank"])),
    ("mmdetection tools/train.py", MMDET, "train.py", {
        "config": dict(positional=True, required=True, dest="config", name="config", flags=["config"]),
        "--work-dir": dict(role="--work-dir", default=None),
        "--amp": dict(action="store_true", default=False, type="bool"),
        "--auto-scale-lr": dict(action="store_true", default=False, dest="auto_scale_lr"),
        "--resume": dict(nargs="?", type="str", const="auto", default=None,
                         help="If specify checkpoint path, resume from it, while if not specify, try to auto "
                              "resume from the latest checkpoint in the work directory."),
        "--cfg-options": dict(nargs="+", action="DictAction", type="str"),
        "--launcher": dict(choices=["none", "pytorch", "slurm", "mpi"], default="none"),
        "--local-rank": dict(flags=["--local_rank", "--local-rank"], dest="local_rank", type="int", default=0,
                             role="--local_rank"),
    }, dict(platform=["work-dir"], user=["config", "amp", "auto-scale-lr", "resume", "cfg-options", "launcher"],
            launcher=["local_rank"], epochs=None, device=None)),
    ("mutually exclusive group", src('''
        parser = argparse.ArgumentParser()
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--sgd", action="store_true")
        group.add_argument("--adam", action="store_true")
        parser.add_argument("--lr", type=float, default=1e-3)
        '''), "train.py", {
        "--sgd": dict(action="store_true"), "--adam": dict(type="bool"), "--lr": dict(default=0.001),
    }, dict(user=["sgd", "adam", "lr"])),
    ("argument groups, variable and chained", src('''
        p = argparse.ArgumentParser()
        opt = p.add_argument_group("optimizer", "optimizer settings")
        opt.add_argument("--momentum", type=float, default=0.9)
        p.add_argument_group("data").add_argument("--workers", type=int, default=4)
        mx = opt.add_mutually_exclusive_group()
        mx.add_argument("--nesterov", action="store_true")
        '''), "train.py", {
        "--momentum": dict(default=0.9), "--workers": dict(default=4), "--nesterov": dict(default=False),
    }, dict(user=["momentum", "workers", "nesterov"])),
    ("explicit dest, platform matched by dest", src('''
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float, default=0.01)
        parser.add_argument("--dataset-root", dest="data", default="./data")
        parser.add_argument("-o", "--output", dest="work_dir")
        parser.add_argument("-b", dest="batch_size", type=int, default=8)
        '''), "train.py", {
        "--lr": dict(dest="learning_rate", name="lr", flags=["--lr", "--learning-rate"]),
        "--dataset-root": dict(dest="data", role="--data"),
        "--output": dict(dest="work_dir", role="--work-dir", name="output"),
        "-b": dict(dest="batch_size", name="b", type="int", default=8),
    }, dict(platform=["dataset-root", "output"], user=["lr", "b"])),
    ("computed defaults", src('''
        import os
        parser = argparse.ArgumentParser()
        parser.add_argument("--workers", type=int, default=os.cpu_count())
        parser.add_argument("--seed", type=int, default=SEED)
        parser.add_argument("--scale", type=float, default=float("inf"))
        parser.add_argument("--name", default=f"exp-{os.getpid()}")
        '''), "train.py", {
        "--workers": dict(default=None, default_computed=True, default_text="os.cpu_count()", type="int"),
        "--seed": dict(default_computed=True, default_text="SEED"),
        "--scale": dict(default_computed=True, default_text='float("inf")'),
        "--name": dict(default_computed=True),
    }, dict(user=["workers", "seed", "scale", "name"])),
    ("parser built in a function under __main__", src('''
        def get_args():
            ap = argparse.ArgumentParser(description="x")
            ap.add_argument("--epochs", type=int, default=3)
            ap.add_argument("--device", type=str, default="cuda:0")
            return ap.parse_args()

        if __name__ == "__main__":
            def extra(parser):
                parser.add_argument("--extra", default="x")
            main(get_args())
        '''), "train.py", {
        "--epochs": dict(default=3, role="--epochs"), "--device": dict(default="cuda:0", role="--device"),
        "--extra": dict(default="x"),
    }, dict(user=["extra"], epochs="epochs", device="device", platform=[])),
    ("other actions", src('''
        parser = argparse.ArgumentParser()
        parser.add_argument("--no-aug", dest="aug", action="store_false")
        parser.add_argument("-v", "--verbose", action="count", default=0)
        parser.add_argument("--tag", action="append", default=[])
        parser.add_argument("--fast", action="store_const", const=2, default=1)
        parser.add_argument("--ema", action=argparse.BooleanOptionalAction, default=True)
        parser.add_argument("--version", action="version", version="1.0")
        '''), "train.py", {
        "--no-aug": dict(dest="aug", action="store_false", type="bool", default=True, name="no-aug"),
        "--verbose": dict(action="count", type="int", default=0, flags=["-v", "--verbose"]),
        "--tag": dict(action="append", default=[], type="str"),
        "--fast": dict(action="store_const", const=2, default=1, type="int"),
        "--ema": dict(action="BooleanOptionalAction", type="bool", default=True),
    }, dict(user=["no-aug", "verbose", "tag", "fast", "ema"])),
    ("custom, lambda and Path types", src('''
        def str2bool(v):
            return v.lower() in ("yes", "true", "1")
        parser = argparse.ArgumentParser()
        parser.add_argument("--pretrained", type=str2bool, default="yes")
        parser.add_argument("--ratio", type=lambda s: float(s) / 100, default=50)
        parser.add_argument("--cfg", type=pathlib.Path, default=Path("a.yaml"))
        parser.add_argument("--out", type=Path)
        parser.add_argument("--sizes", type=utils.parse_sizes)
        '''), "train.py", {
        "--pretrained": dict(type="str2bool", default="yes"),
        "--ratio": dict(type="lambda", default=50),
        "--cfg": dict(type="Path", default_computed=True, default_text='Path("a.yaml")'),
        "--out": dict(type="Path"), "--sizes": dict(type="utils.parse_sizes"),
    }, dict(user=["pretrained", "ratio", "cfg", "out", "sizes"])),
    ("literal defaults of every shape", src('''
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default="0.01")
        parser.add_argument("--steps", type=int, default="5")
        parser.add_argument("--offset", type=int, default=-3)
        parser.add_argument("--mean", nargs=3, type=float, default=(0.485, 0.456, 0.406))
        parser.add_argument("--ids", default={3, 1, 2})
        parser.add_argument("--map", default={"a": 1, "b": [1, 2]})
        parser.add_argument("--nothing", default=None)
        parser.add_argument("--raw", default=b"x")
        '''), "train.py", {
        "--lr": dict(default=0.01, type="float"), "--steps": dict(default=5),
        "--offset": dict(default=-3), "--mean": dict(nargs=3, default=[0.485, 0.456, 0.406]),
        "--ids": dict(default=[1, 2, 3]), "--map": dict(default={"a": 1, "b": [1, 2]}),
        "--nothing": dict(default=None, default_computed=False, default_text="None"),
        "--raw": dict(default=None, default_computed=True),
    }, dict(user=["lr", "steps", "offset", "mean", "ids", "map", "nothing", "raw"])),
    ("choices: range, module constant, computed", src('''
        MODELS = ["resnet18", "resnet50"]
        DEFAULT_LR = 0.1
        parser = argparse.ArgumentParser()
        parser.add_argument("--arch", choices=MODELS, default=MODELS[0])
        parser.add_argument("--depth", type=int, choices=range(1, 5), default=2)
        parser.add_argument("--loss", choices=LOSSES.keys())
        parser.add_argument("--lr", type=float, default=DEFAULT_LR)
        '''), "train.py", {
        "--arch": dict(choices=["resnet18", "resnet50"], choices_text="MODELS", default_computed=True),
        "--depth": dict(choices=[1, 2, 3, 4], choices_computed=False),
        "--loss": dict(choices=None, choices_computed=True, choices_text="LOSSES.keys()"),
        "--lr": dict(default=0.1, default_computed=False, default_text="DEFAULT_LR"),
    }, dict(user=["arch", "depth", "loss", "lr"])),
    ("help texts", src('''
        parser = argparse.ArgumentParser()
        parser.add_argument("--a", default=1, help="value (default: %(default)s)")
        parser.add_argument("--b", help=f"computed {1 + 1}")
        parser.add_argument("--c", help="part one " "part two")
        parser.add_argument("--d", help=argparse.SUPPRESS)
        parser.add_argument("--e", help="x %s" % "y")
        '''), "train.py", {
        "--a": dict(help="value (default: %(default)s)"), "--b": dict(help='f"computed {1 + 1}"'),
        "--c": dict(help="part one part two"), "--d": dict(help=None), "--e": dict(help='"x %s" % "y"'),
    }, dict(user=["a", "b", "c", "d", "e"])),
    ("positionals and required", src('''
        parser = argparse.ArgumentParser()
        parser.add_argument("config")
        parser.add_argument("checkpoint", nargs="?", default="latest.pth")
        parser.add_argument("rest", nargs=argparse.REMAINDER)
        parser.add_argument("--seed", type=int, required=True, metavar="N")
        '''), "train.py", {
        "config": dict(positional=True, required=True),
        "checkpoint": dict(positional=True, required=False, nargs="?", default="latest.pth"),
        "rest": dict(nargs="...", required=False),
        "--seed": dict(required=True, metavar="N"),
    }, dict(user=["config", "checkpoint", "rest", "seed"])),
    ("from argparse import ArgumentParser; class attribute parser", src('''
        from argparse import ArgumentParser
        class Options:
            def __init__(self):
                self.parser = ArgumentParser()
                self.parser.add_argument("--size", type=int, default=224)
            def more(self):
                self.parser.add_argument("--gamma", type=float, default=2.0)
        '''), "train.py", {"--size": dict(default=224), "--gamma": dict(default=2.0)},
     dict(user=["size", "gamma"])),
    ("set_defaults before and after", src('''
        parser = argparse.ArgumentParser()
        parser.set_defaults(batch_size=4)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--lr", type=float, default=0.1)
        parser.set_defaults(lr=0.5)
        '''), "train.py", {"--batch-size": dict(default=None), "--lr": dict(default=0.5, default_text="0.5")},
     dict(user=["batch-size", "lr"])),
    ("predict.py: epochs is a user arg there, platform set is §2.4", src('''
        parser = argparse.ArgumentParser()
        parser.add_argument("--source")
        parser.add_argument("--out-dir")
        parser.add_argument("--data")
        parser.add_argument("--epochs", type=int, default=1)
        parser.add_argument("--device")
        '''), "predict.py", {"--data": dict(role=None)},
     dict(platform=["source", "out-dir"], user=["data", "epochs"], epochs=None, device="device")),
    ("all ten platform arguments", src('''
        parser = argparse.ArgumentParser()
        for_platform = ["--work-dir", "--data"]
        parser.add_argument("--work-dir")
        parser.add_argument("--data")
        parser.add_argument("--train-data")
        parser.add_argument("--val-data")
        parser.add_argument("--test-data")
        parser.add_argument("--train-label")
        parser.add_argument("--val-label")
        parser.add_argument("--test-label")
        parser.add_argument("--label-class", type=str)
        parser.add_argument("--label_class_count", type=int)
        '''), "train.py", {"--label_class_count": dict(role="--label-class-count", name="label_class_count")},
     dict(platform=[a.lstrip("-") for a in PLATFORM_TRAIN_FLAGS if a not in ("--label-class-count", "--data-yaml")]
          + ["label_class_count"], user=[])),
    ("no arguments at all, globals only", src('''
        def train():
            root = "DATA_PATH"
            out = 'WORK_DIR_PATH'
            cls = "LABEL_CLASS"
            not_this = f"DATA_PATH"
            nor_this = "MY_DATA_PATH"
            nor = "TRAIN_DATA_PATH/x"
            # VAL_DATA_PATH in a comment
            b = b"TEST_DATA_PATH"
        '''), "train.py", {}, dict(user=[], platform=[], globals=["WORK_DIR_PATH", "DATA_PATH", "LABEL_CLASS"])),
]


@pytest.mark.parametrize(("source", "filename", "checks", "classes"), [s[1:] for s in SHAPES],
                         ids=[s[0] for s in SHAPES])
def test_shapes(source: str, filename: str, checks: dict[str, dict[str, Any]], classes: dict[str, Any]) -> None:
    args = read_arguments(source=source, filename=filename)
    for flag, expected in checks.items():
        spec = arg_for(args, flag)
        assert spec is not None, flag
        for attr, value in expected.items():
            assert getattr(spec, attr) == value, (flag, attr, getattr(spec, attr))
    if "platform" in classes:
        assert [a.name for a in args.platform] == classes["platform"]
    if "user" in classes:
        assert [a.name for a in args.user] == classes["user"]
    if "launcher" in classes:
        assert [a.name for a in args.launcher] == classes["launcher"]
    for key in ("epochs", "device"):
        if key in classes:
            got = getattr(args, key)
            assert (got.name if got else None) == classes[key]
    if "globals" in classes:
        assert args.globals_used == classes["globals"]
    # Stored as JSON and read back unchanged.
    again = ScriptArgs.from_dict(json.loads(json.dumps(args.to_dict())))
    assert again == args


def test_platform_lists_are_the_contract_lists() -> None:
    assert PLATFORM_TRAIN_FLAGS == ("--work-dir", "--data", "--train-data", "--val-data", "--test-data",
                                    "--train-label", "--val-label", "--test-label", "--label-class",
                                    "--label-class-count", "--data-yaml")
    assert PLATFORM_PREDICT_FLAGS == ("--source", "--out-dir")


WARNINGS = [
    ("subparsers", '''
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float)
        sub = parser.add_subparsers(dest="cmd")
        fit = sub.add_parser("fit")
        fit.add_argument("--epochs", type=int)
        fit.add_argument("--bs", type=int)
        ''', ["line 8: arguments of the sub-command parser `fit` are not shown"], ["lr"]),
    ("starred flags", '''
        parser = argparse.ArgumentParser()
        parser.add_argument(*["--a", "--b"], default=1)
        parser.add_argument("--c")
        ''', ['line 5: `add_argument(*["--a", "--b"], ...)` unpacks its names'], ["c"]),
    ("**kwargs", '''
        parser = argparse.ArgumentParser()
        opts = dict(type=int, default=3)
        parser.add_argument("--k", **opts)
        ''', ["line 6: keyword arguments from `**opts` are not read"], ["k"]),
    ("non-literal flag", '''
        parser = argparse.ArgumentParser()
        for name in ["--a", "--b"]:
            parser.add_argument(name)
        ''', ["line 6: the argument name `name` is not a string literal"], []),
    ("duplicate dest keeps the first", '''
        parser = argparse.ArgumentParser()
        parser.add_argument("--amp", action="store_true")
        parser.add_argument("--no-amp", dest="amp", action="store_false")
        ''', ["line 6: `--no-amp` stores into `amp`, which `--amp` on line 5 already uses"], ["amp"]),
]


@pytest.mark.parametrize(("body", "warnings", "user"), [w[1:] for w in WARNINGS], ids=[w[0] for w in WARNINGS])
def test_warnings(body: str, warnings: list[str], user: list[str]) -> None:
    args = read_arguments(source=src(body), filename="train.py")
    for w in warnings:
        assert any(x.startswith("train.py " + w) for x in args.warnings), args.warnings
    assert [a.name for a in args.user] == user


def test_nothing_declared_warns() -> None:
    args = read_arguments(source="print('hello')\n", filename="train.py")
    assert args.warnings == ["train.py declares no argparse arguments and uses none of the global variables; "
                             "the platform has no way to pass it the dataset or work dir"]


@pytest.mark.parametrize(("source", "message"), [
    ("import os\n\ndef f(:\n    pass\n", "train.py line 3: SyntaxError: invalid syntax (column 7)\n    def f(:\n"
                                         "          ^"),
    ("x = (1,\ny = 2\n", "train.py line 1: SyntaxError: '(' was never closed"),
    ('print "hi"\n', "train.py line 1: SyntaxError: Missing parentheses in call to 'print'"),
    ("a = 1\nb = '\x00'\n", "train.py line 2: the file contains a NUL byte"),
])
def test_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(PackageError) as exc:
        read_arguments(source=source, filename="train.py")
    assert str(exc.value).startswith(message)


def test_weird_code_never_crashes() -> None:
    body = '''
        parser = argparse.ArgumentParser()
        parser.add_argument()
        parser.add_argument("--a", type=getattr(builtins, "int"), default=[x for x in range(3)])
        parser.add_argument("--b", nargs=N, choices=(i for i in "ab"), dest=make_dest(), required=flag)
        parser.add_argument("--c", default=1j, const=lambda: 1, action=Custom(), help=None)
        obj.add_argument("--d")
        add_argument("--not-a-method")
        parser.add_argument("--e", default={1: "a"})
        '''
    args = read_arguments(source=src(body), filename="train.py")
    assert [a.name for a in args.user] == ["a", "b", "c", "d", "e"]
    b = arg_for(args, "--b")
    assert b is not None and b.nargs == "N" and b.choices_computed and b.dest == "b" and b.required is False
    assert arg_for(args, "--e").default_computed is True
    assert any("add_argument()` without a name" in w for w in args.warnings)


def test_arg_for_spellings() -> None:
    args = read_arguments(source=YOLOV5, filename="train.py")
    for spelling in ("--batch-size", "batch-size", "batch_size"):
        assert arg_for(args, spelling).name == "batch-size"
    assert arg_for(args, "--img").name == "imgsz"
    assert arg_for(args, "--epochs") is args.epochs
    assert arg_for(args, "--nope") is None


def test_argspec_from_dict_ignores_unknown_keys() -> None:
    spec = ArgSpec.from_dict({"flags": ["--x"], "dest": "x", "name": "x", "future_field": 1})
    assert spec.flags == ["--x"] and spec.type == "str"
