"""Python environments for model packages, built with uv and cached by content.

An environment lives at ``DATA_DIR/envs/<key>``, where the key is a hash of
everything that decides what gets installed (``keys``). ``build`` makes one
(``ensure_env``) with ``uv``'s help (``uv``), ``layout`` says where it lives
and how it is marked, and ``cache`` keeps the whole cache under its size.
"""

from runner.envs.build import ensure_env
from runner.envs.cache import envs_disk_usage, evict_envs
from runner.envs.keys import env_key
from runner.envs.layout import (
    COMPLETE_MARKER,
    FREEZE_FILE,
    INSTALL_LOG,
    LAST_USED,
    EnvResult,
    LogFn,
    env_dir,
    env_python,
)
from runner.envs.seal import interpreter_fingerprint
from runner.envs.uv import find_uv

__all__ = ["COMPLETE_MARKER", "FREEZE_FILE", "INSTALL_LOG", "LAST_USED", "EnvResult", "LogFn", "ensure_env",
           "env_dir", "env_key", "env_python", "envs_disk_usage", "evict_envs", "find_uv",
           "interpreter_fingerprint"]
