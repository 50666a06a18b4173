"""Fixtures of the services' ownership tests: four people of each role and alice's dataset and model."""

from __future__ import annotations

import pytest

from shared.records import DeployStatus, Role
from shared.services.datasets import add_dataset
from shared.services.models import add_model
from tests.support.people import person
from tests.support.pkgs import write_dataset, write_package


@pytest.fixture
def people(session):
    return {name: person(session, name, role) for name, role in
            (("root", Role.admin), ("alice", Role.member), ("bob", Role.member), ("val", Role.viewer))}


@pytest.fixture
def stock(session, settings, people, tmp_path):
    """alice's team dataset and model (recorded as deployed, as the deploy job would)."""
    alice = people["alice"]
    ds = add_dataset(session=session, settings=settings, actor=alice, zip_path=write_dataset(tmp_path / "d.zip"),
                     name="d", task_type="classification")
    model = add_model(session=session, settings=settings, actor=alice, zip_path=write_package(tmp_path / "m.zip"),
                      name="m", task_type="classification")
    model.status = DeployStatus.deployed
    session.add(model)
    session.commit()
    return ds, model
