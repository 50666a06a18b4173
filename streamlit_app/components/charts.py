"""Plotly figures for the pages. The metric chart is built by pure functions
(``lttb``, ``x_values``, ``build_metric_figure``) so it can be unit-tested and
benchmarked without Streamlit.

A long run prints tens of thousands of metric lines; a browser chart with that
many points per series is slow to draw and to update every two seconds, so each
series above ``MAX_POINTS`` is downsampled to ``DOWNSAMPLE_TO`` points with LTTB (largest triangle three
buckets), which keeps the shape, and the series' extremes are forced in so a loss
spike or the best accuracy never disappears from the chart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from shared.core.i18n import N_, _

MAX_POINTS = 5000  # a series longer than this is downsampled ...
DOWNSAMPLE_TO = 2000  # ... to this many points: a few per horizontal pixel of a chart
X_AXES = ("auto", "epoch", "step", "seq")
# epoch and step are metric names train.py prints (kept as printed); the line order is described.
_AXIS_TITLES = {"epoch": "epoch", "step": "step", "seq": N_("metrics line (order printed)")}
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf")

Series = Mapping[int, Mapping[str, tuple[Sequence[float], Sequence[float]]]]


def lttb(xs: Sequence[float], ys: Sequence[float], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Downsample to exactly ``n`` points (or all of them when there are fewer).

    Keeps the first and last point, picks one point per bucket by the largest
    triangle with its neighbours, then swaps the global minimum and maximum of
    ``ys`` into their buckets when LTTB passed them over. Input must be finite and
    sorted by x.
    """
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"xs and ys differ in length ({x.size} vs {y.size})")
    size = x.size
    if n >= size or size <= 2:
        return x.copy(), y.copy()
    if n < 3:
        raise ValueError("lttb needs n >= 3 to keep the first, last and one inner point")
    # Bucket b (0..n-3) holds the inner points [edges[b], edges[b+1]); slot b+1 of the result.
    edges = np.floor(np.linspace(1, size - 1, n - 1)).astype(int)
    # Each bucket's triangle uses the next bucket's mean as its third corner (the last point for the
    # last bucket); the means do not depend on earlier picks, so they are computed in one pass.
    bounds = np.append(edges, size)
    sums_x, sums_y = np.add.reduceat(x, bounds[:-1]), np.add.reduceat(y, bounds[:-1])
    widths = np.diff(bounds)
    mean_x, mean_y = (sums_x / widths).tolist(), (sums_y / widths).tolist()
    picked = np.empty(n, dtype=int)
    picked[0], picked[-1] = 0, size - 1
    px, py = float(x[0]), float(y[0])
    edges_l = edges.tolist()
    for b in range(n - 2):
        lo, hi = edges_l[b], edges_l[b + 1]
        ax, ay = mean_x[b + 1], mean_y[b + 1]
        # Twice the triangle area |(a-p) x (j-p)|, as a linear function of the candidate j.
        alpha, beta = ax - px, ay - py
        area = np.abs(alpha * y[lo:hi] - beta * x[lo:hi] - (alpha * py - beta * px))
        j = lo + int(area.argmax())
        picked[b + 1] = j
        px, py = float(x[j]), float(y[j])
    extremes = (int(np.argmin(y)), int(np.argmax(y)))
    for extreme in extremes:
        if np.any(picked == extreme):
            continue
        slot = int(np.searchsorted(edges, extreme, side="right"))  # picked[slot] came from its bucket
        if picked[slot] in extremes:
            # Both extremes share this bucket: the other one takes a neighbouring inner slot.
            slot = slot + 1 if slot + 1 < n - 1 else slot - 1
            if slot < 1 or picked[slot] in extremes:
                continue  # n == 3: one inner slot cannot hold two extremes
        picked[slot] = extreme
    picked.sort()
    return x[picked], y[picked]


def x_values(seqs: Sequence[int], axis_series: tuple[Sequence[int], Sequence[float]] | None) -> np.ndarray:
    """x for each metric point: the axis metric printed on the same line, else the
    last one printed before it (validation lines often follow the epoch line), else
    the first one printed; the line number when the run never printed the axis metric."""
    s = np.asarray(seqs, dtype=float)
    if axis_series is None or len(axis_series[0]) == 0:
        return s
    ax_seq = np.asarray(axis_series[0], dtype=float)
    ax_val = np.asarray(axis_series[1], dtype=float)
    idx = np.searchsorted(ax_seq, s, side="right") - 1
    idx = np.clip(idx, 0, len(ax_seq) - 1)
    return ax_val[idx]


def resolve_axis(series: Series, x_axis: str) -> str:
    """'auto' becomes epoch, then step, when any run printed it; else the line number."""
    if x_axis not in X_AXES:
        raise ValueError(f"x axis {x_axis!r}: use one of {', '.join(X_AXES)}")
    if x_axis != "auto":
        return x_axis
    for cand in ("epoch", "step"):
        if any(cand in metrics for metrics in series.values()):
            return cand
    return "seq"


def split_finite(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float, str]]]:
    """(finite xs, finite ys, [(x, y_for_marker, label)] for nan/inf points).

    A non-finite point is drawn as a marker at the nearest finite value before it
    (the series' extreme for +inf/-inf) so it is visible without wrecking the axis.
    """
    finite = np.isfinite(ys) & np.isfinite(xs)
    marks: list[tuple[float, float, str]] = []
    if finite.all():
        return xs, ys, marks
    fy = ys[finite]
    top = float(fy.max()) if fy.size else 0.0
    bottom = float(fy.min()) if fy.size else 0.0
    last = fy[0] if fy.size else 0.0
    for i in range(len(ys)):
        if finite[i]:
            last = ys[i]
            continue
        if not math.isfinite(xs[i]):
            continue  # no place on the x axis to mark it
        v = ys[i]
        label = "nan" if math.isnan(v) else ("+inf" if v > 0 else "-inf")
        marker_y = top if label == "+inf" else bottom if label == "-inf" else float(last)
        marks.append((float(xs[i]), marker_y, label))
    return xs[finite], ys[finite], marks


def build_metric_figure(series: Series, metric: str, best_run_id: int | None, x_axis: str = "auto", *,
                        labels: Mapping[int, str] | None = None, max_points: int = MAX_POINTS,
                        downsample_to: int = DOWNSAMPLE_TO) -> go.Figure:
    """One metric, every run overlaid; the best run drawn thicker; nan/inf marked with ✕."""
    axis = resolve_axis(series, x_axis)
    axis_title = _(_AXIS_TITLES[axis])
    fig = go.Figure()
    downsampled = 0
    for i, (run_id, metrics) in enumerate(sorted(series.items())):
        if metric not in metrics:
            continue
        seqs, values = metrics[metric]
        ys = np.asarray(values, dtype=float)
        xs = x_values(seqs, metrics.get(axis)) if axis != "seq" else np.asarray(seqs, dtype=float)
        xs, ys, marks = split_finite(xs, ys)
        if xs.size > 1 and np.any(np.diff(xs) < 0):
            order = np.argsort(xs, kind="stable")
            xs, ys = xs[order], ys[order]
        if xs.size > max_points:
            xs, ys = lttb(xs, ys, downsample_to)
            downsampled += 1
        best = run_id == best_run_id
        name = (labels or {}).get(run_id, _("run {id}", id=run_id)) + (" ★ " + _("best") if best else "")
        hover = f"{name}<br>{axis_title}=%{{x}}<br>{metric}=%{{y}}<extra></extra>"
        colour = _PALETTE[i % len(_PALETTE)]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines+markers" if xs.size <= 60 else "lines", name=name, legendgroup=str(run_id),
            line={"width": 4 if best else 1.5, "color": colour}, opacity=1.0 if best or best_run_id is None else 0.7,
            marker={"size": 5}, hovertemplate=hover))
        if marks:
            fig.add_trace(go.Scatter(
                x=[m[0] for m in marks], y=[m[1] for m in marks], mode="markers", name=f"{name}: nan/inf",
                legendgroup=str(run_id), showlegend=False, text=[m[2] for m in marks],
                marker={"symbol": "x", "size": 11, "color": "#d62728", "line": {"width": 1}},
                hovertemplate=f"{name}<br>{axis_title}=%{{x}}<br>{metric}=%{{text}}<extra></extra>"))
    title = metric + (" " + _("(long series downsampled to {n} points)", n=downsample_to) if downsampled else "")
    fig.update_layout(title=title, xaxis_title=axis_title, yaxis_title=metric, height=360,
                      margin={"l": 40, "r": 10, "t": 40, "b": 40}, legend={"orientation": "h", "y": -0.25},
                      uirevision=metric)  # keeps zoom while the fragment refreshes
    return fig


def resources_figure(samples: Mapping[int, Sequence[object]], *, labels: Mapping[int, str] | None = None
                     ) -> go.Figure:
    """CPU %, RSS, GPU utilisation and GPU memory over time, per run (ResourceSample rows)."""
    has_gpu = any(getattr(s, "gpu_util", None) is not None for rows in samples.values() for s in rows)
    panels = [_("CPU %"), _("memory (RSS, MiB)")] + ([_("GPU util %"), _("GPU memory (MiB)")] if has_gpu else [])
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=panels)
    for i, (run_id, rows) in enumerate(sorted(samples.items())):
        if not rows:
            continue
        colour = _PALETTE[i % len(_PALETTE)]
        name = (labels or {}).get(run_id, _("run {id}", id=run_id))
        t = [r.t for r in rows]
        cols = [[r.cpu_percent for r in rows], [r.rss_bytes / 2**20 for r in rows]]
        if has_gpu:
            cols += [[r.gpu_util for r in rows],
                     [(r.gpu_mem_bytes / 2**20) if r.gpu_mem_bytes is not None else None for r in rows]]
        for c, ys in enumerate(cols, start=1):
            # Markers while samples are few: one sample alone draws no line.
            mode = "lines+markers" if len(t) < 20 else "lines"
            fig.add_trace(go.Scatter(x=t, y=ys, mode=mode, name=name, legendgroup=str(run_id),
                                     showlegend=c == 1, line={"color": colour}), row=1, col=c)
    fig.update_xaxes(title_text=_("seconds since run start"))
    fig.update_layout(height=300, margin={"l": 40, "r": 10, "t": 40, "b": 40}, uirevision="resources")
    return fig


def bar_figure(counts: Mapping[str, int], *, title: str, x_title: str, y_title: str) -> go.Figure:
    names = list(counts)
    fig = go.Figure(go.Bar(x=names, y=[counts[n] for n in names]))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=320,
                      margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return fig


def image_size_figure(sizes: Sequence[tuple[int, int]]) -> go.Figure:
    """Width × height scatter (marker size = how many images share it)."""
    counts: dict[tuple[int, int], int] = {}
    for w, h in sizes:
        counts[(w, h)] = counts.get((w, h), 0) + 1
    keys = list(counts)
    n = [counts[k] for k in keys]
    peak = max(n) if n else 1
    fig = go.Figure(go.Scatter(
        x=[k[0] for k in keys], y=[k[1] for k in keys], mode="markers", text=[_("{n} images", n=c) for c in n],
        marker={"size": [8 + 22 * math.sqrt(c / peak) for c in n], "opacity": 0.7},
        hovertemplate="%{x} × %{y}<br>%{text}<extra></extra>"))
    fig.update_layout(title=_("Image sizes ({n} sampled)", n=len(sizes)), xaxis_title=_("width (px)"),
                      yaxis_title=_("height (px)"), height=320, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return fig
