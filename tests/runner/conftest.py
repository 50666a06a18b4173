"""Fixtures of the runner's tests: a world-searchable scratch dir, a venv built
by the product's own uv on the settings' interpreter, and a local package
index for the environment builder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from runner.envs import find_uv
from shared.core.settings import Settings
from tests.support.local_index import LocalIndex, find_local_index
from tests.support.sandbox import scratch_dir

# Small pure-Python wheels the environment tests install.
INDEX_PROJECTS = ("six", "idna", "colorama")


@pytest.fixture(scope="module")
def base() -> Path:
    d = scratch_dir("trainyard-runner-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def env_python(base: Path) -> str:
    """The interpreter model envs are built on, as the settings choose it."""
    return Settings(data_dir=base / "data").env_python


@pytest.fixture(scope="module")
def venv(base: Path, env_python: str) -> Path:
    path = base / "venv"
    subprocess.run([find_uv(), "venv", "-q", "--python", env_python, str(path)], check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def local_index(tmp_path_factory) -> LocalIndex:
    settings = Settings(data_dir=tmp_path_factory.mktemp("index-probe"))
    index = find_local_index(settings, INDEX_PROJECTS)
    if index is None:
        pytest.skip(f"no local package index holding {', '.join(INDEX_PROJECTS)}: these tests install packages "
                    "and must not need the network. Name a file:// simple index that has them in pip's "
                    "configuration (index-url or extra-index-url in pip.conf, or PIP_EXTRA_INDEX_URL).")
    return index
