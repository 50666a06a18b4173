"""Shared by train.py and predict.py: the network, image loading, devices, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def info(message: str) -> None:
    # Plain sentences only: a "name: number" pair would be read as a metric by the platform.
    print(f"[info] {message}", flush=True)


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTS and not path.name.startswith(".")


def pick_device(spec: str | None) -> torch.device:
    """'cpu', '0', '0,1', 'cuda', 'cuda:1' -> a torch device (the first GPU of a list)."""
    text = (spec or "cpu").strip().lower()
    if text in ("", "cpu"):
        return torch.device("cpu")
    if text.startswith("cuda"):
        index = text.partition(":")[2] or "0"
    else:
        index = text.split(",")[0].strip()
    if not index.isdigit():
        raise SystemExit(f"--device {spec!r} is not understood; use cpu, a GPU index such as 0, or a list such as 0,1")
    if not torch.cuda.is_available():
        info(f"CUDA is not available here, so the CPU is used instead of GPU {index}")
        return torch.device("cpu")
    if int(index) >= torch.cuda.device_count():
        raise SystemExit(f"--device {spec!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    return torch.device(f"cuda:{index}")


def load_image(path: Path, size: int) -> torch.Tensor:
    """RGB, resized to size x size, scaled to [-1, 1], as a 3 x size x size tensor."""
    with Image.open(path) as img:
        rgb = img.convert("RGB").resize((size, size), Image.BILINEAR)
    arr = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())


class TinyCNN(nn.Module):
    """Three conv blocks, global max pooling and a linear head: trains on a CPU in seconds."""

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                                 nn.ReLU(inplace=True), nn.MaxPool2d(2))

        self.features = nn.Sequential(block(3, width), block(width, width * 2), block(width * 2, width * 4))
        # Max, not average: "is there a corner/edge of this kind anywhere" generalises far
        # better on small datasets of objects at random places than the mean response does.
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(width * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


def save_checkpoint(path: Path, *, model: TinyCNN, classes: list[str], image_size: int, width: int,
                    epoch: int, metrics: dict[str, float]) -> None:
    state = {"arch": "tinycnn", "classes": list(classes), "image_size": image_size, "width": width,
             "epoch": epoch, "metrics": dict(metrics),
             "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # a reader never sees a half-written checkpoint


def read_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise SystemExit(f"weights file {path} does not exist")
    try:
        # weights_only: a checkpoint from elsewhere cannot run code when it is loaded.
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "not our checkpoint"
        raise SystemExit(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise SystemExit(f"{path} is not a checkpoint written by this train.py (no state_dict in it)")
    return ckpt


def load_partial(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> tuple[int, int]:
    """Load the tensors whose shapes fit (a different class count skips only the head)."""
    own = model.state_dict()
    fitting = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(fitting, strict=False)
    return len(fitting), len(own)
