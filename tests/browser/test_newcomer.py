"""What a newcomer sees in a real browser: the metrics picker offers the names
train.py prints before any run, a wrong file type is refused in plain sight,
Delete asks in a dialog, and Streamlit's own Deploy button is gone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.records import DeployStatus, utcnow
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from tests.support.browser import CHROMIUM, free_port, stop, wait_for
from tests.support.live import no_exception
from tests.support.paths import ROOT
from tests.support.people import OP
from tests.support.pkgs import write_dataset, write_package

if not CHROMIUM.exists():
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}; the browser tests never download a browser",
                allow_module_level=True)
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                             "(pip install -r requirements-dev.txt)").expect

pytestmark = pytest.mark.slow


def _app(page, server, path: str = "") -> None:
    server.wait_ready()
    page.goto(f"{server.url}/{path}")
    page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=30_000)


def _dataset(settings, session, tmp_path):
    return add_dataset(actor=OP, session=session, settings=settings, name="pets", task_type="classification",
                       zip_path=write_dataset(tmp_path / "pets.zip", classes=("cat", "dog"), per_class=2))


def test_metrics_picker_offers_the_code_s_names_for_a_model_with_no_runs(ui_server, settings, session, page,
                                                                        tmp_path):
    _dataset(settings, session, tmp_path)
    model = add_model(actor=OP, session=session, settings=settings, zip_path=write_package(tmp_path / "quadratic.zip"),
                      name="quadratic", task_type="classification")
    model.status, model.deployed_at = DeployStatus.deployed, utcnow()  # the form lists deployed models only
    session.add(model)
    session.commit()
    _app(page, ui_server, "task_new")
    page.get_by_role("heading", name="New training task").wait_for(timeout=30_000)
    picker = page.locator('[data-testid="stMultiSelect"]', has_text="Metrics to chart")
    picker.locator("input").click()
    for name in ("loss", "score"):
        expect(page.get_by_role("option", name=f"{name} · found in the code")).to_be_visible(timeout=10_000)
    page.get_by_role("option", name="loss · found in the code").click()
    expect(picker).to_contain_text("loss · found in the code")
    no_exception(page, ui_server)


def test_a_wrong_file_type_is_refused_in_plain_sight(ui_server, page, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a dataset")
    _app(page, ui_server, "datasets")
    page.get_by_role("heading", name="Datasets").wait_for(timeout=30_000)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(notes))
    alert = page.locator('[data-testid="stAlertContentError"]', has_text="notes.txt is not a .zip file")
    expect(alert).to_be_visible(timeout=15_000)  # on the page, not in a tooltip
    expect(page.get_by_role("button", name="Upload and validate")).to_be_disabled()
    no_exception(page, ui_server)


def test_delete_asks_in_a_dialog(ui_server, settings, session, page, tmp_path):
    ds = _dataset(settings, session, tmp_path)
    _app(page, ui_server, f"datasets?id={ds.id}")
    page.get_by_role("heading", name="pets").wait_for(timeout=30_000)
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Delete dataset #{ds.id} pets?", timeout=10_000)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0, timeout=10_000)
    assert settings.path(ds.path).exists(), "Cancel deleted the dataset"

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No datasets yet")).to_be_visible(timeout=15_000)
    assert not settings.path(ds.path).exists()
    no_exception(page, ui_server)


def test_no_deploy_button_and_no_dead_end_task_entry(ui_server, page):
    _app(page, ui_server)
    page.get_by_role("heading", name="Trainyard").wait_for(timeout=30_000)
    page.locator('[data-testid="stToolbar"]').wait_for(state="attached", timeout=10_000)
    assert page.locator('[data-testid="stAppDeployButton"]').count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav.get_by_role("link", name="Tasks", exact=True)).to_be_visible()
    assert nav.get_by_role("link", name="Task", exact=True).count() == 0  # opened from the task list instead


def test_startup_prints_one_url_and_no_external_ip_lookup(settings, tmp_path):
    """Plain `streamlit run` from the repository root, as the Procfile does: .streamlit/config.toml alone
    sets the address, so Streamlit does not go looking for the machine's external IP."""
    import urllib.request

    port = free_port()
    log = tmp_path / "streamlit.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app/app.py", "--server.port",
                                 str(port), "--server.fileWatcherType", "none"],
                                cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
    try:
        def up() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    return r.read().strip() == b"ok"
            except OSError:
                return False

        wait_for(up, 60, "streamlit to answer")
        wait_for(lambda: f"localhost:{port}" in log.read_text(errors="replace"), 10, "the URL line")
    finally:
        stop(proc, timeout=10)
    text = log.read_text(errors="replace")
    assert f"URL: http://localhost:{port}" in text, text
    assert "External URL" not in text and "external IP" not in text, text


def test_predict_says_the_same_status_in_result_and_history(ui_server, settings, session, page, tmp_path):
    """The result area refreshes alone every second; when the status moves, the history list follows."""
    from shared.records import Prediction, PredictionStatus
    from tests.support.ui import make_dataset, make_model, make_task

    ds = make_dataset(session, settings, tmp_path)
    model = make_model(session, settings, tmp_path)
    task, runs = make_task(session, settings, model_id=model.id, dataset_id=ds.id, status="completed")
    pred = Prediction(task_id=task.id, run_id=runs[0].id, model_id=model.id, weights="best.pt", path="",
                      images=["a.png"], status=PredictionStatus.queued)
    session.add(pred)
    session.commit()
    _app(page, ui_server, f"predict?prediction={pred.id}")
    page.get_by_role("heading", name="History for this model").wait_for(timeout=30_000)
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("queued", timeout=15_000)
    pred.status, pred.started_at = PredictionStatus.running, utcnow()
    session.add(pred)
    session.commit()
    # Result and History both say running: no "queued" left anywhere on the page.
    wait_for(lambda: "queued" not in main.inner_text(), 15, "the history to follow the result's status")
    assert main.inner_text().count("running") >= 2
    no_exception(page, ui_server)
