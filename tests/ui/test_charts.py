"""The metric chart's pure parts: LTTB downsampling, x axes, nan/inf handling."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from streamlit_app.components.charts import (
    build_metric_figure,
    image_size_figure,
    lttb,
    resolve_axis,
    split_finite,
    x_values,
)


def _walk(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.arange(n, dtype=float), rng.normal(size=n).cumsum()


@pytest.mark.parametrize("size,n", [(10, 4), (1000, 10), (5001, 2000), (100_000, 2000), (7, 6)])
def test_lttb_returns_n_points_keeping_first_last_and_extremes(size, n):
    x, y = _walk(size, seed=size)
    y[size // 3] = 1e6     # a spike LTTB must not lose
    y[size // 2 + 1] = -1e6
    xs, ys = lttb(x, y, n)
    assert len(xs) == len(ys) == n
    assert xs[0] == x[0] and xs[-1] == x[-1]
    assert ys.max() == 1e6 and ys.min() == -1e6
    assert np.all(np.diff(xs) > 0), "points stay in x order, no duplicates"
    # Every kept point is an original point.
    assert np.array_equal(y[xs.astype(int)], ys)


def test_lttb_keeps_both_extremes_when_they_share_a_bucket():
    x, y = _walk(1000, seed=3)
    y[500], y[501] = 1e6, -1e6
    xs, ys = lttb(x, y, 10)
    assert len(xs) == 10 and 1e6 in ys and -1e6 in ys


def test_lttb_keeps_the_shape_of_a_sine_better_than_striding():
    x = np.linspace(0, 20 * math.pi, 20_000)
    y = np.sin(x)
    xs, ys = lttb(x, y, 400)
    assert ys.max() > 0.99 and ys.min() < -0.99  # peaks survive
    stride = y[:: len(y) // 400]
    assert abs(np.interp(x, xs, ys) - y).mean() <= abs(np.interp(x, x[:: len(y) // 400], stride) - y).mean()


def test_lttb_short_input_is_returned_unchanged_and_bad_input_refused():
    xs, ys = lttb([0, 1, 2], [5, 6, 7], 10)
    assert xs.tolist() == [0, 1, 2] and ys.tolist() == [5, 6, 7]
    with pytest.raises(ValueError, match="n >= 3"):
        lttb(range(10), range(10), 2)
    with pytest.raises(ValueError, match="differ in length"):
        lttb([1, 2, 3], [1, 2], 2)


@pytest.mark.parametrize("seqs,axis,expected", [
    ([0, 2, 4], ([0, 2, 4], [1.0, 2.0, 3.0]), [1.0, 2.0, 3.0]),        # printed on the same line
    ([1, 3, 5], ([0, 2, 4], [1.0, 2.0, 3.0]), [1.0, 2.0, 3.0]),        # val line after the epoch line
    ([0, 1], None, [0.0, 1.0]),                                         # never printed: the line number
    ([0, 5], ([3], [7.0]), [7.0, 7.0]),                                 # before the first: the first value
])
def test_x_values(seqs, axis, expected):
    assert x_values(seqs, axis).tolist() == expected


def test_resolve_axis_prefers_epoch_then_step():
    assert resolve_axis({1: {"loss": ([0], [1.0]), "step": ([0], [1.0])}}, "auto") == "step"
    assert resolve_axis({1: {"epoch": ([0], [1.0])}, 2: {"step": ([0], [1.0])}}, "auto") == "epoch"
    assert resolve_axis({1: {"loss": ([0], [1.0])}}, "auto") == "seq"
    assert resolve_axis({}, "step") == "step"
    with pytest.raises(ValueError):
        resolve_axis({}, "time")


def test_split_finite_marks_nan_and_inf():
    xs = np.array([0.0, 1, 2, 3, 4])
    ys = np.array([1.0, float("nan"), 3.0, float("inf"), float("-inf")])
    fx, fy, marks = split_finite(xs, ys)
    assert fx.tolist() == [0.0, 2.0] and fy.tolist() == [1.0, 3.0]
    assert marks == [(1.0, 1.0, "nan"), (3.0, 3.0, "+inf"), (4.0, 1.0, "-inf")]


def _traces(fig: go.Figure) -> dict[str, go.Scatter]:
    return {t.name: t for t in fig.data}


def test_build_metric_figure_overlays_runs_and_highlights_the_best():
    series = {
        1: {"loss": ([0, 1, 2], [0.9, 0.5, 0.3]), "epoch": ([0, 1, 2], [1.0, 2.0, 3.0])},
        2: {"loss": ([0, 1, 2], [0.8, 0.4, 0.2]), "epoch": ([0, 1, 2], [1.0, 2.0, 3.0])},
        3: {"acc": ([0], [0.5])},  # no loss: no trace
    }
    fig = build_metric_figure(series, "loss", best_run_id=2, x_axis="auto")
    t = _traces(fig)
    assert set(t) == {"run 1", "run 2 ★ best"}
    assert t["run 2 ★ best"].line.width > t["run 1"].line.width
    assert list(t["run 1"].x) == [1.0, 2.0, 3.0]
    assert fig.layout.xaxis.title.text == "epoch"


def test_build_metric_figure_survives_nan_and_inf():
    series = {7: {"loss": ([0, 1, 2, 3], [1.0, float("nan"), float("inf"), 0.5])}}
    fig = build_metric_figure(series, "loss", best_run_id=None, x_axis="seq")
    line, marks = fig.data
    assert list(line.y) == [1.0, 0.5]
    assert list(marks.x) == [1.0, 2.0] and list(marks.text) == ["nan", "+inf"]
    assert marks.marker.symbol == "x"
    fig.to_json()  # serialisable: no nan/inf left to break the browser's JSON


def test_build_metric_figure_all_nan_series_has_only_markers():
    fig = build_metric_figure({1: {"loss": ([0, 1], [float("nan"), float("nan")])}}, "loss", None, "seq")
    assert len(fig.data[0].y) == 0 and list(fig.data[1].text) == ["nan", "nan"]


def test_build_metric_figure_downsamples_long_series():
    x, y = _walk(50_000)
    y[123] = 1e6
    fig = build_metric_figure({1: {"loss": (x.astype(int).tolist(), y.tolist())}}, "loss", 1, "seq",
                              max_points=5000, downsample_to=1000)
    assert len(fig.data[0].y) == 1000 and max(fig.data[0].y) == 1e6
    assert "downsampled" in fig.layout.title.text


def test_image_size_figure_counts_repeated_sizes():
    fig = image_size_figure([(64, 48), (64, 48), (32, 32)])
    assert sorted(fig.data[0].text) == ["1 images", "2 images"]


def test_build_metric_figure_treats_null_values_as_nan():
    """A database that cannot keep NaN hands back NULL (None): it is marked like nan, not a crash."""
    fig = build_metric_figure({1: {"loss": ([0, 1, 2], [0.5, None, 0.25])}}, "loss", None, "seq")
    line, marks = fig.data
    assert list(line.y) == [0.5, 0.25] and list(marks.text) == ["nan"]
