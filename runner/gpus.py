"""Which GPUs this worker has, and which run uses which.

GPU ids here are host ids: what ``nvidia-smi`` prints and what goes into the
sandbox's ``CUDA_VISIBLE_DEVICES``. Inside the sandbox CUDA renumbers the
visible GPUs from 0, so the ``--device`` argument handed to user code
(:func:`device_arg`) counts from 0 as well: a run given host GPU 3 is told
``--device 0``, the first (and only) GPU it can see.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from runner.flocks import try_flock
from shared.core.errors import FieldError, SandboxError
from shared.core.i18n import N_

# An index ("0"), or a GPU/MIG UUID as CUDA_VISIBLE_DEVICES accepts it.
_GPU_ID = re.compile(r"^(\d+|GPU-[0-9a-fA-F-]+|MIG-[0-9a-zA-Z/-]+)$")
_SMI_LINE = re.compile(r"^GPU (\d+):")
_POLL_S = 0.2


def detect_gpus(*, setting: str | None, nvidia_smi: str | None = None) -> list[str]:
    """The GPU ids this worker may use.

    ``setting`` is ``TRAINYARD_GPUS``: ``"cpu"`` (or empty) for none, ``"0,1"``
    for these GPUs, ``None`` to ask ``nvidia-smi -L`` (no nvidia-smi: none).
    ``nvidia_smi`` overrides the executable looked up on PATH.
    """
    if setting is not None:
        text = setting.strip()
        if text.lower() in ("", "cpu", "none"):
            return []
        ids = [part.strip() for part in text.split(",") if part.strip()]
        bad = [i for i in ids if not _GPU_ID.match(i)]
        if bad:
            raise FieldError("TRAINYARD_GPUS", N_("{value!r} is not a GPU; write cpu, a GPU index such as 0, or a "
                                                  "list such as 0,1"),
                                               params={"value": bad[0]})
        if len(set(ids)) != len(ids):
            raise FieldError("TRAINYARD_GPUS", N_("{setting!r} names a GPU twice"), params={"setting": setting})
        return ids
    exe = nvidia_smi or shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []  # nvidia-smi without a working driver: a CPU worker
    return [m.group(1) for m in (_SMI_LINE.match(line) for line in out.stdout.splitlines()) if m]


def describe_gpus(gpus: list[str], *, nvidia_smi: str | None = None) -> dict[str, dict[str, str | int]]:
    """Model and memory of this host's GPUs, for the Workers page: ``{"0": {"name": "NVIDIA H100", "memory_mib":
    81559}}``. GPUs nvidia-smi does not describe (a fake list, no driver) get what is known: nothing."""
    exe = nvidia_smi or shutil.which("nvidia-smi")
    if not gpus or not exe:
        return {}
    try:
        out = subprocess.run([exe, "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found: dict[str, dict[str, str | int]] = {}
    for line in out.stdout.splitlines() if out.returncode == 0 else []:
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            continue
        index, uuid, name, mem = parts
        info: dict[str, str | int] = {"name": name}
        if mem.isdigit():
            info["memory_mib"] = int(mem)
        for key in (index, uuid):
            if key in gpus:
                found[key] = info
    return found


class GpuAllocator:
    """Hands out disjoint GPU sets to the runs of every worker process on this host.

    Each GPU has a lock file in a host-local folder (``TRAINYARD_GPU_LOCK_DIR``, never the shared store: two
    hosts both have a GPU 0) and a run holds an flock on the files of its GPUs. The kernel drops an flock
    when its holder dies, so a worker killed with -9 frees its GPUs with no clean-up, and several workers on
    one host, each configured with all of its GPUs, never hand out the same one. The host-wide
    ``host.lock`` makes look-and-take one step, so two workers cannot both see the same GPUs free.
    Without ``lock_dir`` the folder is private to this allocator (one process only).
    """

    def __init__(self, gpus: list[str], *, lock_dir: Path | None = None) -> None:
        self.gpus = list(gpus)
        if lock_dir is None:
            lock_dir = Path(tempfile.mkdtemp(prefix="trainyard-gpus-")) if self.gpus else Path(tempfile.gettempdir())
        self.lock_dir = Path(lock_dir)
        if self.gpus:
            self.lock_dir.mkdir(parents=True, exist_ok=True)
        self._held: dict[str, int] = {}  # GPU id -> the fd whose flock holds it
        self._reserved: list[str] | None = None
        self._mutex = threading.RLock()

    @property
    def total(self) -> int:
        return len(self.gpus)

    @contextlib.contextmanager
    def host_lock(self) -> Iterator[None]:
        """Held while looking at and taking GPUs; the worker also dequeues under it (see ``runner/worker.py``)."""
        with self._mutex:
            fd = os.open(self.lock_dir / "host.lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def free(self) -> list[str]:
        """The GPUs no run on this host holds now, in host order."""
        if not self.gpus:
            return []
        with self.host_lock():
            return self.free_locked()

    def free_locked(self) -> list[str]:
        out = []
        for g in self.gpus:
            if g in self._held:
                continue
            fd = self._try_lock(g)
            if fd is not None:
                os.close(fd)
                out.append(g)
        return out

    def try_acquire(self, n: int = 1) -> list[str] | None:
        """``n`` GPUs now, or None if fewer are free. ``[]`` on a CPU worker or for ``n == 0``."""
        self._check(n)
        if not self.gpus or n == 0:
            return []
        with self.host_lock():
            return self._take(n)

    def acquire(self, n: int = 1, *, timeout: float | None = None) -> list[str]:
        """``n`` GPUs, waiting for other runs on this host to release them. ``[]`` on a CPU worker.

        GPUs reserved for this job when the worker took it (:meth:`reserve_locked`) are handed over at once."""
        self._check(n)
        with self._mutex:
            if self._reserved is not None and len(self._reserved) == n:
                got, self._reserved = self._reserved, None
                return got
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            got = self.try_acquire(n)
            if got is not None:
                return got
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"no {n} GPU(s) became free within {timeout} s")
            time.sleep(_POLL_S)

    def reserve_locked(self, n: int) -> list[str] | None:
        """Under :meth:`host_lock`: hold ``n`` GPUs for the job just taken, until it acquires them."""
        got = self._take(n) if self.gpus and n > 0 else []
        self._reserved = got
        return got

    def drop_reserved(self) -> None:
        """After a job: GPUs reserved for it and never acquired (it ended early) go back."""
        with self._mutex:
            if self._reserved:
                self.release(self._reserved)
            self._reserved = None

    def release(self, gpus: list[str]) -> None:
        with self._mutex:
            for g in gpus:
                fd = self._held.pop(g, None)
                if fd is not None:
                    os.close(fd)  # closing drops the flock

    def _check(self, n: int) -> None:
        if n < 0:
            raise ValueError("cannot acquire a negative number of GPUs")
        if self.gpus and n > len(self.gpus):
            raise SandboxError(N_("The run asks for {n} GPUs but this worker has {count} ({gpus})."),
                               params={"n": n, "count": len(self.gpus), "gpus": ','.join(self.gpus)})

    def _lock_file(self, gpu: str) -> Path:
        return self.lock_dir / f"gpu-{gpu.replace('/', '_')}.lock"

    def _try_lock(self, gpu: str) -> int | None:
        return try_flock(self._lock_file(gpu), mode=0o666)

    def _take(self, n: int) -> list[str] | None:
        got: list[tuple[str, int]] = []
        with self._mutex:
            for g in self.gpus:
                if len(got) == n:
                    break
                if g in self._held:
                    continue
                fd = self._try_lock(g)
                if fd is not None:
                    got.append((g, fd))
            if len(got) < n:
                for _g, fd in got:
                    os.close(fd)
                return None
            self._held.update(got)
            return [g for g, _fd in got]


def device_arg(gpus: list[str]) -> str:
    """The ``--device`` value for a run given these host GPUs: ``cpu``, or the
    indices as seen inside the sandbox (``0``, ``0,1``), YOLOv5 style."""
    if not gpus:
        return "cpu"
    return ",".join(str(i) for i in range(len(gpus)))
