"""The task page's parts: header, live metric charts, runs table, one run's
detail (metrics found, unparsed lines, log tail, resources), search plots and
downloads. Live parts are fragments that rerun every 2 s while the task is
active, so the rest of the page (and the user's widgets) stay put."""

from __future__ import annotations

import csv
import io
import math
import tempfile
from datetime import datetime
from pathlib import Path

import streamlit as st
from redis.exceptions import RedisError
from sqlmodel import Session

from shared.core.i18n import _
from shared.core.relocalize import relocalize
from shared.records import Run, RunStatus, Task, utcnow
from shared.services.live import last_values, metric_lines
from shared.services.task_metrics import metric_series, metrics_to_chart, resource_samples
from shared.services.tasks import get_task, task_runs
from streamlit_app.components import deps, language, logs, runs_table
from streamlit_app.components.badges import status_label
from streamlit_app.components.charts import X_AXES, build_metric_figure, resources_figure
from streamlit_app.components.facts import facts_row
from streamlit_app.components.formats import between, duration, params_text

REFRESH_S = 2
PATIENCE_LINES = 3  # metric lines a run prints before a chosen metric it lacks is worth a warning
EXPECTED_FORM = "loss: 0.2754, mAP50: 0.41, epoch: 3"


def sampler_text(task: Task) -> str:
    """'Gaussian process (auto) + Hyperband': the sampler that ran, what was asked, the pruner."""
    from shared.records import Sampler
    from shared.services.search import PRUNER_LABELS, SAMPLER_LABELS

    used = task.sampler_used or task.sampler
    text = _(SAMPLER_LABELS[used])
    if task.sampler == Sampler.auto and used != Sampler.auto:
        text = _("{sampler} (auto)", sampler=text)
    return text + (f" + {_(PRUNER_LABELS[task.pruner])}" if task.prune else "")


@st.cache_data(show_spinner=False, max_entries=256, ttl=3600)
def _finished_series(database_url: str, run_ids: tuple[int, ...], names: tuple[str, ...]
                     ) -> dict[int, dict[str, tuple[list[int], list[float]]]]:
    """Finished runs print nothing more, so their series are read once, not every 2 s."""
    with deps.session() as s:
        return metric_series(session=s, run_ids=list(run_ids), names=list(names))


def series_for(session: Session, runs: list[Run], names: list[str]
               ) -> dict[int, dict[str, tuple[list[int], list[float]]]]:
    done = tuple(r.id for r in runs if r.status.finished)
    live = [r.id for r in runs if not r.status.finished]
    out = dict(_finished_series(deps.settings().database_url, done, tuple(sorted(names)))) if done else {}
    out.update(metric_series(session=session, run_ids=live, names=names))
    return out


def best_run_id(task: Task, runs: list[Run]) -> int | None:
    """The task's best run; while it runs, the best finished run so far (the scheduler's own rule)."""
    if task.best_run_id is not None:
        return task.best_run_id
    from shared.services.scheduling import pick_best

    best = pick_best(task, runs) if task.eval_metric else None
    return best.id if best else None


def run_label(run: Run) -> str:
    return _("run {n} (#{id})", n=run.index + 1, id=run.id)


# --------------------------------------------------------------------------- live charts + runs table


def _live_facts(task: Task, runs: list[Run], now: datetime, epochs: dict[int, float]) -> None:
    """Elapsed time, run counts and each running run's epoch: all from this tick's ``now`` and the DB."""
    done = sum(1 for r in runs if r.status.finished)
    running = sorted((r for r in runs if r.status == RunStatus.running), key=lambda r: r.index)
    # Runs the scheduler has not created yet wait as much as the queued ones.
    queued = sum(r.status == RunStatus.queued for r in runs) + \
        (0 if task.status.finished else max(0, task.n_runs - len(runs)))
    elapsed = between(task.started_at, task.finished_at, now)
    now_text = " · ".join(
        _("run {n}: ", n=r.index + 1) + (_("epoch {epoch}/{epochs}", epoch=f"{epochs[r.id]:g}", epochs=task.epochs)
                                         if r.id in epochs else _("{n} lines", n=r.lines))
        for r in running)
    facts_row([
        (_("Ran for") if task.status.finished else _("Running for"),
         duration(elapsed) if elapsed is not None else _("not started")),
        (_("Progress"), _("{done} done · {running} running · {queued} queued", done=done, running=len(running),
                          queued=queued)),
        (_("Running now"), now_text or "—"),
    ])
    if not task.status.finished and queued:
        try:
            from shared.services.workers import list_workers, parallelism_text

            st.caption(parallelism_text(workers=list_workers(redis=deps.redis()), wanted=task.max_parallel))
        except (RedisError, OSError) as exc:
            st.caption(_("Cannot see the workers: Redis does not answer ({error}).", error=exc))


def charts_body(task_id: int) -> None:
    now = utcnow()  # the one clock of this tick: every duration below is measured against it
    with deps.session() as s:
        task = get_task(session=s, task_id=task_id, actor=deps.current_user())
        runs = task_runs(session=s, task_id=task_id)
        epochs = last_values(session=s, run_ids=[r.id for r in runs], name="epoch")
        _live_facts(task, runs, now, epochs)
        # Each run row keeps the names it printed so far (kept by the runner), so no scan of the points.
        parsed = sorted({name for r in runs for name in (r.metric_names or [])})
        extra = [m for m in parsed if m not in task.metrics]
        c1, c2 = st.columns([3, 1])
        more = c1.multiselect(_("Other parsed metrics to chart"), extra, key=f"tk{task_id}_more")
        x_axis = c2.selectbox(_("x axis"), X_AXES, key=f"tk{task_id}_xaxis",
                              help=_("auto: epoch, else step when train.py prints them, else the line order"))
        shown = list(dict.fromkeys(metrics_to_chart(task, runs) + more))
        axis_names = [a for a in ("epoch", "step") if a in parsed]
        series = series_for(s, runs, shown + axis_names) if shown else {}
    done = sum(1 for r in runs if r.status.finished)
    st.progress(done / task.n_runs if task.n_runs else 0.0,
                text=_("{done} of {total} runs finished · {running} running", done=done, total=task.n_runs,
                       running=sum(r.status == RunStatus.running for r in runs)))
    best = best_run_id(task, runs)
    labels = {r.id: run_label(r) for r in runs}
    if not shown:
        st.caption(_("No metrics chosen to chart."))
    cols = st.columns(2)
    for i, metric in enumerate(shown):
        with cols[i % 2]:
            if not any(metric in m for m in series.values()):
                st.info(_("**{metric}**: not printed yet by any run. train.py must print it as `{metric}: value`.",
                          metric=metric))
                continue
            st.plotly_chart(build_metric_figure(series, metric, best, x_axis, labels=labels),
                            key=f"tk{task_id}_chart_{metric}")
    st.subheader(_("Runs"))
    if runs:
        runs_table.render(task, runs, best=best, now=now, epochs=epochs)
    else:
        st.caption(_("No runs yet: the scheduler queues them when a worker is free."))
    if task.status.finished and st.session_state.get(f"tk{task_id}_live"):
        st.session_state[f"tk{task_id}_live"] = False
        st.rerun()  # the whole page, so the header and the Stop button show the final state


@st.fragment(run_every=REFRESH_S)
def live_charts(task_id: int) -> None:
    language.reapply()  # a fragment's own rerun skips the router, which sets the language
    st.session_state[f"tk{task_id}_live"] = True
    charts_body(task_id)


# --------------------------------------------------------------------------- one run


def following(task: Task, runs: list[Run]) -> int:
    """The run the detail shows unless the user picked one: a finished task's best run; else the one
    running (the latest started), else the latest that started, else the first."""
    if task.status.finished and (best := best_run_id(task, runs)) is not None:
        return best
    running = [r for r in runs if r.status == RunStatus.running and r.started_at is not None]
    if running:
        return max(running, key=lambda r: (r.started_at, r.index)).id
    started = [r for r in runs if r.started_at is not None]
    return max(started, key=lambda r: (r.started_at, r.index)).id if started else runs[0].id


def _pick_key(task_id: int) -> str:
    return f"tk{task_id}_run_pick"


def _remember_pick(task_id: int) -> None:
    st.session_state[_pick_key(task_id)] = st.session_state.get("tk_run")


def _follow(task_id: int) -> None:
    st.session_state.pop(_pick_key(task_id), None)


def run_detail(task_id: int) -> None:
    """The run picker and one run's detail. Until the user picks a run (kept in session_state),
    the picker follows the run that is running, so the log tail is the one that moves."""
    with deps.session() as s:
        task = get_task(session=s, task_id=task_id, actor=deps.current_user())
        runs = task_runs(session=s, task_id=task_id)
    if not runs:
        st.caption(_("No runs yet."))
        return
    by_id = {r.id: r for r in runs}
    picked = st.session_state.get(_pick_key(task_id))
    if picked not in by_id:
        picked = None
    st.session_state["tk_run"] = picked if picked is not None else following(task, runs)
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.selectbox(_("Run"), list(by_id), key="tk_run", on_change=_remember_pick, args=(task_id,),
                 format_func=lambda rid: run_label(by_id[rid]) + (" ★ " + _("best") if rid == task.best_run_id else ""))
    if picked is not None and not task.status.finished:
        c2.button(_("Follow the running run"), key="tk_follow", on_click=_follow, args=(task_id,),
                  icon=":material/my_location:")
    elif picked is None and not task.status.finished:
        c2.caption(_("Following the running run; pick one to stay on it."))
    run_body(task_id, st.session_state["tk_run"])


def run_body(task_id: int, run_id: int) -> None:
    settings = deps.settings()
    with deps.session() as s:
        task = get_task(session=s, task_id=task_id, actor=deps.current_user())
        run = next((r for r in task_runs(session=s, task_id=task_id) if r.id == run_id), None)
        if run is None:
            st.warning(_("Run {run} is not part of task {task}.", run=run_id, task=task_id))
            return
        samples = resource_samples(session=s, run_ids=[run.id])
        printed = metric_lines(session=s, run_ids=[run.id])[run.id]
    st.markdown(_("**{run}** · {status} · params: `{params}`", run=run_label(run), status=status_label(run.status),
                  params=params_text(run.params)))
    if run.reason:
        (st.error if run.status in (RunStatus.failed, RunStatus.timed_out) else st.info)(relocalize(run.reason))
    found = run.metric_names or []
    st.markdown(_("**Metrics found so far:** {names}",
                  names=", ".join(f"`{m}`" for m in found) if found else _("none yet")))
    for m in missing_metrics(task, run, printed):
        said = dict(metric=m, run=run_label(run), n=printed)
        if run.status.finished:
            text = _("**{metric}** was chosen but {run} has not printed it in its {n} metric lines.", **said)
        else:
            text = _("**{metric}** was chosen but {run} has not printed it after {n} metric lines.", **said)
        st.warning(text + " " + _(
            "train.py must print it as `{metric}: value` (comma-separated pairs on one line).", metric=m))
    if run.score_missing:
        st.warning(_("The evaluation metric **{metric}** was never printed by this run, so it has no score.",
                     metric=task.eval_metric))
    if run.last_unparsed:
        st.markdown(_("Last line that looked like metrics but was not read:"))
        st.code(run.last_unparsed, language=None)
        st.caption(_("Metrics are read as comma-separated `key: value` pairs, e.g. `{example}`.",
                     example=EXPECTED_FORM))
    log_path = settings.path(run.log_path) if run.log_path else None
    logs.render_tail(log_path, key=f"tk{task_id}_log_{run.id}")
    if samples.get(run.id):
        st.plotly_chart(resources_figure(samples, labels={run.id: run_label(run)}), key=f"tk{task_id}_res_{run.id}")
    elif run.status != RunStatus.queued:
        st.caption(_("No resource samples recorded for this run."))


def missing_metrics(task: Task, run: Run, printed: int) -> list[str]:
    """Chosen metrics the run has not printed, once that means something: after PATIENCE_LINES metric lines
    (a run importing torch prints none for a while), or when it ended. The evaluation metric of a run that
    ended without it has its own warning (score_missing)."""
    if run.status == RunStatus.queued or (not run.status.finished and printed < PATIENCE_LINES):
        return []
    found = set(run.metric_names or [])
    return [m for m in task.metrics if m not in found and not (run.score_missing and m == task.eval_metric)]


@st.fragment(run_every=REFRESH_S)
def live_run(task_id: int) -> None:
    language.reapply()  # a fragment's own rerun skips the router, which sets the language
    run_detail(task_id)


# --------------------------------------------------------------------------- search plots


def search_plots(task: Task) -> None:
    """Parallel coordinates (SVG, see search_plot.py) and parameter importances from the task's Optuna study."""
    with st.spinner(_("Reading the search study…")):
        from optuna.visualization import plot_param_importances

        from shared.services.search import completed_trials, distributions, load_study
        from streamlit_app.components.search_plot import parallel_figure

        study = load_study(task, deps.settings().database_url)
        complete = completed_trials(study)
    if not complete:
        st.info(_("No completed trial yet; the plots appear once runs finish with a score."))
        return
    dists = distributions(task)
    st.plotly_chart(parallel_figure(complete, params=list(dists), maximize=task.direction.value == "maximize",
                                    log_params={n for n, d in dists.items() if getattr(d, "log", False)},
                                    score_name=task.eval_metric or _("score")),
                    key=f"tk{task.id}_parallel")
    if len(complete) < 2:
        st.info(_("Parameter importance needs at least 2 completed runs."))
        return
    if len({tuple(sorted(t.params.items())) for t in complete}) < 2 or len({t.value for t in complete}) < 2:
        st.info(_("Parameter importance needs completed runs that differ in parameters and in score."))
        return
    with st.spinner(_("Computing parameter importances…")):
        fig = plot_param_importances(study)
    # Optuna's own titles are English; the bars are the searched parameters, named as in train.py.
    fig.update_layout(title=_("Parameter importances"), xaxis_title=_("importance"), yaxis_title=_("parameter"))
    st.plotly_chart(fig, key=f"tk{task.id}_importance")


# --------------------------------------------------------------------------- downloads


def metrics_csv(task_id: int) -> bytes:
    with deps.session() as s:
        runs = task_runs(session=s, task_id=task_id)
        series = metric_series(session=s, run_ids=[r.id for r in runs])
    index = {r.id: r.index + 1 for r in runs}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["run_id", "run", "metric", "seq", "value"])
    for rid, metrics in series.items():
        for name, (seqs, values) in metrics.items():
            for q, v in zip(seqs, values, strict=True):
                # A NULL value is a nan that the database could not keep as such.
                w.writerow([rid, index[rid], name, q, "nan" if v is None else v if math.isfinite(v) else str(v)])
    return buf.getvalue().encode()


def weights_zip(task_id: int, run_id: int | None) -> bytes:
    from shared.services.weights import write_weights_zip

    settings = deps.settings()
    tmp_root = settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp, deps.session() as s:
        made = write_weights_zip(session=s, settings=settings, actor=deps.current_user(), task_id=task_id,
                                 run_id=run_id, dest=Path(tmp) / "weights.zip")
        return made.path.read_bytes()


def file_bytes(run: Run, rel: str) -> bytes:
    from shared.services.weights import read_file

    return read_file(deps.settings(), run, rel)
