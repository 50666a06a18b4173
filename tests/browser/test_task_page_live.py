"""The task page in Chromium, as a newcomer watches it: the elapsed time ticks without a reload, the run
detail (and its log) moves to the run that is running, and the search tab's parallel-coordinates chart
draws its lines in SVG (Chromium here runs with --disable-gpu, like a browser without WebGL)."""

from __future__ import annotations

import re

import pytest

from runner import context
from shared.records import RunStatus, TaskStatus
from shared.services.tasks import TaskIn, create_task, request_stop, task_runs
from tests.support.browser import CHROMIUM, wait_for
from tests.support.live import deployed, no_exception, task_status

if not CHROMIUM.exists():
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}; the browser tests never download a browser",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

from tests.support.people import OP

pytestmark = pytest.mark.slow

# The live facts row: "<small>Running for</small><br><strong>12s</strong>".
FACT_JS = """(label) => {
    for (const el of document.querySelectorAll('[data-testid="stMarkdownContainer"]')) {
        const small = el.querySelector('small');
        if (small && small.textContent.trim() === label) {
            const strong = el.querySelector('strong');
            return strong ? strong.textContent.trim() : null;
        }
    }
    return null;
}"""

DETAIL_JS = """() => {
    for (const el of document.querySelectorAll('[data-testid="stMarkdownContainer"]')) {
        if (/^run \\d+ \\(#\\d+\\) · /.test(el.innerText.trim())) return el.innerText.trim();
    }
    return null;
}"""

# Per Plotly chart: its title, its trace types and how many SVG line paths it drew.
PLOTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
    const t = el.layout && el.layout.title;
    return {title: String((t && (t.text !== undefined ? t.text : t)) || '').replace(/<[^>]*>/g, ''),
            types: (el._fullData || []).map(tr => tr.type),
            svg_lines: el.querySelectorAll('.scatterlayer path.js-line').length};
})"""


def _seconds(text: str | None) -> int:
    """'1m 05s' / '42s' -> seconds (-1 when not shown)."""
    if not text:
        return -1
    m = re.fullmatch(r"(?:(\d+)m )?(\d+)s", text)
    return -1 if m is None else int(m.group(1) or 0) * 60 + int(m.group(2))


def _detail(page) -> str:
    """The run detail's first line: "run 2 (#7) · running · params: …"."""
    return page.evaluate(DETAIL_JS) or ""


def _wait_detail(page, expected: str, what: str, timeout: float = 15) -> None:
    try:
        wait_for(lambda: expected in _detail(page), timeout, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the detail reads {_detail(page)!r}") from None


def test_elapsed_ticks_and_the_log_follows_the_running_run(ui_server, worker, settings, session, burst, page,
                                                           tmp_path):
    ds, model = deployed(settings, session, burst, tmp_path)
    # Two runs one after the other (one worker), ~30 s each: room to read the clock twice in run 1 on a busy host.
    task = create_task(actor=OP, session=session, task_in=TaskIn(
        name="follow me", model_id=model.id, dataset_id=ds.id, epochs=75, n_runs=2, metrics=["loss"],
        params={"sleep": ("0.4", False)}))
    worker()
    context.current().schedule(task.id)
    try:
        def running(index: int) -> bool:
            session.expire_all()
            runs = task_runs(session=session, task_id=task.id)
            return len(runs) > index and runs[index].status == RunStatus.running and runs[index].lines >= 2

        wait_for(lambda: running(0), 60, "run 1 to print")
        ui_server.wait_ready()
        page.goto(f"{ui_server.url}/task?id={task.id}")
        page.get_by_role("heading", name="follow me").wait_for(timeout=30_000)
        page.evaluate("window.__trainyardMarker = 'same document'")
        wait_for(lambda: _seconds(page.evaluate(FACT_JS, "Running for")) >= 0, 20, "the elapsed time")
        first = _seconds(page.evaluate(FACT_JS, "Running for"))
        wait_for(lambda: _seconds(page.evaluate(FACT_JS, "Running for")) >= first + 2, 15,
                 f"the elapsed time to move on from {first}s without a reload")
        assert page.evaluate("window.__trainyardMarker") == "same document", "the page reloaded"
        runs = task_runs(session=session, task_id=task.id)
        _wait_detail(page, f"run 1 (#{runs[0].id}) · running", "the run detail on run 1, the running one")
        no_exception(page, ui_server)

        wait_for(lambda: running(1), 60, "run 2 to start")
        runs = task_runs(session=session, task_id=task.id)
        _wait_detail(page, f"run 2 (#{runs[1].id}) · running",
                     "the run detail (and its log) to follow run 2 without a reload")
        log_text = page.locator(".ty-log").first.inner_text()
        assert "epoch: " in log_text, log_text[-500:]
        assert page.evaluate("window.__trainyardMarker") == "same document", "the page reloaded"
        no_exception(page, ui_server)
    finally:
        if not task_status(session, task.id).finished:
            request_stop(actor=OP, session=session, task_id=task.id)
            context.current().schedule(task.id)
            wait_for(lambda: task_status(session, task.id).finished, 30, "the task to stop at cleanup")


def test_search_plot_draws_lines_without_webgl(ui_server, settings, session, burst, page, tmp_path):
    ds, model = deployed(settings, session, burst, tmp_path)
    task = create_task(actor=OP, session=session, task_in=TaskIn(
        name="svg sweep", model_id=model.id, dataset_id=ds.id, epochs=3, n_runs=3, metrics=["score"],
        eval_metric="score", sampler="random", prune=False, seed=1,
        params={"x": ("[0.0, 1.0]", True), "k": ("[3, 11]", True)}))
    context.current().schedule(task.id)
    burst()
    assert task_status(session, task.id) == TaskStatus.completed
    ui_server.wait_ready()
    page.goto(f"{ui_server.url}/task?id={task.id}")
    page.get_by_role("heading", name="svg sweep").wait_for(timeout=30_000)
    page.get_by_role("tab", name="Search").click()

    def parallel() -> dict | None:
        return next((p for p in page.evaluate(PLOTS_JS) if p["title"].startswith("Parallel coordinates")), None)

    wait_for(lambda: (parallel() or {}).get("svg_lines", 0) > 0, 30, f"SVG lines\n{ui_server.log_tail()}")
    plot = parallel()
    assert "parcoords" not in plot["types"] and set(plot["types"]) == {"scatter"}, plot
    assert plot["svg_lines"] >= 3, plot  # a line per run
    no_exception(page, ui_server)
