"""Job ids and the double deploy, on real Redis and a real DB: every id comes
from ``queue.job_id``, so a redeploy and the reconciler agree on the one job
a model's deploy is, and a redeploy while one is queued or running is refused."""

from __future__ import annotations

import subprocess
import sys

import pytest
from rq import Queue
from rq.job import Job

from runner.reconcile import reconcile_once
from shared.core.errors import ConflictError
from shared.core.queue import (
    DEPLOY_QUEUE,
    enqueue_deploy,
    enqueue_prediction,
    enqueue_run,
    job_id,
    job_state,
    queued_job_ids,
)
from shared.records import DeployStatus, JobKind, JobState
from shared.services.models import add_model, get_model, redeploy_model
from tests.support.paths import ROOT
from tests.support.people import OP
from tests.support.pkgs import write_package


def _deployed_model(session, settings, ctx, tmp_path):
    """A model whose deploy ran: the row says deployed, its job finished and Redis let it go."""
    model = add_model(session=session, settings=settings, zip_path=write_package(tmp_path / "m.zip"), name="m",
                      task_type="classification", actor=OP)
    enqueue_deploy(model.id, connection=ctx.redis)
    Job.fetch(job_id(JobKind.deploy, model.id), connection=ctx.redis).delete()
    model.status = DeployStatus.deployed
    session.add(model)
    session.commit()
    return model


def _deploy_jobs(ctx) -> list[str]:
    return Queue(DEPLOY_QUEUE, connection=ctx.redis).get_job_ids()


def test_job_ids_come_from_one_function(ctx):
    assert job_id(JobKind.run, 7) == "run-7-0"
    assert job_id(JobKind.run, 7, 2) == "run-7-2"
    assert job_id(JobKind.deploy, 3) == "deploy-3-0"
    assert job_id(JobKind.predict, 12) == "predict-12-0"
    assert enqueue_run(7, connection=ctx.redis, attempt=2) == "run-7-2"
    assert enqueue_deploy(3, connection=ctx.redis) == "deploy-3-0"
    assert enqueue_prediction(12, connection=ctx.redis) == "predict-12-0"
    # The same record enqueued again finds its job instead of adding one.
    enqueue_deploy(3, connection=ctx.redis)
    assert queued_job_ids(connection=ctx.redis) == {"run-7-2", "deploy-3-0", "predict-12-0"}
    assert job_state("deploy-3-0", connection=ctx.redis) == JobState.queued
    assert job_state("deploy-4-0", connection=ctx.redis) is None


def test_redeploy_then_reconcile_queues_exactly_one_deploy(settings, ctx, session, tmp_path):
    model = _deployed_model(session, settings, ctx, tmp_path)
    redeploy_model(session=session, connection=ctx.redis, model_id=model.id, actor=OP)
    assert get_model(session=session, model_id=model.id).status == DeployStatus.waiting
    counts = reconcile_once()
    assert counts["reenqueued"] == 0
    assert _deploy_jobs(ctx) == [job_id(JobKind.deploy, model.id)]


def test_redeploy_refused_while_the_deploy_is_queued_or_running(settings, ctx, session, tmp_path):
    model = _deployed_model(session, settings, ctx, tmp_path)
    redeploy_model(session=session, connection=ctx.redis, model_id=model.id, actor=OP)
    with pytest.raises(ConflictError, match=f"model {model.id} is already queued to deploy; wait until"):
        redeploy_model(session=session, connection=ctx.redis, model_id=model.id, actor=OP)
    model.status = DeployStatus.deploying  # what deploy_model writes when a worker picks the job up
    session.add(model)
    session.commit()
    with pytest.raises(ConflictError, match=f"model {model.id} is deploying now"):
        redeploy_model(session=session, connection=ctx.redis, model_id=model.id, actor=OP)
    # The row already says deployed but its job has not ended yet: the job's state decides.
    model.status = DeployStatus.deployed
    session.add(model)
    session.commit()
    with pytest.raises(ConflictError, match=f"model {model.id}'s deploy job is still queued"):
        redeploy_model(session=session, connection=ctx.redis, model_id=model.id, actor=OP)
    assert _deploy_jobs(ctx) == [job_id(JobKind.deploy, model.id)]


def test_cli_redeploy_twice_queues_one_deploy_and_says_why(settings, ctx, session, tmp_path):
    model = _deployed_model(session, settings, ctx, tmp_path)

    def cli(*args: str) -> subprocess.CompletedProcess:
        # The settings fixture put this test's DB and Redis in the environment the CLI reads.
        return subprocess.run([sys.executable, "-m", "runner", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)

    first = cli("model", "redeploy", str(model.id))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"model {model.id} waiting"
    second = cli("model", "redeploy", str(model.id))
    assert second.returncode != 0
    assert f"model {model.id} is already queued to deploy" in second.stderr
    assert reconcile_once()["reenqueued"] == 0
    assert _deploy_jobs(ctx) == [job_id(JobKind.deploy, model.id)]
