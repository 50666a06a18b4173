"""One task: status and reason, Stop and Delete, live charts and runs, a run's
log and resources, search plots, downloads."""

from __future__ import annotations

import streamlit as st
from redis.exceptions import RedisError

from shared.core.errors import NotFoundError, TrainyardError
from shared.core.i18n import _
from shared.core.relocalize import relocalize
from shared.records import Action, TaskStatus
from shared.services.datasets import get_dataset
from shared.services.models import get_model
from shared.services.search import sampler_reason
from shared.services.task_delete import delete_task, deletion_plan
from shared.services.tasks import get_task, request_stop, task_runs
from shared.services.weights import list_files
from streamlit_app.components import deps, logs
from streamlit_app.components import task_view as tv
from streamlit_app.components.badges import status_badge, status_label
from streamlit_app.components.confirm import delete_button
from streamlit_app.components.facts import facts_row
from streamlit_app.components.formats import duration, params_text, score


def _pick_task() -> int | None:
    wanted = st.query_params.get("id")
    if wanted and wanted.isdigit():
        return int(wanted)
    st.info(_("Open a task from the task list."))
    st.page_link("views/tasks.py", label=_("Tasks"), icon=":material/list_alt:")
    return None


def _header(task, model_name: str, dataset_name: str) -> None:
    st.title(task.name)
    st.markdown(f"{status_badge(task.status)} &nbsp; " + _("task #{id} · model **{model}** · dataset **{dataset}**",
                                                           id=task.id, model=model_name, dataset=dataset_name))
    if task.status == TaskStatus.failed and task.reason:
        st.error(_("**Failed:** {reason}", reason=relocalize(task.reason)))
    elif task.reason:
        st.info(relocalize(task.reason))
    if notice := st.session_state.pop("task_page_notice", None):
        st.warning(notice)
    facts_row([
        (_("Runs"), _("{runs} × {epochs} epochs", runs=task.n_runs, epochs=task.epochs)),
        (_("Evaluation"), _("{metric} ({direction}, {mode})", metric=task.eval_metric or "—",
                            direction=_("higher is better") if task.direction.value == "max" else
                            _("lower is better"), mode=_("final value") if task.score_mode.value == "final" else
                            _("best value"))),
        (_("Time limit"), duration(task.time_limit_s)),
        (_("Sampler"), tv.sampler_text(task)),
    ])
    st.caption(_("Parameters: `{params}`", params=params_text(task.params)))
    if reason := sampler_reason(task, localized=True):
        warm = task.warm_start_task_id
        st.caption(_("Search: {reason}", reason=reason)
                   + (_("; continues task #{id}'s search", id=warm) if warm else ""))
    st.page_link("views/models.py", label=_("Model page: environment install log and parameters"),
                 icon=":material/terminal:", query_params={"id": str(task.model_id)})


def _stop(task_id: int) -> None:
    try:
        with deps.session() as s:
            request_stop(session=s, actor=deps.current_user(), task_id=task_id)
        deps.schedule_task(task_id)
    except TrainyardError as exc:
        st.session_state["task_page_notice"] = exc.localized()
    except (RedisError, OSError) as exc:
        st.session_state["task_page_notice"] = _("Stop is recorded; the worker acts on it shortly ({error}).",
                                                 error=exc)


def _delete_button(task, container) -> None:
    """Shown to everyone: off, with the role it needs, for those who may not; off until the task has ended
    (the service refuses that too: its runs still write their rows and files)."""
    refused = deps.refusal(Action.delete, task)
    detail = None
    if refused is None and not task.status.finished:
        refused = _("Stop the task first: it can be deleted once it has ended.")
    if refused is None:
        with deps.session() as s:
            plan = deletion_plan(session=s, actor=deps.current_user(), task_id=task.id)
        detail = _("With it go its runs ({runs}: metrics, logs, weights), the predictions made with them "
                   "({predictions}) and its search history.", runs=plan.runs, predictions=plan.predictions)
        if plan.unlinked:
            detail += " " + _("Tasks {ids} continued its search; they keep what they learned from it.",
                              ids=", ".join(f"#{i}" for i in plan.unlinked))
    delete_button(_("task #{id} {name}", id=task.id, name=task.name), key="tk_delete", container=container,
                  on_confirm=lambda: _delete(task.id), refused=refused, detail=detail, then_page="views/tasks.py")


def _delete(task_id: int) -> None:
    with deps.session() as s:
        done = delete_task(session=s, settings=deps.settings(), actor=deps.current_user(), task_id=task_id)
    notice = _("Task #{id} deleted.", id=task_id)
    if done.left_on_disk:
        notice += " " + _("{n} of its files could not be removed (another user owns them); an operator can remove "
                          "them.", n=done.left_on_disk)
    st.session_state["tasks_notice"] = notice


def render() -> None:
    task_id = _pick_task()
    if task_id is None:
        return
    try:
        with deps.session() as s:
            # Someone else's private task answers exactly like a missing one.
            task = get_task(session=s, task_id=task_id, actor=deps.current_user())
            runs = task_runs(session=s, task_id=task_id)
            model_name = get_model(session=s, model_id=task.model_id).name
            dataset_name = get_dataset(session=s, dataset_id=task.dataset_id).name
    except NotFoundError as exc:
        st.error(exc.localized())
        return
    _header(task, model_name, dataset_name)
    actions = st.container(horizontal=True)
    if not task.status.finished:
        refused = deps.refusal(Action.change, task)
        if actions.button(_("Stop task"), key="tk_stop", icon=":material/stop_circle:",
                          disabled=task.stop_requested or refused is not None,
                          help=_("stop requested") if task.stop_requested else refused):
            with st.spinner(_("Stopping: cancelling the queued runs and telling the running ones to end…")):
                _stop(task_id)
            st.rerun()
    _delete_button(task, actions)
    (tv.charts_body if task.status.finished else tv.live_charts)(task_id)

    tabs = st.tabs([_("Run detail"), _("Search"), _("Downloads")])
    with tabs[0]:
        (tv.run_detail if task.status.finished else tv.live_run)(task_id)
    with tabs[1]:
        from shared.services.search import is_search

        if is_search(task):
            tv.search_plots(task)
        else:
            st.caption(_("This task searches no parameter (no Search flag was on)."))
    with tabs[2]:
        _downloads(task, runs)


def _downloads(task, runs) -> None:
    st.download_button(_("Metrics (CSV)"), data=lambda: tv.metrics_csv(task.id), file_name=f"task{task.id}-metrics.csv",
                       mime="text/csv", key="tk_dl_csv", on_click="ignore")
    if not runs:
        return
    run_id = st.selectbox(_("Run for the log and the weights"), [r.id for r in runs], key="tk_dl_run",
                          index=next((i for i, r in enumerate(runs) if r.id == task.best_run_id), 0),
                          format_func=lambda rid: tv.run_label(next(r for r in runs if r.id == rid))
                          + (" ★ " + _("best") if rid == task.best_run_id else ""))
    run = next(r for r in runs if r.id == run_id)
    settings = deps.settings()
    logs.download_button(settings.path(run.log_path) if run.log_path else None,
                         file_name=f"task{task.id}-run{run.id}.log", key="tk_dl_log")
    try:
        files = list_files(settings, run)
    except NotFoundError:
        files = []
    if not files:
        st.caption(_("{run} has no files in its work dir (score {score}).", run=tv.run_label(run),
                     score=score(run.score)))
        return
    if not run.status.finished:
        st.info(_("{run} is still {status}: the zip and the files are a snapshot of what it has written so far "
                  "(a checkpoint may be mid-write; the zip holds a PARTIAL.txt note).", run=tv.run_label(run),
                  status=status_label(run.status)))
    st.download_button(_("Work dir of {run} (zip)", run=tv.run_label(run)),
                       data=lambda: tv.weights_zip(task.id, run.id),
                       file_name=f"task{task.id}-run{run.id}.zip", mime="application/zip", key="tk_dl_zip",
                       on_click="ignore")
    rel = st.selectbox(_("Single file"), files, key="tk_dl_file")
    st.download_button(_("Download {file}", file=rel), data=lambda: tv.file_bytes(run, rel),
                       file_name=rel.rsplit("/", 1)[-1],
                       key="tk_dl_one", on_click="ignore")


render()
