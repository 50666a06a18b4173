#!/usr/bin/env python3
"""Set-up and the two everyday commands, with nothing but Python 3.11:

    python3 dev.py run     create .venv if needed, then start redis + worker + UI (:8501)
    python3 dev.py test    create .venv if needed, then run the whole test suite
    python3 dev.py lock    re-pin requirements*.lock from requirements*.txt (after editing those)
    python3 dev.py i18n    re-extract UI messages into shared/locale/*.po (then translate the new zh_CN ones)

Extra arguments after ``test`` go to pytest (``python3 dev.py test -k flow``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"


def _sh(cmd: list[str], **kw) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def ensure_venv(dev: bool) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit(f"Trainyard needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    # The locks pin every package; the .txt files are only their human-edited inputs.
    reqs = ROOT / ("requirements-dev.lock" if dev else "requirements.lock")
    digest = hashlib.sha256(reqs.read_bytes()).hexdigest()
    stamp = VENV / f".installed-{'dev' if dev else 'run'}"
    if PY.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    if not PY.exists():
        _sh([sys.executable, "-m", "venv", str(VENV)])
    # pip reads the machine's pip config (mirrors, find-links), as users expect:
    # that is how the lock's CPU torch comes from a local wheel where there is one.
    _sh([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    _sh([str(PY), "-m", "pip", "install", "-q", "-r", str(reqs)])
    stamp.write_text(digest)


LOCKS = (("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock"))


def lock() -> None:
    """Resolve the .txt inputs against PyPI for Python 3.11 on Linux. uv ignores
    pip's config, so this machine's find-links and constraints (a local CPU torch
    wheel, say) are handed over explicitly; otherwise torch would resolve to the
    CUDA build and its gigabytes of nvidia wheels."""
    sys.path.insert(0, str(ROOT))
    from shared.core.pipconfig import read_pip_config

    pip = read_pip_config()
    uv = VENV / "bin" / "uv"
    if not uv.exists():
        ensure_venv(dev=False)
    extra: list[str] = []
    for link in pip.find_links:
        extra += ["--find-links", link]
    for constraint in pip.constraints:
        extra += ["--constraint", constraint]
    cpu_torch = any(Path(link).is_dir() and any(Path(link).glob("torch-*+cpu-*.whl")) for link in pip.find_links)
    for src, out in LOCKS:
        _portable_torch(ROOT / out, local=cpu_torch)
        _sh([str(uv), "pip", "compile", "--quiet", str(ROOT / src), "-o", str(ROOT / out),
             "--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28",
             "--index-url", "https://pypi.org/simple", *extra,
             "--custom-compile-command", "python3 dev.py lock"])
        _portable_torch(ROOT / out, local=False)


def _portable_torch(path: Path, *, local: bool) -> None:
    """``local=False``: pin torch by its public version (``==2.13.0`` also matches the local ``2.13.0+cpu``
    wheel, which pip prefers where one lies on disk), so the lock installs on a machine without that wheel
    too, where pip takes PyPI's build and its own dependencies. ``local=True`` puts the local label back
    before a re-compile, because uv keeps the lock's pins as preferences and would otherwise trade the CPU
    wheel for the CUDA build and gigabytes of nvidia wheels."""
    if not path.exists():
        return
    text = path.read_text()
    if local:
        text = re.sub(r"^(torch==[0-9.]+)$", r"\1+cpu", text, flags=re.M)
    else:
        text = re.sub(r"^(torch==[0-9.]+)\+\w+$", r"\1", text, flags=re.M)
    path.write_text(text)


def i18n() -> None:
    """Re-extract the UI's messages (``_()``/``N_()``) into shared/locale/trainyard.pot and merge them into
    the English and Chinese catalogs; translators then fill the new zh_CN entries (any .po editor works)."""
    ensure_venv(dev=True)
    pybabel = str(VENV / "bin" / "pybabel")
    pot = ROOT / "shared" / "locale" / "trainyard.pot"
    _sh([pybabel, "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(pot), "--sort-by-file",
         "--project", "Trainyard", "--no-wrap", "."], cwd=ROOT)  # relative paths: the same in every checkout
    for lang in ("en", "zh_CN"):
        po = ROOT / "shared" / "locale" / lang / "LC_MESSAGES" / "trainyard.po"
        verb = "update" if po.exists() else "init"
        _sh([pybabel, "-q", verb, "-i", str(pot), "-d", str(ROOT / "shared" / "locale"), "-D", "trainyard",
             "-l", lang, "--no-wrap"] + (["--ignore-obsolete"] if verb == "update" else []), cwd=ROOT)


def ensure_browser() -> None:
    """Debian's Chromium for the Playwright tests; never a downloaded browser."""
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium", "fonts-noto-color-emoji"], check=False, env=env,
                       stdout=subprocess.DEVNULL)
    if not Path("/usr/bin/chromium").exists():
        print("note: Debian's chromium is not installed; the browser tests will be skipped", file=sys.stderr)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "setup", "lock", "i18n"):
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "i18n":
        i18n()
        return 0
    if cmd == "lock":
        lock()
        return 0
    ensure_venv(dev=cmd != "run")
    if cmd == "setup":
        return 0
    if cmd == "run":
        os.execv(str(PY), [str(PY), "-m", "runner", "up", *rest])
    ensure_browser()
    return subprocess.run([str(PY), "-m", "pytest", *rest], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
