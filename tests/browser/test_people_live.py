"""A viewer in a real browser: signed in through the form, the New task page shows the role it needs
and no form, whichever way they reach it."""

from __future__ import annotations

import pytest

from shared.records import Role
from shared.services import users
from tests.support.browser import CHROMIUM, sign_in_form

if not CHROMIUM.exists():
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = pytest.mark.slow
PW = "correct horse battery"
REFUSAL = "Creating a task needs the member or admin role; you are a viewer."


def test_a_viewer_finds_no_task_form(ui_server, settings, session, anonymous_page):
    page = anonymous_page
    users.create_user(session=session, name="vera", password=PW, role=Role.viewer)
    ui_server.wait_ready()
    page.goto(f"{ui_server.url}/task_new")
    sign_in_form(page, "vera", PW)
    page.get_by_role("heading", name="New training task").wait_for(timeout=30_000)
    page.get_by_text(REFUSAL).wait_for(timeout=10_000)
    assert page.get_by_role("textbox", name="Task name").count() == 0
    assert page.get_by_role("button", name="Create and start").count() == 0
    # The sidebar link leads to the same refusal.
    page.goto(f"{ui_server.url}/tasks")
    page.get_by_role("heading", name="Training tasks").wait_for(timeout=30_000)
    page.get_by_role("link", name="New task").first.click()
    page.get_by_text(REFUSAL).wait_for(timeout=30_000)
    assert page.get_by_role("textbox", name="Task name").count() == 0
