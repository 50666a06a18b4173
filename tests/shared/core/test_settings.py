"""The settings this release added: uv's index strategy, the upload limit the
UI is started with, and the server import folder."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.core.settings import Settings
from shared.records import IndexStrategy


def test_defaults(tmp_path, monkeypatch):
    for name in ("TRAINYARD_INDEX_STRATEGY", "TRAINYARD_MAX_UPLOAD", "TRAINYARD_MAX_UPLOAD_BYTES",
                 "TRAINYARD_IMPORT_DIR"):
        monkeypatch.delenv(name, raising=False)
    s = Settings(data_dir=tmp_path)
    assert s.index_strategy == IndexStrategy.unsafe_best_match and s.index_strategy.value == "unsafe-best-match"
    assert s.max_upload_bytes == 2 * 1024**3
    assert s.import_dir is None
    assert s.streamlit_flags() == ["--server.maxUploadSize", "2048"]


def test_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINYARD_INDEX_STRATEGY", "first-index")
    monkeypatch.setenv("TRAINYARD_MAX_UPLOAD", "300MB")
    monkeypatch.setenv("TRAINYARD_IMPORT_DIR", str(tmp_path / "drop" / ".." / "drop"))
    s = Settings(data_dir=tmp_path)
    assert s.index_strategy == IndexStrategy.first_index
    assert s.max_upload_bytes == 300 * 1000**2
    assert s.import_dir == tmp_path / "drop"
    assert s.streamlit_flags() == ["--server.maxUploadSize", "287"]  # MiB, rounded up: never below the limit


def test_an_unknown_index_strategy_names_the_choices(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINYARD_INDEX_STRATEGY", "best")
    with pytest.raises(ValidationError, match="first-index.*unsafe-first-match.*unsafe-best-match"):
        Settings(data_dir=tmp_path)


def test_the_ui_command_carries_the_upload_limit_and_later_options_win(tmp_path, monkeypatch):
    from shared.core.settings import get_settings
    from streamlit_app.__main__ import command

    monkeypatch.setenv("TRAINYARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRAINYARD_MAX_UPLOAD", "none")
    get_settings.cache_clear()
    try:
        cmd = command(["--server.port", "9000"])
    finally:
        get_settings.cache_clear()
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("streamlit_app/app.py")
    assert cmd[cmd.index("--server.maxUploadSize") + 1] == "10000000"  # no limit: Streamlit has no "off"
    assert cmd[-2:] == ["--server.port", "9000"]


def test_the_ui_command_turns_streamlit_s_chrome_off(tmp_path, monkeypatch):
    """As .streamlit/config.toml does, for a UI started away from the repository root too: no Deploy button
    or developer menu, and a set address (no external-IP lookup at startup)."""
    from shared.core.settings import get_settings
    from streamlit_app.__main__ import command

    monkeypatch.setenv("TRAINYARD_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        cmd = command([])
    finally:
        get_settings.cache_clear()
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "viewer"
    assert cmd[cmd.index("--browser.serverAddress") + 1] == "localhost"


def test_default_data_dir_leaves_a_home_the_sandbox_cannot_enter(tmp_path, monkeypatch):
    """A root checkout in a 0700 home: ./data stays where the worker can mount a run's folders for the sandbox's
    uid (CAP_SYS_ADMIN); without that it would be out of the uid's reach, so the default moves to the system
    folder; a reachable ./data stays, and an explicit DATA_DIR always wins."""
    import os
    from pathlib import Path

    from shared.core import settings as settings_mod
    from shared.core.settings import SYSTEM_DATA_DIR, default_data_dir, others_can_enter

    home = tmp_path / "home"
    (home / "checkout").mkdir(parents=True)
    home.chmod(0o700)
    local = home / "checkout" / "data"
    assert not others_can_enter(local)
    if os.geteuid() == 0:  # the platform only drops to another uid when it runs as root
        monkeypatch.setattr(settings_mod, "can_make_mounts", lambda: True)
        assert default_data_dir(local) == local
        monkeypatch.setattr(settings_mod, "can_make_mounts", lambda: False)
        assert default_data_dir(local) == SYSTEM_DATA_DIR
        monkeypatch.chdir(home / "checkout")
        monkeypatch.delenv("DATA_DIR", raising=False)
        monkeypatch.delenv("TRAINYARD_DATA_DIR", raising=False)
        monkeypatch.delenv("TRAINYARD_DATABASE_URL", raising=False)
        monkeypatch.delenv("DATABASE_URL", raising=False)
        assert Settings().data_dir == SYSTEM_DATA_DIR
        assert Settings(data_dir=local).data_dir == local  # said explicitly: kept
    reachable = Path("/usr/share/trainyard-data")  # /usr and /usr/share let everyone pass
    assert others_can_enter(reachable) and default_data_dir(reachable) == reachable
