"""GPU detection and allocation, without a GPU: a fake nvidia-smi stands in
for the driver's listing."""

from __future__ import annotations

import threading
import time

import pytest

from runner.gpus import GpuAllocator, detect_gpus, device_arg
from shared.core.errors import FieldError, SandboxError


@pytest.mark.parametrize("setting, expected", [
    ("cpu", []),
    ("CPU", []),
    ("", []),
    ("0", ["0"]),
    ("0,1", ["0", "1"]),
    (" 1 , 3 ", ["1", "3"]),
    ("GPU-5a3c9b1e-0000-1111-2222-333344445555", ["GPU-5a3c9b1e-0000-1111-2222-333344445555"]),
])
def test_detect_from_setting(setting, expected):
    assert detect_gpus(setting=setting, nvidia_smi="/nonexistent") == expected


@pytest.mark.parametrize("setting, words", [
    ("gpu0", "'gpu0' is not a GPU"),
    ("0;1", "'0;1' is not a GPU"),
    ("0,0", "names a GPU twice"),
])
def test_detect_rejects_bad_settings(setting, words):
    with pytest.raises(FieldError) as err:
        detect_gpus(setting=setting)
    assert err.value.field == "TRAINYARD_GPUS" and words in str(err.value)


def fake_smi(tmp_path, body: str, code: int = 0):
    exe = tmp_path / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\ncat <<'EOF'\n{body}\nEOF\nexit {code}\n")
    exe.chmod(0o755)
    return str(exe)


def test_detect_from_nvidia_smi(tmp_path):
    exe = fake_smi(tmp_path, "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)\n"
                             "  MIG 1g.10gb     Device  0: (UUID: MIG-bbbb)\n"
                             "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-cccc)")
    assert detect_gpus(setting=None, nvidia_smi=exe) == ["0", "1"]


def test_detect_without_a_working_driver(tmp_path):
    exe = fake_smi(tmp_path, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", 9)
    assert detect_gpus(setting=None, nvidia_smi=exe) == []
    assert detect_gpus(setting=None, nvidia_smi=str(tmp_path / "missing")) == []


def test_allocator_hands_out_disjoint_sets():
    alloc = GpuAllocator(["0", "1", "2", "3"])
    a = alloc.acquire(2)
    b = alloc.acquire(1)
    assert a == ["0", "1"] and b == ["2"]
    assert alloc.try_acquire(2) is None
    alloc.release(a)
    assert alloc.free() == ["0", "1", "3"]
    assert alloc.acquire(3) == ["0", "1", "3"]
    with pytest.raises(SandboxError):
        alloc.acquire(5)
    assert alloc.try_acquire(0) == []


def test_allocator_on_a_cpu_worker():
    alloc = GpuAllocator([])
    assert alloc.acquire(1) == [] and alloc.acquire(4) == [] and alloc.try_acquire(1) == []


def test_allocator_waits_for_a_release():
    alloc = GpuAllocator(["0"])
    held = alloc.acquire(1)
    got: list[list[str]] = []
    t = threading.Thread(target=lambda: got.append(alloc.acquire(1, timeout=5)))
    t.start()
    time.sleep(0.1)
    assert got == []  # still waiting
    alloc.release(held)
    t.join(5)
    assert got == [["0"]]
    with pytest.raises(TimeoutError):
        alloc.acquire(1, timeout=0.05)


def test_allocator_is_thread_safe():
    alloc = GpuAllocator([str(i) for i in range(8)])
    in_use: set[str] = set()
    lock = threading.Lock()
    clashes: list[str] = []

    def worker():
        for _ in range(200):
            gpus = alloc.acquire(2, timeout=5)
            with lock:
                clashes.extend(g for g in gpus if g in in_use)
                in_use.update(gpus)
            with lock:
                in_use.difference_update(gpus)
            alloc.release(gpus)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert clashes == [] and sorted(alloc.free(), key=int) == [str(i) for i in range(8)]


@pytest.mark.parametrize("gpus, expected", [
    ([], "cpu"),
    (["0"], "0"),
    (["3"], "0"),  # renumbered: inside the sandbox the one visible GPU is 0
    (["1", "2"], "0,1"),
])
def test_device_arg(gpus, expected):
    assert device_arg(gpus) == expected
