"""The ``key: value`` metric-line parser (CONTRACT §2.5).

A metrics line is comma-separated ``key: value`` pairs::

    bbox_mAP: 0.0830, bbox_mAP_50: 0.2360, loss: 0.2754

Each comma-separated segment is matched at its end, so a logging prefix
(``2024-05-01 12:00:01 INFO epoch: 3``) still yields ``epoch: 3``. Values are
numbers, including ``nan`` and ``inf``, which are kept as such. A line that
looks like metrics in another form (``loss=0.3``) is reported as *unparsed*
so the UI can show the expected form.
"""

from __future__ import annotations

import re

_NUM = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|NaN|NAN|inf|Inf|INF|infinity|Infinity)"
# The lookbehinds make a key start only at a word boundary, so a match is
# tried once per key, not once per character: linear time, however long the line.
_PAIR_RE = re.compile(r"(?<![\w./\-\[\]])([A-Za-z_][\w./\-\[\]]*)[ \t]*:[ \t]*(" + _NUM + r")[ \t\r]*(?=,|$)")
_LOOKS_LIKE_RE = re.compile(r"(?<![\w./\-])[A-Za-z_][\w./\-]*\s*(?:=|:)\s*[-+]?(?:\d|\.\d|nan|inf)",
                            re.IGNORECASE)


def parse_line(line: str) -> dict[str, float]:
    """All ``key: value`` pairs of one line, in order; {} when it has none."""
    if ":" not in line:
        return {}
    if len(line) > 65536:
        line = line[:65536]  # lines are cut far below this by the executor; a bound for other callers
    # One pass: a pair counts when it ends its comma-separated segment.
    return {key: float(value) for key, value in _PAIR_RE.findall(line)}


def looks_like_metrics(line: str) -> bool:
    """True for lines such as ``loss=0.3`` that carry numbers but not in our form."""
    return bool(_LOOKS_LIKE_RE.search(line[:4096]))


_LOWER_IS_BETTER = ("loss", "error", "err", "mse", "mae", "rmse", "cer", "wer", "perplexity", "ppl",
                    "time", "latency", "fpr", "fnr", "nll", "distance")


def guess_direction(metric: str) -> str:
    """'min' for loss/error-like names, else 'max'."""
    name = metric.lower()
    return "min" if any(tok in name for tok in _LOWER_IS_BETTER) else "max"
