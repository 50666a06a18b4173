"""Failure explanations read from a run's last lines: the offline hint for the
downloads frameworks try (Ultralytics, huggingface_hub, torch.hub, curl, uv),
and nothing added to failures that are not about the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.envs.build import _index_hint
from runner.envs.uv import StepFailed
from runner.execute.explain import explain, network_hint
from runner.sandbox import Limits, SandboxSpec

OFFLINE_TAILS = {
    "ultralytics": ["ConnectionError: Download failure for https://github.com/ultralytics/assets/releases/download/"
                    "v8.2.0/yolov8n.pt. Environment may be offline."],
    "urllib": ["urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name resolution>"],
    "requests": ["requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co', port=443): "
                 "Max retries exceeded with url: /bert-base-uncased/resolve/main/config.json"],
    "huggingface": ["OSError: We couldn't connect to 'https://huggingface.co' to load this file, couldn't find it "
                    "in the cached files and it looks like bert-base-uncased is not the path to a directory"],
    "torch hub": ["  File \"torch/hub.py\", line 620, in load_state_dict_from_url",
                  "OSError: [Errno 101] Network is unreachable"],
    "socket": ["socket.gaierror: [Errno -2] Name or service not known"],
}


def _spec(**kw) -> SandboxSpec:
    return SandboxSpec(argv=["python"], workdir=Path("/tmp"), limits=Limits(), **kw)


@pytest.mark.parametrize("tail", OFFLINE_TAILS.values(), ids=OFFLINE_TAILS.keys())
def test_a_failed_download_in_an_offline_run_gets_the_hint(tail):
    reason = explain(exit_code=1, sig=None, recent=["step 1", *tail], spec=_spec())
    assert reason.startswith("exit code 1")
    assert "The run has no network: the sandbox is offline on purpose" in reason
    assert "/workspace/weights/" in reason and "ask an admin to allow network for this model" in reason
    assert "egress allow-list" in reason
    assert ".." not in reason


def test_the_hint_names_the_framework_way_to_load_a_local_file():
    hf = network_hint("\n".join(OFFLINE_TAILS["huggingface"]), network=False)
    assert 'from_pretrained("/workspace/weights/<model folder>")' in hf
    hub = network_hint("\n".join(OFFLINE_TAILS["torch hub"]), network=False)
    assert "load_state_dict" in hub and "TORCH_HOME" in hub
    yolo = network_hint("\n".join(OFFLINE_TAILS["ultralytics"]), network=False)
    assert 'YOLO("/workspace/weights/yolov8n.pt")' in yolo


def test_a_model_with_network_is_told_about_the_egress_rules_not_the_offline_sandbox():
    reason = explain(exit_code=1, sig=None, recent=OFFLINE_TAILS["urllib"], spec=_spec(network=True))
    assert "could not reach the network" in reason and "offline on purpose" not in reason


@pytest.mark.parametrize("tail", [
    ["ValueError: shapes (3,) and (4,) not aligned"],
    ["RuntimeError: CUDA error: device-side assert triggered"],
    ["KeyError: 'connection'"],
])
def test_other_failures_get_no_network_hint(tail):
    reason = explain(exit_code=1, sig=None, recent=tail, spec=_spec())
    assert reason == f"exit code 1: {tail[0]}"


def test_the_thread_count_is_named_in_the_process_limit_reason():
    reason = explain(exit_code=1, sig=None, recent=["RuntimeError: can't start new thread"],
                     spec=SandboxSpec(argv=["x"], workdir=Path("/tmp"), limits=Limits(max_procs=1024)))
    assert reason.startswith("process limit 1024 reached (threads count too;")


def test_a_uv_step_that_cannot_reach_the_index_says_so():
    down = StepFailed("uv pip install exited with code 2", [
        "error: Failed to fetch: `https://pypi.org/simple/numpy/`",
        "  Caused by: dns error: failed to lookup address information: Temporary failure in name resolution"])
    assert "The package index could not be reached from the worker" in _index_hint(down)
    assert "--find-links wheels" in _index_hint(down)
    assert _index_hint(StepFailed("uv pip install exited with code 1", ["error: No solution found"])) == ""
    # The install script's own failure already carries the run's hint.
    assert _index_hint(StepFailed("install_dependencies.sh failed", OFFLINE_TAILS["urllib"])) == ""
