"""Figure 5: chart cost. The time to build the task page's metric figure
(``streamlit_app.components.charts.build_metric_figure``) and to serialise it
the way ``st.plotly_chart`` does (``plotly.io.to_json(fig, validate=False)``),
for 1, 10 and 100k points per series: four runs overlaid, each printing
``epoch`` on its metric lines, so the page's auto x axis (epoch) is used."""

from __future__ import annotations

import time

import numpy as np

from bench.config import Config
from bench.report import Goal, Row

RUNS = 4


def series(points: int, *, runs: int = RUNS, seed: int = 0) -> dict[int, dict[str, tuple[list[int], list[float]]]]:
    """What ``shared.services.task_metrics.metric_series`` returns for ``runs`` runs of ``points`` metric lines each."""
    rng = np.random.default_rng(seed)
    out: dict[int, dict[str, tuple[list[int], list[float]]]] = {}
    for run_id in range(1, runs + 1):
        seqs = list(range(points))
        per_epoch = max(1, points // 100)
        epochs = [float(s // per_epoch) for s in seqs]
        loss = (1.0 / (1 + np.arange(points) / max(1, points / 20)) + rng.normal(0, 0.02, points)).tolist()
        out[run_id] = {"loss": (seqs, loss), "epoch": (seqs, epochs)}
    return out


def build_seconds(data, *, serialise: bool) -> float:
    import plotly.io

    from streamlit_app.components.charts import build_metric_figure

    labels = {rid: f"run {rid}" for rid in data}
    t0 = time.perf_counter()
    fig = build_metric_figure(data, "loss", 2, "auto", labels=labels)
    if serialise:
        plotly.io.to_json(fig, validate=False)
    return time.perf_counter() - t0


def run(cfg: Config) -> list[Row]:
    reps = cfg.size(10, 3)
    rows = []
    build_seconds(series(10), serialise=True)  # imports and plotly's first-use set-up, not a page's cost
    for points in (1, 10, 100_000):
        data = series(points)
        built = Row("5", f"chart: build + serialise, {points:,} points × {RUNS} runs", unit=" s",
                    goal=Goal("<=", 1.0, " s") if points == 100_000 else None)
        only = []
        for _ in range(reps):
            built.values.append(build_seconds(data, serialise=True))
            only.append(build_seconds(data, serialise=False))
        only.sort()
        built.note = f"of which building the figure {only[len(only) // 2]:.3f} s (median)"
        rows.append(built)
    return rows
