"""Classify images with a checkpoint from train.py and draw the result onto each image.

Every input image gets an output image of the same file name under --out-dir,
with the class name and score written in a banner at its top. A prediction
whose score is below --confidence is written as "below threshold" instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from model import TinyCNN, info, is_image, load_image, pick_device, read_checkpoint
from PIL import Image, ImageDraw, ImageFont


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Predict with the tiny CNN classifier")
    p.add_argument("--source", type=str, default="", help="an image file or a folder of images")
    p.add_argument("--out-dir", type=str, default="predictions", help="where the drawn images are saved")
    p.add_argument("--weights", type=str, default="", help="best.pt or last.pt written by train.py")
    p.add_argument("--confidence", type=float, default=0.5, help="scores below this are shown as below threshold")
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
    size = max(9, height // 20)
    try:
        return ImageFont.load_default(size=size)  # scalable when Pillow has FreeType
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def draw_label(image: Image.Image, text: str, *, color: tuple[int, int, int]) -> Image.Image:
    canvas = image.convert("RGB")  # a copy: the input file is never touched
    draw = ImageDraw.Draw(canvas)
    font = font_for(min(canvas.size))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.rectangle([0, 0, right - left + 6, bottom - top + 6], fill=color)
    draw.text((3 - left, 3 - top), text, fill=(255, 255, 255), font=font)
    draw.rectangle([0, 0, canvas.width - 1, canvas.height - 1], outline=color, width=max(1, canvas.height // 64))
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
    model = TinyCNN(len(classes), width=int(ckpt.get("width", 16)))
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
        with torch.no_grad():
            probs = torch.softmax(model(load_image(path, size).unsqueeze(0).to(device)), dim=1)[0].cpu()
        score, idx = float(probs.max()), int(probs.argmax())
        with Image.open(path) as original:
            original.load()
            if score >= args.confidence:
                text, color = f"{classes[idx]} {score:.2f}", (0, 140, 60)
            else:
                text, color = f"below threshold ({classes[idx]} {score:.2f})", (150, 150, 150)
            save_like(draw_label(original, text, color=color), out_dir / rel, original)
        print(f"{rel} -> {text}", flush=True)
    info(f"wrote {len(images)} image(s) to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
