"""The dataset reader and the softmax-regression classifier (numpy only)."""

from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def class_names(classes: str | dict | list | None, folder: str) -> list[str]:
    """From the config's class map (JSON text or a dict of index -> name), else the sub-folder names."""
    if isinstance(classes, str) and classes.strip():
        classes = json.loads(classes)
    if isinstance(classes, dict) and classes:
        return [classes[k] for k in sorted(classes, key=int)]
    if isinstance(classes, list) and classes:
        return list(classes)
    return sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))


def features(path: str, size: int) -> np.ndarray:
    with Image.open(path) as img:
        grey = img.convert("L").resize((size, size))
    x = np.asarray(grey, dtype=np.float32).ravel() / 255.0
    return x - x.mean()


def load_folder(folder: str, names: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for label, name in enumerate(names):
        sub = os.path.join(folder, name)
        if not os.path.isdir(sub):
            continue
        for f in sorted(os.listdir(sub)):
            if f.lower().endswith(IMAGE_EXTS):
                xs.append(features(os.path.join(sub, f), size))
                ys.append(label)
    if not xs:
        return np.zeros((0, size * size), np.float32), np.zeros(0, np.int64)
    return np.stack(xs), np.asarray(ys)


class LinearClassifier:
    def __init__(self, input_size: int, num_classes: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.input_size = input_size
        self.w = rng.normal(0, 0.01, (input_size * input_size, num_classes)).astype(np.float32)
        self.b = np.zeros(num_classes, np.float32)

    def probs(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.w + self.b
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        if not len(y):
            return 0.0
        return float(-np.log(self.probs(x)[np.arange(len(y)), y] + 1e-9).mean())

    def step(self, x: np.ndarray, y: np.ndarray, lr: float, weight_decay: float) -> None:
        p = self.probs(x)
        p[np.arange(len(y)), y] -= 1.0
        self.w -= lr * (x.T @ p / len(y) + weight_decay * self.w)
        self.b -= lr * p.mean(0)

    def save(self, path: str, names: list[str]) -> None:
        # An .npz archive under the name MM checkpoints have (.pth); a file object keeps the name as given.
        with open(path, "wb") as fh:
            np.savez(fh, w=self.w, b=self.b, input_size=self.input_size, classes=np.asarray(names))

    @classmethod
    def load(cls, path: str) -> tuple[LinearClassifier, list[str]]:
        data = np.load(path)
        model = cls(int(data["input_size"]), data["w"].shape[1])
        model.w, model.b = data["w"], data["b"]
        return model, [str(c) for c in data["classes"]]
