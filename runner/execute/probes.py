"""Measurements of a running run that the loop must not block on: memory
(PSS), disk usage of the work dir, and the GPU through ``nvidia-smi``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

import psutil


def pss_bytes(procs: list[psutil.Process]) -> int:
    """Proportional set size: shared pages (forked data-loader workers) counted once."""
    total = 0
    for p in procs:
        try:
            with open(f"/proc/{p.pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
    return total


def disk_usage(roots: list[Path], *, stop_at_files: int | None = None) -> tuple[int, int]:
    """(bytes on disk, files and directories) under ``roots``, links never followed,
    hardlinked files counted once. Stops counting past ``stop_at_files``: a flood of
    empty files is over the limit long before it is all walked."""
    total = files = 0
    seen: set[tuple[int, int]] = set()
    stack = [str(r) for r in roots]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_blocks * 512
                files += 1
                if stop_at_files is not None and files > stop_at_files:
                    return total, files
    return total, files


class GpuProbe:
    """``nvidia-smi`` run in the background so a slow driver never stalls the pipes."""

    def __init__(self, exe: str, gpus: list[str], pids: set[int]) -> None:
        self.pids = pids
        self.started = time.monotonic()
        common = {"stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL, "stdin": subprocess.DEVNULL,
                  "text": True}
        self.apps = subprocess.Popen([exe, "--query-compute-apps=pid,used_memory",
                                      "--format=csv,noheader,nounits"], **common)
        self.util = subprocess.Popen([exe, "--query-gpu=index,utilization.gpu", "--format=csv,noheader,nounits",
                                      "-i", ",".join(gpus)], **common)

    def poll(self) -> tuple[float | None, int | None] | None:
        if self.apps.poll() is None or self.util.poll() is None:
            if time.monotonic() - self.started > 10:
                self.cancel()
                return None, None
            return None
        mem: int | None = 0
        for line in (self.apps.stdout.read() if self.apps.stdout else "").splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) in self.pids:
                with contextlib.suppress(ValueError):
                    mem = (mem or 0) + int(float(parts[1]) * 1024 * 1024)
        utils = []
        for line in (self.util.stdout.read() if self.util.stdout else "").splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) == 2:
                with contextlib.suppress(ValueError):
                    utils.append(float(parts[1]))
        self.cancel()
        return (sum(utils) / len(utils) if utils else None), mem

    def cancel(self) -> None:
        for p in (self.apps, self.util):
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdout:
                p.stdout.close()

