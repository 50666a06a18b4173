"""The benchmarks' quick mode runs end to end on a fresh DATA_DIR: every figure
starts the platform it needs, measures, stops it, and the table is printed.
No timing is asserted (DESIGN §11): this only keeps bench/ from rotting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.paths import ROOT


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_benchmarks_run_and_print_the_table():
    # World-traversable: the sandbox's unprivileged uid enters the runs' dirs.
    data = Path(tempfile.mkdtemp(prefix="trainyard-bench-", dir="/tmp"))
    os.chmod(data, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_") and k != "DATA_DIR"}
    env["TRAINYARD_DATA_DIR"] = str(data)
    try:
        proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--no-write"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=540)
        assert proc.returncode == 0, proc.stderr[-4000:] + proc.stdout[-2000:]
        assert "| # | measure | median | min | max | n | goal | met | note |" in proc.stdout
        for figure in "123456789":
            assert f"\n| {figure} | " in proc.stdout, f"figure {figure} is missing from the table"
        assert "failed" not in proc.stdout
        # Every throw-away platform was removed again.
        assert not (data / "bench").exists() or not any((data / "bench").iterdir())
    finally:
        shutil.rmtree(data, ignore_errors=True)
