"""``python -m runner up --workers auto``: the rule that picks the number of workers."""

from __future__ import annotations

import argparse

import pytest

from runner.up import AUTO, auto_workers, parse_workers, resolve_workers
from shared.core.settings import Settings

GiB = 2**30


def test_one_worker_per_gpu_whatever_the_cores():
    assert auto_workers(gpus=["0", "1"], cores=2, mem_bytes=4 * GiB, run_memory=8 * GiB) == 2
    assert auto_workers(gpus=["3"], cores=64, mem_bytes=512 * GiB, run_memory=8 * GiB) == 1


@pytest.mark.parametrize(("cores", "mem_gib", "run_gib", "expected"), [
    (16, 128, 8, 8),     # cores decide: a worker per 2 cores
    (16, 32, 8, 4),      # memory decides: 4 runs of 8 GiB fit in 32 GiB
    (2, 23, 8, 1),       # a small box: one at a time, as before
    (1, 2, 8, 1),        # never none, even where one run does not fit
    (8, 16, None, 4),    # no memory limit: cores alone
])
def test_cpu_only_host_fits_cores_and_memory(cores, mem_gib, run_gib, expected):
    run_memory = run_gib * GiB if run_gib else None
    assert auto_workers(gpus=[], cores=cores, mem_bytes=mem_gib * GiB, run_memory=run_memory) == expected


def test_parse_workers():
    assert parse_workers("auto") == AUTO and parse_workers("AUTO") == AUTO
    assert parse_workers("3") == 3
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="number of workers"):
            parse_workers(bad)


def test_resolve_spreads_the_gpus_it_was_given(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert resolve_workers(settings=settings, workers=AUTO, gpus="0,1,2")[:2] == (3, "0,1,2")
    n, gpus, why = resolve_workers(settings=settings, workers=AUTO, gpus="cpu")
    assert n >= 1 and gpus == "cpu" and "CPU only" in why
    assert resolve_workers(settings=settings, workers=2, gpus=None)[:2] == (2, None)


def test_cli_default_is_auto():
    from runner.cli import build_parser

    assert build_parser().parse_args(["up"]).workers == AUTO
    assert build_parser().parse_args(["up", "--workers", "2"]).workers == 2
