"""The Search tab's parallel-coordinates chart, drawn in SVG.

Optuna's ``plot_parallel_coordinate`` is a Plotly ``parcoords`` trace, which is
WebGL: where the browser has no WebGL (no GPU, a remote desktop, a locked-down
Chromium) it draws the axes and no lines. Here each trial is an ordinary
``go.Scatter`` line across one vertical axis per searched parameter plus the
score; every axis is scaled to 0..1 and labelled with its real low and high
values, so the chart reads the same everywhere."""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from shared.core.i18n import _

COLORSCALE = "Viridis"
BEST_COLOR = "#e8590c"


def _axis(values: list[Any], *, log: bool) -> tuple[list[float], str, str]:
    """Values on 0..1, and the labels of the axis's bottom and top."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        nums = [math.log10(v) if log and v > 0 else float(v) for v in values]
        lo, hi = min(nums), max(nums)
        span = hi - lo
        scaled = [0.5 if span == 0 else (v - lo) / span for v in nums]
        lo_v, hi_v = min(values), max(values)
        return scaled, f"{lo_v:.4g}", f"{hi_v:.4g}"
    order = sorted({str(v) for v in values})
    pos = {c: (0.5 if len(order) == 1 else i / (len(order) - 1)) for i, c in enumerate(order)}
    return [pos[str(v)] for v in values], order[0], order[-1]


def parallel_figure(trials: list[Any], *, params: list[str], log_params: set[str], maximize: bool,
                    score_name: str = "score") -> go.Figure:
    """``trials``: finished Optuna trials (``.number``, ``.params``, ``.value``), one line each."""
    trials = [t for t in trials if t.value is not None and math.isfinite(t.value)]
    names = [p for p in params if any(p in t.params for t in trials)]
    axes = [*names, score_name]
    columns: dict[str, list[float]] = {}
    labels: dict[str, tuple[str, str]] = {}
    for name in names:
        vals = [t.params.get(name) for t in trials]
        present = [v for v in vals if v is not None]
        scaled, lo, hi = _axis(present, log=name in log_params)
        it = iter(scaled)
        columns[name] = [next(it) if v is not None else math.nan for v in vals]
        labels[name] = (lo, hi)
    scores = [t.value for t in trials]
    columns[score_name], lo, hi = _axis(scores, log=False)
    labels[score_name] = (lo, hi)
    best = (max if maximize else min)(range(len(trials)), key=lambda i: scores[i]) if trials else None
    # Colour by score, better = brighter, whichever the direction.
    good = [s if maximize else -s for s in columns[score_name]]
    colors = sample_colorscale(COLORSCALE, [(g - min(good)) / ((max(good) - min(good)) or 1) for g in good]) \
        if trials else []
    fig = go.Figure()
    for i, t in enumerate(trials):
        is_best = i == best
        hover = "<br>".join([_("trial {n}", n=t.number), *(f"{n} = {t.params.get(n)}" for n in names),
                             f"{score_name} = {t.value:.6g}"])
        fig.add_trace(go.Scatter(
            x=axes, y=[columns[a][i] for a in axes], mode="lines+markers", name=_("trial {n}", n=t.number),
            line={"color": BEST_COLOR if is_best else colors[i], "width": 4 if is_best else 2},
            marker={"size": 7 if is_best else 5}, hovertext=hover, hoverinfo="text", showlegend=is_best))
    for a in axes:
        fig.add_shape(type="line", x0=a, x1=a, y0=0, y1=1, xref="x", yref="y",
                      line={"color": "rgba(128,128,128,0.6)", "width": 1}, layer="below")
        lo, hi = labels[a]
        fig.add_annotation(x=a, y=1.0, text=hi, showarrow=False, yshift=12, font={"size": 11})
        fig.add_annotation(x=a, y=0.0, text=lo, showarrow=False, yshift=-12, font={"size": 11})
    fig.update_layout(
        title={"text": _("Parallel coordinates (each line is a run; the best in orange)")},
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": axes, "showgrid": False},
        yaxis={"visible": False, "range": [-0.12, 1.12]}, height=420, margin={"l": 40, "r": 40, "t": 60, "b": 40},
        legend={"orientation": "h", "y": -0.15}, hovermode="closest")
    return fig
