"""What every figure gets: the mode (quick or full), where its platforms live,
and how to reach Redis. Built once by ``python -m bench`` from the settings."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.stack import Stack

WORK = Path(__file__).resolve().parent / "_work"


@dataclass
class Config:
    quick: bool
    base: Path                  # each Stack makes its DATA_DIR below this
    redis_url: str | None       # None: each Stack starts the embedded redis-server
    uv_cache_dir: Path          # persistent, so "warm wheel cache" holds between runs
    unsafe_no_sandbox: bool = False
    started: float = 0.0

    def stack(self, name: str, **overrides) -> Stack:
        return Stack(base=self.base, name=name, redis_url=self.redis_url, uv_cache_dir=self.uv_cache_dir,
                     unsafe_no_sandbox=self.unsafe_no_sandbox, **overrides)

    def say(self, text: str) -> None:
        """Progress on stderr, so stdout carries only the table."""
        print(f"[bench {time.monotonic() - self.started:6.1f}s] {text}", file=sys.stderr, flush=True)

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full
