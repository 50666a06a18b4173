"""The task page as a newcomer meets it: live facts from one clock, the runs table that shows what was
searched, the log that follows the running run, warnings with patience, and the form that says how many
runs will really go at once."""

from __future__ import annotations

import re
from datetime import timedelta

from shared.records import MetricPoint, Run, RunStatus, utcnow
from tests.support.ui import frame, make_dataset, make_model, make_task, open_page


def _rows(db, ui_settings, tmp_path, **task_kw):
    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    task, runs = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, **task_kw)
    return task, runs


def _facts(at) -> str:
    """The facts row as read: its values are Markdown-escaped (facts.plain) and bold in <strong>."""
    text = "\n".join(m.value for m in at.markdown if "<small>" in m.value)
    return re.sub(r"\\(.)", r"\1", text).replace("<strong>", "**").replace("</strong>", "**")


def test_live_facts_come_from_the_db_and_this_ticks_clock(ui_settings, db, tmp_path):
    task, runs = _rows(db, ui_settings, tmp_path, status="running")
    at = open_page("views/task.py", id=str(task.id))
    assert not at.exception, at.exception
    facts = _facts(at)
    assert "Running for</small><br>**3m 0" in facts  # started 3 minutes ago
    assert "**1 done · 1 running · 1 queued**" in facts  # the third run is not created yet: it waits too
    assert "run 2: epoch 5/5" in facts
    # Another tick reads the DB again: the facts move with it (the browser test watches the timer itself).
    task.started_at = utcnow() - timedelta(minutes=10)
    db.add(task)
    db.add(MetricPoint(run_id=runs[1].id, name="epoch", seq=5, value=6.0))
    db.commit()
    at.run()
    facts = _facts(at)
    assert "Running for</small><br>**10m 0" in facts and "run 2: epoch 6/5" in facts
    assert "No worker is up" in "\n".join(c.value for c in at.caption) or \
        any("Cannot see the workers" in c.value for c in at.caption)


def test_runs_table_puts_searched_parameters_first(ui_settings, db, tmp_path):
    task, runs = _rows(db, ui_settings, tmp_path, status="completed", search=True)
    task.params = {**task.params, "k": {"value": 3, "search": False}}
    db.add(task)
    db.commit()
    at = open_page("views/task.py", id=str(task.id))
    assert not at.exception, at.exception
    table = frame(at, "lines")
    assert list(table.columns[:3]) == ["best", "run", "x"]
    assert table["x"].tolist() == ["0.1", "0.2"] and table["epoch"].tolist() == ["5/5", "5/5"]
    assert "params" not in table.columns
    assert any("Searched: **x**" in c.value and "`k=3`" in c.value for c in at.caption)


def test_runs_table_widths_and_best_highlight():
    import pandas as pd

    from streamlit_app.components.runs_table import BEST_CSS, _highlight_best, column_widths

    df = pd.DataFrame([{"best": "★", "run": 1, "learning-rate": "0.000123457", "device": "cpu", "id": 7},
                       {"best": "", "run": 2, "learning-rate": "0.01", "device": "GPU 0,1,2,3", "id": 8}])
    widths = column_widths(df)
    # As wide as the longest cell or header (8.5 px a character and padding): nothing is cut.
    assert widths["learning-rate"] >= 13 * 8.5 and widths["device"] >= 11 * 8.5
    html = _highlight_best(df, ["learning-rate"], 7).to_html()
    assert html.count(BEST_CSS.split(";")[0].split(": ")[1]) >= 1
    none = _highlight_best(df, ["learning-rate"], None).to_html()
    assert BEST_CSS.split(";")[0].split(": ")[1] not in none


def test_runs_table_colours_the_status_text():
    """No emoji dots: the status cell is plain text, coloured by the Styler like the other tables."""
    import pandas as pd

    from streamlit_app.components.runs_table import _highlight_best

    df = pd.DataFrame([{"best": "", "run": 1, "status": "failed", "id": 7},
                       {"best": "", "run": 2, "status": "completed", "id": 8}])
    html = _highlight_best(df, [], None).to_html()
    assert "#ff4b4b" in html and "#21c354" in html


def test_log_follows_the_running_run_until_one_is_picked(ui_settings, db, tmp_path):
    task, runs = _rows(db, ui_settings, tmp_path, status="running")
    at = open_page("views/task.py", id=str(task.id))
    assert at.selectbox(key="tk_run").value == runs[1].id  # the running one, not the best
    # Run 2 ends and run 3 starts: the next tick moves to run 3.
    now = utcnow()
    runs[1].status, runs[1].finished_at = RunStatus.completed, now
    db.add(runs[1])
    third = Run(task_id=task.id, index=2, status=RunStatus.running, params={"x": 0.3}, started_at=now,
                log_path=runs[1].log_path)
    db.add(third)
    db.commit()
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="tk_run").value == third.id
    assert any("Following the running run" in c.value for c in at.caption)
    # A pick is kept through later ticks, even when another run starts.
    at.selectbox(key="tk_run").set_value(runs[0].id)
    at.run()
    third.status, third.finished_at = RunStatus.completed, utcnow()
    db.add(third)
    db.add(Run(task_id=task.id, index=3, status=RunStatus.running, started_at=utcnow()))
    db.commit()
    at.run()
    assert at.selectbox(key="tk_run").value == runs[0].id
    at.button(key="tk_follow").click()
    at.run()
    assert at.selectbox(key="tk_run").value not in (runs[0].id, third.id)


def test_missing_metric_warning_waits_for_three_metric_lines(ui_settings, db, tmp_path):
    task, runs = _rows(db, ui_settings, tmp_path, status="running", n_points=2)
    runs[1].metric_names = ["epoch", "loss", "lr"]  # no `score` yet, after 2 metric lines
    db.add(runs[1])
    db.commit()
    at = open_page("views/task.py", id=str(task.id))
    assert not at.exception, at.exception
    assert not [w for w in at.warning if "was chosen but" in w.value]
    db.add(MetricPoint(run_id=runs[1].id, name="loss", seq=2, value=0.3))  # the third metric line
    db.commit()
    at.run()
    assert any("**score** was chosen but run 2" in w.value and "after 3 metric lines" in w.value
               for w in at.warning)


def test_a_run_that_ended_without_a_metric_is_warned_at_once(ui_settings, db, tmp_path):
    task, runs = _rows(db, ui_settings, tmp_path, status="completed", n_points=1)
    runs[0].metric_names = ["epoch", "score"]  # ended after one metric line, never printed `loss`
    db.add(runs[0])
    db.commit()
    at = open_page("views/task.py", id=str(task.id))
    assert not at.exception, at.exception
    assert at.selectbox(key="tk_run").value == runs[0].id  # a finished task opens on its best run
    assert any("**loss** was chosen but run 1" in w.value and "in its 1 metric lines" in w.value
               for w in at.warning)


def test_form_says_how_many_runs_go_at_once(ui_settings, ui_redis, db, tmp_path):
    from runner.worker import TrainyardWorker
    from shared.core.queue import QUEUES

    make_dataset(db, ui_settings, tmp_path)
    make_model(db, ui_settings, tmp_path)
    at = open_page("views/task_new.py")
    assert not at.exception, at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert "No worker is up" in captions
    for name, gpus in (("w0", ("0",)), ("w1", ("1",))):
        w = TrainyardWorker(list(QUEUES), connection=ui_redis, name=name)
        w.gpus = gpus
        w.register_birth()
    at.number_input(key="tf_runs").set_value(4)
    at.run()
    captions = "\n".join(c.value for c in at.caption)
    assert "2 workers up (GPU 0, GPU 1): 2 at a time, not 4" in captions
    at.number_input(key="tf_parallel").set_value(1)
    at.run()
    assert "2 workers up (GPU 0, GPU 1): 1 at a time." in "\n".join(c.value for c in at.caption)
