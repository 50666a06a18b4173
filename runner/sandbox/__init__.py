"""The bubblewrap command line that user code runs under.

What the sandbox gives user code:

* a fresh user, pid, ipc, uts and (unless asked) network namespace, no
  capabilities, its own session (no TIOCSTI into the worker's terminal);
* read-only system directories (``/usr`` and the ``/bin``/``/lib`` links), a
  handful of ``/etc`` files, and the mounts the caller names (the model's
  environment at ``/opt/trainyard/env``, the dataset, weights);
* exactly one writable host directory, the run's work dir, at ``/workspace``;
* private ``/tmp`` and ``/dev/shm``; a ``/proc`` that shows only the sandbox;
* an environment built from scratch (:func:`base_env`): nothing of the
  worker's variables leaks in.

The host's ``/``, ``/root``, ``/work``, ``/var``, ``/run`` (Redis' unix socket)
and ``DATA_DIR`` are not mounted, so they do not exist inside.

When the worker runs as root and the spec names a ``uid``, the child drops to
that uid before bwrap starts (by ``Popen(user=..., group=...)``, done in C
after fork): RLIMIT_NPROC is ignored for root, and a dedicated uid per run
keeps runs from signalling or reading each other. Inside the sandbox that uid
is shown as ``nobody`` (65534), which the bound ``/etc/passwd`` names, so
``getpass.getuser()`` and friends work.

One concern per module: ``spec`` (what a run is), ``bwrap`` (bubblewrap's
features, base arguments and start-up trial), ``environ`` (the environment
and path mapping), ``access`` (the dropped uid's permissions), ``command``
(the full command line), ``preexec`` (rlimits, uid, session) and ``stage``
(mount sources behind folders the uid cannot pass, such as a 0700 home).
"""

from runner.sandbox.bwrap import check_sandbox, gpu_bind_args
from runner.sandbox.command import build_command
from runner.sandbox.environ import base_env, visible_path
from runner.sandbox.preexec import popen_kwargs, rlimits
from runner.sandbox.spec import BWRAP_PROCS, ENV_MOUNT, INSIDE_ID, UNSAFE_WARNING, WORKSPACE, Limits, Mount, SandboxSpec
from runner.sandbox.stage import Staging, staged

__all__ = ["BWRAP_PROCS", "ENV_MOUNT", "INSIDE_ID", "UNSAFE_WARNING", "WORKSPACE", "Limits", "Mount", "SandboxSpec",
           "Staging", "base_env", "build_command", "check_sandbox", "gpu_bind_args", "popen_kwargs", "rlimits",
           "staged", "visible_path"]
