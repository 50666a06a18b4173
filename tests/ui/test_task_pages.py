"""Task list, task page (charts, runs, logs, downloads, stop) and the task form
(bad combinations refused at their field, a good one created and scheduled)."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from tests.support.people import OP
from tests.support.ui import error_under, frame, make_dataset, make_model, make_task, open_page, signed_in


def _rows(db, ui_settings, tmp_path, **task_kw):
    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    task, runs = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, **task_kw)
    return ds, model, task, runs


# --------------------------------------------------------------------------- task list


def test_task_list_filters_and_opens_a_task(ui_settings, db, tmp_path):
    _ds, _model, task, _runs = _rows(db, ui_settings, tmp_path, status="completed")
    at = open_page("views/tasks.py")
    assert not at.exception, at.exception
    table = at.dataframe(key="tl_table").value
    assert table["name"].tolist() == ["lr sweep"]
    row = table.iloc[0]
    assert "completed" in row["status"]
    assert row["progress"] == "5/5 epochs"
    assert row["runs"].startswith("2/3")
    assert row["best score"] == "0.9 (score)"
    at.selectbox(key="tl_status").set_value("failed")
    at.run()
    assert any("No tasks match" in i.value for i in at.info)
    at.selectbox(key="tl_status").set_value(None)
    at.text_input(key="tl_search").set_value("sweep")
    at.run()
    at.button(key="tl_open").click()
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "lr sweep"
    assert at.query_params["id"] == str(task.id)


def test_task_list_empty(ui_settings):
    at = open_page("views/tasks.py")
    assert not at.exception
    assert any("No tasks yet" in i.value for i in at.info)


# --------------------------------------------------------------------------- task page


def test_running_task_page_shows_charts_runs_and_run_detail(ui_settings, db, tmp_path):
    _ds, _model, task, runs = _rows(db, ui_settings, tmp_path, status="running")
    runs[1].metric_names = ["epoch", "loss", "lr"]  # the running run has not printed `score` yet
    db.add(runs[1])
    db.commit()
    at = open_page("views/task.py", id=str(task.id))
    assert not at.exception, at.exception
    assert at.title[0].value == "lr sweep"
    assert at.button(key="tk_stop")
    charts = at.get("plotly_chart")
    assert len(charts) >= 2  # loss and score
    table = frame(at, "lines")
    assert [s.split()[-1] for s in table["status"]] == ["completed", "running"]
    assert table["best"].tolist() == ["★", ""]  # the best finished run so far
    # Run detail of the running run: metrics found, unparsed line with the expected form, log tail.
    at.selectbox(key="tk_run").set_value(runs[1].id)
    at.run()
    assert not at.exception, at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert "`epoch`, `loss`, `lr`" in text
    assert any("**score** was chosen but run 2" in w.value and "after 5 metric lines" in w.value for w in at.warning)
    assert any(c.value == "loss=0.5 acc=0.3" for c in at.code)
    assert any("key: value" in c.value for c in at.caption)
    html = "\n".join(h.proto.body for h in at.get("html"))
    assert 'class="e"' in html and "ValueError: boom" in html  # stderr set apart
    at.text_input(key=f"tk{task.id}_log_{runs[1].id}_search").set_value("needle")
    at.run()
    html = "\n".join(h.proto.body for h in at.get("html"))
    assert "<mark>needle</mark>" in html and "boom" not in html


def test_other_metrics_are_chartable_on_demand(ui_settings, db, tmp_path):
    _ds, _model, task, _runs = _rows(db, ui_settings, tmp_path, status="completed")
    at = open_page("views/task.py", id=str(task.id))
    before = len(at.get("plotly_chart"))
    more = at.multiselect(key=f"tk{task.id}_more")
    assert "lr" in more.options and "loss" not in more.options
    more.set_value(["lr"])
    at.run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == before + 1


def test_failed_task_leads_with_its_reason(ui_settings, db, tmp_path):
    _ds, _model, task, _runs = _rows(db, ui_settings, tmp_path, status="failed",
                                     reason="all 2 runs failed; run 1: ValueError: boom")
    at = open_page("views/task.py", id=str(task.id))
    assert not at.exception, at.exception
    assert "all 2 runs failed" in at.error[0].value
    assert not [b for b in at.button if b.key == "tk_stop"]


def test_downloads_metrics_log_and_weights(ui_settings, db, tmp_path, monkeypatch):
    _ds, _model, task, runs = _rows(db, ui_settings, tmp_path, status="completed")
    at = open_page("views/task.py", id=str(task.id))
    keys = {b.key for b in at.get("download_button")}
    assert {"tk_dl_csv", "tk_dl_log", "tk_dl_zip", "tk_dl_one"} <= keys
    assert at.selectbox(key="tk_dl_run").value == task.best_run_id
    assert at.selectbox(key="tk_dl_file").options == ["best.pt"]
    # The deferred download callables, run the way the button runs them.
    from streamlit_app.components import logs
    from streamlit_app.components import task_view as tv

    csv_text = tv.metrics_csv(task.id).decode()
    assert csv_text.splitlines()[0] == "run_id,run,metric,seq,value"
    assert ",loss,1,-inf" in csv_text and ",loss,2,inf" in csv_text
    plain = logs.plain_log_bytes(ui_settings.path(runs[0].log_path)).decode()
    assert plain.startswith("epoch: 1, loss: 1.000") and "\nValueError: boom\n" in plain
    import io
    import zipfile

    from streamlit_app.components import deps

    # Outside a script run there is no session state: the person the page was shown to, as the button has it.
    monkeypatch.setattr(deps, "current_user", lambda: signed_in("admin")[0])
    names = zipfile.ZipFile(io.BytesIO(tv.weights_zip(task.id, None))).namelist()
    assert names == [f"task{task.id}-run{runs[0].id}/best.pt"]
    assert tv.file_bytes(runs[1], "best.pt") == b"weights-1"


def test_search_task_plots(ui_settings, db, tmp_path):
    """The Optuna study behind a search task: parallel coordinates, then importances from 2 trials."""
    import optuna

    from shared.services.search import distributions, load_study

    _ds, _model, task, _runs = _rows(db, ui_settings, tmp_path, status="running", search=True)
    study = load_study(task, ui_settings.database_url)
    at = open_page("views/task.py", id=str(task.id))
    assert not at.exception, at.exception
    assert any("No completed trial yet" in i.value for i in at.info)
    for x, v in ((0.1, 0.5), (0.7, 0.9), (0.4, 0.6)):
        study.add_trial(optuna.trial.create_trial(params={"x": x}, distributions=distributions(task), value=v))
    at.run()
    assert not at.exception, at.exception
    keys = {c.proto.id for c in at.get("plotly_chart")}
    assert any("parallel" in k for k in keys) and any("importance" in k for k in keys)


def test_the_search_reason_reads_in_chinese(ui_settings, db, tmp_path):
    """Issue 19: with ?lang=zh-CN the sampler's reason is Chinese (Optuna's sampler names aside), not the
    English sentence the row used to hold; ?lang=en shows the English one."""
    from shared.services.search import choose_sampler

    _ds, _model, task, _runs = _rows(db, ui_settings, tmp_path, search=True)
    task.sampler_used, reason = choose_sampler(task, seeded_runs=4)
    task.sampler_reason = reason.stored()
    db.add(task)
    db.commit()
    at = open_page("views/task.py", id=str(task.id), lang="zh-CN")
    assert not at.exception, at.exception
    [caption] = [c.value for c in at.caption if c.value.startswith("搜索：")]
    assert "高斯过程" in caption and "4" in caption
    assert set(re.findall(r"[A-Za-z]+", caption)) <= {"auto"}, caption  # no English words
    # The facts row names the sampler that ran in the same words, not "Gaussian process (auto)".
    facts = re.sub(r"\\(.)", r"\1", "\n".join(m.value for m in at.markdown))
    assert "高斯过程（自动）" in facts and "Gaussian" not in facts, facts
    at = open_page("views/task.py", id=str(task.id), lang="en")
    assert any(c.value == f"Search: {reason}" for c in at.caption)


def test_stop_requests_and_schedules(ui_settings, ui_redis, db, tmp_path):
    from shared.records import TaskStatus
    from shared.services.tasks import get_task

    _ds, _model, task, _runs = _rows(db, ui_settings, tmp_path, status="running")
    at = open_page("views/task.py", id=str(task.id))
    at.button(key="tk_stop").click()
    at.run()
    assert not at.exception, at.exception
    db.expire_all()
    t = get_task(session=db, task_id=task.id)
    assert t.stop_requested
    # The scheduler step ran: the running run still has to end on its own, so the task is not final yet.
    assert t.status == TaskStatus.running
    assert at.button(key="tk_stop").disabled


def test_unknown_task(ui_settings):
    at = open_page("views/task.py", id="999")
    assert not at.exception
    assert "task 999 does not exist" in at.error[0].value


# --------------------------------------------------------------------------- task form


def _form(db, ui_settings, tmp_path, *, earlier_task: bool = False) -> tuple[AppTest, object, object]:
    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    if earlier_task:  # its runs printed epoch, loss, score, lr: the form suggests them
        make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="completed")
    at = open_page("views/task_new.py")
    assert not at.exception, at.exception
    at.text_input(key="tf_name").set_value("t1")
    return at, ds, model


def _submit(at: AppTest) -> AppTest:
    at.button(key="tf_submit").click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_form_lists_user_parameters_with_defaults(ui_settings, db, tmp_path):
    at, _ds, _model = _form(db, ui_settings, tmp_path)
    assert at.text_input(key="tf_p_x").value == "0.0"
    assert at.text_input(key="tf_p_k").value == "1"
    assert at.text_input(key="tf_p_opt").value == "sgd"
    assert at.number_input(key="tf_epochs").value == 3  # train.py's --epochs default
    platform = {"tf_p_data", "tf_p_work_dir", "tf_p_work-dir"}
    assert not platform & {w.key for w in at.text_input}


def test_form_refuses_a_search_without_a_range(ui_settings, db, tmp_path):
    at, _ds, _model = _form(db, ui_settings, tmp_path)
    at.checkbox(key="tf_s_x").check()
    at.multiselect(key="tf_metrics").set_value(["score"])
    at.run()  # the evaluation metric offers the charted ones
    at.selectbox(key="tf_eval").set_value("score")
    _submit(at)
    assert "not a range" in (error_under(at, "tf_p_x") or "")


def test_form_suggests_metrics_earlier_runs_printed(ui_settings, db, tmp_path):
    at, _ds, _model = _form(db, ui_settings, tmp_path, earlier_task=True)
    both, runs_only = "found in the code, printed by earlier runs", "printed by earlier runs"
    assert at.multiselect(key="tf_metrics").options == [f"epoch · {both}", f"loss · {both}", f"score · {both}",
                                                        f"lr · {runs_only}"]


def test_form_refuses_an_eval_metric_not_charted(ui_settings, db, tmp_path):
    at, _ds, _model = _form(db, ui_settings, tmp_path, earlier_task=True)
    at.multiselect(key="tf_metrics").set_value(["loss"])
    at.run()  # the evaluation metric offers the charted ones
    at.selectbox(key="tf_eval").set_value("score")
    _submit(at)
    assert "not among the charted metrics" in (error_under(at, "tf_eval") or "")
    assert error_under(at, "tf_name") is None


def test_form_refuses_a_range_on_a_string_argument(ui_settings, db, tmp_path):
    at, _ds, _model = _form(db, ui_settings, tmp_path)
    at.text_input(key="tf_p_opt").set_value("[1, 2]")
    at.checkbox(key="tf_s_opt").check()
    at.multiselect(key="tf_metrics").set_value(["score"])
    at.run()  # the evaluation metric offers the charted ones
    at.selectbox(key="tf_eval").set_value("score")
    _submit(at)
    assert "needs a number argument" in (error_under(at, "tf_p_opt") or "")


def test_form_refuses_zero_runs(ui_settings, db, tmp_path):
    at, _ds, _model = _form(db, ui_settings, tmp_path)
    at.number_input(key="tf_runs").set_value(0)
    _submit(at)
    assert "at least 1" in (error_under(at, "tf_runs") or "")


def test_form_refuses_a_bad_time_limit_and_a_bad_memory_limit(ui_settings, db, tmp_path):
    at, _ds, _model = _form(db, ui_settings, tmp_path)
    at.text_input(key="tf_time").set_value("soon")
    _submit(at)
    assert "not a duration" in (error_under(at, "tf_time") or "")
    at.text_input(key="tf_time").set_value("10m")
    at.text_input(key="tf_lim_memory_limit").set_value("lots")
    _submit(at)
    assert error_under(at, "tf_time") is None
    assert "not a size" in (error_under(at, "tf_lim_memory_limit") or "")


def test_form_offers_grid_only_for_grid_searchable_values(ui_settings, db, tmp_path):
    at, _ds, _model = _form(db, ui_settings, tmp_path)
    samplers = ["auto", "Gaussian process", "TPE", "random"]
    assert at.selectbox(key="tf_sampler").options == samplers
    assert at.selectbox(key="tf_sampler").value == "auto"
    at.text_input(key="tf_p_k").set_value("[1, 9]")
    at.checkbox(key="tf_s_k").check()
    at.run()
    assert at.selectbox(key="tf_sampler").options == [*samplers, "grid"]
    at.text_input(key="tf_p_x").set_value("[0.0, 1.0]")
    at.checkbox(key="tf_s_x").check()
    at.run()
    assert "grid" not in at.selectbox(key="tf_sampler").options  # a float range cannot be a grid


def test_form_direction_follows_the_eval_metric(ui_settings, db, tmp_path):
    at, _ds, _model = _form(db, ui_settings, tmp_path)
    at.multiselect(key="tf_metrics").set_value(["loss", "score"])
    at.run()  # the evaluation metric offers the charted ones
    at.selectbox(key="tf_eval").set_value("loss")
    at.run()
    assert at.radio(key="tf_direction").value == "min"
    at.selectbox(key="tf_eval").set_value("score")
    at.run()
    assert at.radio(key="tf_direction").value == "max"


def test_form_template_prefills(ui_settings, db, tmp_path):
    from shared.services.models import save_template

    at, _ds, model = _form(db, ui_settings, tmp_path)
    save_template(session=db, model_id=model.id, name="wide", values={"x": "[0.1, 0.9]", "k": "5"}, actor=OP)
    at.run()
    at.selectbox(key="tf_template").select_index(1)
    at.run()
    assert not at.exception, at.exception
    assert at.text_input(key="tf_p_x").value == "[0.1, 0.9]"
    assert at.checkbox(key="tf_s_x").value is True
    assert at.text_input(key="tf_p_k").value == "5"


def test_form_creates_schedules_and_opens_the_task(ui_settings, ui_redis, db, tmp_path):
    from shared.services.tasks import get_task, task_runs

    at, ds, model = _form(db, ui_settings, tmp_path)
    at.number_input(key="tf_runs").set_value(2)
    at.multiselect(key="tf_metrics").set_value(["loss", "score"])
    at.run()  # the evaluation metric offers the charted ones
    at.selectbox(key="tf_eval").set_value("score")
    at.text_input(key="tf_p_x").set_value("[0.0, 1.0]")
    at.checkbox(key="tf_s_x").check()
    _submit(at)
    assert at.title[0].value == "t1"  # now on the task page
    task = get_task(session=db, task_id=int(at.query_params["id"]))
    assert (task.model_id, task.dataset_id, task.n_runs, task.eval_metric) == (model.id, ds.id, 2, "score")
    assert task.params["x"]["range"] == [0.0, 1.0]
    assert len(task_runs(session=db, task_id=task.id)) == 2  # the scheduler step queued them
    assert ui_redis.llen("rq:queue:train") == 2
    # auto resolved to a Gaussian process for one float and 2 runs; the page says so and why.
    assert task.sampler_used.value == "gp" and (task.pruner.value, task.rank_pruned) == ("median", False)
    facts = re.sub(r"\\(.)", r"\1", "\n".join(m.value for m in at.markdown))  # facts.plain escapes Markdown
    assert "Gaussian process (auto) + median pruner" in facts
    assert any("Search: auto: Gaussian process, since the 1 searched parameters" in c.value for c in at.caption)


def test_form_continues_an_earlier_search_and_picks_a_pruner(ui_settings, ui_redis, db, tmp_path):
    from shared.services.tasks import get_task

    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    earlier, _runs = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="completed", search=True)
    at = open_page("views/task_new.py")
    at.text_input(key="tf_name").set_value("more")
    at.multiselect(key="tf_metrics").set_value(["score"])
    at.run()
    at.selectbox(key="tf_eval").set_value("score")
    at.text_input(key="tf_p_x").set_value("[0.0, 2.0]")
    at.checkbox(key="tf_s_x").check()
    at.selectbox(key="tf_pruner").set_value("hyperband")
    at.selectbox(key="tf_warm").set_value(earlier.id)
    _submit(at)
    assert "searched x over [0.0, 1.0]" in error_under(at, "tf_p_x")  # not the earlier task's range
    at.text_input(key="tf_p_x").set_value("[0.0, 1.0]")
    _submit(at)
    task = get_task(session=db, task_id=int(at.query_params["id"]))
    assert (task.warm_start_task_id, task.pruner.value) == (earlier.id, "hyperband")
    assert any("+ 1 from the warm start is at most 100" in c.value for c in at.caption)
    assert any(f"continues task #{earlier.id}'s search" in c.value for c in at.caption)


def test_start_training_from_a_dataset_preselects_it(ui_settings, db, tmp_path):
    make_dataset(db, ui_settings, tmp_path, name="first")
    second = make_dataset(db, ui_settings, tmp_path, name="second")
    make_model(db, ui_settings, tmp_path)
    at = open_page("views/datasets.py", id=str(second.id))
    at.button(key="ds_train").click()
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="tf_dataset").value == second.id
