"""Import from the server: only regular zips directly in the folder are offered
and accepted, and they go through the same validation as a browser upload."""

from __future__ import annotations

import os

import pytest
from sqlmodel import select

from shared.core.errors import ArchiveError, ImportDirError, PermissionDenied
from shared.records import AuditAction, Dataset, DeployStatus, ModelPackage, Outcome, Role, Visibility
from shared.services import audit
from shared.services.imports import import_dataset, import_model, list_import_files
from tests.support.people import OP, person
from tests.support.pkgs import write_dataset, write_package


@pytest.fixture
def drop(settings, tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    write_dataset(folder / "shapes.zip")
    write_package(folder / "model v2.zip")
    outside = tmp_path / "outside.zip"
    write_dataset(outside)
    os.symlink(outside, folder / "link.zip")  # a link out of the folder
    (folder / "sub.zip").mkdir()
    os.mkfifo(folder / "pipe.zip")
    (folder / ".hidden.zip").write_bytes((folder / "shapes.zip").read_bytes())
    (folder / "notes.txt").write_text("not a zip")
    (folder / "broken.zip").write_bytes(b"PK not really")
    return settings.model_copy(update={"import_dir": folder})


def test_only_regular_zips_with_plain_names_are_listed(drop):
    assert [f.name for f in list_import_files(settings=drop)] == ["broken.zip", "model v2.zip", "shapes.zip"]
    [shapes] = [f for f in list_import_files(settings=drop) if f.name == "shapes.zip"]
    assert shapes.size_bytes == (drop.import_dir / "shapes.zip").stat().st_size and "shapes.zip" in shapes.label


def test_a_dataset_and_a_model_are_imported_like_uploads(drop, session):
    ds = import_dataset(actor=OP, session=session, settings=drop, file_name="shapes.zip", task_type="classification")
    assert (ds.name, ds.images) == ("shapes", 8)
    assert (drop.data_dir / ds.path / "train").is_dir()
    model = import_model(actor=OP, session=session, settings=drop, file_name="model v2.zip", name="quad")
    assert (model.name, model.status) == ("quad", DeployStatus.waiting)
    assert (drop.import_dir / "shapes.zip").exists(), "the operator's file is copied, not moved"
    assert not list((drop.data_dir / "tmp").iterdir())


@pytest.mark.parametrize("name, why", [
    ("link.zip", "never links"), ("sub.zip", "not a regular file"),
    ("pipe.zip", "not a regular file"), ("../outside.zip", "not a file that can be imported"),
    (".hidden.zip", "not a file that can be imported"), ("notes.txt", "not a file that can be imported"),
    ("gone.zip", "not in the import folder"),
])
def test_anything_but_a_regular_zip_in_the_folder_is_refused(drop, session, name, why):
    with pytest.raises(ImportDirError, match=why):
        import_dataset(actor=OP, session=session, settings=drop, file_name=name, task_type="classification")
    assert session.exec(select(Dataset)).all() == []


def test_a_bad_zip_is_rejected_by_the_upload_validation_and_nothing_is_kept(drop, session):
    with pytest.raises(ArchiveError, match="broken.zip is not a zip archive"):
        import_model(actor=OP, session=session, settings=drop, file_name="broken.zip")
    assert session.exec(select(ModelPackage)).all() == []
    assert not list((drop.data_dir / "tmp").iterdir())


def test_the_size_limit_of_uploads_applies(drop, session):
    small = drop.model_copy(update={"max_upload_bytes": 100})
    with pytest.raises(ImportDirError, match="limited to 100 B .TRAINYARD_MAX_UPLOAD."):
        import_dataset(actor=OP, session=session, settings=small, file_name="shapes.zip", task_type="classification")


def test_without_the_setting_there_is_no_import(settings, session):
    assert settings.import_dir is None
    with pytest.raises(ImportDirError, match="set TRAINYARD_IMPORT_DIR"):
        list_import_files(settings=settings)


def test_an_import_is_owned_by_its_importer_and_refused_to_a_viewer_before_the_copy(drop, session):
    alice, val = person(session, "alice"), person(session, "val", Role.viewer)
    ds = import_dataset(actor=alice, session=session, settings=drop, file_name="shapes.zip",
                        task_type="classification", visibility="private")
    assert (ds.owner_id, ds.visibility) == (alice.id, Visibility.private)
    with pytest.raises(PermissionDenied, match="you are a viewer"):
        import_model(actor=val, session=session, settings=drop, file_name="model v2.zip")
    with pytest.raises(PermissionDenied, match="Giving a model network access needs the admin role"):
        import_model(actor=alice, session=session, settings=drop, file_name="model v2.zip", network=True)
    assert session.exec(select(ModelPackage)).all() == []
    assert not list((drop.data_dir / "tmp").iterdir())
    denied = audit.list_events(session=session, actions=[AuditAction.create], outcome=Outcome.denied)
    assert [e.user_name for e in denied] == ["alice", "val"]  # newest first
