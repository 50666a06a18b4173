"""The command line: ``python -m runner <noun> <verb>``. Every command takes
``--json``, exits 0 on success, and non-zero with the reason on stderr."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from shared.core.errors import FieldError, TrainyardError
from shared.core.settings import Settings, get_settings


class CliError(TrainyardError):
    """A usage problem found by the CLI itself."""


def _out(args: argparse.Namespace, data: Any, text: str | None = None) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text if text is not None else json.dumps(data, indent=2, default=str))


def _session(settings: Settings) -> Session:
    from shared.core.db import get_engine

    return Session(get_engine(settings.database_url), expire_on_commit=False)


def _redis(settings: Settings):
    from shared.core.queue import redis_connection

    conn = redis_connection(settings)
    try:
        conn.ping()
    except Exception as exc:  # noqa: BLE001
        where = settings.redis_url or f"the embedded server at {settings.redis_socket}"
        raise CliError(f"Redis ({where}) is not reachable: {exc}. Start the platform first: "
                       "`make run` (or `python -m runner up`)") from None
    return conn


def _warn_no_worker(settings: Settings, conn) -> None:
    from rq import Worker

    if not Worker.all(connection=conn):
        print("warning: no worker is running, so nothing will be processed; start one with "
              "`python -m runner up` or `python -m runner worker`", file=sys.stderr)


# ------------------------------------------------------------------ datasets

def cmd_dataset_add(args, settings):
    from shared.services.datasets import add_dataset

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{args.file}: no such file")
    last = [0.0]

    def progress(stage: str, frac: float) -> None:
        if not args.json and sys.stderr.isatty() and time.monotonic() - last[0] > 0.5:
            last[0] = time.monotonic()
            print(f"\r{stage} {frac:5.0%}", end="", file=sys.stderr)

    with _session(settings) as s:
        ds = add_dataset(session=s, settings=settings, zip_path=path, name=args.name or path.stem,
                         task_type=args.type, progress=progress)
        data = _dataset_dict(ds)
    _out(args, data, f"dataset {ds.id} added: {ds.name} ({ds.task_type.value}, {ds.images} images, "
                     f"{len(data['warnings'])} warnings)")


def _dataset_dict(ds) -> dict[str, Any]:
    from shared.services.datasets import dataset_args

    rep = ds.report or {}
    return {"id": ds.id, "name": ds.name, "task_type": ds.task_type.value, "images": ds.images,
            "splits": rep.get("splits", {}), "class_names": rep.get("class_names", []),
            "class_map": {str(i): n for i, n in enumerate(rep.get("class_names", []))},
            "instances_per_class": rep.get("instances_per_class", {}),
            "warnings": [w if isinstance(w, str) else _issue_text(w) for w in rep.get("warnings", [])],
            "arguments": dataset_args(ds), "path": ds.path, "created_at": ds.created_at.isoformat()}


def _issue_text(w: dict[str, Any]) -> str:
    where = f" {w['where']}" if w.get("where") else ""
    count = f" (x{w['count']})" if w.get("count", 1) > 1 else ""
    return f"{w.get('file', '')}{where}: {w.get('message', '')}{count}"


def cmd_dataset_show(args, settings):
    from shared.services.datasets import get_dataset

    with _session(settings) as s:
        _out(args, _dataset_dict(get_dataset(session=s, dataset_id=args.id)))


def cmd_dataset_list(args, settings):
    from shared.services.datasets import list_datasets

    with _session(settings) as s:
        rows = [{"id": d.id, "name": d.name, "task_type": d.task_type.value, "images": d.images}
                for d in list_datasets(session=s)]
    _out(args, rows, "\n".join(f"{r['id']:>4}  {r['task_type']:<22} {r['images']:>7}  {r['name']}"
                              for r in rows) or "no datasets")


# ------------------------------------------------------------------ models

def _wait_model(settings, model_id: int, timeout: float) -> Any:
    from shared.records import DeployStatus
    from shared.services.models import get_model

    deadline = time.monotonic() + timeout
    while True:
        with _session(settings) as s:
            m = get_model(session=s, model_id=model_id)
        if m.status in (DeployStatus.deployed, DeployStatus.failed):
            return m
        if time.monotonic() > deadline:
            raise CliError(f"model {model_id} still {m.status.value} after {timeout:.0f} s")
        time.sleep(0.3)


def cmd_model_add(args, settings):
    from shared.core.queue import enqueue_deploy
    from shared.services.models import add_model, model_summary

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{args.file}: no such file")
    conn = _redis(settings)
    with _session(settings) as s:
        model = add_model(session=s, settings=settings, zip_path=path, name=args.name or path.stem,
                          task_type=args.type, network=args.network)
    enqueue_deploy(model.id, connection=conn)
    if args.wait:
        _warn_no_worker(settings, conn)
        model = _wait_model(settings, model.id, args.timeout)
    data = model_summary(model)
    _out(args, data, f"model {model.id} {model.status.value}: {model.name}"
                     + (f"\n{model.reason}" if model.reason else ""))
    if args.wait and model.status.value == "failed":
        print(f"deploy failed: {model.reason}", file=sys.stderr)
        sys.exit(1)


def cmd_model_show(args, settings):
    from shared.services.models import get_model, model_summary

    with _session(settings) as s:
        _out(args, model_summary(get_model(session=s, model_id=args.id)))


def cmd_model_list(args, settings):
    from shared.services.models import list_models

    with _session(settings) as s:
        rows = [{"id": m.id, "name": m.name, "task_type": m.task_type.value, "status": m.status.value}
                for m in list_models(session=s)]
    _out(args, rows, "\n".join(f"{r['id']:>4}  {r['status']:<10} {r['task_type']:<22} {r['name']}"
                              for r in rows) or "no models")


def cmd_model_redeploy(args, settings):
    from shared.core.queue import enqueue_deploy
    from shared.services.models import get_model, mark_for_deploy, model_summary

    conn = _redis(settings)
    with _session(settings) as s:
        model = mark_for_deploy(session=s, model=get_model(session=s, model_id=args.id))
    enqueue_deploy(model.id, connection=conn, attempt=int(time.time()))
    if args.wait:
        model = _wait_model(settings, model.id, args.timeout)
    _out(args, model_summary(model), f"model {model.id} {model.status.value}")


def cmd_model_delete(args, settings):
    from shared.services.models import delete_model

    with _session(settings) as s:
        delete_model(session=s, settings=settings, model_id=args.id)
    _out(args, {"deleted": args.id}, f"model {args.id} deleted")


def cmd_model_templates(args, settings):
    from shared.services.models import list_templates, save_template

    with _session(settings) as s:
        if args.set:
            values = dict(_split_kv(p, "--value") for p in (args.value or []))
            save_template(session=s, model_id=args.id, name=args.set, values=values)
        rows = [{"id": t.id, "name": t.name, "values": t.values} for t in list_templates(session=s, model_id=args.id)]
    _out(args, rows, "\n".join(f"{r['id']:>4}  {r['name']}: {json.dumps(r['values'])}" for r in rows)
         or "no templates")


def _split_kv(text: str, opt: str) -> tuple[str, str]:
    if "=" not in text:
        raise FieldError(opt, f"{text!r}: write name=value")
    k, v = text.split("=", 1)
    return k.strip(), v.strip()


# ------------------------------------------------------------------ tasks

def _parse_params(items: list[str]) -> dict[str, tuple[str, bool]]:
    out: dict[str, tuple[str, bool]] = {}
    for item in items or []:
        key, value = _split_kv(item, "--param")
        search = False
        if value.endswith(":search"):
            value, search = value[: -len(":search")], True
        out[key] = (value, search)
    return out


def _wait_task(settings, task_id: int, timeout: float):
    from shared.services.tasks import get_task

    deadline = time.monotonic() + timeout
    while True:
        with _session(settings) as s:
            task = get_task(session=s, task_id=task_id)
        if task.status.finished:
            return task
        if time.monotonic() > deadline:
            raise CliError(f"task {task_id} still {task.status.value} after {timeout:.0f} s")
        time.sleep(0.5)


def cmd_task_create(args, settings):
    from runner import context
    from shared.services.tasks import TaskIn, create_task, task_summary

    eval_metric, direction = args.eval_metric, None
    if eval_metric and ":" in eval_metric:
        eval_metric, direction = eval_metric.rsplit(":", 1)
    task_in = TaskIn(name=args.name, model_id=args.model, dataset_id=args.dataset, epochs=args.epochs,
                     n_runs=args.runs, time_limit=args.time_limit,
                     metrics=[m for m in (args.metrics or "").split(",") if m.strip()],
                     eval_metric=eval_metric, direction=direction, score_mode=args.score,
                     params=_parse_params(args.param), sampler=args.sampler, prune=not args.no_prune,
                     pruner=args.pruner, warm_start_task_id=args.warm_start,
                     max_parallel=args.max_parallel, seed=args.seed,
                     limits={"memory_limit": args.memory_limit, "max_procs": args.max_procs,
                             "max_open_files": args.max_open_files, "max_file_bytes": args.max_file_size,
                             "max_disk_bytes": args.max_disk, "max_log_bytes": args.max_log})
    conn = _redis(settings)
    with _session(settings) as s:
        task = create_task(session=s, task_in=task_in, max_parallel_default=settings.max_parallel_runs)
    context.configure(settings)
    context.current().schedule(task.id)
    if args.wait:
        _warn_no_worker(settings, conn)
        task = _wait_task(settings, task.id, args.timeout)
    with _session(settings) as s:
        data = task_summary(session=s, task=task, with_metrics=args.wait)
    _out(args, data, f"task {task.id} {task.status.value}" + (f": {task.reason}" if task.reason else ""))
    if args.wait and task.status.value != "completed":
        sys.exit(1)


def cmd_task_show(args, settings):
    from shared.services.tasks import get_task, task_summary

    with _session(settings) as s:
        data = task_summary(session=s, task=get_task(session=s, task_id=args.id))
    if args.json:
        _out(args, data)
        return
    lines = [f"task {data['id']} {data['name']}: {data['status']}" + (f" ({data['reason']})" if data['reason'] else "")]
    for r in data["runs"]:
        mark = "*" if r["best"] else " "
        lines.append(f" {mark} run {r['id']:>4} {r['status']:<10} score={r['score']} params={r['params']}"
                     + (f" reason={r['reason'].splitlines()[0]}" if r["reason"] else ""))
    print("\n".join(lines))


def cmd_task_list(args, settings):
    from shared.services.task_list import TaskFilter, list_tasks

    with _session(settings) as s:
        rows, total = list_tasks(session=s, flt=TaskFilter(status=args.status, search=args.search),
                                 offset=0, limit=args.limit)
    _out(args, {"total": total, "tasks": rows},
         "\n".join(f"{r['id']:>4}  {r['status']:<10} {r['name']}" for r in rows) or "no tasks")


def cmd_task_stop(args, settings):
    from runner import context
    from shared.services.tasks import get_task, request_stop

    _redis(settings)
    with _session(settings) as s:
        request_stop(session=s, task_id=args.id)
    context.configure(settings)
    context.current().schedule(args.id)
    deadline = time.monotonic() + args.timeout
    with _session(settings) as s:
        task = get_task(session=s, task_id=args.id)
    while not task.status.finished and time.monotonic() < deadline:
        time.sleep(0.2)
        with _session(settings) as s:
            task = get_task(session=s, task_id=args.id)
    _out(args, {"id": task.id, "status": task.status.value}, f"task {task.id} {task.status.value}")


def cmd_task_clone(args, settings):
    from runner import context
    from shared.services.tasks import clone_task

    _redis(settings)
    with _session(settings) as s:
        task = clone_task(session=s, task_id=args.id, name=args.name, max_parallel_default=settings.max_parallel_runs)
    context.configure(settings)
    context.current().schedule(task.id)
    _out(args, {"id": task.id, "name": task.name, "status": task.status.value}, f"task {task.id} created")


def cmd_task_rerun(args, settings):
    from shared.core.queue import enqueue_run
    from shared.services.tasks import rerun_run

    conn = _redis(settings)
    with _session(settings) as s:
        run = rerun_run(session=s, run_id=args.run)
    enqueue_run(run.id, connection=conn, attempt=run.attempt)
    _out(args, {"run": run.id, "task": run.task_id, "status": run.status.value}, f"run {run.id} queued again")


def cmd_task_weights(args, settings):
    from shared.services.weights import write_weights_zip

    with _session(settings) as s:
        out, run_id = write_weights_zip(session=s, settings=settings, task_id=args.id, run_id=args.run,
                                        dest=Path(args.output))
    _out(args, {"task": args.id, "run": run_id, "zip": str(out)}, f"wrote {out} (run {run_id})")


def cmd_examples(args, settings):
    """One step for a new user: build the example dataset and model and add both."""
    import tempfile

    from examples.make_dataset import make_dataset
    from examples.packages import build_package_zip
    from shared.core.queue import enqueue_deploy
    from shared.services.datasets import add_dataset
    from shared.services.models import add_model

    conn = _redis(settings)
    out: dict[str, Any] = {}
    kinds = ["classification", "detection"] if args.which == "all" else [args.which]
    with tempfile.TemporaryDirectory() as tmp, _session(settings) as s:
        for kind in kinds:
            dz = make_dataset(task_type=kind, dest=Path(tmp) / f"{kind}-data", as_zip=True, n_train=48, n_val=16)
            ds = add_dataset(session=s, settings=settings, zip_path=dz, name=f"example {kind} dataset",
                             task_type=kind)
            mz = build_package_zip(name=kind, dest=Path(tmp) / f"{kind}-model.zip")
            model = add_model(session=s, settings=settings, zip_path=mz, name=f"example {kind} model",
                              task_type=kind)
            enqueue_deploy(model.id, connection=conn)
            out[kind] = {"dataset": ds.id, "model": model.id}
    _out(args, out, "\n".join(f"{k}: dataset {v['dataset']}, model {v['model']} (deploying)" for k, v in out.items()))


# ------------------------------------------------------------------ predict

def cmd_predict(args, settings):
    import shutil

    from shared.core.queue import enqueue_prediction
    from shared.records import PredictionStatus
    from shared.services.predictions import Upload, create_prediction, get_prediction, safe_output_dir
    from shared.services.weights import regular_files

    src = Path(args.images)
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.is_file())
    elif src.is_file():
        files = [src]
    else:
        raise CliError(f"--images {args.images}: no such file or folder")
    uploads = [Upload(p.name, p.read_bytes()) for p in files]
    conn = _redis(settings)
    with _session(settings) as s:
        pred = create_prediction(session=s, settings=settings, task_id=args.task, run_id=args.run,
                                 weights=args.weights, uploads=uploads, confidence=args.confidence)
    enqueue_prediction(pred.id, connection=conn)
    _warn_no_worker(settings, conn)
    deadline = time.monotonic() + args.timeout
    while pred.status in (PredictionStatus.queued, PredictionStatus.running):
        if time.monotonic() > deadline:
            raise CliError(f"prediction {pred.id} still {pred.status.value} after {args.timeout:.0f} s")
        time.sleep(0.3)
        with _session(settings) as s:
            pred = get_prediction(session=s, prediction_id=pred.id)
    outdir = Path(args.output or f"prediction-{pred.id}")
    produced = safe_output_dir(settings, pred)
    for rel in regular_files(produced) if produced is not None else []:
        (outdir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced / rel, outdir / rel)
    data = {"id": pred.id, "status": pred.status.value, "reason": pred.reason, "task": pred.task_id,
            "run": pred.run_id, "weights": pred.weights, "output_dir": str(outdir),
            "images": (pred.outputs or {}).get("images", {}), "extra_outputs": (pred.outputs or {}).get("extra", [])}
    lines = [f"prediction {pred.id} {pred.status.value}" + (f": {pred.reason}" if pred.reason else "")]
    for name, r in data["images"].items():
        lines.append(f"  {name}: {r['status']}" + (f" ({r['note']})" if r.get("note") else ""))
    _out(args, data, "\n".join(lines))
    if pred.status != PredictionStatus.completed:
        sys.exit(1)


# ------------------------------------------------------------------ parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m runner", description="Trainyard: train your own code on your data.")
    sub = p.add_subparsers(dest="noun", required=True)

    def js(sp):
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        return sp

    sp = sub.add_parser("up", help="run redis + worker + UI together (Ctrl-C stops all)")
    sp.add_argument("--workers", type=int, default=1)
    sp.add_argument("--gpus", help="GPU ids to spread over the workers, e.g. 0,1; or 'cpu'")
    sp.add_argument("--port", type=int)
    sp.add_argument("--no-ui", action="store_true")
    sp = sub.add_parser("redis", help="run the embedded redis-server in the foreground")
    sp = sub.add_parser("worker", help="run one RQ worker")
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--gpus", help="GPU ids for this worker, e.g. 0,1 (default: detect with nvidia-smi)")
    g.add_argument("--cpu", action="store_true", help="use no GPU")
    sp.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    sp.add_argument("--name")
    js(sub.add_parser("reconcile", help="one reconciler pass (re-enqueue lost work, fail lost runs)"))
    sp = js(sub.add_parser("examples", help="add the example datasets and models (one step for new users)"))
    sp.add_argument("which", nargs="?", default="all", choices=["all", "classification", "detection"])

    ds = sub.add_parser("dataset").add_subparsers(dest="verb", required=True)
    sp = js(ds.add_parser("add"))
    sp.add_argument("file")
    sp.add_argument("--name")
    sp.add_argument("--type", default="other", help="task type, e.g. classification, detection")
    sp = js(ds.add_parser("show"))
    sp.add_argument("id", type=int)
    js(ds.add_parser("list"))

    md = sub.add_parser("model").add_subparsers(dest="verb", required=True)
    sp = js(md.add_parser("add"))
    sp.add_argument("file")
    sp.add_argument("--name")
    sp.add_argument("--type", default="other")
    sp.add_argument("--network", action="store_true", help="let training/prediction reach the network (off by default)")
    sp.add_argument("--wait", action="store_true")
    sp.add_argument("--timeout", type=float, default=3600)
    sp = js(md.add_parser("show"))
    sp.add_argument("id", type=int)
    js(md.add_parser("list"))
    sp = js(md.add_parser("redeploy"))
    sp.add_argument("id", type=int)
    sp.add_argument("--wait", action="store_true")
    sp.add_argument("--timeout", type=float, default=3600)
    sp = js(md.add_parser("delete"))
    sp.add_argument("id", type=int)
    sp = js(md.add_parser("templates"))
    sp.add_argument("id", type=int)
    sp.add_argument("--set", metavar="NAME", help="create or replace a template")
    sp.add_argument("--value", action="append", metavar="name=value")

    sp = js(sub.add_parser("predict", help="run predict.py of a trained task on images, wait, write outputs"))
    sp.add_argument("--task", type=int, required=True)
    sp.add_argument("--run", type=int, help="default: the task's best run")
    sp.add_argument("--weights", help="a file in the run's work dir (default: the newest weights file)")
    sp.add_argument("--images", required=True, help="an image, a folder of images, or a zip of images")
    sp.add_argument("-o", "--output", help="where to write the output images (default: prediction-ID)")
    sp.add_argument("--confidence", type=float, default=0.25)
    sp.add_argument("--timeout", type=float, default=3600)

    tk = sub.add_parser("task").add_subparsers(dest="verb", required=True)
    sp = js(tk.add_parser("create"))
    sp.add_argument("--name", required=True)
    sp.add_argument("--model", type=int, required=True)
    sp.add_argument("--dataset", type=int, required=True)
    sp.add_argument("--epochs", type=int, required=True)
    sp.add_argument("--runs", type=int, default=1)
    sp.add_argument("--time-limit", help="e.g. 90m, 2h, 45s")
    sp.add_argument("--metrics", help="metrics to chart, comma-separated, e.g. loss,accuracy")
    sp.add_argument("--eval-metric", help="NAME[:max|min]")
    sp.add_argument("--score", default="final", choices=["final", "best"])
    sp.add_argument("--param", action="append", metavar="name=value | name=[a,b]:search")
    sp.add_argument("--sampler", default="auto", choices=["auto", "gp", "tpe", "random", "grid"])
    sp.add_argument("--no-prune", action="store_true")
    sp.add_argument("--pruner", default="median", choices=["median", "successive_halving", "hyperband"])
    sp.add_argument("--warm-start", type=int, metavar="TASK_ID", help="continue the search of this earlier task")
    sp.add_argument("--max-parallel", type=int)
    sp.add_argument("--seed", type=int)
    sp.add_argument("--memory-limit")
    sp.add_argument("--max-procs")
    sp.add_argument("--max-open-files")
    sp.add_argument("--max-file-size")
    sp.add_argument("--max-disk")
    sp.add_argument("--max-log")
    sp.add_argument("--wait", action="store_true")
    sp.add_argument("--timeout", type=float, default=24 * 3600)
    sp = js(tk.add_parser("show"))
    sp.add_argument("id", type=int)
    sp = js(tk.add_parser("list"))
    sp.add_argument("--status")
    sp.add_argument("--search")
    sp.add_argument("--limit", type=int, default=50)
    sp = js(tk.add_parser("stop"))
    sp.add_argument("id", type=int)
    sp.add_argument("--timeout", type=float, default=10)
    sp = js(tk.add_parser("clone", help="a new task with the same settings"))
    sp.add_argument("id", type=int)
    sp.add_argument("--name")
    sp = js(tk.add_parser("rerun", help="queue a failed/stopped run again with the same parameters"))
    sp.add_argument("run", type=int, metavar="RUN_ID")
    sp = js(tk.add_parser("weights"))
    sp.add_argument("id", type=int)
    sp.add_argument("-o", "--output", required=True)
    sp.add_argument("--run", type=int)
    return p


COMMANDS = {
    ("dataset", "add"): cmd_dataset_add, ("dataset", "show"): cmd_dataset_show, ("dataset", "list"): cmd_dataset_list,
    ("model", "add"): cmd_model_add, ("model", "show"): cmd_model_show, ("model", "list"): cmd_model_list,
    ("model", "redeploy"): cmd_model_redeploy, ("model", "delete"): cmd_model_delete,
    ("model", "templates"): cmd_model_templates,
    ("task", "create"): cmd_task_create, ("task", "show"): cmd_task_show, ("task", "list"): cmd_task_list,
    ("task", "stop"): cmd_task_stop, ("task", "weights"): cmd_task_weights,
    ("task", "clone"): cmd_task_clone, ("task", "rerun"): cmd_task_rerun,
    ("examples", None): cmd_examples, ("predict", None): cmd_predict,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except Exception as exc:  # noqa: BLE001 - pydantic's message names the bad variable
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    try:
        if args.noun == "up":
            from runner.up import up

            return up(settings=settings, workers=args.workers, gpus=args.gpus, port=args.port, ui=not args.no_ui)
        if args.noun == "redis":
            from runner.redis_server import run_foreground

            return run_foreground(settings)
        if args.noun == "worker":
            from runner.worker import run_worker

            return run_worker(gpus="cpu" if args.cpu else args.gpus, burst=args.burst, name=args.name)
        if args.noun == "reconcile":
            from runner import context
            from runner.reconcile import reconcile_once

            context.configure(settings)
            _out(args, reconcile_once())
            return 0
        COMMANDS[(args.noun, getattr(args, "verb", None))](args, settings)
        return 0
    except TrainyardError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(exc), "field": getattr(exc, "field", None)}), file=sys.stderr)
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 1
