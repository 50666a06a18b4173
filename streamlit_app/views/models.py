"""Models: upload a package (validated, then deployed by a worker), the list
with deploy status, and one model's detail."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from redis.exceptions import RedisError

from shared.core.errors import FieldError, TrainyardError
from shared.core.i18n import N_, _
from shared.records import TASK_TYPE_LABELS, Action, DeployStatus, ModelPackage
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
from streamlit_app.components.picker import pick_id
from streamlit_app.components.uploads import SERVER, upload_to_file, zip_fields

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
    z = zip_fields("md", s, label=_("Model package zip"), what=_("the model package"),
                   hint=_("train.py, predict.py, requirements.txt, weights/ (install_dependencies.sh optional)."))
    no_network = deps.refusal(Action.allow_network)
    if st.checkbox(_("Allow network access for training and prediction"), key="md_network",
                   disabled=no_network is not None, help=no_network):
        st.warning(_(NETWORK_WARNING), icon=":material/public:")
    st.checkbox(_("Launch training with torchrun (one process per GPU of a run)"), key="md_distributed",
                help=_("For code written for torch.distributed (e.g. MMDetection): each run starts "
                       "`torchrun --nproc-per-node N train.py`, N being the task's GPUs per run. Needs torch in "
                       "requirements.txt."))
    slot = st.empty()
    label = _("Import and deploy") if z.source == SERVER else _("Upload and deploy")
    if not st.button(label, key="md_add", type="primary", disabled=z.chosen is None or z.bad_type):
        return
    network = bool(st.session_state.get("md_network"))
    distributed = bool(st.session_state.get("md_distributed"))
    try:
        with st.spinner(_("validating the package")):
            if z.source == SERVER:
                with deps.session() as session:
                    model = import_model(session=session, settings=s, actor=deps.current_user(), file_name=z.chosen,
                                         name=z.name, task_type=z.task_type, network=network,
                                         distributed=distributed, visibility=z.visibility)
            else:
                with upload_to_file(z.file, tmp_root=s.data_dir / "tmp") as path, deps.session() as session:
                    model = add_model(session=session, settings=s, actor=deps.current_user(), zip_path=path,
                                      name=z.name, task_type=z.task_type, network=network, visibility=z.visibility,
                                      display_name=z.file.name, distributed=distributed)
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
    model_id = pick_id(_("Model"), {m.id: f"#{m.id} {m.name}" for m in models}, key="md_select")
    if (model := deps.fetch(get_model, model_id=model_id)) is None:
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
