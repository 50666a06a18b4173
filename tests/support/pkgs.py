"""Model packages built by the tests: stdlib-only, so their envs build in a
fraction of a second, with a known optimum for the search tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

QUADRATIC_TRAIN = '''
import argparse, json, os, sys, time

p = argparse.ArgumentParser()
p.add_argument("--work-dir", default="out")
p.add_argument("--data")
p.add_argument("--train-data")
p.add_argument("--label-class")
p.add_argument("--label-class-count", type=int)
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--device", default="cpu")
p.add_argument("--x", type=float, default=0.0, help="the optimum is at 0.3")
p.add_argument("--k", type=int, default=1, help="the optimum is at 7")
p.add_argument("--opt", choices=["sgd", "adam"], default="sgd")
p.add_argument("--sleep", type=float, default=0.0)
p.add_argument("--fail", action="store_true")
a = p.parse_args()
os.makedirs(a.work_dir, exist_ok=True)
print("argv", json.dumps(sys.argv[1:]), flush=True)
print("env", json.dumps({"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "device": a.device}), flush=True)
best = 1.0 - (a.x - 0.3) ** 2 - 0.01 * (a.k - 7) ** 2 + (0.05 if a.opt == "adam" else 0.0)
for e in range(1, a.epochs + 1):
    score = best - 0.1 * (a.epochs - e)  # improves every epoch, ends at the optimum's value
    print(f"epoch: {e}, loss: {1 - score:.6f}, score: {score:.6f}", flush=True)
    time.sleep(a.sleep)
if a.fail:
    print("Traceback (most recent call last):\\nValueError: asked to fail", file=sys.stderr, flush=True)
    sys.exit(3)
with open(os.path.join(a.work_dir, "best.pt"), "w") as f:
    f.write(json.dumps({"x": a.x, "k": a.k}))
'''

PREDICT = '''
import argparse, os, shutil
p = argparse.ArgumentParser()
p.add_argument("--source")
p.add_argument("--out-dir")
p.add_argument("--weights")
p.add_argument("--confidence", type=float, default=0.5)
p.add_argument("--device", default="cpu")
a = p.parse_args()
os.makedirs(a.out_dir, exist_ok=True)
src = a.source
files = [os.path.join(src, f) for f in sorted(os.listdir(src))] if os.path.isdir(src) else [src]
for f in files:
    shutil.copy(f, os.path.join(a.out_dir, os.path.basename(f)))
    print(f"predicted {os.path.basename(f)}", flush=True)
'''


def write_package(dest: Path, *, train: str = QUADRATIC_TRAIN, predict: str = PREDICT, requirements: str = "",
                  extra: dict[str, str] | None = None, top: str = "pkg") -> Path:
    """A zip with a single top folder, like a real upload."""
    files = {"train.py": train, "predict.py": predict, "requirements.txt": requirements,
             "weights/README.txt": "initial weights go here\n", **(extra or {})}
    with zipfile.ZipFile(dest, "w") as zf:
        for name, text in files.items():
            zf.writestr(f"{top}/{name}", text)
    return dest


def write_dataset(dest: Path, *, classes=("a", "b"), per_class: int = 2) -> Path:
    """A tiny classification dataset in the class sub-folder format."""
    import io

    from PIL import Image

    with zipfile.ZipFile(dest, "w") as zf:
        for split in ("train", "val"):
            for ci, c in enumerate(classes):
                for i in range(per_class):
                    buf = io.BytesIO()
                    Image.new("RGB", (16, 16), (ci * 100, i * 40, 50)).save(buf, "PNG")
                    zf.writestr(f"data/{split}/{c}/{i}.png", buf.getvalue())
    return dest
