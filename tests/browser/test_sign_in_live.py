"""Signing in in a real browser: what AppTest cannot show. The session cookie is written by the page's
script, so a reload stays signed in; signing out clears it, so a reload then meets the sign-in screen."""

from __future__ import annotations

import pytest

from shared.records import Role
from shared.services import users
from streamlit_app.components.auth import COOKIE
from tests.support.browser import CHROMIUM, sign_in_form

if not CHROMIUM.exists():
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = pytest.mark.slow
PW = "correct horse battery"


def test_sign_in_survives_a_reload_and_sign_out_ends_it(ui_server, settings, session, anonymous_page):
    page = anonymous_page
    users.create_user(session=session, name="alice", password=PW, role=Role.member)
    ui_server.wait_ready()
    page.goto(f"{ui_server.url}/tasks")
    sign_in_form(page, "alice", PW)
    page.get_by_role("heading", name="Training tasks").wait_for(timeout=30_000)
    page.wait_for_function(f"document.cookie.includes('{COOKIE}=')", timeout=10_000)
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    assert cookie["sameSite"] == "Strict" and cookie["expires"] > 0

    page.reload()
    page.get_by_role("heading", name="Training tasks").wait_for(timeout=30_000)
    page.get_by_text("Signed in as").wait_for(timeout=10_000)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to Trainyard").wait_for(timeout=30_000)
    page.wait_for_function(f"!document.cookie.includes('{COOKIE}=')", timeout=10_000)
    page.reload()
    page.get_by_role("heading", name="Sign in to Trainyard").wait_for(timeout=30_000)
    assert page.get_by_role("heading", name="Training tasks").count() == 0
