"""The task page's parts: header, live metric charts, runs table, one run's
detail (metrics found, unparsed lines, log tail, resources), search plots and
downloads. Live parts are fragments that rerun every 2 s while the task is
active, so the rest of the page (and the user's widgets) stay put."""

from __future__ import annotations

import csv
import io
import math
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st
from sqlmodel import Session

from shared.records import Run, RunStatus, Task, utcnow
from shared.services.tasks import get_task, metric_series, resource_samples, task_runs
from streamlit_app.components import deps, logs
from streamlit_app.components.badges import status_cell
from streamlit_app.components.charts import X_AXES, build_metric_figure, resources_figure
from streamlit_app.components.formats import between, duration, first_line, params_text, score

REFRESH_S = 2
EXPECTED_FORM = "loss: 0.2754, mAP50: 0.41, epoch: 3"


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
    return f"run {run.index + 1} (#{run.id})"


# --------------------------------------------------------------------------- live charts + runs table


def _runs_table(task: Task, runs: list[Run], best: int | None) -> None:
    now = utcnow()
    rows = []
    for r in runs:
        rows.append({
            "best": "★" if r.id == best else "", "run": r.index + 1, "id": r.id, "status": status_cell(r.status),
            "score": "never printed" if r.score_missing else score(r.score),
            "params": params_text(r.params), "duration": duration(between(r.started_at, r.finished_at, now)),
            "lines": r.lines, "device": r.device or "", "reason": first_line(r.reason)})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"tk{task.id}_runs_table",
                 column_config={"reason": st.column_config.TextColumn("reason", width="large")})


def charts_body(task_id: int) -> None:
    with deps.session() as s:
        task = get_task(session=s, task_id=task_id, actor=deps.current_user())
        runs = task_runs(session=s, task_id=task_id)
        # Each run row keeps the names it printed so far (kept by the runner), so no scan of the points.
        parsed = sorted({name for r in runs for name in (r.metric_names or [])})
        extra = [m for m in parsed if m not in task.metrics]
        c1, c2 = st.columns([3, 1])
        more = c1.multiselect("Other parsed metrics to chart", extra, key=f"tk{task_id}_more")
        x_axis = c2.selectbox("x axis", X_AXES, key=f"tk{task_id}_xaxis",
                              help="auto: epoch, else step when train.py prints them, else the line order")
        shown = list(dict.fromkeys(task.metrics + more))
        axis_names = [a for a in ("epoch", "step") if a in parsed]
        series = series_for(s, runs, shown + axis_names) if shown else {}
    done = sum(1 for r in runs if r.status.finished)
    st.progress(done / task.n_runs if task.n_runs else 0.0,
                text=f"{done} of {task.n_runs} runs finished · {sum(r.status == RunStatus.running for r in runs)} "
                     "running")
    best = best_run_id(task, runs)
    labels = {r.id: run_label(r) for r in runs}
    if not shown:
        st.caption("No metrics chosen to chart.")
    cols = st.columns(2)
    for i, metric in enumerate(shown):
        with cols[i % 2]:
            if not any(metric in m for m in series.values()):
                st.info(f"**{metric}**: not printed yet by any run. train.py must print it as `{metric}: value`.")
                continue
            st.plotly_chart(build_metric_figure(series, metric, best, x_axis, labels=labels),
                            key=f"tk{task_id}_chart_{metric}")
    st.subheader("Runs")
    if runs:
        _runs_table(task, runs, best)
    else:
        st.caption("No runs yet: the scheduler queues them when a worker is free.")
    if task.status.finished and st.session_state.get(f"tk{task_id}_live"):
        st.session_state[f"tk{task_id}_live"] = False
        st.rerun()  # the whole page, so the header and the Stop button show the final state


@st.fragment(run_every=REFRESH_S)
def live_charts(task_id: int) -> None:
    st.session_state[f"tk{task_id}_live"] = True
    charts_body(task_id)


# --------------------------------------------------------------------------- one run


def run_body(task_id: int, run_id: int) -> None:
    settings = deps.settings()
    with deps.session() as s:
        task = get_task(session=s, task_id=task_id, actor=deps.current_user())
        run = next((r for r in task_runs(session=s, task_id=task_id) if r.id == run_id), None)
        if run is None:
            st.warning(f"Run {run_id} is not part of task {task_id}.")
            return
        samples = resource_samples(session=s, run_ids=[run.id])
    st.markdown(f"**{run_label(run)}** · {run.status.value} · params: `{params_text(run.params)}`")
    if run.reason:
        (st.error if run.status in (RunStatus.failed, RunStatus.timed_out) else st.info)(run.reason)
    found = run.metric_names or []
    st.markdown("**Metrics found so far:** " + (", ".join(f"`{m}`" for m in found) if found else "none yet"))
    missing = [m for m in task.metrics if m not in found]
    if run.status == RunStatus.running and run.lines and missing:
        for m in missing:
            st.warning(f"**{m}** was chosen but has not been printed after {run.lines} lines. "
                       f"train.py must print it as `{m}: value` (comma-separated pairs on one line).")
    if run.score_missing:
        st.warning(f"The evaluation metric **{task.eval_metric}** was never printed by this run, so it has no score.")
    if run.last_unparsed:
        st.markdown("Last line that looked like metrics but was not read:")
        st.code(run.last_unparsed, language=None)
        st.caption(f"Metrics are read as comma-separated `key: value` pairs, e.g. `{EXPECTED_FORM}`.")
    log_path = settings.path(run.log_path) if run.log_path else None
    logs.render_tail(log_path, key=f"tk{task_id}_log_{run.id}")
    if samples.get(run.id):
        st.plotly_chart(resources_figure(samples, labels={run.id: run_label(run)}), key=f"tk{task_id}_res_{run.id}")
    elif run.status != RunStatus.queued:
        st.caption("No resource samples recorded for this run.")


@st.fragment(run_every=REFRESH_S)
def live_run(task_id: int, run_id: int) -> None:
    run_body(task_id, run_id)


# --------------------------------------------------------------------------- search plots


def search_plots(task: Task) -> None:
    """Parallel coordinates and parameter importances from the task's Optuna study."""
    from optuna.visualization import plot_parallel_coordinate, plot_param_importances

    from shared.services.search import completed_trials, load_study

    study = load_study(task, deps.settings().database_url)
    complete = completed_trials(study)
    if not complete:
        st.info("No completed trial yet; the plots appear once runs finish with a score.")
        return
    st.plotly_chart(plot_parallel_coordinate(study), key=f"tk{task.id}_parallel")
    if len(complete) < 2:
        st.info("Parameter importance needs at least 2 completed runs.")
        return
    if len({tuple(sorted(t.params.items())) for t in complete}) < 2 or len({t.value for t in complete}) < 2:
        st.info("Parameter importance needs completed runs that differ in parameters and in score.")
        return
    st.plotly_chart(plot_param_importances(study), key=f"tk{task.id}_importance")


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
        path, _rid = write_weights_zip(session=s, settings=settings, actor=deps.current_user(), task_id=task_id,
                                       run_id=run_id, dest=Path(tmp) / "weights.zip")
        return path.read_bytes()


def file_bytes(run: Run, rel: str) -> bytes:
    from shared.services.weights import safe_file

    return safe_file(deps.settings(), run, rel).read_bytes()
