#!/usr/bin/env python3
"""Set-up and the two everyday commands, with nothing but Python 3.11:

    python3 dev.py run     create .venv if needed, then start redis + worker + UI (:8501)
    python3 dev.py test    create .venv if needed, then run the whole test suite
    python3 dev.py lock    re-pin requirements*.lock from requirements*.txt (after editing those)

Extra arguments after ``test`` go to pytest (``python3 dev.py test -k flow``).
"""

from __future__ import annotations

import hashlib
import os
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
    for src, out in LOCKS:
        _sh([str(uv), "pip", "compile", "--quiet", str(ROOT / src), "-o", str(ROOT / out),
             "--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28",
             "--index-url", "https://pypi.org/simple", *extra,
             "--custom-compile-command", "python3 dev.py lock"])


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
    if not argv or argv[0] not in ("run", "test", "setup", "lock"):
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
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
