"""The Workers page and the form's GPUs-per-run field, against workers registered in the test Redis the way
``python -m runner worker`` registers them on any host."""

from __future__ import annotations

from runner.worker import TrainyardWorker
from shared.core.queue import QUEUES
from shared.services.workers import advertise_devices
from tests.support.ui import make_dataset, make_model, open_page


def _born(conn, name: str, host: str, gpus: tuple[str, ...]) -> TrainyardWorker:
    w = TrainyardWorker(list(QUEUES), connection=conn, name=name)
    w.gpus, w.host = gpus, host
    w.register_birth()
    return w


def test_workers_page_lists_every_host_with_devices_and_current_run(ui_settings, ui_redis):
    at = open_page("views/workers.py")
    assert not at.exception, at.exception
    assert any("No worker is up" in i.value for i in at.info)
    gpu = _born(ui_redis, "gpu-a-1", "gpu-a", ("0", "1"))
    advertise_devices(redis=ui_redis, worker_key=gpu.key, gpus=["0", "1"], host="gpu-a", cpus=32,
                      gpu_info={"0": {"name": "NVIDIA H100", "memory_mib": 81920}, "1": {"name": "NVIDIA H100"}})
    _born(ui_redis, "web-1", "web", ())
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    rows = {r["worker"]: r for r in table.to_dict("records")}
    assert rows["gpu-a-1"]["host"] == "gpu-a" and rows["web-1"]["host"] == "web"
    assert rows["gpu-a-1"]["devices"] == "0: NVIDIA H100 (80 GiB), 1: NVIDIA H100"
    assert rows["gpu-a-1"]["CPUs"] == 32
    assert rows["web-1"]["devices"] == "CPU" and "s ago" in rows["web-1"]["last heartbeat"]
    assert "2 workers on 2 hosts; 2 GPUs in all" in "\n".join(c.value for c in at.caption)


def test_form_warns_when_no_worker_has_the_gpus_a_run_asks_for(ui_settings, ui_redis, db, tmp_path):
    make_dataset(db, ui_settings, tmp_path)
    make_model(db, ui_settings, tmp_path)
    _born(ui_redis, "gpu-a-1", "gpu-a", ("0", "1"))
    at = open_page("views/task_new.py")
    assert not at.exception, at.exception
    at.number_input(key="tf_gpus").set_value(2)
    at.run()
    assert not any("No worker up has" in c.value for c in at.caption)
    at.number_input(key="tf_gpus").set_value(4)
    at.run()
    assert any("No worker up has 4 GPUs (the most is 2)" in c.value for c in at.caption)
