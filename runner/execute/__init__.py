"""Run a sandboxed command to the end: stream its output into a capped log,
watch its resources, stop it on request and say why it ended.

One concern per module: ``spawn`` (``execute()``), ``run`` (the loop),
``lines`` (splitting output), ``logfile`` (the capped log), ``procs`` (the
process tree), ``probes`` (memory, disk, GPU) and ``explain`` (why it failed).
"""

from runner.execute.outcome import CheckResult, KillReason, Outcome, Sample
from runner.execute.procs import kill_tree
from runner.execute.spawn import execute

__all__ = ["CheckResult", "KillReason", "Outcome", "Sample", "execute", "kill_tree"]
