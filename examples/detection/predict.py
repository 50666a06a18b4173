"""Detect objects with a checkpoint from train.py and draw the boxes onto each image.

Every input image gets an output image of the same file name under --out-dir
with one rectangle per detection scoring at least --confidence, labelled with
the class name and score. An image with no detection says so in a caption.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from model import TinyDetector, info, is_image, load_image, pick_device, predict_boxes, read_checkpoint
from PIL import Image, ImageDraw, ImageFont

PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Predict with the tiny grid detector")
    p.add_argument("--source", type=str, default="", help="an image file or a folder of images")
    p.add_argument("--out-dir", type=str, default="predictions", help="where the drawn images are saved")
    p.add_argument("--weights", type=str, default="", help="best.pt or last.pt written by train.py")
    p.add_argument("--confidence", type=float, default=0.25, help="boxes scoring below this are not drawn")
    p.add_argument("--device", type=str, default="cpu", help="cpu, or a GPU index such as 0")
    return p.parse_args(argv)


def find_weights(arg: str) -> Path:
    if arg:
        return Path(arg)
    here = Path(__file__).resolve().parent
    for cand in (here / "work_dir" / "best.pt", here / "weights" / "best.pt", Path("best.pt")):
        if cand.is_file():
            return cand
    raise SystemExit("no weights: pass --weights path/to/best.pt (written by train.py into its --work-dir)")


def list_images(source: str) -> list[tuple[Path, Path]]:
    """(image path, path relative to the output folder) for a file or a folder of images."""
    src = Path(source)
    if src.is_file():
        return [(src, Path(src.name))]
    if src.is_dir():
        return [(p, p.relative_to(src)) for p in sorted(src.rglob("*")) if is_image(p)]
    raise SystemExit(f"--source {source!r} is neither an image file nor a folder")


def font_for(height: int) -> ImageFont.ImageFont:
    size = max(9, height // 30)
    try:
        return ImageFont.load_default(size=size)  # scalable when Pillow has FreeType
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def draw_detections(image: Image.Image, dets: list[tuple], classes: list[str], conf: float) -> Image.Image:
    canvas = image.convert("RGB")  # a copy: the input file is never touched
    draw = ImageDraw.Draw(canvas)
    font = font_for(min(canvas.size))
    w, h = canvas.size
    line = max(1, round(min(w, h) / 100))
    for x1, y1, x2, y2, score, cls in dets:
        color = PALETTE[cls % len(PALETTE)]
        box = [x1 * w, y1 * h, x2 * w, y2 * h]
        draw.rectangle(box, outline=color, width=line)
        label = f"{classes[cls]} {score:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        tw, th = right - left + 4, bottom - top + 4
        ty = box[1] - th if box[1] - th >= 0 else box[1]  # above the box, or inside it at the image top
        draw.rectangle([box[0], ty, box[0] + tw, ty + th], fill=color)
        draw.text((box[0] + 2 - left, ty + 2 - top), label, fill=(255, 255, 255), font=font)
    if not dets:
        text = f"no detections at confidence {conf:g}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        draw.rectangle([0, 0, right - left + 4, bottom - top + 4], fill=(120, 120, 120))
        draw.text((2 - left, 2 - top), text, fill=(255, 255, 255), font=font)
    return canvas


def save_like(image: Image.Image, dest: Path, original: Image.Image) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fmt = original.format or None
    if fmt == "JPEG" or dest.suffix.lower() in (".jpg", ".jpeg"):
        image.save(dest, format="JPEG", quality=95)
    else:
        image.save(dest, format=fmt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    device = pick_device(args.device)
    weights = find_weights(args.weights)
    ckpt = read_checkpoint(weights)
    classes = list(ckpt["classes"])
    model = TinyDetector(len(classes), width=int(ckpt.get("width", 16)))
    model.load_state_dict(ckpt["state_dict"])
    model.to(device).eval()
    size = int(ckpt.get("image_size", 64))

    images = list_images(args.source)
    if not images:
        raise SystemExit(f"no images in {args.source} (looked for jpg, jpeg, png, bmp, tif, tiff, webp)")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    info(f"predicting {len(images)} image(s) with {weights} ({len(classes)} classes) on {device}")
    for path, rel in images:
        x, _ = load_image(path, size)
        with torch.no_grad():
            # Across classes: each grid cell of this small model predicts one class, so two
            # overlapping boxes of different classes are one object seen from neighbouring cells.
            dets = predict_boxes(model(x.unsqueeze(0).to(device)), conf=args.confidence, agnostic=True)[0]
        with Image.open(path) as original:
            original.load()
            save_like(draw_detections(original, dets, classes, args.confidence), out_dir / rel, original)
        found = ", ".join(f"{classes[d[5]]} {d[4]:.2f}" for d in dets) or "nothing"
        print(f"{rel} -> {found}", flush=True)
    info(f"wrote {len(images)} image(s) to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
