"""Instance segmentation (COCO with masks): the ``segmentation`` of each annotation, polygons or RLE.
The rest of the file is checked as detection (coco.py)."""

from __future__ import annotations

from typing import Any

from shared.contract.datasets.common import is_num, outside, polygon_area
from shared.contract.datasets.context import Ctx
from shared.core.i18n import N_


def check_segmentation(ctx: Ctx, seg: Any, *, ann_rel: str, where: str,
                       size: tuple[int, int] | None) -> bool:
    """Check an instance mask (polygons or RLE); False when it is an error."""
    if seg is None:
        ctx.error(ann_rel, where, N_("missing: instance segmentation needs polygons or an RLE mask"))
        return False
    if isinstance(seg, list):
        if not seg:
            ctx.warn(ann_rel, where, N_("empty segmentation (no polygon)"))
            return True
        ok = True
        for j, poly in enumerate(seg):
            pw = f"{where}[{j}]"
            if not isinstance(poly, list):
                ctx.error(ann_rel, pw, N_("a polygon must be a list [x1, y1, x2, y2, ...]"))
                ok = False
                continue
            bad = next((k for k, v in enumerate(poly) if not is_num(v)), None)
            if bad is not None:
                ctx.error(ann_rel, f"{pw}[{bad}]", N_("non-numeric coordinate {value}").format(value=repr(poly[bad])))
                ok = False
                continue
            if len(poly) % 2:
                ctx.error(ann_rel, pw, N_("a polygon needs x, y pairs; it has {n} numbers").format(n=len(poly)))
                ok = False
                continue
            xs, ys = poly[0::2], poly[1::2]
            if len(poly) < 6 or polygon_area(xs, ys) <= 0:
                ctx.warn(ann_rel, pw, N_("degenerate polygon (fewer than 3 points or zero area)"))
            elif outside(xs, ys, size):
                ctx.warn(ann_rel, pw, N_("polygon extends outside its image"))
        return ok
    if isinstance(seg, dict):
        rle_size, counts = seg.get("size"), seg.get("counts")
        if (not isinstance(rle_size, list) or len(rle_size) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in rle_size)):
            ctx.error(ann_rel, where + ".size", N_("RLE size must be [height, width], got {value}").format(
                value=repr(rle_size)))
            return False
        h, w = rle_size
        if size is not None and (w, h) != tuple(size):
            ctx.error(ann_rel, where + ".size",
                      N_("RLE size {rle_size} does not match its {size} image ([height, width])").format(
                          rle_size=f"[{h}, {w}]", size=f"{size[0]}x{size[1]}"))
            return False
        try:
            runs = rle_counts(counts)
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            ctx.error(ann_rel, where + ".counts", N_("invalid RLE counts: {error}").format(error=exc))
            return False
        if sum(runs) != h * w:
            ctx.error(ann_rel, where + ".counts",
                      N_("RLE runs cover {n} pixels but size {rle_size} has {total}").format(
                          n=sum(runs), rle_size=f"[{h}, {w}]", total=h * w))
            return False
        if sum(runs[1::2]) == 0:
            ctx.warn(ann_rel, where, N_("empty RLE mask (no foreground pixel)"))
        return True
    ctx.error(ann_rel, where, N_("must be a list of polygons or an RLE object, got {type}").format(
        type=type(seg).__name__))
    return False


def rle_counts(counts: str | bytes | list) -> list[int]:
    """The run lengths of a COCO RLE, compressed (string) or not (list).

    pycocotools' C decoder writes past its buffer when the runs add up to more
    than height*width, so every RLE is checked with this pure-Python reading
    before it is handed to ``pycocotools.mask``. Raises ValueError when malformed.
    """
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise ValueError(N_("counts must be non-negative integers"))
        return counts
    s = counts.decode("ascii") if isinstance(counts, bytes) else counts
    if not isinstance(s, str):
        raise ValueError(N_("counts must be a string or a list of integers"))
    out: list[int] = []
    p = 0
    n = len(s)
    while p < n:
        x = 0
        k = 0
        more = True
        while more:
            if p >= n:
                raise ValueError(N_("compressed counts end in the middle of a number"))
            c = ord(s[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(N_("invalid character {char} in compressed counts").format(char=repr(s[p])))
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        if x < 0:
            raise ValueError(N_("compressed counts decode to a negative run"))
        out.append(x)
    return out
