"""``python -m runner predict``: run predict.py of a trained task on images."""

from __future__ import annotations

from pathlib import Path

import click

from runner.cli.common import (
    CliError,
    acting,
    exit_with,
    out,
    poll,
    redis,
    session,
    status_text,
    visibility_option,
    warn_no_worker,
)
from shared.core.i18n import N_, _
from shared.core.settings import Settings
from shared.records import User
from shared.records.labels import term


@click.command()
@click.option("--task", "task_id", type=int, required=True, help="id of a trained task")
@click.option("--run", "run_id", type=int, help="default: the task's best run")
@click.option("--weights", help="a file in the run's work dir (default: the newest weights file)")
@click.option("--images", required=True, help="an image, a folder of images, or a zip of images")
@click.option("-o", "--output", help="where to write the output images (default: prediction-ID)")
@click.option("--confidence", type=float, default=0.25, show_default=True, help="passed to predict.py")
@click.option("--timeout", type=float, default=3600, show_default=True, help="seconds to wait for the prediction")
@visibility_option
@acting
def predict(task_id: int, run_id: int | None, weights: str | None, images: str, output: str | None,
            confidence: float, timeout: float, visibility: str, as_json: bool, settings: Settings,
            actor: User) -> None:
    """Run predict.py of a trained task on images, wait, write outputs; exit 1 unless it completed."""
    from shared.core.errors import NotFoundError
    from shared.core.queue import enqueue_prediction
    from shared.core.safetree import copy_into
    from shared.records import PredictionStatus
    from shared.services.predictions import Upload, create_prediction, get_prediction, safe_output_dir
    from shared.services.weights import regular_files

    src = Path(images)
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.is_file())
    elif src.is_file():
        files = [src]
    else:
        raise CliError(N_("--images {images}: no such file or folder"), params={"images": images})
    uploads = [Upload(p.name, p.read_bytes()) for p in files]
    conn = redis(settings)
    with session(settings) as s:
        pred = create_prediction(session=s, settings=settings, actor=actor, task_id=task_id, run_id=run_id,
                                 weights=weights, uploads=uploads, confidence=confidence, visibility=visibility)
    enqueue_prediction(pred.id, connection=conn)
    warn_no_worker(conn)
    pred_id = pred.id

    def read():
        with session(settings) as s:
            return get_prediction(session=s, prediction_id=pred_id)

    pred, done = poll(read, lambda p: p.status not in (PredictionStatus.queued, PredictionStatus.running),
                      timeout=timeout, every=0.3)
    if not done:
        raise CliError(N_("prediction {prediction_id} still {prediction_status} after {timeout:.0f} s"),
                       params={"prediction_id": pred.id, "prediction_status": term(pred.status), "timeout": timeout})
    outdir = Path(output or f"prediction-{pred.id}")
    produced = safe_output_dir(settings, pred)
    # predict.py's files are copied as read through their fds: a link it planted is never followed.
    for rel in regular_files(produced) if produced is not None else []:
        (outdir / rel).parent.mkdir(parents=True, exist_ok=True)
        try:
            copy_into(produced, rel, outdir / rel)
        except NotFoundError:
            continue  # swapped for a link or removed since the listing
    data = {"id": pred.id, "status": pred.status.value, "reason": pred.reason, "task": pred.task_id,
            "run": pred.run_id, "weights": pred.weights, "output_dir": str(outdir),
            "images": (pred.outputs or {}).get("images", {}), "extra_outputs": (pred.outputs or {}).get("extra", [])}
    lines = [_("prediction {id} {status}", id=pred.id, status=status_text(pred.status))
             + (f": {pred.reason}" if pred.reason else "")]
    for name, r in data["images"].items():
        lines.append(f"  {name}: {r['status']}" + (f" ({r['note']})" if r.get("note") else ""))
    out(as_json, data, "\n".join(lines))
    if pred.status != PredictionStatus.completed:
        exit_with(1)
