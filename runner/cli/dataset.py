"""``python -m runner dataset add|show|list``."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from runner.cli.common import acting, existing_file, id_argument, out, out_rows, session, visibility_option
from shared.core.i18n import _
from shared.core.settings import Settings
from shared.records import User


@click.group()
def dataset() -> None:
    """Add, show and list datasets."""


@dataset.command()
@click.argument("file")
@click.option("--name", help="dataset name (default: the zip's file name without .zip)")
@click.option("--type", "task_type", default="other", show_default=True,
              help="task type, e.g. classification, detection")
@visibility_option
@acting
def add(file: str, name: str | None, task_type: str, visibility: str, as_json: bool, settings: Settings,
        actor: User) -> None:
    """Validate the dataset zip FILE and store it."""
    from shared.services.datasets import add_dataset

    path = existing_file(file)
    last = [0.0]

    def progress(stage: str, frac: float) -> None:
        if not as_json and sys.stderr.isatty() and time.monotonic() - last[0] > 0.5:
            last[0] = time.monotonic()
            print(f"\r{stage} {frac:5.0%}", end="", file=sys.stderr)

    with session(settings) as s:
        ds = add_dataset(session=s, settings=settings, actor=actor, zip_path=path, name=name or path.stem,
                         task_type=task_type, visibility=visibility, progress=progress)
        data = dataset_dict(ds)
    out(as_json, data, _("dataset {id} added: {name} ({task_type}, {images} images, {warnings} warnings)",
                         id=ds.id, name=ds.name, task_type=ds.task_type.value, images=ds.images,
                         warnings=len(data["warnings"])))


@dataset.command()
@id_argument("dataset_id")
@acting
def show(dataset_id: int, as_json: bool, settings: Settings, actor: User) -> None:
    """Splits, classes, warnings and the arguments train.py gets for dataset ID."""
    from shared.services.datasets import get_dataset

    with session(settings) as s:
        out(as_json, dataset_dict(get_dataset(session=s, dataset_id=dataset_id, actor=actor)))


@dataset.command(name="list")
@acting
def list_(as_json: bool, settings: Settings, actor: User) -> None:
    """All datasets, newest first."""
    from shared.services.datasets import list_datasets

    with session(settings) as s:
        rows = [{"id": d.id, "name": d.name, "task_type": d.task_type.value, "images": d.images}
                for d in list_datasets(session=s, actor=actor)]
    out_rows(as_json, rows, "{id:>4}  {task_type:<22} {images:>7}  {name}", _("no datasets"))


def dataset_dict(ds) -> dict[str, Any]:
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
