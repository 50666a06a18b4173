"""``python -m streamlit_app [streamlit options]``: the UI alone, started with
the flags the settings decide (port, upload limit), for Procfile-style set-ups
that run each process themselves. ``python -m runner up`` starts it the same way."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from shared.core.settings import get_settings


def command(extra: list[str]) -> list[str]:
    s = get_settings()
    app = Path(__file__).resolve().parent / "app.py"
    # Options given on the command line come last: Streamlit keeps the last value.
    return [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", s.ui_host,
            "--server.port", str(s.ui_port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            # Chrome off, as in .streamlit/config.toml (read only when started from the repository root): no
            # Deploy button or developer menu, and one printed URL without an external-IP lookup.
            "--client.toolbarMode", "viewer", "--browser.serverAddress", "localhost",
            *s.streamlit_flags(), *extra]


if __name__ == "__main__":
    cmd = command(sys.argv[1:])
    os.execv(cmd[0], cmd)
