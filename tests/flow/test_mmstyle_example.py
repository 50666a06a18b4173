"""examples/mmstyle end to end on CPU: uploaded, deployed (numpy + Pillow env),
trained by the worker from a config file picked in the package, with
--cfg-options overrides holding commas, the dataset path reaching the script
only through the config's 'DATA_PATH'; metrics charted, weights written."""

from __future__ import annotations

import json

import pytest

from runner import context
from shared.core.errors import FieldError
from shared.core.queue import enqueue_deploy
from shared.records import RunStatus, TaskStatus
from shared.services.datasets import add_dataset
from shared.services.models import add_model, model_summary
from shared.services.tasks import TaskIn, create_task, get_task, task_runs
from shared.services.weights import weight_files
from tests.support.people import OP


@pytest.mark.slow
def test_mmstyle_example_trains_from_its_config(settings, ctx, session, burst, tmp_path):
    from examples.make_dataset import make_dataset
    from examples.packages import build_package_zip

    dz = make_dataset(task_type="classification", dest=tmp_path / "shapes.zip", as_zip=True, n_train=24, n_val=8)
    ds = add_dataset(actor=OP, session=session, settings=settings, zip_path=dz, name="shapes",
                     task_type="classification")
    model = add_model(actor=OP, session=session, settings=settings, name="mm", task_type="classification",
                      zip_path=build_package_zip(name="mmstyle", dest=tmp_path / "mm.zip"))
    enqueue_deploy(model.id, connection=ctx.redis)
    burst()
    session.refresh(model)
    assert model.status.value == "deployed", model.reason

    summary = model_summary(model)
    assert [a["name"] for a in summary["user_parameters"]] == ["config", "amp", "resume", "cfg-options", "launcher"]
    assert [a["name"] for a in summary["launcher_parameters"]] == ["local_rank"]
    assert summary["config_choices"]["config"][:2] == ["configs/linear_shapes.py", "configs/linear_shapes_fast.py"]
    assert summary["globals_used"]["configs/_base_/datasets/shapes.py"] == ["DATA_PATH", "LABEL_CLASS"]
    assert summary["globals_used"]["configs/_base_/models/linear.py"] == ["LABEL_CLASS_COUNT"]
    assert not any("where the dataset is" in w for w in summary["warnings"])

    base = dict(name="mm", model_id=model.id, dataset_id=ds.id, epochs=1, eval_metric="val_accuracy")
    with pytest.raises(FieldError) as err:
        create_task(actor=OP, session=session, task_in=TaskIn(**base))
    assert err.value.field == "config" and "configs/linear_shapes.py" in err.value.field_message

    task = create_task(actor=OP, session=session, task_in=TaskIn(**base, params={
        "config": ("configs/linear_shapes.py", False),
        "cfg-options": ("train_cfg.max_epochs=3 custom_imports.imports=[mmlite.metrics,mmlite.error_metric]", False),
        "resume": ("false", False),
    }))
    context.current().schedule(task.id)
    burst()
    session.expire_all()
    task = get_task(session=session, task_id=task.id)
    [run] = task_runs(session=session, task_id=task.id)
    assert task.status == TaskStatus.completed and run.status == RunStatus.completed, (task.reason, run.reason)
    # Three epochs (the override), and the metric the custom import added.
    assert {"loss", "accuracy", "error", "val_loss", "val_accuracy", "val_error"} <= set(run.metric_names)
    assert run.lines >= 3 and run.score is not None and 0.0 <= run.score <= 1.0
    assert set(weight_files(settings, run)) == {"best.pth", "last.pth"}

    run_dir = settings.data_dir / "runs" / str(task.id) / str(run.id)
    argv = (run_dir / "argv.txt").read_text().splitlines()
    assert argv[1:3] == ["train.py", "configs/linear_shapes.py"]
    assert argv[argv.index("--cfg-options") + 1:] == ["train_cfg.max_epochs=3",
                                                      "custom_imports.imports=[mmlite.metrics,mmlite.error_metric]"]
    assert "--resume" not in argv and not any("local" in a for a in argv)
    # What the script trained with: the dataset from the replaced config, the overrides merged.
    trained = json.loads((run_dir / "workspace" / "work_dir" / "config.json").read_text())
    assert trained["train_cfg"]["max_epochs"] == 3
    assert trained["model"]["num_classes"] == 3
    assert trained["train_dataloader"]["dataset"]["data_root"] not in ("DATA_PATH", "")
    assert json.loads(trained["train_dataloader"]["dataset"]["classes"]) == {"0": "circle", "1": "square",
                                                                              "2": "triangle"}
