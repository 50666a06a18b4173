"""Tasks: filter, page through and open the training tasks."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from shared.core.i18n import _, current_language
from shared.records import TaskStatus
from shared.services.datasets import list_datasets
from shared.services.models import list_models
from shared.services.task_list import TaskFilter, list_tasks
from streamlit_app.components import deps
from streamlit_app.components.badges import status_cell, status_label, styled
from streamlit_app.components.formats import duration, run_counts, score

PAGE_SIZE = 50


def _row(r: dict) -> dict:
    done = r["epoch_done"]
    return {"id": r["id"], _("name"): r["name"], _("status"): status_cell(r["status"]),
            _("progress"): _("{done}/{epochs} epochs", done=f"{done:g}" if done is not None else "–",
                             epochs=r["epochs"]),
            _("runs"): f"{sum(r['runs'].values())}/{r['runs_total']}: {run_counts(r['runs'])}",
            _("best score"): (f"{score(r['best_score'])} ({r['eval_metric']})" if r["best_score"] is not None
                              else "—"),
            _("model"): r["model"], _("dataset"): r["dataset"], _("duration"): duration(r["duration_s"]),
            _("started"): r["started_at"] or _("not yet"),
            _("open"): f"task?id={r['id']}&lang={current_language().value}"}


def render() -> None:
    st.title(_("Training tasks"))
    if notice := st.session_state.pop("tasks_notice", None):  # left by the task page's Delete
        st.success(notice, icon=":material/delete:")
    st.page_link("views/task_new.py", label=_("New task"), icon=":material/add_circle:")
    with deps.session() as s:
        models = {m.id: m.name for m in list_models(session=s, actor=deps.current_user())}
        datasets = {d.id: d.name for d in list_datasets(session=s, actor=deps.current_user())}
    c = st.columns([1, 1, 1, 2])
    status = c[0].selectbox(_("Status"), [None, *[t.value for t in TaskStatus]], key="tl_status",
                            format_func=lambda v: _("any") if v is None else status_label(v))
    model = c[1].selectbox(_("Model"), [None, *models], key="tl_model",
                           format_func=lambda v: _("any") if v is None else f"#{v} {models[v]}")
    dataset = c[2].selectbox(_("Dataset"), [None, *datasets], key="tl_dataset",
                             format_func=lambda v: _("any") if v is None else f"#{v} {datasets[v]}")
    search = c[3].text_input(_("Name contains"), key="tl_search")
    flt = TaskFilter(status=status, model_id=model, dataset_id=dataset, search=search or None)
    with deps.session() as s:
        _rows, total = list_tasks(session=s, actor=deps.current_user(), flt=flt, offset=0, limit=0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = st.number_input(_("Page (of {pages}; {total} tasks)", pages=pages, total=total), min_value=1,
                           max_value=pages, value=1, step=1, key="tl_page")
    with deps.session() as s:
        rows, total = list_tasks(session=s, actor=deps.current_user(), flt=flt, offset=(int(page) - 1) * PAGE_SIZE,
                                  limit=PAGE_SIZE)
    if not rows:
        st.info(_("No tasks match.") if total or any([status, model, dataset, search]) else
                _("No tasks yet: create one from a dataset's page or with New task."))
        return
    table = pd.DataFrame([_row(r) for r in rows])
    picked = st.dataframe(
        styled(table, _("status")), hide_index=True, key="tl_table", on_select="rerun", selection_mode="single-row",
        column_config={_("open"): st.column_config.LinkColumn(_("open"), display_text=_("open ›")),
                       "id": st.column_config.NumberColumn("id", format="%d")})
    chosen = picked.selection.rows if picked is not None and hasattr(picked, "selection") else []
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    ids = [r["id"] for r in rows]
    target = c1.selectbox(_("Open a task"), ids, index=chosen[0] if chosen else 0, key="tl_open_id",
                          format_func=lambda i: f"#{i} {next(r['name'] for r in rows if r['id'] == i)}")
    if c2.button(_("Open"), key="tl_open", type="primary") or chosen:
        st.switch_page("views/task.py", query_params={"id": str(ids[chosen[0]] if chosen else target)})


render()
