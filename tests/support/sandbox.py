"""Whether bubblewrap can start a sandbox on this machine (tests that need one skip otherwise)."""

from __future__ import annotations

import subprocess


def bwrap_works() -> bool:
    from shared.core.settings import Settings

    path = Settings().resolve_bwrap()
    if not path:
        return False
    return subprocess.run([path, "--unshare-user", "--ro-bind", "/", "/", "true"],
                          capture_output=True).returncode == 0
