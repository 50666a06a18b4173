"""The UI's language: ``?lang=`` in the address, the sidebar switch, the person's remembered choice,
and TRAINYARD_LANGUAGE as the default (AppTest of the router; real SQLite)."""

from __future__ import annotations

from sqlmodel import Session

from tests.support.ui import app_test, open_page


def _titles(at) -> list[str]:
    return [t.value for t in at.title]


def test_lang_query_parameter_shows_chinese_and_english(ui_settings, db):
    at = open_page("views/tasks.py", lang="zh-CN")
    assert not at.exception, at.exception
    assert _titles(at) == ["训练任务"]
    assert at.query_params["lang"] == "zh-CN"
    assert at.sidebar.markdown[0].value.startswith("已登录：")
    at = open_page("views/tasks.py", lang="en")
    assert _titles(at) == ["Training tasks"]


def test_signed_out_sign_in_screen_follows_the_setting(ui_settings, db, monkeypatch):
    monkeypatch.setenv("TRAINYARD_LANGUAGE", "zh_CN")
    from shared.core.settings import get_settings

    get_settings.cache_clear()
    try:
        at = app_test(as_role=None)
        at.run()
        assert not at.exception, at.exception
        assert _titles(at) == ["登录 Trainyard"]
        assert at.query_params["lang"] == "zh-CN"  # written back, so the links carry it
    finally:
        get_settings.cache_clear()


def test_switch_is_remembered_per_person(ui_settings, db):
    from shared.core.db import get_engine
    from shared.records import User

    at = open_page("views/home.py")
    assert _titles(at)[0].endswith("Trainyard") and at.metric[0].label == "Datasets"
    at.sidebar.segmented_control(key="lang_switch").set_value("zh-CN").run()
    assert not at.exception, at.exception
    assert at.metric[0].label == "数据集"
    with Session(get_engine(ui_settings.database_url)) as s:
        from sqlmodel import select

        assert s.exec(select(User.language).where(User.name == "test-admin")).one() == "zh-CN"
    # A new browser session without ?lang= opens in the person's language.
    fresh = app_test()
    fresh.run()
    assert not fresh.exception, fresh.exception
    assert fresh.metric[0].label == "数据集"
    assert fresh.query_params["lang"] == "zh-CN"
