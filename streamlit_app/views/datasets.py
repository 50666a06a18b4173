"""Datasets: upload (with progress and every validation error), the list, and
one dataset's detail with a Start-training shortcut."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from shared.core.errors import FieldError, TrainyardError
from shared.core.i18n import _, fmt_number
from shared.core.relocalize import relocalize
from shared.core.settings import format_size
from shared.records import TASK_TYPE_LABELS, Action, Dataset
from shared.services.datasets import add_dataset, delete_dataset, get_dataset, list_datasets
from shared.services.imports import import_dataset
from streamlit_app.components import deps
from streamlit_app.components.alerts import show_error
from streamlit_app.components.confirm import delete_button
from streamlit_app.components.dataset_view import render_dataset
from streamlit_app.components.picker import pick_id
from streamlit_app.components.uploads import SERVER, upload_to_file, zip_fields


def _upload() -> None:
    s = deps.settings()
    z = zip_fields("ds", s, label=_("Dataset zip"), what=_("the dataset"))
    error_slot = st.empty()
    label = _("Import and validate") if z.source == SERVER else _("Upload and validate")
    if not st.button(label, key="ds_add", type="primary", disabled=z.chosen is None or z.bad_type):
        return
    bar = st.progress(0.0, text=_("copying") if z.source == SERVER else _("uploading"))

    def progress(stage: str, frac: float) -> None:
        # The service and the validator report their stage in English (catalog templates): shown translated.
        bar.progress(min(max(frac, 0.0), 1.0), text=relocalize(stage))

    try:
        if z.source == SERVER:
            with deps.session() as session:
                ds = import_dataset(session=session, settings=s, actor=deps.current_user(), file_name=z.chosen,
                                    name=z.name, task_type=z.task_type, visibility=z.visibility, progress=progress)
        else:
            with upload_to_file(z.file, tmp_root=s.data_dir / "tmp") as path, deps.session() as session:
                ds = add_dataset(session=session, settings=s, actor=deps.current_user(), zip_path=path,
                                 name=z.name, task_type=z.task_type, visibility=z.visibility, progress=progress,
                                 display_name=z.file.name)
    except FieldError as exc:
        error_slot.error(exc.localized())
    except TrainyardError as exc:
        with error_slot.container():
            show_error(exc, prefix=_("The dataset was rejected; nothing was stored."))
    else:
        st.session_state["ds_added"] = _("Dataset {id} added: {name} ({images} images)", id=ds.id, name=ds.name,
                                           images=fmt_number(ds.images))
        st.query_params["id"] = str(ds.id)
        st.session_state["ds_select"] = ds.id  # the selectbox below follows the new dataset
        st.rerun()
    finally:
        bar.empty()


def _delete(dataset_id: int) -> None:
    with deps.session() as session:
        delete_dataset(session=session, settings=deps.settings(), actor=deps.current_user(), dataset_id=dataset_id)
    st.query_params.clear()


def render() -> None:
    st.title(_("Datasets"))
    if msg := st.session_state.pop("ds_added", None):
        st.success(msg)
    with deps.session() as session:
        datasets = list_datasets(session=session, actor=deps.current_user())
    if deps.can(Action.create, Dataset):
        with st.expander(_("Add a dataset"), expanded=not datasets):
            _upload()
    if not datasets:
        st.info(_("No datasets yet. Upload a zip above, or load the examples on the Home page."))
        return
    st.dataframe(pd.DataFrame([{"id": d.id, _("name"): d.name, _("task type"): _(TASK_TYPE_LABELS[d.task_type]),
                                _("images"): d.images, _("size"): format_size(d.size_bytes),
                                _("warnings"): len((d.report or {}).get("warnings", [])),
                                _("uploaded"): d.created_at.strftime("%Y-%m-%d %H:%M")} for d in datasets]),
                 hide_index=True, key="ds_table")
    ds_id = pick_id(_("Dataset"), {d.id: f"#{d.id} {d.name}" for d in datasets}, key="ds_select")
    if (ds := deps.fetch(get_dataset, dataset_id=ds_id)) is None:
        return
    st.header(ds.name)
    c1, c2, _x = st.columns([1, 1, 3])
    if c1.button(_("Start training"), key="ds_train", type="primary", icon=":material/rocket_launch:"):
        st.session_state["task_new_dataset"] = ds.id
        st.switch_page("views/task_new.py")
    delete_button(_("dataset #{id} {name}", id=ds.id, name=ds.name), key="ds_delete", container=c2,
                  on_confirm=lambda: _delete(ds.id), refused=deps.refusal(Action.delete, ds))
    render_dataset(ds, deps.settings())


render()
