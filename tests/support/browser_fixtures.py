"""Browser fixtures, a plugin listed in tests/conftest.py's ``pytest_plugins`` (tests/browser and
tests/security both use them): Playwright driving Debian's Chromium, a tab signed out or signed in as an admin,
and a real ``streamlit run`` of the app started with the test's settings (the ``settings`` fixture puts them in
the environment, which the subprocess inherits) and stopped by its own PID."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, UIServer, free_port, stop
from tests.support.paths import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture
def ui_server(settings, tmp_path) -> Iterator[UIServer]:
    """``streamlit run streamlit_app/app.py`` on a free port. Started at once (it loads while the test
    prepares its data); call ``wait_ready()`` before opening a page."""
    port = free_port()
    log = tmp_path / "streamlit.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app/app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
    server = UIServer(proc=proc, url=f"http://127.0.0.1:{port}", log=log)
    try:
        yield server
    finally:
        stop(proc, timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Imported here: test_live.py skips (with the reason) when playwright or the browser is missing.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def anonymous_page(browser) -> Iterator[Page]:
    """A fresh browser tab with no cookies: it meets the sign-in screen."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(anonymous_page, settings) -> Page:
    """A browser tab signed in as an admin: the session cookie the sign-in form would have left."""
    from sqlmodel import Session

    from shared.core.db import get_engine
    from shared.records import Role, User
    from shared.services import auth
    from streamlit_app.components.auth import COOKIE

    with Session(get_engine(settings.database_url), expire_on_commit=False) as s:
        admin = User(name="browser-admin", role=Role.admin)
        s.add(admin)
        s.commit()
        s.refresh(admin)
    anonymous_page.context.add_cookies([{"name": COOKIE, "value": auth.issue_token(settings, admin),
                                         "domain": "127.0.0.1", "path": "/"}])
    return anonymous_page
