"""The deploy job with a real DB, real uv and the real deploy claim: a model
that is already deployed, or held by a live deploy, is left alone."""

from __future__ import annotations

from runner.jobs import deploy_model
from runner.jobs.deploy import _deploy_claim
from shared.records import DeployStatus, ModelPackage
from shared.services.models import add_model
from tests.support.people import OP
from tests.support.pkgs import write_package


def _upload(session, settings, tmp_path) -> ModelPackage:
    return add_model(session=session, settings=settings, zip_path=write_package(tmp_path / "m.zip"), name="m",
                     task_type="classification", actor=OP)


def _row(session, model_id: int) -> ModelPackage:
    session.expire_all()
    return session.get(ModelPackage, model_id)


def test_second_deploy_of_a_deployed_model_does_nothing(settings, ctx, session, tmp_path):
    model = _upload(session, settings, tmp_path)
    deploy_model(model.id)
    first = _row(session, model.id)
    assert first.status == DeployStatus.deployed, first.reason
    log = settings.path(first.install_log)
    before = (first.deploy_started_at, first.deployed_at, first.env_key, log.read_text(), log.stat().st_mtime_ns)

    deploy_model(model.id)  # a duplicate job: re-enqueued, or a second click

    again = _row(session, model.id)
    assert again.status == DeployStatus.deployed
    assert (again.deploy_started_at, again.deployed_at, again.env_key, log.read_text(),
            log.stat().st_mtime_ns) == before


def test_a_deploy_held_by_a_live_job_is_left_alone_and_a_dead_ones_is_taken_over(settings, ctx, session, tmp_path):
    model = _upload(session, settings, tmp_path)
    model.status = DeployStatus.deploying  # as a job that started building would have left it
    session.add(model)
    session.commit()
    with _deploy_claim(settings, model.id) as held:  # that job is alive and holds the model's claim
        assert held
        deploy_model(model.id)
        row = _row(session, model.id)
        assert row.status == DeployStatus.deploying and row.install_log is None and row.deploy_started_at is None
        assert not (settings.data_dir / "envs").exists()  # nothing was built
    # Its holder gone (the kernel drops the claim of a dead process), the next job builds.
    deploy_model(model.id)
    row = _row(session, model.id)
    assert row.status == DeployStatus.deployed, row.reason
    assert "environment" in settings.path(row.install_log).read_text()
