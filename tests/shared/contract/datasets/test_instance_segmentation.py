"""COCO RLE counts read in pure Python before pycocotools sees them (its decoder overruns on bad runs)."""

from __future__ import annotations

import numpy as np
import pytest

from shared.contract.datasets import rle_counts


@pytest.mark.parametrize(("counts", "expected"), [
    ([], []),
    ([3, 0, 4], [3, 0, 4]),
    ("0", [0]),
    ("3:1", [3, 10, 1]),
])
def test_rle_counts(counts, expected):
    # "3:1" are the runs 3, 10, 1 in COCO's compressed form (third run is a delta of the first).
    assert rle_counts(counts) == expected


def test_rle_counts_match_pycocotools():
    from pycocotools import mask as mask_utils

    m = np.zeros((13, 17), np.uint8, order="F")
    m[2:9, 3:12] = 1
    m[10:, :4] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    runs = rle_counts(rle["counts"])
    assert sum(runs) == 13 * 17
    assert sum(runs[1::2]) == int(m.sum())
