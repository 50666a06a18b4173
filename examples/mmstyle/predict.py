"""Label images with a trained checkpoint: the predicted class is written onto each image."""

import argparse
import os

from mmlite.model import IMAGE_EXTS, LinearClassifier, features
from PIL import Image, ImageDraw


def parse_args():
    parser = argparse.ArgumentParser(description='Predict with a trained classifier')
    parser.add_argument('--source', required=True, help='an image or a folder of images')
    parser.add_argument('--out-dir', required=True, help='where the labelled images go')
    parser.add_argument('--weights', default='weights/best.pth', help='checkpoint (.pth) written by train.py')
    parser.add_argument('--confidence', type=float, default=0.0, help='leave images below it unlabelled')
    parser.add_argument('--device', default='cpu', help='accepted for compatibility; numpy runs on the CPU')
    return parser.parse_args()


def main():
    args = parse_args()
    model, names = LinearClassifier.load(args.weights)
    src = args.source
    files = [os.path.join(src, f) for f in sorted(os.listdir(src))] if os.path.isdir(src) else [src]
    os.makedirs(args.out_dir, exist_ok=True)
    for path in files:
        if not path.lower().endswith(IMAGE_EXTS):
            continue
        probs = model.probs(features(path, model.input_size)[None])[0]
        label, conf = names[int(probs.argmax())], float(probs.max())
        with Image.open(path) as img:
            out = img.convert('RGB')
        if conf >= args.confidence:
            draw = ImageDraw.Draw(out)
            draw.rectangle([0, 0, out.width - 1, 11], fill=(255, 255, 255))
            draw.text((1, 0), f'{label} {conf:.2f}', fill=(255, 0, 0))
        out.save(os.path.join(args.out_dir, os.path.basename(path)))
        print(f'{os.path.basename(path)} -> {label} ({conf:.2f})', flush=True)


if __name__ == '__main__':
    main()
