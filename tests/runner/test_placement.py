"""Placement without GPUs: which queues a worker listens to, and the host-wide GPU inventory shared by
separate worker processes (real processes on one lock folder, fake GPU ids)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from runner.gpus import GpuAllocator
from shared.core.queue import (
    ALL_QUEUES,
    DEPLOY_QUEUE,
    MAX_GPUS_PER_RUN,
    PREDICT_QUEUE,
    QUEUES,
    TRAIN_QUEUE,
    enqueue_run,
    gpus_of_queue,
    queues_for,
    train_queue,
)
from tests.support.paths import ROOT
from tests.support.procs import wait_for


def test_a_run_waits_in_the_queue_of_its_gpu_count():
    assert train_queue(1) == TRAIN_QUEUE and train_queue(0) == TRAIN_QUEUE
    assert train_queue(2) == "train-gpus-2" and gpus_of_queue("train-gpus-8") == 8
    assert gpus_of_queue(TRAIN_QUEUE) == 1 and gpus_of_queue(PREDICT_QUEUE) == 0
    assert len(ALL_QUEUES) == len(QUEUES) + MAX_GPUS_PER_RUN - 1


def test_a_worker_listens_only_where_its_free_gpus_fit():
    assert queues_for(free_gpus=0, has_gpus=False) == list(QUEUES)  # CPU worker: one-GPU runs on its CPU
    assert queues_for(free_gpus=0, has_gpus=True) == [PREDICT_QUEUE, DEPLOY_QUEUE]  # all its GPUs are busy
    # Bigger runs first, so a waiting 2-GPU run is not starved by a stream of 1-GPU runs.
    assert queues_for(free_gpus=3, has_gpus=True) == [PREDICT_QUEUE, DEPLOY_QUEUE, "train-gpus-3", "train-gpus-2",
                                                      TRAIN_QUEUE]


def test_enqueue_puts_a_multi_gpu_run_in_its_queue(ctx):
    from rq import Queue

    enqueue_run(5, connection=ctx.redis, gpus=2)
    enqueue_run(6, connection=ctx.redis)
    assert Queue("train-gpus-2", connection=ctx.redis).get_job_ids() == ["run-5-0"]
    assert Queue(TRAIN_QUEUE, connection=ctx.redis).get_job_ids() == ["run-6-0"]


_HOLDER = textwrap.dedent("""
    import sys, time
    from runner.gpus import GpuAllocator
    alloc = GpuAllocator(["0", "1", "2", "3"], lock_dir=sys.argv[1])
    got = alloc.try_acquire(int(sys.argv[2]))
    print(",".join(got) if got is not None else "none", flush=True)
    time.sleep(600)
""")


def _holder(lock_dir, n: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(lock_dir), str(n)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def test_workers_of_one_host_never_share_a_gpu_and_a_killed_one_frees_its_gpus(tmp_path):
    lock_dir = tmp_path / "gpus"
    a, got_a = _holder(lock_dir, 2)
    b, got_b = _holder(lock_dir, 1)
    try:
        assert got_a == "0,1" and got_b == "2"
        here = GpuAllocator(["0", "1", "2", "3"], lock_dir=lock_dir)
        assert here.free() == ["3"]
        assert here.try_acquire(2) is None  # two one-GPU runs and one two-GPU run never overlap
        c, got_c = _holder(lock_dir, 2)
        c.kill()
        c.wait()
        assert got_c == "none"
        os.kill(a.pid, signal.SIGKILL)  # kill -9: no clean-up runs, the kernel drops the flocks
        a.wait()
        wait_for(lambda: here.free() == ["0", "1", "3"], 10, "the killed holder's GPUs to come free")
        assert here.try_acquire(3) == ["0", "1", "3"]
        assert here.free() == []
    finally:
        for p in (a, b):
            p.kill()
            p.wait()


def test_a_reservation_made_at_dequeue_is_handed_to_the_run_or_given_back(tmp_path):
    alloc = GpuAllocator(["0", "1"], lock_dir=tmp_path / "gpus")
    other = GpuAllocator(["0", "1"], lock_dir=tmp_path / "gpus")
    with alloc.host_lock():
        assert alloc.reserve_locked(2) == ["0", "1"]
    assert other.free() == []
    assert alloc.acquire(2, timeout=1) == ["0", "1"]  # the run takes what the worker reserved
    alloc.release(["0", "1"])
    with alloc.host_lock():
        alloc.reserve_locked(1)
    alloc.drop_reserved()  # the job ended before taking them (a cancelled run)
    assert other.free() == ["0", "1"]


def test_a_run_asking_for_more_gpus_than_the_host_has_is_refused(tmp_path):
    from shared.core.errors import SandboxError

    with pytest.raises(SandboxError, match="asks for 3 GPUs but this worker has 2"):
        GpuAllocator(["0", "1"], lock_dir=tmp_path).acquire(3)
