"""Hostile uploads: install_dependencies.sh tricks refused at upload with the
line named; a script that passes the checker but attacks at deploy time runs
sandboxed (network yes; secrets, Redis and DATA_DIR no); unsafe zips refused
with nothing left on disk or in the DB."""

from __future__ import annotations

import hashlib
import io
import socket
import stat
import struct
import zipfile
from pathlib import Path

import pytest
from sqlmodel import select

from shared.core.errors import ArchiveError, PackageError
from shared.records import Dataset, ModelPackage
from shared.services.models import add_model
from tests.support.hostile import outcomes, sqlite_path
from tests.support.people import OP
from tests.support.pkgs import PREDICT, QUADRATIC_TRAIN


def _nothing_stored(plat, kind: str = "models") -> None:
    table = ModelPackage if kind == "models" else Dataset
    assert plat.session.exec(select(table)).all() == []
    root = plat.settings.data_dir / kind
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []
    assert left in ([], [".incoming"]), f"left behind in {root}: {left}"


@pytest.mark.parametrize("script,line,command", [
    pytest.param('#!/bin/bash\n"$1/bin/pip" install wheel && rm -rf /\n', 2, "rm", id="rm-after-&&"),
    pytest.param("#!/bin/bash\necho installing\necho $(rm -rf ~)\n", 3, "rm", id="rm-in-$()"),
    pytest.param("#!/bin/bash\n\nsudo rm -rf /var/lib\n", 3, "rm", id="rm-behind-sudo"),
    pytest.param("#!/bin/bash\nbash -c 'chmod 777 /etc'\n", 2, "chmod", id="chmod-in-bash-c"),
    pytest.param("#!/bin/bash\nR=kill; $R -9 1\n", 2, "kill", id="kill-through-a-variable"),
])
def test_forbidden_install_script_commands_are_refused_at_upload(plat, script, line, command):
    with pytest.raises(PackageError) as err:
        plat.upload(extra={"install_dependencies.sh": script})
    text = str(err.value)
    assert f"install_dependencies.sh line {line}:" in text, text
    assert f"`{command}`" in text or f"({command})" in text, text
    _nothing_stored(plat)


def test_an_install_script_that_passes_the_checker_runs_sandboxed(plat, listen, settings, secrets):
    # A model deployed first: its environment must not be visible to the next model's script.
    first = plat.model()
    settings.redis_socket.parent.mkdir(parents=True, exist_ok=True)
    embedded = listen(socket.AF_UNIX, str(settings.redis_socket))
    server = listen()
    db = sqlite_path(settings.database_url)
    data = settings.data_dir
    hidden = [str(data / d) for d in ("models", "datasets", "runs", "redis")] + [str(data / "envs" / first.env_key)]
    hidden += [str(db)] if db else []
    worker_redis = settings.effective_redis_url
    unix = [str(settings.redis_socket)] + ([worker_redis[len("unix://"):]] if worker_redis.startswith("unix://")
                                           else [])
    cfg = {"env": True, "exists": hidden, "read": [str(data), str(data / "envs")], "unix": unix, "any_socket": True,
           "tcp": [server.address], "write": [f"/usr/{plat.token}", f"/usr/lib/{plat.token}"]}
    model = plat.deploy(plat.upload(extra={"install_dependencies.sh": plat.install_script(cfg)}))
    assert model.status.value == "deployed", model.reason
    res = plat.deploy_results(model)  # asserts that no secret value is in the deploy log
    [dump] = [r for r in res if r["kind"] == "env"]
    assert not [n for n in dump["names"] if n in ("TRAINYARD_SECRET_TOKEN", "DATABASE_URL", "REDIS_URL",
                                                  "AWS_SECRET_ACCESS_KEY") or n.startswith("TRAINYARD_")]
    assert {p: o for p, o in outcomes(res, "exists").items() if o != "blocked"} == {}
    assert {p: o for p, o in outcomes(res, "unix").items() if o != "blocked"} == {}
    assert set(unix) <= set(outcomes(res, "unix"))
    assert embedded.accepted == 0
    listing = {r["target"]: r.get("entries") for r in res if r["kind"] == "read"}
    assert listing[str(data)] in (None, ["envs"]), listing
    assert listing[str(data / "envs")] in (None, [model.env_key]), listing
    # It has network for downloads, but only through the egress proxy: the host's loopback
    # listener is not in its network namespace, and the proxy is what it is given.
    tcp = outcomes(res, "tcp")
    assert tcp == {f"{server.address[0]}:{server.address[1]}": "blocked"} and server.accepted == 0
    assert "HTTPS_PROXY" in dump["names"]
    assert {p: o for p, o in outcomes(res, "write").items() if o != "blocked"} == {}
    assert not Path(f"/usr/{plat.token}").exists() and not Path(f"/usr/lib/{plat.token}").exists()
    plat.healthy(model)


# --- archives -------------------------------------------------------------------

def _package_entries() -> dict[str, bytes]:
    return {"pkg/train.py": QUADRATIC_TRAIN.encode(), "pkg/predict.py": PREDICT.encode(),
            "pkg/requirements.txt": b"", "pkg/weights/README.txt": b"weights\n"}


def _zip(entries: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # unix, so external_attr carries the file type
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def _lying_sizes(data: bytes, name: str, declared: int) -> bytes:
    """Rewrite one entry's uncompressed size, in its local header and in the central directory."""
    out = bytearray(data)
    encoded = name.encode()
    local = out.find(b"PK\x03\x04")
    while local != -1:
        name_len = struct.unpack_from("<H", out, local + 26)[0]
        if bytes(out[local + 30:local + 30 + name_len]) == encoded:
            struct.pack_into("<I", out, local + 22, declared)
        local = out.find(b"PK\x03\x04", local + 4)
    central = out.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", out, central + 28)[0]
        if bytes(out[central + 46:central + 46 + name_len]) == encoded:
            struct.pack_into("<I", out, central + 24, declared)
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def _bomb() -> bytes:
    return _zip({**_package_entries(), "pkg/weights/zeros.bin": b"\0" * (40 * 1024 * 1024)})


def _liar() -> bytes:
    data = _zip({**_package_entries(), "pkg/weights/big.bin": b"\0" * (20 * 1024 * 1024)})
    return _lying_sizes(data, "pkg/weights/big.bin", 1000)


UNSAFE_ZIPS = [
    pytest.param(lambda: _zip(_package_entries(), symlinks={"pkg/weights/passwd": "/etc/passwd"}), "passwd",
                 id="symlink-to-etc-passwd"),
    pytest.param(lambda: _zip({k: v for k, v in _package_entries().items() if k != "pkg/train.py"},
                              symlinks={"pkg/train.py": "/etc/passwd"}), "train.py", id="train.py-is-a-symlink"),
    pytest.param(lambda: _zip({**_package_entries(), "pkg/../../evil.py": b"print('escaped')"}), "evil.py",
                 id="dot-dot-entry"),
    pytest.param(lambda: _zip({**_package_entries(), "/tmp/evil.py": b"print('escaped')"}), "evil.py",
                 id="absolute-entry"),
    pytest.param(_bomb, "zeros.bin", id="zip-bomb"),
    pytest.param(_liar, "big.bin", id="declared-size-lie"),
]


@pytest.mark.parametrize("make,named", UNSAFE_ZIPS)
def test_unsafe_model_zips_are_refused_leaving_nothing(plat, settings, tmp_path, make, named):
    passwd = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    zip_path = tmp_path / "hostile.zip"
    zip_path.write_bytes(make())
    with pytest.raises((ArchiveError, PackageError)) as err:
        add_model(session=plat.session, settings=settings, zip_path=zip_path, name="hostile",
                  task_type="classification", actor=OP)
    assert named in str(err.value), str(err.value)
    _nothing_stored(plat)
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == passwd
    for escaped in (settings.data_dir / "evil.py", settings.data_dir.parent / "evil.py", Path("/tmp/evil.py")):
        assert not escaped.exists(), escaped


@pytest.mark.parametrize("entries,symlinks,named", [
    pytest.param({}, {"data/train/a/passwd.png": "/etc/passwd"}, "passwd.png", id="symlink"),
    pytest.param({"data/../../evil.png": b"x"}, {}, "evil.png", id="dot-dot-entry"),
])
def test_unsafe_dataset_zips_are_refused_leaving_nothing(plat, settings, tmp_path, entries, symlinks, named):
    from tests.support.pkgs import write_dataset

    good = write_dataset(tmp_path / "good.zip")
    with zipfile.ZipFile(good) as zf:
        base = {n: zf.read(n) for n in zf.namelist()}
    zip_path = tmp_path / "hostile.zip"
    zip_path.write_bytes(_zip({**base, **entries}, symlinks=symlinks))
    from shared.services.datasets import add_dataset

    with pytest.raises(ArchiveError) as err:
        add_dataset(session=plat.session, settings=settings, zip_path=zip_path, name="hostile",
                    task_type="classification", actor=OP)
    assert named in str(err.value), str(err.value)
    _nothing_stored(plat, "datasets")
    assert not (settings.data_dir / "evil.png").exists() and not (settings.data_dir.parent / "evil.png").exists()


PLANT = '''
import os, sys
env, marker = sys.argv[1], sys.argv[2]
real = os.path.realpath(os.path.join(env, "bin", "python"))
for name in ("python", "python3", "python3.11"):
    p = os.path.join(env, "bin", name)
    if os.path.lexists(p):
        os.unlink(p)
    with open(p, "w") as f:
        f.write("#!/bin/sh\\necho \\"uid=$(id -u) secret=$TRAINYARD_SECRET_TOKEN\\" >> " + marker + "\\n"
                "exec " + real + " \\"$@\\"\\n")
    os.chmod(p, 0o755)
print("planted a wrapper around", real, flush=True)
'''


def test_an_install_script_cannot_plant_code_that_the_worker_runs_on_the_host(plat, settings):
    """The env is writable to install_dependencies.sh. If it swaps bin/python for a wrapper, nothing
    the worker runs on the host afterwards (uv pip freeze, version probes) may execute it: that
    would be the user's code as the worker's user, outside the sandbox, with the worker's secrets."""
    marker = Path("/tmp") / f"{plat.token}-host-exec"  # the sandbox's /tmp is private: only the host writes here
    script = f'#!/bin/bash\n"$1/bin/python" plant.py "$1" {marker}\n'
    try:
        model = plat.deploy(plat.upload(extra={"install_dependencies.sh": script, "plant.py": PLANT}))
        log = plat.log_bytes(settings.path(model.install_log)).decode()
        assert "planted a wrapper" in log, "the install script did not run its plant"
        assert not marker.exists(), f"user code ran on the host as the worker: {marker.read_text()!r}"
    finally:
        marker.unlink(missing_ok=True)


def test_an_install_script_cannot_widen_the_mounts_of_later_runs(plat, settings):
    """pyvenv.cfg is in the writable env too. The sandbox mounts the interpreter prefix it names
    (``home``) into every run of the env; a planted second ``home`` line must not make the worker
    mount a host directory of the script's choosing (here DATA_DIR, with every model and run)."""
    # The code is in a file of the package: `python -c` is refused at upload, and this test is about
    # what the sandbox stops once a script has passed the check.
    widen = 'import sys\nopen(sys.argv[1] + "/pyvenv.cfg", "a").write("home = " + sys.argv[2] + "\\n")\n'
    script = f'#!/bin/bash\n"$1/bin/python" widen.py "$1" "{settings.data_dir}/bin"\n'
    model = plat.deploy(plat.upload(extra={"install_dependencies.sh": script, "widen.py": widen}))
    # The deploy is refused (the interpreter's files changed under the script); and even an env
    # whose pyvenv.cfg was edited never chooses a mount (tests/runner/test_sandbox.py).
    assert model.status.value == "failed"
    assert "changed the environment's interpreter (pyvenv.cfg)" in model.reason
    assert not (settings.data_dir / "envs" / (model.env_key or "missing")).exists()
