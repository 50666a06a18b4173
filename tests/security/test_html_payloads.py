"""No user text is rendered as HTML, checked where it counts: in Chromium. A
task name and an evaluation metric name carry an ``<img onerror>`` payload that
would set ``window.__pwned`` and the page title; the task page (header, facts
row, charts, run detail) and the task list show the text, and none of it runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.records import MetricPoint, Run, RunStatus, Task, TaskStatus, utcnow
from tests.support.browser import CHROMIUM, wait_for
from tests.support.ui import make_dataset, make_model

if not CHROMIUM.exists():
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}; this test never downloads a browser",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = pytest.mark.slow

JS = "window.__pwned=(window.__pwned||0)+1;document.title='pwned'"
# Well-formed inline HTML (quoted attributes), so Markdown passes it through as a tag wherever HTML is allowed.
IMG = f'<img src="x" onerror="{JS}">'
NAME = f"sweep {IMG}"
METRIC = f"acc{IMG}"
PWNED = """() => ({pwned: window.__pwned || 0, title: document.title,
                  imgs: document.querySelectorAll('img[src="x"]').length})"""


def _payload_task(session, settings, tmp_path) -> Task:
    ds = make_dataset(session, settings, tmp_path)
    model = make_model(session, settings, tmp_path)
    now = utcnow()
    task = Task(name=NAME, model_id=model.id, dataset_id=ds.id, epochs=3, n_runs=1, metrics=[METRIC],
                eval_metric=METRIC, params={"x": {"value": IMG, "search": False}},
                status=TaskStatus.completed, started_at=now - timedelta(minutes=1), finished_at=now,
                reason=f"done {IMG}")
    session.add(task)
    session.commit()
    run = Run(task_id=task.id, status=RunStatus.completed, score=0.9, metric_names=[METRIC], lines=3,
              work_dir=f"runs/{task.id}/1/work", started_at=now - timedelta(minutes=1), finished_at=now,
              last_unparsed=IMG)
    session.add(run)
    session.commit()
    for i in range(3):
        session.add(MetricPoint(run_id=run.id, name=METRIC, seq=i, value=0.3 * (i + 1)))
    task.best_run_id = run.id
    session.add(task)
    session.commit()
    return task


def test_payloads_in_a_task_and_metric_name_never_run(ui_server, settings, session, page, tmp_path):
    task = _payload_task(session, settings, tmp_path)
    ui_server.wait_ready()
    for path, shown in ((f"/task?id={task.id}", "Evaluation"), ("/tasks", "sweep")):
        page.goto(f"{ui_server.url}{path}")
        page.get_by_text(shown).first.wait_for(state="attached", timeout=30_000)  # a grid cell is not "visible"
        if path.startswith("/task?"):
            # The facts row with the metric name (the path that used unsafe_allow_html) has drawn.
            page.get_by_text("acc<img", exact=False).first.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)  # an onerror fires as soon as the broken image is parsed
        state = page.evaluate(PWNED)
        assert state == {"pwned": 0, "title": state["title"], "imgs": 0}, f"{path}: the payload ran: {state}"
        assert state["title"] != "pwned", f"{path}: the payload set the title"
    wait_for(lambda: page.evaluate(PWNED)["pwned"] == 0, 1, "nothing to run late")
