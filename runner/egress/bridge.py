"""The command line that starts the in-sandbox forwarder (:mod:`runner.egress.inside`)
in front of the user's command, and the proxy address user code is given."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

# Inside the sandbox's own network namespace: no other program there can hold it first.
BRIDGE_PORT = 3128
PROXY_URL = f"http://127.0.0.1:{BRIDGE_PORT}"
# Where the proxy's socket is bind-mounted inside.
INSIDE_SOCKET = "/trainyard/egress.sock"


@lru_cache(maxsize=1)
def _source() -> str:
    return (Path(__file__).with_name("inside.py")).read_text(encoding="utf-8")


def bridge_argv(*, python: str, argv: list[str]) -> list[str]:
    """``argv`` behind the forwarder, which runs on ``python`` (the platform's
    configured interpreter, never the env's: an install script writes the env)
    with -I -S, so no environment variable, user site or .pth decides what it runs."""
    return [os.path.realpath(python), "-I", "-S", "-c", _source(), str(BRIDGE_PORT), INSIDE_SOCKET, "--", *argv]


def proxy_env() -> dict[str, str]:
    """What pip, uv, urllib and requests read to use a proxy."""
    env = {}
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = PROXY_URL
    env["NO_PROXY"] = env["no_proxy"] = ""
    return env
