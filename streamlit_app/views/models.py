"""Models: upload a package (validated, then deployed by a worker), the list
with deploy status, and one model's detail."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from redis.exceptions import RedisError

from shared.core.errors import FieldError, NotFoundError, TrainyardError
from shared.core.i18n import N_, _
from shared.records import TASK_TYPE_LABELS, Action, DeployStatus, ModelPackage, TaskType
from shared.services.imports import import_model
from shared.services.models import (
    add_model,
    code_metric_names,
    delete_model,
    get_model,
    list_models,
    metric_suggestions,
    model_summary,
    queue_deploy,
    redeploy_model,
)
from streamlit_app.components import deps
from streamlit_app.components import model_view as mv
from streamlit_app.components.alerts import show_error
from streamlit_app.components.badges import status_cell, styled
from streamlit_app.components.confirm import delete_button
from streamlit_app.components.ownership import visibility_choice
from streamlit_app.components.uploads import (
    SERVER,
    choose_source,
    pick_server_file,
    upload_caption,
    upload_to_file,
    wrong_type,
)

NETWORK_WARNING = N_("With network on, this model's training and prediction runs can reach the internet "
                     "(download weights, send data out). Turn it on only for code you trust.")


def _enqueue(model_id: int) -> None:
    try:
        queue_deploy(connection=deps.redis(), model_id=model_id)
    except (RedisError, OSError) as exc:
        st.session_state["md_notice"] = _("Model {id} is saved but its deploy could not be queued ({error}); "
                                          "the worker's reconciler queues it once Redis is back.", id=model_id,
                                          error=exc)


def _upload() -> None:
    s = deps.settings()
    source = choose_source("md_source", s)
    bad_type = False
    if source == SERVER:
        chosen = pick_server_file("md_server_file", s)
        file = None
    else:
        # Any file is taken and its extension checked here: the type= filter explains itself only in a tooltip.
        file = st.file_uploader(_("Model package zip"), key="md_upload",
                                help=_("train.py, predict.py, requirements.txt, weights/ (install_dependencies.sh "
                                       "optional).") + " " + upload_caption(s))
        st.caption(upload_caption(s))
        bad_type = wrong_type(file, exts=(".zip",), what=_("the model package"))
        chosen = file.name if file else None
    default = chosen.rsplit(".", 1)[0] if chosen else ""
    c1, c2 = st.columns(2)
    name = c1.text_input(_("Name"), key="md_name", placeholder=default)
    ttype = c2.selectbox(_("Task type"), list(TaskType), format_func=lambda t: _(TASK_TYPE_LABELS[t]), key="md_type")
    visibility = visibility_choice("md_visibility")
    no_network = deps.refusal(Action.allow_network)
    if st.checkbox(_("Allow network access for training and prediction"), key="md_network",
                   disabled=no_network is not None, help=no_network):
        st.warning(_(NETWORK_WARNING), icon=":material/public:")
    st.checkbox(_("Launch training with torchrun (one process per GPU of a run)"), key="md_distributed",
                help=_("For code written for torch.distributed (e.g. MMDetection): each run starts "
                       "`torchrun --nproc-per-node N train.py`, N being the task's GPUs per run. Needs torch in "
                       "requirements.txt."))
    slot = st.empty()
    label = _("Import and deploy") if source == SERVER else _("Upload and deploy")
    if not st.button(label, key="md_add", type="primary", disabled=chosen is None or bad_type):
        return
    network = bool(st.session_state.get("md_network"))
    distributed = bool(st.session_state.get("md_distributed"))
    try:
        with st.spinner(_("validating the package")):
            if source == SERVER:
                with deps.session() as session:
                    model = import_model(session=session, settings=s, actor=deps.current_user(), file_name=chosen,
                                         name=name or default, task_type=ttype, network=network,
                                         distributed=distributed, visibility=visibility)
            else:
                with upload_to_file(file, tmp_root=s.data_dir / "tmp") as path, deps.session() as session:
                    model = add_model(session=session, settings=s, actor=deps.current_user(), zip_path=path,
                                      name=name or default, task_type=ttype, network=network, visibility=visibility,
                                      display_name=file.name, distributed=distributed)
    except FieldError as exc:
        slot.error(exc.localized())
        return
    except TrainyardError as exc:
        with slot.container():
            show_error(exc, prefix=_("The package was rejected; nothing was stored."))
        return
    _enqueue(model.id)
    st.query_params["id"] = str(model.id)
    st.session_state["md_select"] = model.id
    st.rerun()


def _actions(model) -> None:
    c1, c2, _x = st.columns([1, 1, 3])
    busy = model.status in (DeployStatus.waiting, DeployStatus.deploying)
    refused = deps.refusal(Action.change, model)
    if c1.button(_("Redeploy"), key="md_redeploy", icon=":material/refresh:", disabled=busy or refused is not None,
                 help=_("a deploy is queued or running") if busy else refused):
        try:
            with deps.session() as s:
                redeploy_model(session=s, connection=deps.redis(), actor=deps.current_user(), model_id=model.id)
        except TrainyardError as exc:
            st.error(exc.localized())
        except (RedisError, OSError) as exc:
            st.error(_("Redis is not reachable ({error}), so the deploy cannot be queued. Start the platform "
                       "with `make run` (or `python -m runner up`) and redeploy again.", error=exc))
        else:
            st.rerun()
    delete_button(_("model #{id} {name}", id=model.id, name=model.name), key="md_delete", container=c2,
                  on_confirm=lambda: _delete(model.id), refused=refused)


def _delete(model_id: int) -> None:
    with deps.session() as s:
        delete_model(session=s, settings=deps.settings(), actor=deps.current_user(), model_id=model_id)
    st.query_params.clear()


def render() -> None:
    st.title(_("Models"))
    if notice := st.session_state.pop("md_notice", None):
        st.warning(notice)
    with deps.session() as s:
        models = list_models(session=s, actor=deps.current_user())
    if deps.can(Action.create, ModelPackage):
        with st.expander(_("Add a model package"), expanded=not models):
            _upload()
    if not models:
        st.info(_("No models yet. Upload a zip above, or load the examples on the Home page."))
        return
    st.dataframe(styled(pd.DataFrame([{"id": m.id, _("name"): m.name,
                                       _("task type"): _(TASK_TYPE_LABELS[m.task_type]),
                                       _("status"): status_cell(m.status), _("network"): _("on") if m.network else "",
                                       _("uploaded"): m.created_at.strftime("%Y-%m-%d %H:%M")} for m in models]),
                        _("status")),
                 hide_index=True, key="md_table")
    ids = [m.id for m in models]
    if st.session_state.get("md_select") not in ids:  # entering the page: the link's ?id= picks the item
        wanted = st.query_params.get("id")
        st.session_state["md_select"] = int(wanted) if wanted and wanted.isdigit() and int(wanted) in ids else ids[0]
    model_id = st.selectbox(_("Model"), ids, key="md_select",
                            format_func=lambda i: f"#{i} {next(m.name for m in models if m.id == i)}")
    st.query_params["id"] = str(model_id)
    try:
        with deps.session() as s:
            model = get_model(session=s, model_id=model_id, actor=deps.current_user())
    except NotFoundError as exc:
        st.error(exc.localized())
        return
    st.header(model.name)
    if model.network:
        st.warning(_(NETWORK_WARNING), icon=":material/public:")
    _actions(model)
    if model.status in (DeployStatus.waiting, DeployStatus.deploying):
        mv.live_deploy(model.id)
    else:
        mv.deploy_status(model)
    summary = model_summary(model)
    tabs = st.tabs([_("Parameters"), _("Metrics"), _("Files"), _("Environment"), _("Templates"), _("Deploy log")])
    with tabs[0]:
        mv.parameters(summary)
    with tabs[1]:
        with deps.session() as s:
            mv.metric_names(metric_suggestions(session=s, settings=deps.settings(), model=model),
                            code_metric_names(settings=deps.settings(), model=model))
    with tabs[2]:
        st.code("\n".join(mv.tree_lines((model.report or {}).get("tree", []))) or _("(empty)"), language=None)
    with tabs[3]:
        mv.environment(summary, (model.report or {}).get("requirements") or {})
    with tabs[4]:
        mv.templates(model)
    with tabs[5]:
        mv.deploy_log(model)


render()
