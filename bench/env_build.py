"""Figure 3: environment builds. The first deploy of a model whose
requirements are torch, numpy and pillow into a fresh DATA_DIR on a warm uv
wheel cache (``bench/_work/uv-cache``, kept between runs), then a second model
with the same requirements (the env is reused), against the plain way:
``python -m venv`` + ``pip install -r requirements.txt`` (pip's own cache
warm too). Times run from the deploy being enqueued to the model's row saying
deployed, with one idle worker.

Quick mode installs one small package (``six``) instead, so CI never unpacks
torch."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.config import Config
from bench.report import Goal, Row

TRAIN = '''
import argparse
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=1)
p.parse_args()
'''
# A bare "torch" resolves to the CUDA build (GBs); the pinned CPU wheel is the one users here get.
FULL_REQUIREMENTS = "torch==2.13.0\nnumpy\npillow\n"
QUICK_REQUIREMENTS = "six\n"


def timed_deploy(st, requirements: str) -> float:
    t0 = time.perf_counter()
    model = st.add_model(train=TRAIN, requirements=requirements)
    st.wait_deployed(model)
    return time.perf_counter() - t0


def pip_seconds(*, python: str, requirements: str, where: Path) -> float:
    venv = where / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    req = where / "requirements.txt"
    req.write_text(requirements)
    t0 = time.perf_counter()
    for cmd in ([python, "-m", "venv", str(venv)], [str(venv / "bin" / "pip"), "install", "-q", "-r", str(req)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout)[-800:]}")
    return time.perf_counter() - t0


def run(cfg: Config) -> list[Row]:
    reps = cfg.size(3, 1)
    requirements = QUICK_REQUIREMENTS if cfg.quick else FULL_REQUIREMENTS
    what = " + ".join(r.split("==")[0] for r in requirements.split())
    first = Row("3", f"env build: first deploy ({what}), warm wheel cache", unit=" s")
    second = Row("3", f"env build: second model, same requirements ({what})", unit=" s", goal=Goal("<=", 1.0, " s"))
    plain = Row("3", f"baseline: `python -m venv` + `pip install -r` ({what})", unit=" s")
    # The first round only warms the caches (uv's here, pip's for the baseline) and is not counted.
    # Quick mode skips it once the uv cache has been filled by an earlier run (CI machines keep it).
    warm_up = not cfg.quick or not any(cfg.uv_cache_dir.iterdir())
    python = ""
    for rep in range(0 if warm_up else 1, reps + 1):
        cfg.say(f"figure 3: round {rep} of {reps}" if rep else "figure 3: warming the caches")
        with cfg.stack("envbuild") as st:
            st.start_worker()
            t_first = timed_deploy(st, requirements)
            t_second = timed_deploy(st, requirements)
            python = st.settings.env_python
        if rep == 0 and cfg.quick:
            continue  # pip's cache matters little for one small wheel
        with tempfile.TemporaryDirectory(prefix="bench-pip-", dir=cfg.base) as tmp:
            t_plain = pip_seconds(python=python, requirements=requirements, where=Path(tmp))
        if rep == 0:
            continue
        first.values.append(t_first)
        second.values.append(t_second)
        plain.values.append(t_plain)
    first.note = f"fresh DATA_DIR each time, uv cache {cfg.uv_cache_dir.name}/ kept; 1 idle worker"
    if first.values and plain.values:
        first.note += f"; {plain.median / first.median:.1f}× faster than the baseline"
    second.note = "the env is found by its requirements hash and reused"
    plain.note = f"{python}; pip's cache warm"
    return [first, second, plain]
