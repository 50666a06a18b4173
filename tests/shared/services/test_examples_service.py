"""``python -m runner examples`` and the home page's Load examples share
``shared.services.examples``; the CLI's output stays what it was."""

from __future__ import annotations

import subprocess
import sys

from rq import Queue

from shared.core.queue import DEPLOY_QUEUE, job_id
from shared.records import DeployStatus, JobKind
from shared.services.datasets import list_datasets
from shared.services.models import list_models
from tests.support.paths import ROOT
from tests.support.people import OP


def test_cli_examples_adds_the_dataset_and_model_and_queues_its_deploy(settings, ctx, session):
    # The settings fixture put this test's DB and Redis in the environment the CLI reads.
    proc = subprocess.run([sys.executable, "-m", "runner", "examples", "classification"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    [ds] = list_datasets(session=session, actor=OP)
    [model] = list_models(session=session, actor=OP)
    assert proc.stdout == f"classification: dataset {ds.id}, model {model.id} (deploying)\n"
    assert (ds.name, ds.task_type.value, model.name) == ("example classification dataset", "classification",
                                                         "example classification model")
    assert model.status == DeployStatus.waiting
    assert Queue(DEPLOY_QUEUE, connection=ctx.redis).get_job_ids() == [job_id(JobKind.deploy, model.id)]
