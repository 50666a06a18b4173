"""Paths the tests share, importable without pulling in the fixtures."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Kept between test sessions (gitignored) so uv hardlinks instead of re-extracting.
UV_CACHE = ROOT / ".cache" / "uv-test"
