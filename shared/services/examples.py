"""The example datasets and models: one step for a new user, shared by the
home page's "Load examples" and ``python -m runner examples``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from redis import Redis
from sqlmodel import Session

from shared.core.queue import enqueue_deploy
from shared.core.settings import Settings
from shared.records import Action, Dataset, ModelPackage, User
from shared.services import access
from shared.services.datasets import add_dataset
from shared.services.models import add_model

EXAMPLE_KINDS = ("classification", "detection")


def load_examples(*, session: Session, settings: Settings, connection: Redis, actor: User,
                  kinds: tuple[str, ...] = EXAMPLE_KINDS,
                  progress: Callable[[str, float], None] | None = None) -> dict[str, dict[str, int]]:
    """Build each example dataset and model package, add both, enqueue the model's deploy.
    Returns ``{kind: {"dataset": id, "model": id}}`` in the order of ``kinds``."""
    # The builders live with the examples (numpy/Pillow drawing), loaded only when asked for.
    from examples.make_dataset import make_dataset
    from examples.packages import build_package_zip

    access.require(actor, Action.create, Dataset)  # before minutes of building, not after
    access.require(actor, Action.create, ModelPackage)
    connection.ping()  # fail before writing anything when the deploy could not be queued
    out: dict[str, dict[str, int]] = {}
    steps = len(kinds) * 2
    done = 0

    def step(text: str) -> None:
        if progress:
            progress(text, done / steps)

    with tempfile.TemporaryDirectory(dir=_tmp_root(settings)) as tmp:
        for kind in kinds:
            step(f"building the example {kind} dataset")
            dz = make_dataset(task_type=kind, dest=Path(tmp) / f"{kind}-data", as_zip=True, n_train=48, n_val=16)
            ds = add_dataset(session=session, settings=settings, actor=actor, zip_path=dz,
                             name=f"example {kind} dataset", task_type=kind)
            done += 1
            step(f"building the example {kind} model")
            mz = build_package_zip(name=kind, dest=Path(tmp) / f"{kind}-model.zip")
            model = add_model(session=session, settings=settings, actor=actor, zip_path=mz,
                              name=f"example {kind} model", task_type=kind)
            enqueue_deploy(model.id, connection=connection)
            done += 1
            out[kind] = {"dataset": ds.id, "model": model.id}
    if progress:
        progress("done", 1.0)
    return out


def _tmp_root(settings: Settings) -> Path:
    root = settings.data_dir / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root
