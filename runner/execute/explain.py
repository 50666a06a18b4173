"""Why a run failed, in the user's terms: the limit it hit or the signal that
killed it, read from the exit status and its last lines of output."""

from __future__ import annotations

import re
import signal as signal_mod

from runner.sandbox import SandboxSpec
from shared.core.settings import format_size

_CUDA_OOM = re.compile(r"CUDA out of memory|CUDA error: out of memory|CUBLAS_STATUS_ALLOC_FAILED")
_MEMORY = re.compile(r"\bMemoryError\b|std::bad_alloc|Cannot allocate memory|Unable to allocate|"
                     r"can't allocate memory|OutOfMemoryError|\bout of memory\b", re.IGNORECASE)
_FSIZE = re.compile(r"File too large|\[Errno 27\]")
_NPROC = re.compile(r"Resource temporarily unavailable|\[Errno 11\]|can't start new thread|fork: retry")
_NOSPACE = re.compile(r"No space left on device|\[Errno 28\]")
_NOFILE = re.compile(r"Too many open files|\[Errno 24\]")
_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)\b.*)$")


def _signal_name(n: int) -> str:
    try:
        return signal_mod.Signals(n).name
    except ValueError:
        return f"signal {n}"


def explain(*, exit_code: int | None, sig: int | None, recent: list[str], spec: SandboxSpec) -> str:
    text = "\n".join(recent)
    lim = spec.limits
    if _CUDA_OOM.search(text):
        base = "GPU memory exhausted (CUDA out of memory)"
    elif _MEMORY.search(text):
        base = f"memory limit {format_size(lim.memory_bytes)} reached" if lim.memory_bytes else "out of memory"
    elif sig == signal_mod.SIGXFSZ or _FSIZE.search(text):
        base = (f"file size limit {format_size(lim.max_file_bytes)} reached" if lim.max_file_bytes
                else "file size limit reached")
    elif _NPROC.search(text):
        base = (f"process limit {lim.max_procs} reached" if lim.max_procs
                else "process limit reached (Resource temporarily unavailable)")
    elif _NOSPACE.search(text):
        base = "disk full (No space left on device)"
    elif _NOFILE.search(text):
        base = (f"open files limit {lim.max_open_files} reached" if lim.max_open_files
                else "open files limit reached (Too many open files)")
    elif sig is not None:
        base = f"killed by signal {sig} ({_signal_name(sig)})"
        if sig == signal_mod.SIGKILL:
            base += "; the system may have run out of memory"
    else:
        base = f"exit code {exit_code}"
    for line in reversed(recent):
        m = _ERROR_LINE.match(line)
        if m:
            err = m.group(1).strip()
            if err and err not in base:
                base += f": {err}"
            break
    return base

