"""The environment builder, with real uv and real venvs in a tmp DATA_DIR.

Packages (six, idna, colorama: small pure-python wheels) come from a local
index named in pip's configuration (the ``local_index`` fixture), so nothing
needs a network; without one these tests are skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from runner.envs import (
    COMPLETE_MARKER,
    LAST_USED,
    EnvResult,
    ensure_env,
    env_key,
    env_python,
    envs_disk_usage,
    evict_envs,
)
from runner.envs.layout import state_dir
from shared.core.errors import EnvBuildError
from shared.core.settings import Settings
from tests.support.local_index import LocalIndex
from tests.support.procs import wait_for


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory) -> Path:
    # Shared by the module so each wheel is unpacked once; same filesystem as the envs -> hardlinks.
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture
def settings(tmp_path, uv_cache, local_index) -> Settings:
    # The default index settings come from pip's configuration, which names the local index.
    return Settings(data_dir=tmp_path / "data", uv_cache_dir=uv_cache)


def _imports(result: EnvResult, module: str) -> str:
    proc = subprocess.run([str(env_python(result.path)), "-c", f"import {module}; print({module}.__file__)"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_builds_env_then_reuses_it_without_running_uv(settings):
    lines: list[str] = []
    first = ensure_env(settings=settings, requirements=["six"], log=lines.append)
    assert first.built is True
    assert first.path == settings.data_dir / "envs" / first.key
    assert (state_dir(first.path) / COMPLETE_MARKER).is_file()
    assert not (first.path / COMPLETE_MARKER).exists()  # never where an install script could plant a link
    six_file = Path(_imports(first, "six"))
    assert six_file.is_relative_to(first.path)
    assert six_file.stat().st_nlink >= 2  # hardlinked from uv's cache, not copied
    assert any(line.startswith("six==") for line in first.freeze)
    assert any("+ six==" in line for line in lines), lines  # uv's output was streamed
    assert "+ six==" in first.log_path.read_text()
    # The env runs on the configured interpreter, not the platform's venv.
    assert os.path.realpath(env_python(first.path)) == os.path.realpath(settings.env_python)

    log_stat = first.log_path.stat()
    python_stat = env_python(first.path).lstat()
    again_lines: list[str] = []
    again = ensure_env(settings=settings, requirements=["six"], log=again_lines.append)
    assert (again.built, again.key, again.path) == (False, first.key, first.path)
    assert again.freeze == first.freeze
    # Nothing ran: no uv command line in the log, install.log and the venv untouched.
    assert not any(line.startswith("$ ") for line in again_lines), again_lines
    assert again.log_path.stat().st_mtime_ns == log_stat.st_mtime_ns
    assert env_python(again.path).lstat().st_ino == python_stat.st_ino


def test_different_requirements_get_a_different_env(settings):
    a = ensure_env(settings=settings, requirements=["six"])
    b = ensure_env(settings=settings, requirements=["idna"])
    assert a.key != b.key and b.built
    _imports(b, "idna")
    proc = subprocess.run([str(env_python(b.path)), "-c", "import six"], capture_output=True)
    assert proc.returncode != 0  # envs are isolated from each other


def test_concurrent_ensure_env_builds_once(settings):
    results: list[EnvResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def deploy():
        try:
            barrier.wait()
            results.append(ensure_env(settings=settings, requirements=["colorama"]))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=deploy) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(r.built for r in results) == [False, True]
    assert results[0].key == results[1].key
    commands = [ln for ln in results[0].log_path.read_text().splitlines() if ln.startswith("$ ")]
    assert len(commands) == 2, commands  # one `uv venv`, one `uv pip install`: built once
    _imports(results[0], "colorama")


def test_concurrent_processes_build_once(settings, tmp_path):
    script = (
        "import sys; from pathlib import Path\n"
        "from shared.core.settings import Settings; from runner.envs import ensure_env\n"
        "s = Settings(data_dir=Path(sys.argv[1]), uv_cache_dir=Path(sys.argv[2]))\n"
        "print(ensure_env(settings=s, requirements=['six', 'idna']).built)\n"
    )
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", script, str(settings.data_dir), str(settings.uv_cache_dir)],
                              cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted(o[0].strip() for o in outs) == ["False", "True"]


def test_failing_requirement_reports_uvs_own_error_and_leaves_no_env(settings):
    lines: list[str] = []
    with pytest.raises(EnvBuildError) as info:
        ensure_env(settings=settings, requirements=["nonexistent-pkg-xyz==1.0"], log=lines.append)
    msg = str(info.value)
    assert "Building the environment failed" in msg
    assert "No solution found when resolving dependencies" in msg
    assert "nonexistent-pkg-xyz" in msg and "Because" in msg
    envs = settings.data_dir / "envs"
    key = env_key(python=settings.env_python, requirements=["nonexistent-pkg-xyz==1.0"], constraints=[],
                  options=[], install_script=None, settings=settings)
    assert not (envs / key).exists()
    failed = sorted(envs.glob(f"failed-{key}-*.log"))
    assert len(failed) == 1 and f"envs/{failed[0].name}" in msg
    assert "nonexistent-pkg-xyz" in failed[0].read_text()
    assert any("nonexistent-pkg-xyz" in line for line in lines)
    # A later fix of the requirement builds cleanly.
    assert ensure_env(settings=settings, requirements=["six"]).built


def test_incomplete_leftover_is_rebuilt(settings):
    key = env_key(python=settings.env_python, requirements=["six"], constraints=[], options=[],
                  install_script=None, settings=settings)
    leftover = settings.data_dir / "envs" / key
    leftover.mkdir(parents=True)
    (leftover / "half-written").write_text("x")
    result = ensure_env(settings=settings, requirements=["six"])
    assert result.built and not (leftover / "half-written").exists()
    _imports(result, "six")


def test_requirements_file_index_overrides_settings_index(tmp_path, uv_cache, local_index: LocalIndex):
    # Only the team's own `-i` can find six here; the platform index is a dead end.
    s = Settings(data_dir=tmp_path / "data", uv_cache_dir=uv_cache, index_url="file:///nonexistent/simple",
                 extra_index_urls=[], find_links=[], constraints=[])
    result = ensure_env(settings=s, requirements=["six"], options=[f"-i {local_index.url}"])
    _imports(result, "six")
    with pytest.raises(EnvBuildError):
        ensure_env(settings=s, requirements=["six"])


def test_vendored_wheel_is_installed_from_package_dir_and_keyed_by_content(settings, tmp_path,
                                                                          local_index: LocalIndex):
    pkg = tmp_path / "pkg"
    (pkg / "vendor").mkdir(parents=True)
    source = local_index.wheel("six")
    wheel = pkg / "vendor" / source.name
    shutil.copy(source, wheel)
    reqs = [f"./vendor/{source.name}"]
    first = ensure_env(settings=settings, requirements=reqs, package_dir=pkg)
    _imports(first, "six")
    assert not ensure_env(settings=settings, requirements=reqs, package_dir=pkg).built
    with open(wheel, "ab") as fh:  # a changed vendored file must not reuse the old env
        fh.write(b"\0")
    other = tmp_path / "pkg2"
    shutil.copytree(pkg, other)
    try:  # a new key either way: uv installs the changed file or refuses it
        assert ensure_env(settings=settings, requirements=reqs, package_dir=other).built
    except EnvBuildError:
        pass


def test_install_script_runs_through_the_given_runner_with_pip_available(settings, tmp_path,
                                                                          local_index: LocalIndex):
    script = tmp_path / "install_dependencies.sh"
    script.write_text('echo "extra step for $1"\n"$1/bin/pip" --version\n"$1/bin/pip" install --no-index '
                      f'{local_index.wheel("colorama")}\n')
    calls = []

    def run_install_script(*, script: Path, env_path: Path, log, timeout_s: float):
        # The test plays the sandbox: run the script for real and stream its output.
        calls.append(env_path)
        proc = subprocess.run(["bash", str(script), str(env_path)], capture_output=True, text=True)
        for line in (proc.stdout + proc.stderr).splitlines():
            log(line)
        if proc.returncode:
            raise EnvBuildError(f"install_dependencies.sh exited with code {proc.returncode}")

    result = ensure_env(settings=settings, requirements=["six"], install_script=script,
                        run_install_script=run_install_script)
    assert calls == [result.path]
    log_text = result.log_path.read_text()
    assert f"extra step for {result.path}" in log_text
    assert "pip " in log_text  # pip --version output
    _imports(result, "colorama")
    # The script may write into the env: its files are private copies, not links into uv's cache.
    assert Path(_imports(result, "six")).stat().st_nlink == 1
    assert any(line.startswith("colorama") for line in result.freeze)  # the script's install counts
    assert any(line.startswith("pip==") for line in result.freeze)

    script.write_text(script.read_text() + "exit 3\n")
    with pytest.raises(EnvBuildError, match="exited with code 3") as info:
        ensure_env(settings=settings, requirements=["six"], install_script=script,
                   run_install_script=run_install_script)
    assert "full log: envs/failed-" in str(info.value)
    assert not any(p.is_dir() and p.name != result.key for p in (settings.data_dir / "envs").iterdir())


def test_install_script_without_sandbox_runner_is_refused(settings, tmp_path):
    script = tmp_path / "install_dependencies.sh"
    script.write_text("touch /tmp/should-never-run\n")
    with pytest.raises(EnvBuildError, match="sandbox"):
        ensure_env(settings=settings, requirements=["six"], install_script=script)
    assert not (settings.data_dir / "envs").exists() or not any((settings.data_dir / "envs").iterdir())


def test_eviction_removes_lru_and_keeps_in_use(settings):
    a = ensure_env(settings=settings, requirements=["six"])
    b = ensure_env(settings=settings, requirements=["idna"])
    c = ensure_env(settings=settings, requirements=["colorama"])
    # Order by last use: b (oldest), c, then a (reused just now).
    for i, r in enumerate((b, c)):
        os.utime(state_dir(r.path) / LAST_USED, (1_000_000 + i, 1_000_000 + i))
    assert not ensure_env(settings=settings, requirements=["six"]).built

    total = envs_disk_usage(settings=settings)
    tight = settings.model_copy(update={"env_cache_max_bytes": total - 1})
    assert evict_envs(settings=tight, in_use={b.key}) == [c.key]
    assert not c.path.exists() and b.path.exists() and a.path.exists()
    assert envs_disk_usage(settings=settings) <= total - 1

    # Everything protected: over the limit, but nothing may go.
    nothing = settings.model_copy(update={"env_cache_max_bytes": 1})
    assert evict_envs(settings=nothing, in_use={b.key}, keep={a.key}) == []
    assert a.path.exists() and b.path.exists()
    # Under the limit: nothing to do.
    roomy = settings.model_copy(update={"env_cache_max_bytes": 10 * total})
    assert evict_envs(settings=roomy, in_use=set()) == []
    # The evicted env is rebuilt on demand.
    assert ensure_env(settings=settings, requirements=["colorama"]).built


def test_disk_usage_counts_hardlinked_files_once(settings):
    ensure_env(settings=settings, requirements=["six"])
    before = envs_disk_usage(settings=settings)
    envs = settings.data_dir / "envs"
    big = envs / "blob"
    big.write_bytes(b"x" * 1_000_000)
    once = envs_disk_usage(settings=settings)
    os.link(big, envs / "blob-link")
    assert envs_disk_usage(settings=settings) == once > before


def _key(base: Settings, **over) -> str:
    args = dict(python=base.env_python, requirements=["six==1.17.0", "idna"], constraints=[], options=[],
                install_script=None, settings=base)
    args.update(over)
    return env_key(**args)


def test_env_key_is_stable_and_short(settings):
    k = _key(settings)
    assert k == _key(settings) and 16 <= len(k) <= 20 and int(k, 16) >= 0
    # Whitespace, blank lines and comments don't matter.
    assert _key(settings, requirements=["  six==1.17.0 ", "", "# pinned", "idna  # why"]) == k


@pytest.mark.parametrize("change", [
    {"requirements": ["idna", "six==1.17.0"]},  # order kept
    {"requirements": ["six==1.16.0", "idna"]},
    {"constraints": ["idna<3"]},
    {"options": ["-i https://mirror.example/simple"]},
    {"install_script": "pip install extra\n"},
    {"python": sys.executable},
    {"settings": {"index_url": "https://mirror.example/simple"}},
    {"settings": {"extra_index_urls": ["https://extra.example/simple"]}},
    {"settings": {"find_links": []}},
    {"settings": {"constraints": []}},
])
def test_env_key_changes_with_each_input(settings, change):
    if "settings" in change:
        change = {"settings": settings.model_copy(update=change["settings"])}
    assert _key(settings, **change) != _key(settings)


def test_env_key_follows_install_script_text_and_constraint_file_contents(settings, tmp_path):
    assert _key(settings, install_script="echo a\n") != _key(settings, install_script="echo b\n")
    cfile = tmp_path / "constraints.txt"
    cfile.write_text("torch<=2.14.1\n")
    s = settings.model_copy(update={"constraints": [str(cfile)]})
    before = _key(s)
    cfile.write_text("torch<=2.15.0\n")  # same path, new contents
    assert _key(s) != before


# How soon after the deadline uv is stopped is measured in bench/ (figure 9); this checks what happens.
def test_stalled_index_hits_the_build_timeout_and_kills_uv(tmp_path, uv_cache):
    # A socket that accepts connections (kernel backlog) but never answers: uv would wait on it for minutes.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        port = server.getsockname()[1]
        s = Settings(data_dir=tmp_path / "data", uv_cache_dir=uv_cache, index_url=f"http://127.0.0.1:{port}/simple",
                     extra_index_urls=[], find_links=[], constraints=[], env_build_timeout_s=2)
        with pytest.raises(EnvBuildError, match="longer than 2 s") as info:
            ensure_env(settings=s, requirements=["six"])
    assert "full log: envs/failed-" in str(info.value)
    assert not [p for p in (s.data_dir / "envs").iterdir() if p.is_dir()]
    # uv ran in a session of its own, and its whole group was killed at the deadline.
    wait_for(lambda: not _procs_naming(str(s.data_dir)), 10, "every uv process of the build to be gone")


def _procs_naming(text: str) -> list[int]:
    return [p.pid for p in psutil.process_iter(["cmdline"]) if text in " ".join(p.info["cmdline"] or [])]


def _wheel(dest: Path, name: str, version: str) -> Path:
    """A minimal pure-python wheel (METADATA, WHEEL, RECORD and one module), written by hand."""
    import zipfile

    dist = f"{name.replace('-', '_')}-{version}"
    path = dest / f"{dist}-py3-none-any.whl"
    files = {
        f"{name.replace('-', '_')}.py": f"VERSION = {version!r}\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{n},,\n" for n in files) + f"{dist}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for n, text in {**files, f"{dist}.dist-info/RECORD": record}.items():
            zf.writestr(n, text)
    return path


def _simple_index(root: Path, name: str, version: str) -> str:
    """A PEP 503 file index holding one version of one project; returns its file:// URL."""
    project = root / "simple" / name
    project.mkdir(parents=True)
    wheel = _wheel(project, name, version)
    (project / "index.html").write_text(f'<html><body><a href="{wheel.name}">{wheel.name}</a></body></html>\n')
    (root / "simple" / "index.html").write_text(f'<html><body><a href="{name}/">{name}</a></body></html>\n')
    return (root / "simple").as_uri()


def test_pip_like_resolution_across_indexes_is_the_default(tmp_path, uv_cache):
    """The first index has only 2.0; the requirement asks for <2, which the second index has. pip takes it;
    uv's own default (first index wins) would fail. TRAINYARD_INDEX_STRATEGY keeps uv's rule available."""
    from shared.records import IndexStrategy

    newer = _simple_index(tmp_path / "first", "trainyard-demo", "2.0")
    older = _simple_index(tmp_path / "second", "trainyard-demo", "1.0")
    common = dict(uv_cache_dir=uv_cache, index_url=older, extra_index_urls=[newer], find_links=[], constraints=[])
    s = Settings(data_dir=tmp_path / "data", **common)
    assert s.index_strategy == IndexStrategy.unsafe_best_match
    lines: list[str] = []
    result = ensure_env(settings=s, requirements=["trainyard-demo<2"], log=lines.append)
    assert _imports(result, "trainyard_demo").endswith("trainyard_demo.py")
    assert any("index strategy: unsafe-best-match" in line for line in lines)
    strict = Settings(data_dir=tmp_path / "strict", index_strategy=IndexStrategy.first_index, **common)
    with pytest.raises(EnvBuildError):
        ensure_env(settings=strict, requirements=["trainyard-demo<2"])
