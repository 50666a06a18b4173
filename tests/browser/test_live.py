"""The task page in a real browser: what AppTest cannot tick. A live run's chart
gains points while the page stays loaded (the ``st.fragment(run_every=...)``
refresh), Stop works from the page, and a finished search renders in full
(its screenshot is docs/task-page.png, rewritten with TRAINYARD_WRITE_SCREENSHOT=1)."""

from __future__ import annotations

import io
import os

import pytest

from runner import context
from shared.records import TaskStatus
from shared.services.tasks import TaskIn, create_task, get_task, request_stop, task_runs
from tests.support.browser import CHROMIUM, wait_for
from tests.support.live import deployed, no_exception, task_status
from tests.support.paths import ROOT
from tests.support.people import OP

if not CHROMIUM.exists():
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (`python dev.py test` apt-installs it when run "
                "as root); the browser tests need it and never download a browser", allow_module_level=True)
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                             "(pip install -r requirements-dev.txt)").expect

pytestmark = pytest.mark.slow

SCREENSHOT = ROOT / "docs" / "task-page.png"
SCREENSHOT_MAX_BYTES = 300 * 1024

# Per chart title: how many traces and how many points in all. Plotly keeps what it drew on the div; the
# decoded traces are in _fullData (the data Streamlit hands over packs numpy arrays as base64), and Streamlit's
# theme wraps the title in <b>.
CHARTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
    const t = el.layout && el.layout.title;
    const title = String((t && (t.text !== undefined ? t.text : t)) || '').replace(/<[^>]*>/g, '');
    const traces = el._fullData || [];
    return {title: title, traces: traces.length,
            points: traces.reduce((n, tr) => n + (tr._length !== undefined ? tr._length : (tr.x || []).length), 0)};
})"""


def _charts(page) -> dict[str, dict]:
    return {c["title"]: c for c in page.evaluate(CHARTS_JS)}


def _points(page, title: str) -> int:
    chart = _charts(page).get(title)
    return chart["points"] if chart else 0


def _header_line(page, task_id: int):
    """The line under the title: status badge, task id, model and dataset."""
    return page.locator('[data-testid="stMarkdownContainer"]', has_text=f"task #{task_id}").first


def test_live_chart_grows_without_a_reload_and_stop_works(ui_server, worker, settings, session, burst, page,
                                                          tmp_path):
    ds, model = deployed(settings, session, burst, tmp_path)
    # ~40 s of training at one metrics line every 0.3 s: long enough to watch, stopped well before the end.
    task = create_task(session=session, task_in=TaskIn(
        name="live loss", model_id=model.id, dataset_id=ds.id, epochs=130, metrics=["loss"],
        params={"sleep": ("0.3", False)}), actor=OP)
    worker()
    context.current().schedule(task.id)
    try:
        def printing() -> bool:
            session.expire_all()
            runs = task_runs(session=session, task_id=task.id)
            return bool(runs) and runs[0].lines >= 3

        wait_for(printing, 60, "the run to print its first metrics lines")
        ui_server.wait_ready()
        page.goto(f"{ui_server.url}/task?id={task.id}")
        page.get_by_role("heading", name="live loss").wait_for(timeout=30_000)
        wait_for(lambda: _points(page, "loss") > 0, 30, f"the loss chart to draw\n{ui_server.log_tail()}")
        no_exception(page, ui_server)
        # A full reload would drop this; a fragment rerun leaves the document alone.
        page.evaluate("window.__trainyardMarker = 'still the same document'")
        seen = [_points(page, "loss")]
        for _ in range(2):  # two refreshes in a row, so it is the timer and not a late first draw
            wait_for(lambda: _points(page, "loss") > seen[-1], 15,
                     f"the loss chart to gain points past {seen[-1]} without a reload")
            seen.append(_points(page, "loss"))
        assert page.evaluate("window.__trainyardMarker") == "still the same document", "the page reloaded"
        assert seen[0] < seen[1] < seen[2], seen
        no_exception(page, ui_server)

        page.get_by_role("button", name="Stop task").click()
        wait_for(lambda: task_status(session, task.id) == TaskStatus.stopped, 30, "the task to stop")
        # The fragment sees the finished task and reruns the whole page: the Stop button goes, the badge says so.
        page.get_by_role("button", name="Stop task").wait_for(state="detached", timeout=15_000)
        expect(_header_line(page, task.id)).to_contain_text("stopped", timeout=15_000)
        assert page.evaluate("window.__trainyardMarker") == "still the same document", "the page reloaded"
        # The rerun redraws the chart from the finished run's points: none lost.
        wait_for(lambda: _points(page, "loss") >= seen[-1], 15, f"the stopped task's chart with ≥ {seen[-1]} points")
        no_exception(page, ui_server)
    finally:
        # Whatever failed above, leave no run behind: stop through the service as the page would.
        if not task_status(session, task.id).finished:
            request_stop(session=session, task_id=task.id, actor=OP)
            context.current().schedule(task.id)
            wait_for(lambda: task_status(session, task.id).finished, 30, "the task to stop at cleanup")


def test_finished_search_renders_charts_runs_and_detail(ui_server, settings, session, burst, page, tmp_path):
    ds, model = deployed(settings, session, burst, tmp_path)
    write = os.environ.get("TRAINYARD_WRITE_SCREENSHOT") == "1"
    # For the picture each run lasts ~5 s, so the resource chart (one sample every 2 s) has a line to draw.
    sleep = "0.6" if write else "0.1"
    task = create_task(session=session, task_in=TaskIn(
        name="quadratic sweep", model_id=model.id, dataset_id=ds.id, epochs=8, n_runs=3,
        metrics=["loss", "score"], eval_metric="score", sampler="random", prune=False, seed=4,
        params={"x": ("[0.0, 1.0]", True), "k": ("[3, 11]", True), "sleep": (sleep, False)}), actor=OP)
    context.current().schedule(task.id)
    burst()  # the three real runs, in this process, while streamlit starts
    session.expire_all()
    task = get_task(session=session, task_id=task.id)
    runs = task_runs(session=session, task_id=task.id)
    assert task.status == TaskStatus.completed, task.reason
    assert task.best_run_id is not None and len(runs) == 3

    ui_server.wait_ready()
    page.goto(f"{ui_server.url}/task?id={task.id}")
    page.get_by_role("heading", name="quadratic sweep").wait_for(timeout=30_000)

    def drawn() -> bool:
        charts = _charts(page)
        # One trace per run, eight epochs each, on both metric charts.
        return all(charts.get(m, {}).get("traces") == 3 and charts[m]["points"] == 24 for m in ("loss", "score"))

    wait_for(drawn, 30, "both metric charts with 3 runs × 8 points")
    page.get_by_text("3 of 3 runs finished").wait_for(timeout=10_000)
    expect(_header_line(page, task.id)).to_contain_text("completed", timeout=10_000)
    assert page.get_by_role("button", name="Stop task").count() == 0, "a finished task offers Stop"
    no_exception(page, ui_server)

    if write:
        _write_screenshot(page)


def _write_screenshot(page) -> None:
    """The whole page: Streamlit scrolls inside its own container, so the viewport grows to fit it first;
    then a 256-colour palette keeps the PNG small enough for the README."""
    from PIL import Image

    height = page.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]') || document.querySelector('section.main');
        return Math.max(main ? main.scrollHeight : 0, document.documentElement.scrollHeight);
    }""")
    page.set_viewport_size({"width": 1440, "height": min(int(height) + 40, 4000)})
    page.wait_for_timeout(1500)  # charts re-layout to the new size
    raw = page.screenshot(full_page=True)
    img = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    img.save(SCREENSHOT, optimize=True)
    size = SCREENSHOT.stat().st_size
    assert size <= SCREENSHOT_MAX_BYTES, f"{SCREENSHOT} is {size} bytes; keep it under {SCREENSHOT_MAX_BYTES}"
