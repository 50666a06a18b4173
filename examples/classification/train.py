"""Train a tiny CNN image classifier with plain PyTorch.

Reads either dataset layout of the classification task type:
  * class sub-folders:  <split>/<class_name>/*.png
  * annotation files:   meta/<split>.txt with "relative/path.png <class_index>" lines,
                        meta/classes.txt with one class name per line
Prints one metrics line per epoch, e.g.
  epoch: 1, loss: 0.6931, accuracy: 0.5000, val_loss: 0.6900, val_accuracy: 0.5000
and saves best.pt and last.pt into --work-dir.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from model import TinyCNN, info, is_image, load_image, load_partial, pick_device, read_checkpoint, save_checkpoint


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Tiny CNN image classifier (plain PyTorch)")
    # Set by the platform.
    p.add_argument("--work-dir", type=str, default=".", help="folder for best.pt and last.pt")
    p.add_argument("--data", type=str, default="", help="dataset root")
    p.add_argument("--train-data", type=str, default="", help="training images folder")
    p.add_argument("--val-data", type=str, default="", help="validation images folder")
    p.add_argument("--train-label", type=str, default="", help="meta/train.txt when the dataset uses it")
    p.add_argument("--val-label", type=str, default="", help="meta/val.txt when the dataset uses it")
    p.add_argument("--label-class", type=str, default="", help='class map as JSON, e.g. {"0": "cat", "1": "dog"}')
    p.add_argument("--label-class-count", type=int, default=0, help="number of classes")
    # Set by the user.
    p.add_argument("--epochs", type=int, default=10, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=8, help="images per step")
    p.add_argument("--learning-rate", type=float, default=0.01, help="optimizer step size")
    p.add_argument("--weights", type=str, default="", help="checkpoint to start from (optional)")
    p.add_argument("--device", type=str, default="cpu", help="cpu, or a GPU index such as 0")
    p.add_argument("--seed", type=int, default=0, help="random seed, for repeatable runs")
    p.add_argument("--optimizer", type=str, default="adam", choices=["sgd", "adam"], help="optimizer")
    p.add_argument("--image-size", type=int, default=64, help="images are resized to this square size")
    p.add_argument("--width", type=int, default=16, help="channels of the first conv layer")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- data


def class_names_from(args: argparse.Namespace, label_file: Path | None, folder: Path | None) -> list[str]:
    if args.label_class:
        try:
            mapping = json.loads(args.label_class)
            return [str(mapping[k]) for k in sorted(mapping, key=int)]
        except (ValueError, TypeError, KeyError) as exc:
            raise SystemExit(f"--label-class must be JSON like {{\"0\": \"cat\"}}; got {args.label_class!r} "
                             f"({exc})") from None
    if label_file is not None and (label_file.parent / "classes.txt").is_file():
        return [ln.strip() for ln in (label_file.parent / "classes.txt").read_text().splitlines() if ln.strip()]
    if folder is not None and folder.is_dir():
        return sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    raise SystemExit("no class names: pass --label-class, add meta/classes.txt, or use class sub-folders")


def locate_split(args: argparse.Namespace, split: str) -> tuple[Path | None, Path | None]:
    """(images folder, meta label file or None) for a split, from the platform's flags or --data."""
    data = getattr(args, f"{split}_data")
    label = getattr(args, f"{split}_label")
    if data or label:
        return (Path(data) if data else None), (Path(label) if label else None)
    if args.data:
        root = Path(args.data)
        if (root / "meta" / f"{split}.txt").is_file():
            return (root / split if (root / split).is_dir() else root), root / "meta" / f"{split}.txt"
        if (root / split).is_dir():
            return root / split, None
    return None, None


def read_split(folder: Path | None, label_file: Path | None, classes: list[str],
               data_root: Path | None) -> list[tuple[Path, int]]:
    index = {name: i for i, name in enumerate(classes)}
    samples: list[tuple[Path, int]] = []
    if label_file is not None and label_file.is_file():
        bases = [b for b in (folder, data_root, label_file.parent.parent) if b is not None]
        for n, raw in enumerate(label_file.read_text().splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            parts = line.rsplit(None, 1)  # the path may contain spaces; the index is the last field
            rel, idx = (parts[0], parts[1]) if len(parts) == 2 else ("", "")
            if not rel or not idx.isdigit():
                raise SystemExit(f"{label_file} line {n}: expected 'relative/path.png <class_index>', got {line!r}")
            path = next((b / rel.strip() for b in bases if (b / rel.strip()).is_file()), None)
            if path is None:
                raise SystemExit(f"{label_file} line {n}: image {rel.strip()!r} not found under "
                                 + " or ".join(str(b) for b in bases))
            if int(idx) >= len(classes):
                raise SystemExit(f"{label_file} line {n}: class index {idx} but only {len(classes)} classes")
            samples.append((path, int(idx)))
        return samples
    if folder is None or not folder.is_dir():
        return samples
    for class_dir in sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")):
        if class_dir.name not in index:
            raise SystemExit(f"{class_dir} is not one of the classes {classes}")
        for path in sorted(class_dir.rglob("*")):
            if is_image(path):
                samples.append((path, index[class_dir.name]))
    return samples


class ImageSet(torch.utils.data.Dataset):
    def __init__(self, samples: list[tuple[Path, int]], size: int, train: bool) -> None:
        self.samples, self.size, self.train = samples, size, train
        self.cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if i not in self.cache:
            self.cache[i] = load_image(self.samples[i][0], self.size)
        x = self.cache[i]
        if self.train and random.random() < 0.5:
            x = torch.flip(x, dims=[2])  # horizontal flip
        return x, self.samples[i][1]


# --------------------------------------------------------------------------- training


def run_epoch(model, loader, device, optimizer=None) -> tuple[float, float]:
    training = optimizer is not None
    model.train(training)
    total_loss, correct, seen = 0.0, 0, 0
    with torch.set_grad_enabled(training):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            if training:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
    return total_loss / max(seen, 1), correct / max(seen, 1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # small model: more threads only add overhead and contend with other runs
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = pick_device(args.device)

    train_dir, train_label = locate_split(args, "train")
    if train_dir is None and train_label is None:
        raise SystemExit("no training data: pass --train-data (and --train-label for meta/train.txt) or --data")
    val_dir, val_label = locate_split(args, "val")
    classes = class_names_from(args, train_label, train_dir)
    if args.label_class_count and args.label_class_count != len(classes):
        raise SystemExit(f"--label-class-count is {args.label_class_count} but {len(classes)} class names were given")
    data_root = Path(args.data) if args.data else None
    train_set = read_split(train_dir, train_label, classes, data_root)
    val_set = read_split(val_dir, val_label, classes, data_root)
    if not train_set:
        raise SystemExit(f"no training images found in {train_dir or train_label}")
    info(f"{len(train_set)} training and {len(val_set)} validation images in {len(classes)} classes "
         f"({', '.join(classes)}), device {device}")

    model = TinyCNN(len(classes), width=args.width).to(device)
    if args.weights:
        loaded, total = load_partial(model, read_checkpoint(Path(args.weights))["state_dict"])
        info(f"started from {args.weights} ({loaded} of {total} tensors fit this model)")
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)

    generator = torch.Generator().manual_seed(args.seed)
    train_loader = torch.utils.data.DataLoader(ImageSet(train_set, args.image_size, True),
                                               batch_size=args.batch_size, shuffle=True, generator=generator)
    val_loader = torch.utils.data.DataLoader(ImageSet(val_set, args.image_size, False), batch_size=args.batch_size)

    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    best: tuple[float, float] | None = None
    for epoch in range(1, args.epochs + 1):
        loss, acc = run_epoch(model, train_loader, device, optimizer)
        metrics = {"loss": loss, "accuracy": acc}
        if val_set:
            metrics["val_loss"], metrics["val_accuracy"] = run_epoch(model, val_loader, device)
        print(f"epoch: {epoch}, " + ", ".join(f"{k}: {v:.4f}" for k, v in metrics.items()), flush=True)
        # Best by validation accuracy (then loss); the training numbers when there is no val split.
        score = (metrics.get("val_accuracy", acc), -metrics.get("val_loss", loss))
        ckpt = dict(model=model, classes=classes, image_size=args.image_size, width=args.width,
                    epoch=epoch, metrics=metrics)
        save_checkpoint(work_dir / "last.pt", **ckpt)
        if best is None or score > best:
            best = score
            save_checkpoint(work_dir / "best.pt", **ckpt)
    info(f"saved {work_dir / 'best.pt'} and {work_dir / 'last.pt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
