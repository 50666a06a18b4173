"""RQ entry points, one module per queue: ``deploy``, ``train``, ``predict``.
Each job loads its row, does the work, and records the outcome on the row;
named errors are caught there, once, with their message and the traceback
tail stored for the UI.

RQ enqueues by dotted path (``runner.jobs.deploy_model``, see
``shared.core.queue``), so the entry points are re-exported here.
"""

from runner.jobs.deploy import deploy_model
from runner.jobs.predict import run_prediction
from runner.jobs.train import run_trial

__all__ = ["deploy_model", "run_prediction", "run_trial"]
