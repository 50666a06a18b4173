"""Shared by train.py and predict.py: a tiny single-scale grid detector (YOLO-style),
box decoding, NMS, mAP@0.5, image loading, devices and checkpoints.

The network maps a size x size image to a G x G grid (G = size / 8). Each cell
predicts an objectness logit, a box (centre offset inside the cell, width and
height as fractions of the image) and class logits. The cell holding a ground
truth box's centre is responsible for it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
STRIDE = 8


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


def load_image(path: Path, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(3 x size x size tensor in [-1, 1], original (width, height)). Boxes are kept in
    fractions of the image, so the plain resize needs no box arithmetic."""
    with Image.open(path) as img:
        original = img.size
        rgb = img.convert("RGB").resize((size, size), Image.BILINEAR)
    arr = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr.transpose(2, 0, 1).copy()), original


class TinyDetector(nn.Module):
    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()

        def conv(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                                 nn.BatchNorm2d(cout), nn.LeakyReLU(0.1, inplace=True))

        w = width
        self.backbone = nn.Sequential(conv(3, w, 2), conv(w, 2 * w, 2), conv(2 * w, 4 * w, 2),
                                      conv(4 * w, 4 * w, 1), conv(4 * w, 4 * w, 1))
        self.head = nn.Conv2d(4 * w, 5 + num_classes, 1)
        self.num_classes = num_classes
        with torch.no_grad():  # start with few confident cells: most of the grid is background
            self.head.bias[0].fill_(-4.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))  # B x (5 + C) x G x G


def decode(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw head output -> (objectness logits B x G x G, boxes cx,cy,w,h in [0, 1] B x G x G x 4,
    class logits B x G x G x C)."""
    b, _, g, _ = out.shape
    out = out.permute(0, 2, 3, 1)
    ys, xs = torch.meshgrid(torch.arange(g, device=out.device), torch.arange(g, device=out.device), indexing="ij")
    cx = (xs + torch.sigmoid(out[..., 1])) / g
    cy = (ys + torch.sigmoid(out[..., 2])) / g
    wh = torch.sigmoid(out[..., 3:5])
    boxes = torch.stack([cx, cy, wh[..., 0], wh[..., 1]], dim=-1)
    return out[..., 0], boxes, out[..., 5:]


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of xyxy boxes: N x 4, M x 4 -> N x M."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-9)


def build_targets(targets: list[torch.Tensor], g: int, device: torch.device
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-image N x 5 (cls, cx, cy, w, h) -> (objectness B x G x G, boxes B x G x G x 4, classes B x G x G).
    Two boxes centred in one cell: the larger one wins, as in YOLOv1."""
    b = len(targets)
    obj = torch.zeros(b, g, g, device=device)
    boxes = torch.zeros(b, g, g, 4, device=device)
    classes = torch.full((b, g, g), -1, dtype=torch.long, device=device)
    for i, t in enumerate(targets):
        if len(t) == 0:
            continue
        for row in sorted(t.tolist(), key=lambda r: r[3] * r[4]):  # small first, so large overwrite
            cls, cx, cy, w, h = row
            gx, gy = min(int(cx * g), g - 1), min(int(cy * g), g - 1)
            obj[i, gy, gx] = 1.0
            boxes[i, gy, gx] = torch.tensor([cx, cy, w, h], device=device)
            classes[i, gy, gx] = int(cls)
    return obj, boxes, classes


def detection_loss(out: torch.Tensor, targets: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    obj_logit, pred_boxes, cls_logit = decode(out)
    obj_t, box_t, cls_t = build_targets(targets, out.shape[-1], out.device)
    pos = obj_t > 0.5
    # Balance the few object cells against the many background ones.
    bce = F.binary_cross_entropy_with_logits(obj_logit, obj_t, reduction="none")
    obj_loss = bce[pos].mean() if pos.any() else bce.sum() * 0
    obj_loss = obj_loss + 0.5 * bce[~pos].mean()
    if pos.any():
        pb, tb = pred_boxes[pos], box_t[pos]
        iou = box_iou(cxcywh_to_xyxy(pb), cxcywh_to_xyxy(tb)).diagonal()
        box_loss = 5.0 * F.l1_loss(pb, tb) + (1.0 - iou).mean()
        cls_loss = F.cross_entropy(cls_logit[pos], cls_t[pos])
    else:
        box_loss = cls_loss = pred_boxes.sum() * 0
    return {"loss": obj_loss + box_loss + cls_loss, "box_loss": box_loss, "cls_loss": cls_loss,
            "obj_loss": obj_loss}


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> list[int]:
    order = scores.argsort(descending=True).tolist()
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(i)
        if order:
            ious = box_iou(boxes[i:i + 1], boxes[order])[0]
            order = [j for j, v in zip(order, ious.tolist(), strict=True) if v <= iou_threshold]
    return keep


@torch.no_grad()
def predict_boxes(out: torch.Tensor, *, conf: float, iou: float = 0.5, max_det: int = 100, agnostic: bool = False
                  ) -> list[list[tuple[float, float, float, float, float, int]]]:
    """Per image: [(x1, y1, x2, y2 in [0, 1], score, class)], best first, after NMS per class
    (or across classes with ``agnostic``)."""
    obj_logit, boxes, cls_logit = decode(out)
    probs = torch.softmax(cls_logit, dim=-1)
    cls_p, cls_i = probs.max(-1)
    scores = torch.sigmoid(obj_logit) * cls_p
    results = []
    for b in range(out.shape[0]):
        mask = scores[b] >= conf
        xyxy = cxcywh_to_xyxy(boxes[b][mask]).clamp(0, 1)
        s, c = scores[b][mask], cls_i[b][mask]
        dets = []
        groups = [torch.arange(len(s))] if agnostic else [(c == cls).nonzero().flatten() for cls in c.unique()]
        for idx in groups:
            for k in nms(xyxy[idx], s[idx], iou):
                j = idx[k]
                dets.append((*xyxy[j].tolist(), float(s[j]), int(c[j])))
        dets.sort(key=lambda d: -d[4])
        results.append(dets[:max_det])
    return results


def map50(dets: list[list[tuple]], gts: list[torch.Tensor], num_classes: int) -> float:
    """Mean over classes with ground truth of the all-point interpolated AP at IoU 0.5
    (the PASCAL VOC 2010+ rule; COCO's mAP_50 samples 101 recall points instead)."""
    aps = []
    for cls in range(num_classes):
        n_gt = sum(int((g[:, 0] == cls).sum()) for g in gts if len(g))
        if n_gt == 0:
            continue
        scored = []  # (score, image index, xyxy)
        for i, image_dets in enumerate(dets):
            scored += [(d[4], i, d[:4]) for d in image_dets if d[5] == cls]
        scored.sort(key=lambda r: -r[0])
        matched: dict[int, set[int]] = {}
        tp = []
        for _score, i, box in scored:
            g = gts[i]
            g = g[g[:, 0] == cls] if len(g) else g
            hit = 0
            if len(g):
                ious = box_iou(torch.tensor([box]), cxcywh_to_xyxy(g[:, 1:5]))[0]
                best = int(ious.argmax())
                if float(ious[best]) >= 0.5 and best not in matched.setdefault(i, set()):
                    matched[i].add(best)
                    hit = 1
            tp.append(hit)
        if not tp:
            aps.append(0.0)
            continue
        tp_cum = np.cumsum(tp)
        recall = tp_cum / n_gt
        precision = tp_cum / np.arange(1, len(tp) + 1)
        r = np.concatenate([[0.0], recall, [1.0]])
        p = np.concatenate([[1.0], precision, [0.0]])
        p = np.maximum.accumulate(p[::-1])[::-1]  # precision envelope
        aps.append(float(np.sum((r[1:] - r[:-1]) * p[1:])))
    return float(np.mean(aps)) if aps else 0.0


def save_checkpoint(path: Path, *, model: TinyDetector, classes: list[str], image_size: int, width: int,
                    epoch: int, metrics: dict[str, float]) -> None:
    state = {"arch": "tinydet", "classes": list(classes), "image_size": image_size, "width": width,
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
