"""Datasets and Models pages: the uploader states the real upload limit, and
with TRAINYARD_IMPORT_DIR set a zip already on the server can be imported."""

from __future__ import annotations

import os

import pytest

from tests.support.pkgs import write_dataset, write_package
from tests.support.ui import open_page


@pytest.fixture
def drop(ui_settings, tmp_path, monkeypatch):
    from shared.core.settings import get_settings

    folder = tmp_path / "drop"
    folder.mkdir()
    write_dataset(folder / "pets.zip", classes=("cat", "dog"), per_class=3)
    write_package(folder / "quad.zip")
    os.symlink(folder / "pets.zip", folder / "alias.zip")  # links are never offered
    monkeypatch.setenv("TRAINYARD_IMPORT_DIR", str(folder))
    monkeypatch.setenv("TRAINYARD_MAX_UPLOAD", "5MiB")
    get_settings.cache_clear()
    return folder


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_without_an_import_folder_there_is_only_the_uploader_and_its_real_limit(ui_settings):
    for page, source in (("views/datasets.py", "ds_source"), ("views/models.py", "md_source")):
        at = open_page(page)
        assert not at.exception, at.exception
        assert "Up to 2 GiB per file (TRAINYARD_MAX_UPLOAD)." in _captions(at)
        assert source not in [r.key for r in at.radio]


def test_a_dataset_is_imported_from_the_server(drop):
    at = open_page("views/datasets.py")
    assert "Up to 5 MiB per file" in _captions(at) and str(drop) in _captions(at)
    at.radio(key="ds_source").set_value("Import from the server")
    at.run()
    options = at.selectbox(key="ds_server_file").options
    assert [o.split(" (")[0] for o in options] == ["pets.zip", "quad.zip"]  # the link is not offered
    assert "KiB, 20" in options[0]  # size and date
    at.selectbox(key="ds_server_file").set_value("pets.zip")
    at.selectbox(key="ds_type").set_value(at.selectbox(key="ds_type").options[3])  # classification
    at.run()
    assert at.button(key="ds_add").proto.label == "Import and validate"
    at.button(key="ds_add").click()
    at.run()
    assert not at.exception, at.exception
    assert any("Dataset 1 added: pets (12 images)" in s.value for s in at.success)
    assert (drop / "pets.zip").exists()


def test_a_model_is_imported_from_the_server_and_its_deploy_queued(drop, ui_redis):
    at = open_page("views/models.py")
    at.radio(key="md_source").set_value("Import from the server")
    at.run()
    at.selectbox(key="md_server_file").set_value("quad.zip")
    at.run()
    at.button(key="md_add").click()
    at.run()
    assert not at.exception, at.exception
    assert at.header[0].value == "quad"
    assert ui_redis.llen("rq:queue:deploy") == 1
