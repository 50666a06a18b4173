"""Predict: pick a completed task, a run and its weights file, upload images,
and see input | output side by side, live while predict.py runs. Every field
is checked by the service before anything is stored or queued."""

from __future__ import annotations

import streamlit as st
from redis.exceptions import RedisError

from shared.contract.names import IMAGE_EXTS
from shared.core.errors import FieldError, NotFoundError, TrainyardError
from shared.core.i18n import _
from shared.records import Action, Prediction, Run, RunStatus
from shared.services.predictions import (
    Upload,
    create_prediction,
    get_prediction,
    history,
    queue_prediction,
)
from shared.services.task_list import TaskFilter, list_tasks
from shared.services.tasks import get_task, task_runs
from shared.services.weights import list_files, weight_files
from streamlit_app.components import deps, gallery
from streamlit_app.components.alerts import show_error
from streamlit_app.components.badges import status_label
from streamlit_app.components.formats import score
from streamlit_app.components.task_view import run_label

# The runs the prediction service accepts: training finished and left a work dir.
_PREDICTABLE = (RunStatus.completed, RunStatus.stopped, RunStatus.timed_out, RunStatus.pruned)


def _view_id() -> int | None:
    wanted = st.query_params.get("prediction")
    if wanted and wanted.isdigit():
        return int(wanted)
    return st.session_state.get("pr_view")


def _default_task(ids: list[int], view: int | None) -> int:
    """A shared link to a prediction opens on that prediction's task (until the user picks another)."""
    if view is None:
        return 0
    try:
        with deps.session() as s:
            task_id = get_prediction(session=s, prediction_id=view, actor=deps.current_user()).task_id
    except NotFoundError:
        return 0
    return ids.index(task_id) if task_id in ids else 0


def _pick_run(task, runs: list[Run]) -> Run | None:
    if not runs:
        st.warning(_("Task #{id} has no run that finished training, so there is nothing to predict with.", id=task.id))
        return None
    ids = [r.id for r in runs]
    default = ids.index(task.best_run_id) if task.best_run_id in ids else len(ids) - 1
    by_id = {r.id: r for r in runs}
    rid = st.selectbox(_("Run"), ids, index=default, key=f"pr_run_{task.id}", persist_state="session",
                       format_func=lambda i: _("{run} · {status} · score {score}", run=run_label(by_id[i]),
                                               status=status_label(by_id[i].status), score=score(by_id[i].score))
                       + (" ★ " + _("best") if i == task.best_run_id else ""))
    return by_id[rid]


def _pick_weights(run: Run) -> str | None:
    settings = deps.settings()
    try:
        files, found = list_files(settings, run), weight_files(settings, run)
    except NotFoundError:
        files, found = [], []
    if not found:
        st.warning(_("{run} has no weights file (.pt/.pth/.ckpt/.onnx/.safetensors) in its work dir.",
                     run=run_label(run)) + " "
                   + (_("Pick another run, or choose one of its files below if predict.py reads it.")
                      if files else _("Its work dir is empty: pick another run.")))
    return st.selectbox(_("Weights file"), files, index=files.index(found[0]) if found else None,
                        key=f"pr_w_{run.id}", persist_state="session", placeholder=_("choose a file"),
                        help=_("A file from the run's work dir, passed to predict.py as --weights "
                               "(default: the newest weights file)."))


def _submit(task_id: int, run: Run | None, weights: str | None, files, confidence: float, slots) -> None:
    uploads = [Upload(f.name, f.getvalue()) for f in files or []]
    try:
        with deps.session() as s:
            pred = create_prediction(session=s, settings=deps.settings(), actor=deps.current_user(), task_id=task_id,
                                     run_id=run.id if run else None, weights=weights, uploads=uploads,
                                     confidence=confidence)
    except FieldError as exc:
        text = exc.field_message
        if text.startswith("refused: "):  # one line per refused file, each naming it
            text = _("Refused:") + "\n" + "\n".join(f"- {p}" for p in text[len("refused: "):].split("; "))
        else:
            text = exc.localized_field_message()
        (slots.get(exc.field) or slots["submit"]).error(text, icon=":material/block:")
        return
    except TrainyardError as exc:
        with slots["submit"]:
            show_error(exc)
        return
    try:
        queue_prediction(connection=deps.redis(), prediction_id=pred.id)
    except (RedisError, OSError) as exc:
        slots["submit"].warning(_("Prediction #{id} is saved but could not be queued ({error}); it is queued as "
                                  "soon as Redis and the platform's reconciler are back.", id=pred.id, error=exc))
    st.session_state["pr_view"] = pred.id
    st.query_params["prediction"] = str(pred.id)


def render() -> None:
    st.title(_("Predict"))
    with deps.session() as s:
        tasks, _total = list_tasks(session=s, actor=deps.current_user(), flt=TaskFilter(status="completed"),
                                   limit=500)
    view = _view_id()
    if not tasks:
        st.info(_("No completed task yet. Train a model on the task pages; its weights can then predict here."))
        if view:
            gallery.show(view)
        return
    by_id = {t["id"]: t for t in tasks}
    slots: dict = {}
    task_id = st.selectbox(_("Trained model (completed task)"), list(by_id), key="pr_task", persist_state="session",
                           index=_default_task(list(by_id), view),
                           format_func=lambda i: _("#{id} {name} · model {model} · dataset {dataset}", id=i,
                                                   name=by_id[i]["name"], model=by_id[i]["model"],
                                                   dataset=by_id[i]["dataset"]))
    slots["task"] = st.empty()
    with deps.session() as s:
        task = get_task(session=s, task_id=task_id, actor=deps.current_user())
        runs = [r for r in task_runs(session=s, task_id=task_id) if r.status in _PREDICTABLE]
    c = st.columns(2)
    with c[0]:
        run = _pick_run(task, runs)
        slots["run"] = st.empty()
    with c[1]:
        weights = _pick_weights(run) if run else None
        slots["weights"] = st.empty()
    files = st.file_uploader(_("Images"), accept_multiple_files=True, key="pr_images",
                             help=_("Several images at once ({exts}), or a zip of images. Each must have its own "
                                    "file name.", exts=", ".join(IMAGE_EXTS)))
    slots["images"] = st.empty()
    confidence = st.slider(_("Confidence threshold"), 0.0, 1.0, 0.25, 0.01, key="pr_conf", persist_state="session",
                           help=_("Passed to predict.py as --confidence when it declares that argument."))
    slots["confidence"] = st.empty()
    refused = deps.refusal(Action.create, Prediction)
    clicked = st.button(_("Predict"), key="pr_go", type="primary", icon=":material/play_arrow:",
                        disabled=run is None or bool(refused), help=refused)
    slots["submit"] = st.empty()
    if clicked:
        _submit(task_id, run, weights, files, confidence, slots)
        view = _view_id()
    if view:
        st.divider()
        st.subheader(_("Result"))
        gallery.show(view)
    st.divider()
    st.subheader(_("History for this model"))
    with deps.session() as s:
        past = history(session=s, actor=deps.current_user(), model_id=task.model_id, limit=300)
    gallery.history_list(past, current=view, key="pr_hist")


render()
