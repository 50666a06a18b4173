"""Per-run limits have an operator's ceiling: each TRAINYARD_<LIMIT> is the
default and the most a task may ask for. A task may lower a limit, never raise
it past the ceiling or switch it off; the refusal names the field, the ceiling
and the setting, in the service (so the UI and the CLI both get it). The runner
clamps a stored task again when it builds the run's limits."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from runner.cli import cli
from runner.jobs.train import run_limits
from runner.sandbox import Limits
from shared.core.errors import FieldError
from shared.core.settings import Settings
from shared.records import Task
from shared.services.limits import LIMIT_FIELDS, clamp_limits, parse_limits
from shared.services.tasks import TaskIn, create_task, start_deadline
from tests.support.people import OP
from tests.support.ui import make_dataset, make_model

SETTING = {k: f"TRAINYARD_{k.upper()}" for k in LIMIT_FIELDS}


@pytest.fixture(autouse=True)
def _procs_ceiling(monkeypatch):
    """The ceiling these tests name (the default grows with the host's CPU count since issue 20)."""
    monkeypatch.setenv("TRAINYARD_MAX_PROCS", "256")


@pytest.fixture
def deployed(settings, session, tmp_path):
    ds = make_dataset(session, settings, tmp_path)
    model = make_model(session, settings, tmp_path)
    return model, ds


def _task_in(model, ds, **kw) -> TaskIn:
    return TaskIn(name="t", model_id=model.id, dataset_id=ds.id, epochs=1, **kw)


def test_a_million_processes_is_refused_naming_the_ceiling_and_the_setting(settings, session, deployed):
    model, ds = deployed
    with pytest.raises(FieldError) as err:
        create_task(actor=OP, session=session, settings=settings,
                    task_in=_task_in(model, ds, limits={"max_procs": 1_000_000}))
    assert err.value.field == "max_procs"
    assert "1,000,000" in err.value.field_message and "256" in err.value.field_message
    assert "TRAINYARD_MAX_PROCS" in err.value.field_message


@pytest.mark.parametrize("key", LIMIT_FIELDS)
@pytest.mark.parametrize("off", ["none", "off", "unlimited", "0"])
def test_no_limit_can_be_switched_off_while_it_has_a_ceiling(settings, key, off):
    with pytest.raises(FieldError) as err:
        parse_limits({key: off}, settings)
    assert err.value.field == key and "cannot be switched off" in err.value.field_message
    assert SETTING[key] in err.value.field_message


@pytest.mark.parametrize("key,over", [("memory_limit", "9GiB"), ("max_procs", 257), ("max_open_files", "4097"),
                                      ("max_file_bytes", "21GiB"), ("max_disk_bytes", "51GiB"),
                                      ("max_log_bytes", "65MiB"), ("max_files", 1_000_001)])
def test_every_limit_above_its_ceiling_is_refused(settings, key, over):
    with pytest.raises(FieldError) as err:
        parse_limits({key: over}, settings)
    assert err.value.field == key and "over the platform's ceiling" in err.value.field_message
    assert SETTING[key] in err.value.field_message


def test_a_task_may_lower_every_limit_and_the_form_and_cli_default_stays_the_ceiling(settings, session, deployed):
    model, ds = deployed
    lower = {"memory_limit": "1GiB", "max_procs": 64, "max_open_files": "256", "max_file_bytes": "1GiB",
             "max_disk_bytes": "2GiB", "max_log_bytes": "1MiB", "max_files": 5000}
    task = create_task(actor=OP, session=session, settings=settings, task_in=_task_in(model, ds, limits=lower))
    assert task.limits == {"memory_limit": 2**30, "max_procs": 64, "max_open_files": 256, "max_file_bytes": 2**30,
                           "max_disk_bytes": 2 * 2**30, "max_log_bytes": 2**20, "max_files": 5000}
    plain = create_task(actor=OP, session=session, settings=settings, task_in=_task_in(model, ds))
    assert plain.limits == {} and Limits.from_settings(settings, run_limits(plain, settings)).max_procs == 256


def test_an_operator_who_sets_none_lets_tasks_go_without(session, deployed, settings):
    model, ds = deployed
    open_ended = settings.model_copy(update={"max_procs": None})
    task = create_task(actor=OP, session=session, settings=open_ended,
                       task_in=_task_in(model, ds, limits={"max_procs": "none"}))
    assert task.limits == {"max_procs": None}


def test_the_service_reads_the_ceiling_from_the_environment(settings, session, deployed, monkeypatch):
    """Without an explicit settings object (an older caller), the process's settings apply."""
    from shared.core.settings import get_settings

    model, ds = deployed
    monkeypatch.setenv("TRAINYARD_MAX_PROCS", "32")
    get_settings.cache_clear()
    with pytest.raises(FieldError, match="ceiling of 32 .TRAINYARD_MAX_PROCS"):
        create_task(actor=OP, session=session, task_in=_task_in(model, ds, limits={"max_procs": 64}))


def test_the_cli_refuses_with_the_field_error(settings, deployed):
    model, ds = deployed
    res = CliRunner().invoke(cli, ["task", "create", "--name", "x", "--model", str(model.id), "--dataset", str(ds.id),
                                    "--epochs", "1", "--max-procs", "1000000", "--json"])
    assert res.exit_code == 1
    assert '"field": "max_procs"' in res.stderr and "TRAINYARD_MAX_PROCS" in res.stderr


def test_the_time_limit_has_a_ceiling_when_the_operator_sets_one(session, deployed, settings):
    model, ds = deployed
    capped = Settings(**{**settings.model_dump(), "max_time_limit": "2h"})
    assert capped.max_time_limit == 7200
    for off in ("none", "off"):
        with pytest.raises(FieldError, match="time limit: cannot be switched off.*TRAINYARD_MAX_TIME_LIMIT"):
            create_task(actor=OP, session=session, settings=capped, task_in=_task_in(model, ds, time_limit=off))
    with pytest.raises(FieldError, match="over the platform's ceiling of 7200 s"):
        create_task(actor=OP, session=session, settings=capped, task_in=_task_in(model, ds, time_limit="3h"))
    assert create_task(actor=OP, session=session, settings=capped, task_in=_task_in(model, ds)).time_limit_s == 7200
    assert create_task(actor=OP, session=session, settings=capped,
                       task_in=_task_in(model, ds, time_limit="30m")).time_limit_s == 1800


def test_the_runner_clamps_a_stored_task_to_the_current_ceilings(settings):
    """A row written before a ceiling was lowered, or past the service, runs under the ceiling."""
    stored = Task(name="old", model_id=1, dataset_id=1, time_limit_s=None,
                  limits={"max_procs": 1_000_000, "memory_limit": None, "max_open_files": 100, "max_files": 10**9})
    assert clamp_limits(stored.limits, settings) == {"max_open_files": 100}
    limits = Limits.from_settings(settings, run_limits(stored, settings))
    assert (limits.max_procs, limits.memory_bytes, limits.max_open_files) == (256, settings.memory_limit, 100)
    capped = Settings(**{**settings.model_dump(), "max_time_limit": 600})
    start_deadline(stored, capped)
    assert (stored.deadline - stored.started_at).total_seconds() == 600
