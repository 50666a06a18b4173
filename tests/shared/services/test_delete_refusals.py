"""A dataset or model still used by a running task is refused, and the task's status inside the refusal
reads as the platform's word in the reader's language (执行中), not as the raw value ``running``."""

from __future__ import annotations

import pytest

from shared.core.errors import ConflictError
from shared.core.i18n import Language, use_language
from shared.records import TaskStatus
from shared.services.datasets import delete_dataset
from shared.services.models import delete_model
from shared.services.tasks import TaskIn, create_task


@pytest.mark.parametrize("what", ["dataset", "model"])
def test_a_record_in_use_is_refused_with_the_status_in_words(session, settings, people, stock, what):
    alice = people["alice"]
    ds, model = stock
    task = create_task(session=session, settings=settings, actor=alice,
                       task_in=TaskIn(name="t", model_id=model.id, dataset_id=ds.id, epochs=1, n_runs=1,
                                      eval_metric="score", params={}))
    task.status = TaskStatus.running
    session.add(task)
    session.commit()
    with pytest.raises(ConflictError) as err:
        if what == "dataset":
            delete_dataset(session=session, settings=settings, actor=alice, dataset_id=ds.id)
        else:
            delete_model(session=session, settings=settings, actor=alice, model_id=model.id)
    assert f"task {task.id} (running)" in str(err.value)  # English and the audit row keep the value
    with use_language(Language.zh_CN):
        zh = err.value.localized()
    assert "执行中" in zh and "running" not in zh, zh
