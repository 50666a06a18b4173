"""The workers that are up, as RQ holds them, and what they mean for a task's parallel runs."""

from __future__ import annotations

from redis import Redis

from runner.worker import TrainyardWorker
from shared.core.queue import QUEUES, TRAIN_QUEUE
from shared.services.workers import WorkerInfo, at_a_time, list_workers, parallelism_text


def _born(conn: Redis, name: str, gpus: tuple[str, ...], queues=QUEUES) -> TrainyardWorker:
    """A real worker registered the way ``work()`` registers it (its birth), without taking jobs."""
    w = TrainyardWorker(list(queues), connection=conn, name=name)
    w.gpus = gpus
    w.register_birth()
    return w


def test_lists_workers_with_queues_and_devices(settings):
    conn = Redis.from_url(settings.effective_redis_url)
    assert list_workers(redis=conn) == []
    a = _born(conn, "w-a", ("0",))
    _born(conn, "w-b", ())
    found = list_workers(redis=conn)
    assert [(w.name, w.gpus, w.trains) for w in found] == [("w-a", ("0",), True), ("w-b", (), True)]
    assert found[0].queues == QUEUES and found[0].device_text == "GPU 0" and found[1].device_text == "CPU"
    a.register_death()  # a worker that stops is gone from the list at once
    assert [w.name for w in list_workers(redis=conn)] == ["w-b"]


def _w(name: str, gpus=(), queues=QUEUES) -> WorkerInfo:
    return WorkerInfo(name=name, queues=tuple(queues), gpus=tuple(gpus), state="idle")


def test_parallelism_says_what_will_happen():
    assert "No worker is up" in parallelism_text(workers=[], wanted=4)
    assert parallelism_text(workers=[_w("a")], wanted=4) == "1 worker up (CPU): runs go one at a time."
    two = [_w("a", ["0"]), _w("b", ["1"])]
    assert parallelism_text(workers=two, wanted=2) == "2 workers up (GPU 0, GPU 1): 2 at a time."
    assert parallelism_text(workers=two, wanted=4) == \
        "2 workers up (GPU 0, GPU 1): 2 at a time, not 4: start more workers for more."
    assert at_a_time(workers=two, wanted=1) == 1
    # Only the workers that listen to the train queue run training.
    assert at_a_time(workers=[*two, _w("p", queues=["predict"])], wanted=4) == 2
    assert TRAIN_QUEUE in QUEUES


def test_a_worker_names_its_host_and_current_run():
    from shared.services.workers import placement_text

    busy = WorkerInfo(name="a", queues=QUEUES, gpus=("0", "1"), state="busy", host="gpu-a", current_job="run-12-1")
    assert busy.current_run == 12
    assert WorkerInfo(name="b", queues=QUEUES, gpus=(), state="busy", current_job="deploy-3-0").current_run is None
    assert placement_text(workers=[busy], gpus_per_run=2) is None
    assert "No worker up has 3 GPUs (the most is 2)" in placement_text(workers=[busy], gpus_per_run=3)
