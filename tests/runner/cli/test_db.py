"""``db current|upgrade``, ``backup`` and ``restore`` through the CLI, on a real SQLite database."""

from __future__ import annotations

from shared.core import migrate


def test_db_current_and_upgrade_report_the_head(cli):
    r = cli("db", "upgrade", "--json")
    assert r.code == 0, r.stderr
    assert r.data["to"] == migrate.head()
    r = cli("db", "current", "--json")
    assert r.data == {"current": migrate.head(), "head": migrate.head(), "up_to_date": True}


def test_backup_then_restore_into_a_new_data_dir(cli, settings, tmp_path, monkeypatch):
    from shared.core.settings import get_settings

    assert cli("dataset", "list", "--json").data == []
    archive = tmp_path / "backup.tar.gz"
    r = cli("backup", str(archive), "--json")
    assert r.code == 0, r.stderr
    assert archive.is_file() and r.data == {"backup": str(archive)}
    again = cli("backup", str(archive))
    assert again.code == 1 and "error:" in again.stderr  # never overwrites an earlier backup

    target = tmp_path / "restored"
    monkeypatch.setenv("DATA_DIR", str(target))
    monkeypatch.setenv("TRAINYARD_DATABASE_URL", f"sqlite:///{target / 'trainyard.db'}")
    get_settings.cache_clear()
    try:
        r = cli("restore", str(archive), "--json")
        assert r.code == 0, r.stderr
        assert r.data["database"] == "sqlite" and r.data["revision"] == migrate.head()
        assert cli("db", "current", "--json").data["up_to_date"] is True
        busy = cli("restore", str(archive))
        assert busy.code == 1 and ("not empty" in busy.stderr or "exists" in busy.stderr)  # nothing overwritten
    finally:
        get_settings.cache_clear()
