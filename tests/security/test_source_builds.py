"""No package code runs on the host (issue 13): the host's uv installs wheels
only, and a requirement that has to be built from source (a directory or an
sdist with a ``setup.py``) is built inside the sandbox.

The package's ``setup.py`` writes a marker to an absolute host path under /tmp
and tries to write under /root; on the host neither may appear, while the
package still installs (built in the sandbox) and the deploy log says so.
"""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.security.test_isolation import _deploy_lines

SETUP_PY = '''
import os
from setuptools import setup

for target in {targets!r}:
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as fh:
            fh.write("setup.py ran here\\n")
        print("SETUP-WROTE", target, flush=True)
    except OSError as exc:
        print("SETUP-REFUSED", target, exc, flush=True)
setup(name="trainyard-sdist-probe", version="1.0", py_modules=["sdist_probe"])
'''


def _sdist(setup_py: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, text in (("setup.py", setup_py), ("sdist_probe.py", "VALUE = 7\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"trainyard-sdist-probe-1.0/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def local_only(settings):
    """The build backend (setuptools) comes from the machine's local index: the test needs no network,
    and PyPI may be behind an intercepting proxy that the egress proxy refuses by design."""
    local = [u for u in settings.extra_index_urls if u.startswith("file://")]
    if not local:
        pytest.skip("no file:// package index in pip's configuration to take setuptools from")
    settings.index_url = local[0]
    settings.extra_index_urls = local[1:]
    # A cache of this test's own: the shared test cache outlives sessions, and the check below
    # is that nothing built reaches the cache the host's uv uses.
    settings.uv_cache_dir = settings.data_dir / "cache" / "uv"
    return settings


@pytest.mark.parametrize("form", ["directory", "sdist"])
def test_a_setup_py_never_runs_on_the_host(plat, local_only, form):
    tag = uuid.uuid4().hex[:12]
    markers = [Path(f"/tmp/trainyard-setup-ran-{tag}"), Path(f"/root/trainyard-setup-ran-{tag}")]
    setup_py = SETUP_PY.format(targets=[str(m) for m in markers])
    if form == "directory":
        extra: dict = {"probe_pkg/setup.py": setup_py, "probe_pkg/sdist_probe.py": "VALUE = 7\n"}
        requirement = "./probe_pkg"
    else:
        extra = {"trainyard-sdist-probe-1.0.tar.gz": _sdist(setup_py)}
        requirement = "./trainyard-sdist-probe-1.0.tar.gz"
    try:
        model = plat.deploy(plat.upload(extra=extra, requirements=f"{requirement}\n"))
        lines = _deploy_lines(plat, model)
        assert [m for m in markers if m.exists()] == [], "setup.py wrote on the host"
        assert model.status.value == "deployed", model.reason
        assert "trainyard-sdist-probe==1.0" in model.freeze, model.freeze
        # The host's install refused to build; the sandbox built it, and the log names the package.
        assert any("--no-build" in line for line in lines if line.startswith("$ ")), lines
        assert any("must be built from source: installing again inside the sandbox" in line for line in lines)
        built = [line for line in lines if line.startswith("[trainyard] built in the sandbox: ")]
        assert built and "trainyard-sdist-probe" in built[0], lines
        # The host's uv may unpack the archive to read its metadata (no code runs), but nothing built
        # reaches the shared cache: the sandbox's uv has a private one.
        cache = Path(plat.settings.uv_cache_dir)
        assert not list(cache.glob("**/trainyard_sdist_probe-*.whl")), "a sandbox-built wheel is in the shared cache"
        plat.healthy(model)
    finally:
        for m in markers:
            m.unlink(missing_ok=True)


def test_a_build_that_fails_in_the_sandbox_names_the_package(plat, local_only):
    setup_py = "raise SystemExit('this package refuses to build')\n"
    model = plat.deploy(plat.upload(extra={"trainyard-sdist-probe-1.0.tar.gz": _sdist(setup_py)},
                                    requirements="./trainyard-sdist-probe-1.0.tar.gz\n"))
    assert model.status.value == "failed"
    assert "building" in model.reason and "from source failed" in model.reason, model.reason
    assert "trainyard-sdist-probe" in model.reason, model.reason


def test_wheels_install_on_the_host_without_the_sandbox_step(plat, local_only):
    model = plat.deploy(plat.upload(requirements="six\n"))
    assert model.status.value == "deployed", model.reason
    assert any(line.startswith("six==") for line in model.freeze), model.freeze
    lines = _deploy_lines(plat, model)
    assert any(line.startswith("$ ") and "--no-build" in line for line in lines), lines
    assert not any("inside the sandbox" in line or "built in the sandbox" in line for line in lines), lines
