"""``up``: the UI bound to this machine unless told otherwise, a one-time link for the first admin while
there are no accounts, and the rule that picks the number of workers (``--workers auto``)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from sqlmodel import Session

from runner.up import AUTO, auto_workers, first_admin_link, parse_workers, resolve_workers, ui_command
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


GiB = 2**30


def test_one_worker_per_gpu_whatever_the_cores():
    assert auto_workers(gpus=["0", "1"], cores=2, mem_bytes=4 * GiB, run_memory=8 * GiB) == 2
    assert auto_workers(gpus=["3"], cores=64, mem_bytes=512 * GiB, run_memory=8 * GiB) == 1


@pytest.mark.parametrize(("cores", "mem_gib", "run_gib", "expected"), [
    (16, 128, 8, 8),     # cores decide: a worker per 2 cores
    (16, 32, 8, 4),      # memory decides: 4 runs of 8 GiB fit in 32 GiB
    (2, 23, 8, 1),       # a small box: one at a time, as before
    (1, 2, 8, 1),        # never none, even where one run does not fit
    (8, 16, None, 4),    # no memory limit: cores alone
])
def test_cpu_only_host_fits_cores_and_memory(cores, mem_gib, run_gib, expected):
    run_memory = run_gib * GiB if run_gib else None
    assert auto_workers(gpus=[], cores=cores, mem_bytes=mem_gib * GiB, run_memory=run_memory) == expected


def test_parse_workers():
    assert parse_workers("auto") == AUTO and parse_workers("AUTO") == AUTO
    assert parse_workers("3") == 3
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(ValueError, match="number of workers"):
            parse_workers(bad)


def test_resolve_spreads_the_gpus_it_was_given(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert resolve_workers(settings=settings, workers=AUTO, gpus="0,1,2")[:2] == (3, "0,1,2")
    n, gpus, why = resolve_workers(settings=settings, workers=AUTO, gpus="cpu")
    assert n >= 1 and gpus == "cpu" and "CPU only" in why
    assert resolve_workers(settings=settings, workers=2, gpus=None)[:2] == (2, None)


def test_cli_default_is_auto():
    from runner.cli.service import up

    params = {p.name: p for p in up.params}
    assert params["workers"].default == AUTO
    ctx = up.make_context("up", ["--workers", "2"])
    assert ctx.params["workers"] == 2
    with pytest.raises(Exception, match="number of workers"):
        up.make_context("up", ["--workers", "many"])
