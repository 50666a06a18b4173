"""What the live-page browser tests share: a deployed model to train, the check that a page shows no
exception, and a task's status read fresh from the DB while a worker changes it."""

from __future__ import annotations

from shared.core.queue import enqueue_deploy
from shared.records import DeployStatus, TaskStatus
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from shared.services.tasks import get_task
from tests.support.people import OP
from tests.support.pkgs import write_dataset, write_package


def deployed(settings, session, burst, tmp_path):
    """A dataset and a stdlib-only model (tests/support/pkgs.py), deployed by the real deploy job in-process."""
    from redis import Redis

    ds = add_dataset(session=session, settings=settings, name="pets", task_type="classification",
                     zip_path=write_dataset(tmp_path / "pets.zip", classes=("cat", "dog"), per_class=3), actor=OP)
    model = add_model(session=session, settings=settings, zip_path=write_package(tmp_path / "quadratic.zip"),
                      name="quadratic", task_type="classification", actor=OP)
    enqueue_deploy(model.id, connection=Redis.from_url(settings.effective_redis_url))
    burst()
    session.refresh(model)
    assert model.status == DeployStatus.deployed, model.reason
    return ds, model


def no_exception(page, server) -> None:
    shown = page.locator('[data-testid="stException"]')
    assert shown.count() == 0, f"the page shows an exception: {shown.first.inner_text()}\n{server.log_tail()}"


def task_status(session, task_id: int) -> TaskStatus:
    session.expire_all()  # the worker changed the row in another session
    return get_task(session=session, task_id=task_id).status
