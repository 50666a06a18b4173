"""Why a run failed, in the user's terms: the limit it hit or the signal that
killed it, read from the exit status and its last lines of output, and what to
do when it failed because it tried to download something."""

from __future__ import annotations

import re
import signal as signal_mod

from runner.sandbox import WORKSPACE, SandboxSpec
from shared.contract.names import INSTALL_SCRIPT, WEIGHTS_DIR
from shared.core.i18n import N_
from shared.core.settings import format_size

_CUDA_OOM = re.compile(r"CUDA out of memory|CUDA error: out of memory|CUBLAS_STATUS_ALLOC_FAILED")
_MEMORY = re.compile(r"\bMemoryError\b|std::bad_alloc|Cannot allocate memory|Unable to allocate|"
                     r"can't allocate memory|OutOfMemoryError|\bout of memory\b", re.IGNORECASE)
_FSIZE = re.compile(r"File too large|\[Errno 27\]")
_NPROC = re.compile(r"Resource temporarily unavailable|\[Errno 11\]|can't start new thread|fork: retry")
_NOSPACE = re.compile(r"No space left on device|\[Errno 28\]")
_NOFILE = re.compile(r"Too many open files|\[Errno 24\]")
# What a failed download looks like from Python (socket, urllib, requests, httpx), from the
# hubs (huggingface_hub, torch.hub, Ultralytics' "Download failure ... Environment may be
# offline") and from curl/wget/pip in an install script.
_NETWORK = re.compile(
    r"Temporary failure in name resolution|Name or service not known|nodename nor servname|getaddrinfo failed|"
    r"\bgaierror\b|Network is unreachable|No route to host|\[Errno (?:-[23]|101|113)\]|"
    r"\bConnectionError\b|\bConnectError\b|urlopen error|Failed to establish a new connection|"
    r"Max retries exceeded with url|Could not resolve host|Failed to resolve|unable to resolve host|"
    r"\bDownload failure\b|may be offline|\boffline mode\b|HF_HUB_OFFLINE|LocalEntryNotFoundError|"
    r"couldn't connect to '?https://huggingface\.co|We couldn't connect to|"
    r"Cannot find an appropriate cached snapshot|Failed to download|"
    r"Could not fetch URL|Retrying \(Retry\(total=|"
    # the worker's egress proxy refusing a host (its own log line, and what clients print for its 403)
    r"egress to \S+ refused|Tunnel connection failed: 403|\bProxyError\b|returned error: 403|"
    r"CONNECT tunnel failed, response 403",
    re.IGNORECASE)
_HF = re.compile(r"huggingface|hf_hub|from_pretrained|transformers", re.IGNORECASE)
_TORCH_HUB = re.compile(r"torch\.hub|torchvision\.models|download\.pytorch\.org|load_state_dict_from_url")
_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)\b.*)$")


def _signal_name(n: int) -> str:
    try:
        return signal_mod.Signals(n).name
    except ValueError:
        return f"signal {n}"


def explain(*, exit_code: int | None, sig: int | None, recent: list[str], spec: SandboxSpec) -> str:
    """In English, from catalog templates: the row keeps it, and a page reads it back in its reader's
    language (``shared.core.relocalize``)."""
    text = "\n".join(recent)
    lim = spec.limits
    if _CUDA_OOM.search(text):
        base = N_("GPU memory exhausted (CUDA out of memory)")
    elif _MEMORY.search(text):
        base = (N_("memory limit {size} reached").format(size=format_size(lim.memory_bytes)) if lim.memory_bytes
                else N_("out of memory"))
    elif sig == signal_mod.SIGXFSZ or _FSIZE.search(text):
        base = (N_("file size limit {size} reached").format(size=format_size(lim.max_file_bytes))
                if lim.max_file_bytes else N_("file size limit reached"))
    elif _NPROC.search(text):
        # RLIMIT_NPROC counts threads: thread pools and DataLoader workers hit it, not only forks.
        base = (N_("process limit {n} reached (threads count too; fewer DataLoader workers or threads, or a higher "
                   "limit for the task, fix it)").format(n=lim.max_procs) if lim.max_procs
                else N_("process limit reached (Resource temporarily unavailable)"))
    elif _NOSPACE.search(text):
        base = N_("disk full (No space left on device)")
    elif _NOFILE.search(text):
        base = (N_("open files limit {n} reached").format(n=lim.max_open_files) if lim.max_open_files
                else N_("open files limit reached (Too many open files)"))
    elif sig is not None:
        base = N_("killed by signal {sig} ({name})").format(sig=sig, name=_signal_name(sig))
        if sig == signal_mod.SIGKILL:
            base = N_("{reason}; the system may have run out of memory").format(reason=base)
    else:
        base = N_("exit code {code}").format(code=exit_code)
    for line in reversed(recent):
        m = _ERROR_LINE.match(line)
        if m:
            err = m.group(1).strip()
            if err and err not in base:
                base += f": {err}"
            break
    hint = network_hint(text, network=spec.network, install=spec.install)
    if hint:
        base = f"{base.rstrip('. ')}. {hint}"
    return base


def network_hint(text: str, *, network: bool, install: bool = False) -> str | None:
    """What to do when ``text`` (a failed run's or install's last lines) shows a
    failed download; None when it shows none. Runs are offline on purpose, so
    the fix is to ship the file, not to retry."""
    if not _NETWORK.search(text):
        return None
    weights = f"{WORKSPACE}/{WEIGHTS_DIR}"
    if install:
        return N_("{script} could not download a file: installs reach only the hosts the operator's egress rules "
                  "allow (the package index). Put the file in the model package and install it from there ({script} "
                  "runs in a copy of the package folder, {weights_dir}/ left out), or ask an admin to allow that "
                  "host").format(script=INSTALL_SCRIPT, weights_dir=WEIGHTS_DIR)
    if _HF.search(text):
        example = N_("e.g. from_pretrained(\"{weights}/<model folder>\") with the files saved by "
                     "save_pretrained() or huggingface-cli download").format(weights=weights)
    elif _TORCH_HUB.search(text):
        example = N_("e.g. build the model with weights=None and load_state_dict(torch.load(\"{weights}/<file>.pth\"))"
                     ", or set TORCH_HOME to a folder of the package holding hub/checkpoints/<file>.pth"
                     ).format(weights=weights)
    else:
        example = N_("e.g. YOLO(\"{weights}/yolov8n.pt\"), or a WEIGHTS constant / --pretrained default "
                     "set to {weights}/<file>").format(weights=weights)
    where = (N_("The run could not reach the network: a model with network access still reaches only the hosts "
                "the operator's egress rules allow") if network
             else N_("The run has no network: the sandbox is offline on purpose"))
    return N_("{where}. Ship the file in the package's {weights_dir}/ folder, which the run sees at {weights}/, and "
              "point the script at it ({example}); or ask an admin to allow network for this model (within the "
              "egress allow-list)").format(where=where, weights_dir=WEIGHTS_DIR, weights=weights, example=example)
