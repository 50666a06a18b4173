"""Read pip's own configuration (files and PIP_* variables) so that the
environment builder hands uv the same index, find-links and constraints that
``pip install`` would use here. uv ignores pip's config; without this a plain
``torch`` requirement would pull multi-GB CUDA wheels instead of the local one.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from pathlib import Path

_KEYS = {
    "index-url": "index_url",
    "extra-index-url": "extra_index_urls",
    "find-links": "find_links",
    "constraint": "constraints",
}


@dataclass
class PipIndexConfig:
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)


def _config_files(environ: dict[str, str]) -> list[Path]:
    # pip's order: global (site-wide), user, then PIP_CONFIG_FILE; later wins.
    files: list[Path] = []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files += [Path(d) / "pip" / "pip.conf" for d in reversed(xdg_dirs) if d]
    files.append(Path("/etc/pip.conf"))
    home = Path(environ.get("HOME", str(Path.home())))
    files.append(home / ".pip" / "pip.conf")
    xdg_home = Path(environ.get("XDG_CONFIG_HOME", str(home / ".config")))
    files.append(xdg_home / "pip" / "pip.conf")
    if environ.get("PIP_CONFIG_FILE"):
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    return files


def read_pip_config(environ: dict[str, str] | None = None) -> PipIndexConfig:
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, str] = {}
    for path in _config_files(environ):
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path)
        except configparser.Error:
            continue  # pip itself would refuse it; we just don't take defaults from it
        for section in ("global", "install"):
            if parser.has_section(section):
                for key in _KEYS:
                    if parser.has_option(section, key):
                        values[key] = parser.get(section, key)
    for key in _KEYS:
        env_name = "PIP_" + key.upper().replace("-", "_")
        if environ.get(env_name):
            values[key] = environ[env_name]
    cfg = PipIndexConfig()
    for key, attr in _KEYS.items():
        if key not in values:
            continue
        if attr == "index_url":
            cfg.index_url = values[key].strip() or None
        else:
            setattr(cfg, attr, values[key].split())
    return cfg
