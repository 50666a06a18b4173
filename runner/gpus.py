"""Which GPUs this worker has, and which run uses which.

GPU ids here are host ids: what ``nvidia-smi`` prints and what goes into the
sandbox's ``CUDA_VISIBLE_DEVICES``. Inside the sandbox CUDA renumbers the
visible GPUs from 0, so the ``--device`` argument handed to user code
(:func:`device_arg`) counts from 0 as well: a run given host GPU 3 is told
``--device 0``, the first (and only) GPU it can see.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time

from shared.core.errors import FieldError, SandboxError
from shared.core.i18n import N_

# An index ("0"), or a GPU/MIG UUID as CUDA_VISIBLE_DEVICES accepts it.
_GPU_ID = re.compile(r"^(\d+|GPU-[0-9a-fA-F-]+|MIG-[0-9a-zA-Z/-]+)$")
_SMI_LINE = re.compile(r"^GPU (\d+):")


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


class GpuAllocator:
    """Hands out disjoint GPU sets to the concurrent runs of one worker process."""

    def __init__(self, gpus: list[str]) -> None:
        self.gpus = list(gpus)
        self._free = list(gpus)
        self._cond = threading.Condition()

    @property
    def total(self) -> int:
        return len(self.gpus)

    def free(self) -> list[str]:
        with self._cond:
            return list(self._free)

    def try_acquire(self, n: int = 1) -> list[str] | None:
        """``n`` GPUs now, or None if fewer are free. ``[]`` on a CPU worker or for ``n == 0``."""
        self._check(n)
        with self._cond:
            return self._take(n)

    def acquire(self, n: int = 1, *, timeout: float | None = None) -> list[str]:
        """``n`` GPUs, waiting for other runs to release them. ``[]`` on a CPU worker."""
        self._check(n)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                got = self._take(n)
                if got is not None:
                    return got
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no {n} GPU(s) became free within {timeout} s")
                self._cond.wait(remaining)

    def release(self, gpus: list[str]) -> None:
        with self._cond:
            for g in gpus:
                if g in self.gpus and g not in self._free:
                    self._free.append(g)
            # Keep the host order, so the lowest ids are handed out first.
            self._free.sort(key=self.gpus.index)
            self._cond.notify_all()

    def _check(self, n: int) -> None:
        if n < 0:
            raise ValueError("cannot acquire a negative number of GPUs")
        if self.gpus and n > len(self.gpus):
            raise SandboxError(N_("The run asks for {n} GPUs but this worker has {count} ({gpus})."),
                               params={"n": n, "count": len(self.gpus), "gpus": ','.join(self.gpus)})

    def _take(self, n: int) -> list[str] | None:
        if not self.gpus or n == 0:
            return []
        if len(self._free) < n:
            return None
        got, self._free = self._free[:n], self._free[n:]
        return got


def device_arg(gpus: list[str]) -> str:
    """The ``--device`` value for a run given these host GPUs: ``cpu``, or the
    indices as seen inside the sandbox (``0``, ``0,1``), YOLOv5 style."""
    if not gpus:
        return "cpu"
    return ",".join(str(i) for i in range(len(gpus)))
