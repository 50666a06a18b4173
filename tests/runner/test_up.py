"""``up``'s UI exposure: bound to this machine unless told otherwise, and a one-time link for the
first admin while there are no accounts."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from sqlmodel import Session

from runner.up import first_admin_link, ui_command
from shared.core.db import get_engine
from shared.core.settings import Settings
from shared.records import Role
from shared.services import auth, users


def _address(cmd: list[str]) -> str:
    return cmd[cmd.index("--server.address") + 1]


def test_ui_binds_to_this_machine_unless_told(tmp_path, monkeypatch):
    monkeypatch.delenv("TRAINYARD_UI_HOST", raising=False)
    s = Settings(data_dir=tmp_path)
    assert _address(ui_command(s)) == "127.0.0.1"
    assert _address(ui_command(s, host="0.0.0.0")) == "0.0.0.0"
    monkeypatch.setenv("TRAINYARD_UI_HOST", "10.1.2.3")
    assert _address(ui_command(Settings(data_dir=tmp_path))) == "10.1.2.3"


def test_first_admin_link_only_while_nobody_has_an_account(tmp_path):
    s = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    link = first_admin_link(s, "http://localhost:8501")
    assert link.startswith("http://localhost:8501/?signup=")
    token = parse_qs(urlparse(link).query)["signup"][0]
    with Session(get_engine(s.database_url), expire_on_commit=False) as db:
        user, _ = auth.sign_up(session=db, settings=s, token=token, name="root", password="correct horse battery")
        assert user.role == Role.admin and users.count_users(session=db) == 1
    assert first_admin_link(s, "http://localhost:8501") is None
