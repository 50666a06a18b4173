"""The ``predict`` queue's job: run predict.py on uploaded images with a run's
weights, and record which inputs got an output."""

from __future__ import annotations

import shutil

from sqlmodel import Session

from runner import context
from runner.execute import execute
from runner.gpus import device_arg
from runner.jobs.common import copy_package, tail, visible
from runner.jobs.deploy import host_env
from runner.sandbox import ENV_MOUNT, WORKSPACE, Limits, Mount, SandboxSpec
from runner.substitute import substitute
from shared.contract.names import (
    CONFIDENCE_FLAG,
    GLOBAL_TO_FLAG,
    OUT_DIR_FLAG,
    PREDICT_GLOBALS,
    PREDICT_SCRIPT,
    SOURCE_FLAG,
    WEIGHTS_FLAG,
)
from shared.contract.params import to_argv
from shared.core.errors import NotFoundError, TrainyardError
from shared.core.i18n import N_
from shared.records import ModelPackage, Run


def _predict_values(workspace_at: str) -> dict[str, str]:
    """The values of predict.py's platform flags for a workspace seen at ``workspace_at``."""
    return {SOURCE_FLAG: f"{workspace_at}/in", OUT_DIR_FLAG: f"{workspace_at}/out"}


def build_predict_argv(*, python: str, model: ModelPackage, weights_inside: str, confidence: float,
                       device: str, workspace_at: str = WORKSPACE) -> list[str]:
    from shared.services.models import predict_args

    args = predict_args(model)
    values = _predict_values(workspace_at)
    argv = [python, PREDICT_SCRIPT]
    for spec in args.platform:
        flag = next((f for f in spec.flags if f in values), None)
        if flag is not None:
            argv += to_argv(spec, values[flag])
    if args.device is not None:
        argv += to_argv(args.device, device)
    for spec in args.user:
        if WEIGHTS_FLAG in spec.flags:
            argv += to_argv(spec, weights_inside)
        elif CONFIDENCE_FLAG in spec.flags:
            argv += to_argv(spec, confidence)
    return argv


def run_prediction(prediction_id: int) -> None:
    from shared.records import OutputMatch, Prediction, PredictionStatus
    from shared.services.predictions import mark, match_outputs, safe_output_dir
    from shared.services.weights import regular_files, safe_file

    ctx = context.current()
    settings = ctx.settings
    with Session(ctx.engine, expire_on_commit=False) as session:
        pred = session.get(Prediction, prediction_id)
        if pred is None or pred.status != PredictionStatus.queued:
            return
        model = session.get(ModelPackage, pred.model_id)
        run = session.get(Run, pred.run_id)
        mark(session, pred, PredictionStatus.running)
    base = settings.path(pred.path)
    ws = base / "work"
    gpus: list[str] = []
    try:
        env_path = host_env(model)
        copy_package(settings, model, ws)
        shutil.copytree(base / "in", ws / "in")
        (ws / "out").mkdir(exist_ok=True)
        src = ws / PREDICT_SCRIPT
        ws_at = visible(settings, ws, WORKSPACE)
        flags = _predict_values(ws_at)
        new, _ = substitute(source=src.read_text(encoding="utf-8"),
                            values={g: flags[GLOBAL_TO_FLAG[g]] for g in PREDICT_GLOBALS},
                            filename=PREDICT_SCRIPT)
        src.write_text(new, encoding="utf-8")
        try:  # checked through fds: the run's own code may have left a link in its work dir
            weights_host = safe_file(settings, run, pred.weights)
        except NotFoundError:
            raise TrainyardError(N_("the weights file {weights} of run {run_id} is gone"),
                                 params={"weights": pred.weights, "run_id": run.id}) from None
        weights_inside = visible(settings, weights_host, f"/weights/{weights_host.name}")
        gpus = ctx.gpus.acquire()
        argv = build_predict_argv(python=f"{visible(settings, env_path, ENV_MOUNT)}/bin/python", model=model,
                                  weights_inside=weights_inside, confidence=pred.confidence,
                                  device=device_arg(gpus), workspace_at=ws_at)
        spec = SandboxSpec(argv=argv, workdir=ws,
                           mounts=[Mount(host=env_path, inside=ENV_MOUNT),
                                   Mount(host=weights_host, inside=weights_inside)],
                           network=model.network, gpus=gpus, limits=Limits.from_settings(settings),
                           uid=settings.sandbox_uid_base + 5000 + pred.id % 1000)
        outcome = execute(spec=spec, settings=settings, log_path=base / "predict.log")
        inputs = sorted(p.name for p in (base / "in").iterdir())
        out_dir = safe_output_dir(settings, pred)
        outputs = regular_files(out_dir) if out_dir is not None else []
        result = match_outputs(inputs=inputs, outputs=outputs)
        if out_dir is None:
            result["refused"] = "predict.py replaced its out dir with a link; no output is served"
        with Session(ctx.engine, expire_on_commit=False) as session:
            pred = session.get(Prediction, prediction_id)
            pred.outputs = result
            if outcome.ok:
                missing = [n for n, r in result["images"].items() if r["status"] != OutputMatch.ok]
                reason = N_("predict.py wrote no image for {missing} of {total} inputs").format(
                    missing=len(missing), total=len(inputs)) if missing else None
                mark(session, pred, PredictionStatus.completed, reason)
            else:
                mark(session, pred, PredictionStatus.failed, outcome.reason or N_("predict.py failed"))
    except TrainyardError as exc:
        with Session(ctx.engine, expire_on_commit=False) as session:
            mark(session, session.get(Prediction, prediction_id), PredictionStatus.failed, str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded on the row
        with Session(ctx.engine, expire_on_commit=False) as session:
            mark(session, session.get(Prediction, prediction_id), PredictionStatus.failed,
                 N_("internal error: {error}").format(error=repr(exc)) + f"\n{tail(exc)}")
    finally:
        ctx.gpus.release(gpus)
