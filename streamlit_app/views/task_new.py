"""New task: the full form of CONTRACT §3. Validation is the service's; a
FieldError is shown under the field it names."""

from __future__ import annotations

import streamlit as st

from shared.core.i18n import _
from shared.records import TASK_TYPE_LABELS, Action, Pruner, Sampler, Task, TaskType
from shared.services.datasets import list_datasets
from shared.services.models import list_models, list_templates, metric_suggestions, model_summary
from shared.services.search import PRUNER_LABELS, SAMPLER_LABELS
from shared.services.warm_start import warm_start_candidates
from streamlit_app.components import deps
from streamlit_app.components import task_form as tf
from streamlit_app.components.ownership import visibility_choice


def render() -> None:
    if (created := st.session_state.pop("tf_created", None)) is not None:
        st.switch_page("views/task.py", query_params={"id": str(created)})
    st.title(_("New training task"))
    if refused := deps.refusal(Action.create, Task):
        st.info(refused)
        return
    tf.warm_up(deps.settings())
    if (pre := st.session_state.pop("task_new_dataset", None)) is not None:
        st.session_state["tf_dataset"] = pre
    with deps.session() as s:
        datasets = {d.id: d for d in list_datasets(session=s, actor=deps.current_user())}
        ready = {m.task_type for m in list_models(session=s, actor=deps.current_user(), deployed_only=True)}
    if not datasets:
        st.info(_("Upload a dataset first."))
        st.page_link("views/datasets.py", label=_("Datasets"), icon=":material/dataset:")
        return
    st.text_input(_("Task name"), key="tf_name", placeholder=_("e.g. yolo baseline, lr search"))
    tf.field_error("name")
    visibility_choice("tf_visibility")
    if st.session_state.get("tf_dataset") not in datasets:
        # Open on the newest dataset that some deployed model can train on.
        st.session_state["tf_dataset"] = next(
            (i for i, d in datasets.items() if d.task_type in ready or (ready and d.task_type == TaskType.other)),
            next(iter(datasets)))
    ds_id = st.selectbox(_("Dataset"), list(datasets), key="tf_dataset", on_change=tf.reset_params,
                         format_func=lambda i: f"#{i} {datasets[i].name} "
                                               f"({_(TASK_TYPE_LABELS[datasets[i].task_type])})")
    tf.field_error("dataset")
    ds = datasets[ds_id]
    with deps.session() as s:
        models = {m.id: m for m in list_models(session=s, actor=deps.current_user(), task_type=ds.task_type,
                                                   deployed_only=True)}
    if not models:
        st.warning(_("No deployed model for {task_type} datasets yet: upload one "
                     "(or wait for its deploy to finish).", task_type=_(TASK_TYPE_LABELS[ds.task_type])))
        st.page_link("views/models.py", label=_("Models"), icon=":material/deployed_code:")
        return
    model_id = st.selectbox(_("Model (deployed, same task type)"), list(models), key="tf_model",
                            on_change=tf.reset_params,
                            format_func=lambda i: f"#{i} {models[i].name}")
    tf.field_error("model")
    summary = model_summary(models[model_id])
    user_args = summary["user_parameters"]
    epochs_arg = summary.get("epochs_argument") or {}
    with deps.session() as s:
        templates = {t.id: t for t in list_templates(session=s, actor=deps.current_user(), model_id=model_id)}
        found = metric_suggestions(session=s, settings=deps.settings(), model=models[model_id])
    suggestions = list(found)
    if templates:
        tpl = st.selectbox(_("Pre-fill from a parameter template"), [None, *templates], key="tf_template",
                           format_func=lambda i: "—" if i is None else templates[i].name)
        if tpl is not None and st.session_state.get("tf_template_applied") != tpl:
            tf.apply_template(templates[tpl].values, user_args, epochs_arg.get("name"))
            st.session_state["tf_template_applied"] = tpl

    c1, c2, c3 = st.columns(3)
    with c1:
        default_epochs = epochs_arg.get("default") if isinstance(epochs_arg.get("default"), int) else 10
        st.session_state.setdefault("tf_epochs", default_epochs)  # a template may have set it already
        st.number_input(_("Epochs per run (--epochs)"), min_value=0, step=1, key="tf_epochs")
        tf.field_error("epochs")
    with c2:
        st.number_input(_("Number of runs"), min_value=0, value=1, step=1, key="tf_runs")
        tf.field_error("runs")
    with c3:
        st.text_input(_("Expected training time (limit)"), value="90m", key="tf_time",
                      help=_("e.g. 90m, 2h, 1h30m; a task running past it is stopped as timed out"))
        tf.field_error("time limit")

    metrics = st.multiselect(_("Metrics to chart (as train.py prints them)"), suggestions, key="tf_metrics",
                             accept_new_options=True, format_func=tf.metric_label(found),
                             placeholder=_("type a name, e.g. loss, mAP50"),
                             help=_("Names found in train.py's print and logging calls, and names earlier runs of "
                                    "this model printed. Leave it empty to chart every metric the runs print."))
    tf.field_error("metrics")
    c1, c2, c3 = st.columns([2, 1, 1])
    with c1:
        st.selectbox(_("Evaluation metric (ranks the runs)"), list(dict.fromkeys(metrics + suggestions)),
                     index=None, key="tf_eval", accept_new_options=True, format_func=tf.metric_label(found),
                     on_change=tf.guess_direction_from_eval)
        tf.field_error("eval metric")
    with c2:
        st.radio(_("Better is"), ["max", "min"], key="tf_direction", horizontal=True,
                 format_func=lambda d: _("max (higher is better)") if d == "max" else _("min (lower is better)"))
        tf.field_error("direction")
    with c3:
        st.radio(_("Run score"), ["final", "best"], key="tf_score", horizontal=True,
                 format_func=lambda m: _("final value") if m == "final" else _("best value"),
                 help=_("final: the last printed value; best: the best value over the run"))
        tf.field_error("score")

    st.subheader(_("Parameters"))
    params = tf.param_rows(user_args, summary.get("config_choices"))
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        samplers = ["auto", "gp", "tpe", "random"] + (["grid"] if tf.grid_possible(user_args, params) else [])
        st.selectbox(_("Search sampler"), samplers, key="tf_sampler",
                     format_func=lambda v: _(SAMPLER_LABELS[Sampler(v)]),
                     help=_("auto: a Gaussian process for up to 100 runs over numbers and small choice sets, "
                            "else TPE. grid is offered when every searched value is an int range or a set"))
        tf.field_error("sampler")
    with c2:
        prune = st.toggle(_("Prune poor runs early"), value=True, key="tf_prune")
        st.selectbox(_("Pruner"), [p.value for p in Pruner], key="tf_pruner", disabled=not prune,
                     format_func=lambda v: _(PRUNER_LABELS[Pruner(v)]),
                     help=_("a pruned run counts as one of the runs; it stops early to leave time for others"))
        tf.field_error("pruner")
        st.checkbox(_("A pruned run may be the best"), key="tf_rank_pruned", disabled=not prune,
                    help=_("off: the best run is picked among runs that trained all their epochs"))
    with c3:
        settings = deps.settings()
        st.number_input(_("Max parallel runs"), min_value=1, value=None, step=1, key="tf_parallel",
                        placeholder=_("min(runs, {n})", n=settings.max_parallel_runs),
                        help=_("Runs of this task at once, at most. Each worker trains one run at a time, so "
                               "the real number is also capped by the workers that are up (said below)."))
        st.caption(tf.parallel_caption(n_runs=int(st.session_state.get("tf_runs") or 1),
                                       max_parallel=st.session_state.get("tf_parallel"), settings=settings))
        tf.field_error("max parallel")
    with c4:
        st.number_input(_("Seed"), min_value=0, value=None, step=1, key="tf_seed", placeholder=_("random"))
        tf.gpus_per_run_input()
    with deps.session() as s:
        earlier = {t.id: t for t in warm_start_candidates(session=s, model_id=model_id, actor=deps.current_user())}
    if earlier:
        st.selectbox(_("Continue searching from task"), [None, *earlier], key="tf_warm",
                     format_func=lambda i: _("— (start afresh)") if i is None else f"#{i} {earlier[i].name}",
                     help=_("its finished runs seed the search, so the new runs explore from what it found; "
                            "search the same parameters over the same ranges"))
        tf.field_error("warm start")
    with st.expander(_("Sandbox limits for this task")):
        tf.limit_inputs(deps.settings())

    known = set(tf.FIELD_KEYS) | {a["name"] for a in user_args}
    tf.unplaced_error(known)
    if st.button(_("Create and start"), key="tf_submit", type="primary"):
        tf.submit(user_args)
        st.rerun()  # the task page, or the form with the error at its field


render()
