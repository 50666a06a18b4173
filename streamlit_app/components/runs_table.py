"""The task page's runs table: what each run tried and how it went.

Searched parameters come first, one column each with the full value, and the
best run's values are highlighted: that row is the answer to the search.
Parameters that are the same for every run are said once above the table.
Each column is as wide as its longest cell, so nothing is cut off."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from shared.core.i18n import N_, _
from shared.core.relocalize import relocalize
from shared.records import Run, Task
from streamlit_app.components.badges import status_cell, status_colour
from streamlit_app.components.formats import between, duration, first_line, params_text, score

BEST_CSS = "background-color: rgba(255, 196, 0, 0.30); font-weight: 600"
_PX_PER_CHAR = 8.5  # the data grid's 14 px font, with room for wide glyphs
_MIN_W, _MAX_W = 48, 520
# The frame keeps English column keys (the styling and the tests name them); the grid shows these headers.
HEADERS = {"best": N_("best"), "run": N_("run"), "status": N_("status"), "score": N_("score"),
           "duration": N_("duration"), "lines": N_("lines"), "device": N_("device"), "reason": N_("reason")}


def searched_names(task: Task) -> list[str]:
    return [name for name, p in task.params.items() if isinstance(p, dict) and p.get("search")]


def fixed_params(task: Task) -> dict[str, Any]:
    return {name: (p.get("value") if isinstance(p, dict) else p) for name, p in task.params.items()
            if not (isinstance(p, dict) and p.get("search"))}


def value_text(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def runs_frame(task: Task, runs: list[Run], *, best: int | None, now: datetime,
               epochs: dict[int, float] | None = None) -> pd.DataFrame:
    """One row per run; the searched parameters right after the run number."""
    searched = searched_names(task)
    epochs = epochs or {}
    rows = []
    for r in runs:
        row: dict[str, Any] = {"best": "★" if r.id == best else "", "run": r.index + 1}
        row.update({name: value_text(r.params.get(name)) for name in searched})
        if epochs:  # only when train.py prints an `epoch` metric
            row["epoch"] = f"{epochs[r.id]:g}/{task.epochs}" if r.id in epochs else ""
        row.update({
            "status": status_cell(r.status), "score": _("never printed") if r.score_missing else score(r.score),
            "duration": duration(between(r.started_at, r.finished_at, now)), "lines": r.lines,
            "device": r.device or "", "id": r.id, "reason": first_line(relocalize(r.reason))})
        rows.append(row)
    return pd.DataFrame(rows)


def column_widths(df: pd.DataFrame) -> dict[str, int]:
    """Pixels per column: its longest cell or its header, whichever is longer."""
    out = {}
    for col in df.columns:
        longest = max([len(str(col)), *(len(str(v)) for v in df[col])])
        out[col] = int(min(_MAX_W, max(_MIN_W, longest * _PX_PER_CHAR + 28)))
    return out


def _highlight_best(df: pd.DataFrame, searched: list[str], best: int | None):
    def style(row: pd.Series) -> list[str]:
        on = best is not None and row["id"] == best
        return [BEST_CSS if on and (col in searched or col in ("best", "score")) else "" for col in row.index]

    styler = df.style.apply(style, axis=1)
    # The status text is coloured (no emoji dots: they show as boxes without an emoji font).
    return styler.map(status_colour, subset=["status"]) if "status" in df.columns else styler


def render(task: Task, runs: list[Run], *, best: int | None, now: datetime,
           epochs: dict[int, float] | None = None) -> None:
    fixed = fixed_params(task)
    searched = searched_names(task)
    same = _("The same for every run: `{params}`", params=params_text(fixed)) if fixed else ""
    if searched:
        st.caption(_("Searched: **{names}** (their own columns, the best run's values highlighted).",
                     names=", ".join(searched)) + (" " + same if same else ""))
    elif fixed:
        st.caption(same)
    df = runs_frame(task, runs, best=best, now=now, epochs=epochs)
    widths = column_widths(df)
    config = {col: st.column_config.Column(_(HEADERS[col]) if col in HEADERS else col, width=w)
              for col, w in widths.items()}
    config["lines"] = st.column_config.NumberColumn(_(HEADERS["lines"]), width=widths["lines"])
    config["id"] = st.column_config.NumberColumn("id", width=widths["id"], format="%d")
    st.dataframe(_highlight_best(df, searched, best), hide_index=True, key=f"tk{task.id}_runs_table",
                 column_config=config)
