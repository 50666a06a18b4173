"""Train a tiny grid object detector (YOLO-style) with plain PyTorch on a COCO dataset.

Dataset layout (task type detection): annotations/<split>.json + images/<split>/.
The platform passes --train-data images/train, --train-label annotations/train.json
(and the same for val). Prints one metrics line per epoch, e.g.
  epoch: 1, loss: 2.3100, box_loss: 0.9000, cls_loss: 0.6900, obj_loss: 0.7200, val_loss: 2.2000, mAP50: 0.1250
where mAP50 is the mean over classes of the all-point interpolated AP at IoU 0.5,
on the validation split (on the training split when there is none).
Saves best.pt (highest mAP50) and last.pt into --work-dir.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch
from model import (
    STRIDE,
    TinyDetector,
    detection_loss,
    info,
    load_image,
    load_partial,
    map50,
    pick_device,
    predict_boxes,
    read_checkpoint,
    save_checkpoint,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Tiny grid object detector (plain PyTorch)")
    # Set by the platform.
    p.add_argument("--work-dir", type=str, default=".", help="folder for best.pt and last.pt")
    p.add_argument("--data", type=str, default="", help="dataset root")
    p.add_argument("--train-data", type=str, default="", help="training images folder (images/train)")
    p.add_argument("--train-label", type=str, default="", help="training annotations (annotations/train.json)")
    p.add_argument("--val-data", type=str, default="", help="validation images folder (images/val)")
    p.add_argument("--val-label", type=str, default="", help="validation annotations (annotations/val.json)")
    p.add_argument("--label-class", type=str, default="", help='class map as JSON, e.g. {"0": "cat", "1": "dog"}')
    p.add_argument("--label-class-count", type=int, default=0, help="number of classes")
    # Set by the user.
    p.add_argument("--epochs", type=int, default=30, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=8, help="images per step")
    p.add_argument("--learning-rate", type=float, default=0.003, help="optimizer step size")
    p.add_argument("--weights", type=str, default="", help="checkpoint to start from (optional)")
    p.add_argument("--device", type=str, default="cpu", help="cpu, or a GPU index such as 0")
    p.add_argument("--seed", type=int, default=0, help="random seed, for repeatable runs")
    p.add_argument("--optimizer", type=str, default="adam", choices=["sgd", "adam"], help="optimizer")
    p.add_argument("--image-size", type=int, default=64, help="images are resized to this square size (multiple of 8)")
    p.add_argument("--width", type=int, default=16, help="channels of the first conv layer")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- data


def locate_split(args: argparse.Namespace, split: str) -> tuple[Path | None, Path | None]:
    """(images folder, annotation json) of a split, from the platform's flags or from --data."""
    data, label = getattr(args, f"{split}_data"), getattr(args, f"{split}_label")
    if data or label:
        images = Path(data) if data else None
        ann = Path(label) if label else None
        if ann is None and args.data and (Path(args.data) / "annotations" / f"{split}.json").is_file():
            ann = Path(args.data) / "annotations" / f"{split}.json"
        return images, ann
    if args.data:
        root = Path(args.data)
        ann = root / "annotations" / f"{split}.json"
        if ann.is_file():
            return (root / "images" / split if (root / "images" / split).is_dir() else root / "images"), ann
    return None, None


def class_names(args: argparse.Namespace, coco: dict) -> list[str]:
    if args.label_class:
        try:
            mapping = json.loads(args.label_class)
            return [str(mapping[k]) for k in sorted(mapping, key=int)]
        except (ValueError, TypeError, KeyError) as exc:
            raise SystemExit(f"--label-class must be JSON like {{\"0\": \"cat\"}}; got {args.label_class!r} "
                             f"({exc})") from None
    return [str(c["name"]) for c in sorted(coco.get("categories", []), key=lambda c: c["id"])]


def read_coco(ann_path: Path, images_dir: Path | None, classes: list[str], data_root: Path | None
              ) -> list[tuple[Path, torch.Tensor]]:
    """[(image path, N x 5 tensor of class, cx, cy, w, h as fractions of the image)]."""
    try:
        coco = json.loads(ann_path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read {ann_path}: {exc}") from None
    index = {name: i for i, name in enumerate(classes)}
    cat_to_cls = {}
    for c in coco.get("categories", []):
        if str(c["name"]) not in index:
            raise SystemExit(f"{ann_path}: category {c['name']!r} is not one of the classes {classes}")
        cat_to_cls[c["id"]] = index[str(c["name"])]
    bases = [b for b in (images_dir, data_root, ann_path.parent.parent / "images", ann_path.parent.parent)
             if b is not None]
    by_image: dict = {im["id"]: [] for im in coco.get("images", [])}
    for a in coco.get("annotations", []):
        by_image.setdefault(a["image_id"], []).append(a)
    samples = []
    for im in coco.get("images", []):
        path = next((b / im["file_name"] for b in bases if (b / im["file_name"]).is_file()), None)
        if path is None:
            raise SystemExit(f"{ann_path}: image {im['file_name']!r} not found under "
                             + " or ".join(str(b) for b in bases))
        width, height = im.get("width"), im.get("height")
        if not width or not height:
            from PIL import Image

            with Image.open(path) as img:
                width, height = img.size
        rows = []
        for a in by_image.get(im["id"], []):
            x, y, w, h = (float(v) for v in a["bbox"])
            x1, y1 = max(0.0, x), max(0.0, y)
            x2, y2 = min(float(width), x + w), min(float(height), y + h)
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue  # degenerate or entirely outside the image
            rows.append([cat_to_cls[a["category_id"]], (x1 + x2) / 2 / width, (y1 + y2) / 2 / height,
                         (x2 - x1) / width, (y2 - y1) / height])
        samples.append((path, torch.tensor(rows, dtype=torch.float32).reshape(-1, 5)))
    return samples


class DetectionSet(torch.utils.data.Dataset):
    def __init__(self, samples: list[tuple[Path, torch.Tensor]], size: int, train: bool) -> None:
        self.samples, self.size, self.train = samples, size, train
        self.cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if i not in self.cache:
            self.cache[i] = load_image(self.samples[i][0], self.size)[0]
        x, t = self.cache[i], self.samples[i][1].clone()
        if self.train and random.random() < 0.5:
            x = torch.flip(x, dims=[2])  # horizontal flip: mirror the box centres too
            t[:, 1] = 1.0 - t[:, 1]
        return x, t


def collate(batch):
    return torch.stack([b[0] for b in batch]), [b[1] for b in batch]


# --------------------------------------------------------------------------- training


def evaluate(model, loader, device, num_classes: int) -> tuple[float, float]:
    model.eval()
    dets, gts, total, seen = [], [], 0.0, 0
    with torch.no_grad():
        for x, targets in loader:
            out = model(x.to(device))
            total += detection_loss(out, [t.to(device) for t in targets])["loss"].item() * len(targets)
            seen += len(targets)
            dets += predict_boxes(out, conf=0.01)
            gts += targets
    return total / max(seen, 1), map50(dets, gts, num_classes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # small model: more threads only add overhead and contend with other runs
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    if args.image_size % STRIDE:
        raise SystemExit(f"--image-size must be a multiple of {STRIDE}, got {args.image_size}")

    train_images, train_ann = locate_split(args, "train")
    if train_ann is None or not train_ann.is_file():
        raise SystemExit("no training annotations: pass --train-label annotations/train.json "
                         "(and --train-data images/train) or --data")
    val_images, val_ann = locate_split(args, "val")
    classes = class_names(args, json.loads(train_ann.read_text()))
    if not classes:
        raise SystemExit(f"no classes: {train_ann} has no categories and --label-class is empty")
    if args.label_class_count and args.label_class_count != len(classes):
        raise SystemExit(f"--label-class-count is {args.label_class_count} but {len(classes)} class names were given")
    data_root = Path(args.data) if args.data else None
    train_set = read_coco(train_ann, train_images, classes, data_root)
    val_set = read_coco(val_ann, val_images, classes, data_root) if val_ann and val_ann.is_file() else []
    if not train_set:
        raise SystemExit(f"{train_ann} lists no images")
    info(f"{len(train_set)} training and {len(val_set)} validation images, "
         f"{sum(len(t) for _, t in train_set)} training boxes in {len(classes)} classes "
         f"({', '.join(classes)}), device {device}")

    model = TinyDetector(len(classes), width=args.width).to(device)
    if args.weights:
        loaded, total = load_partial(model, read_checkpoint(Path(args.weights))["state_dict"])
        info(f"started from {args.weights} ({loaded} of {total} tensors fit this model)")
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate, momentum=0.9, weight_decay=5e-4)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)

    generator = torch.Generator().manual_seed(args.seed)
    train_loader = torch.utils.data.DataLoader(DetectionSet(train_set, args.image_size, True), collate_fn=collate,
                                               batch_size=args.batch_size, shuffle=True, generator=generator)
    eval_loader = torch.utils.data.DataLoader(DetectionSet(val_set or train_set, args.image_size, False),
                                              collate_fn=collate, batch_size=args.batch_size)

    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    best: tuple[float, float] | None = None
    for epoch in range(1, args.epochs + 1):
        model.train()
        sums = {"loss": 0.0, "box_loss": 0.0, "cls_loss": 0.0, "obj_loss": 0.0}
        seen = 0
        for x, targets in train_loader:
            losses = detection_loss(model(x.to(device)), [t.to(device) for t in targets])
            optimizer.zero_grad()
            losses["loss"].backward()
            optimizer.step()
            for k in sums:
                sums[k] += losses[k].item() * len(targets)
            seen += len(targets)
        metrics = {k: v / max(seen, 1) for k, v in sums.items()}
        eval_loss, metrics["mAP50"] = evaluate(model, eval_loader, device, len(classes))
        if val_set:
            metrics["val_loss"] = eval_loss
        print(f"epoch: {epoch}, " + ", ".join(f"{k}: {v:.4f}" for k, v in metrics.items()), flush=True)
        score = (metrics["mAP50"], -metrics.get("val_loss", metrics["loss"]))
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
