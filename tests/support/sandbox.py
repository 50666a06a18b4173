"""Whether bubblewrap can start a sandbox on this machine (tests that need one skip otherwise)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path


def bwrap_works() -> bool:
    from shared.core.settings import Settings

    path = Settings().resolve_bwrap()
    if not path:
        return False
    return subprocess.run([path, "--unshare-user", "--ro-bind", "/", "/", "true"],
                          capture_output=True).returncode == 0


def private_dirs_work() -> bool:
    """Whether a sandbox's mount sources may sit in a private (0700) folder: the worker is not root (bwrap runs
    as the owner), or it is root and stages them (runner/sandbox/stage.py, which needs CAP_SYS_ADMIN)."""
    from runner.sandbox import stage

    return os.geteuid() != 0 or stage.available()


def scratch_dir(prefix: str) -> Path:
    """A fresh folder for DATA_DIR or mount sources: under TMPDIR (which CI puts in a 0700 folder, as root's
    home is) wherever that works, else world-searchable under /tmp."""
    if private_dirs_work():
        return Path(tempfile.mkdtemp(prefix=prefix))
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d
