"""Floods and limits through real runs: every limit that stops a run is named
in the run's reason (never a bare "failed"), output floods are capped with
head and tail kept, hostile bytes and non-finite metrics are stored and
ranked sanely, and the platform goes on working afterwards."""

from __future__ import annotations

import math
import os
import re

import pytest
from sqlmodel import select

from runner import context
from runner.sandbox.bwrap import feats_of
from shared.records import MetricPoint, RunStatus, TaskStatus
from shared.services.tasks import create_task, task_summary
from tests.support.people import OP
from tests.support.procs import procs_with, start_worker, wait_for

LIMITS = [
    pytest.param("memory", {"memory_limit": "256MiB"}, r"memory limit 256 MiB", id="memory-1GiB"),
    pytest.param("procs", {"max_procs": 30}, r"process limit 30\b", id="fork-bomb"),
    pytest.param("files", {"max_open_files": 64}, r"(?i)open[ -]files? limit (of )?64\b|limit of 64 open files",
                 id="open-files"),
    pytest.param("fsize", {"max_file_bytes": "10MiB"}, r"file size limit 10 MiB", id="file-100MB"),
    pytest.param("disk", {"max_disk_bytes": "20MiB"}, r"disk limit 20 MiB", id="disk-many-1MB-files"),
]


@pytest.mark.parametrize("attack,limits,named", LIMITS)
def test_a_limit_that_stops_a_run_is_named_in_its_reason(plat, settings, attack, limits, named):
    model = plat.model()
    task, [run] = plat.run_task(model=model, attack=attack, limits=limits)
    assert run.status == RunStatus.failed, f"the {attack} attack was not stopped: {run.reason}"
    headline = (run.reason or "").splitlines()[0] if run.reason else ""
    assert re.search(named, headline), f"the limit is not named in the reason's first line: {headline!r}"
    assert task.status == TaskStatus.failed and re.search(named, task.reason), task.reason
    # The run's whole tree is gone (a fork bomb's sleeping children included).
    assert procs_with(str(settings.data_dir)) == []
    plat.healthy(model)


def test_private_tmpfs_is_capped_by_the_memory_limit(plat):
    """/tmp and /dev/shm are memory; writing there must stop at the run's memory limit."""
    mib = 1024 * 1024
    probe = '''
import os
for target in ("/tmp/fill", "/dev/shm/fill", "/fill"):
    n, err = 0, None
    try:
        with open(target, "wb") as f:
            for _ in range(512):
                f.write(b"\\1" * (1024 * 1024))
                f.flush()
                n += 1
    except OSError as exc:
        err = exc.errno
    if os.path.exists(target):
        os.unlink(target)
    print("FILLED", target, n, err, flush=True)
'''
    model = plat.model(extra={"fill.py": probe},
                       train="import runpy\nrunpy.run_path('fill.py')\nprint('epoch: 1, score: 0.5')\n")
    task, [run] = plat.run_task(model=model, limits={"memory_limit": "256MiB"})
    assert run.status == RunStatus.completed, run.reason
    filled = {t.split()[1]: int(t.split()[2]) for _s, t in plat.run_log(run) if t.startswith("FILLED ")}
    assert set(filled) == {"/tmp/fill", "/dev/shm/fill", "/fill"}
    over = {t: n for t, n in filled.items() if n * mib > 256 * mib}
    assert over == {}, f"MiB held in memory past the 256 MiB limit: {over}"


def test_a_log_flood_keeps_head_and_tail_and_counts_what_it_dropped(plat, settings):
    model = plat.model()
    task, [run] = plat.run_task(model=model, attack="logflood", limits={"max_log_bytes": "1MiB"},
                                eval_metric="score")
    assert run.status == RunStatus.completed, run.reason
    assert run.log_bytes_dropped > 40 * 1024 * 1024
    path = settings.path(run.log_path)
    assert path.stat().st_size <= 1024 * 1024 + 4096
    texts = [t for _s, t in plat.run_log(run)]
    assert texts[0] == "FIRST-LINE" or "FIRST-LINE" in texts[:3]
    assert "LAST-LINE" in texts[-3:]
    [marker] = [t for t in texts if "of log dropped" in t]
    assert "log limit 1 MiB" in marker and str(run.log_bytes_dropped) in marker
    assert run.score == 0.5  # the metric line after the flood still counts
    assert task_summary(session=plat.session, task=task)["runs"][0]["log_bytes_dropped"] == run.log_bytes_dropped
    plat.healthy(model)


def test_long_lines_cannot_stall_the_worker(plat, settings, session):
    """8000-letter words ending in ': x', as fast as the run can print them: the worker must keep up, so the
    task's time limit still ends the run within seconds. A line parser that is quadratic in
    the line length spends seconds per line, the worker's loop falls behind, and the run goes
    on long past its limit. A real worker process, so that a stalled one can be killed."""
    model = plat.model()
    task = create_task(session=session, task_in=plat.task_in(model=model, attack="longwords", time_limit="3s"),
                       actor=OP)
    worker = start_worker(settings)
    try:
        context.current().schedule(task.id)
        wait_for(lambda: plat.refresh(task.id)[0].status.finished, 20,
                 "the 3 s time limit to end a run that prints long lines")
    finally:
        worker.kill()
        worker.wait(10)
    task, [run] = plat.refresh(task.id)
    assert run.status == RunStatus.timed_out and "time limit" in run.reason, run.reason
    assert procs_with(str(settings.data_dir)) == []
    plat.healthy(model)


def test_a_20MB_line_is_cut_not_held(plat, settings):
    model = plat.model()
    task, [run] = plat.run_task(model=model, attack="hugeline", eval_metric="score")
    assert run.status == RunStatus.completed, run.reason
    assert settings.path(run.log_path).stat().st_size < 64 * 1024
    texts = [t for _s, t in plat.run_log(run)]
    [cut] = [t for t in texts if t.startswith("yyyy")]
    cut_bytes = 20 * 1024 * 1024 - settings.max_line_bytes
    assert cut.startswith("y" * settings.max_line_bytes) and f"[cut {cut_bytes} bytes]" in cut
    assert "AFTER-HUGE-LINE" in texts and run.score == 0.5
    plat.healthy(model)


@pytest.mark.parametrize("attack", ["badutf8", "badutf8-fail"], ids=["completes", "fails"])
def test_invalid_utf8_and_nul_bytes_are_logged_and_stored_safely(plat, settings, db_url, attack, request):
    """Bytes that are not UTF-8, and NUL (which Postgres text columns refuse), end up in the log,
    the run's last unparsed line and its failure reason: the run must still be recorded."""
    model = plat.model()
    task, [run] = plat.run_task(model=model, attack=attack, eval_metric="score")
    assert run.status.finished, f"the run was never recorded as finished (it is {run.status.value})"
    raw = settings.path(run.log_path).read_bytes()
    raw.decode("utf-8")  # the stored log is valid UTF-8 whatever the run printed
    texts = [t for _s, t in plat.run_log(run)]
    bad = next(t for t in texts if t.startswith("bad "))
    assert "\ufffd" in bad and "bytes" in bad
    assert any("surrogate" in t for t in texts)
    if attack == "badutf8":
        assert run.status == RunStatus.completed and run.score == 0.5 and task.status == TaskStatus.completed
        assert run.last_unparsed and run.last_unparsed.startswith("loss=0.5")
    else:
        assert run.status == RunStatus.failed and "exit code 3" in run.reason and "surrogate" in run.reason
        assert task.status == TaskStatus.failed
    plat.healthy(model)


def test_nan_and_inf_metrics_are_stored_and_the_best_run_is_finite(plat, db_url, request):
    model = plat.model()
    task, runs = plat.run_task(model=model, params={"attack": ("{nan, inf, ninf, fin}", True)}, sampler="grid",
                               n_runs=4, max_parallel=1, eval_metric="score", prune=False)
    assert task.status == TaskStatus.completed, task.reason
    assert [r.status for r in runs] == [RunStatus.completed] * 4, [r.reason for r in runs]
    by_mode = {r.params["attack"]: r for r in runs}
    assert set(by_mode) == {"nan", "inf", "ninf", "fin"}
    assert task.best_run_id == by_mode["fin"].id
    assert by_mode["fin"].score == 0.7
    for mode in ("nan", "inf", "ninf"):
        assert by_mode[mode].score is None or not math.isfinite(by_mode[mode].score)
        assert "metrics could not all be stored" not in (by_mode[mode].reason or "")
    summary = task_summary(session=plat.session, task=task)
    assert summary["best_run"] == by_mode["fin"].id
    stored = {}
    for mode, r in by_mode.items():
        [value] = plat.session.exec(select(MetricPoint.value).where(MetricPoint.run_id == r.id,
                                                                    MetricPoint.name == "score")).all()
        stored[mode] = value
    assert stored["inf"] == math.inf and stored["ninf"] == -math.inf and stored["fin"] == 0.7, stored
    # The chart must show the NaN as a NaN point, not as a missing value.
    assert stored["nan"] is not None and math.isnan(stored["nan"]), f"NaN was stored as {stored['nan']!r}"
    assert math.isnan(summary["runs"][runs.index(by_mode["nan"])]["metrics"]["score"][0])
    plat.healthy(model)


def test_the_default_limits_fit_a_dataloader_with_many_workers(plat, settings):
    """RLIMIT_NPROC counts threads: 600 of them (a DataLoader's workers and their
    thread pools on a big host) start under the default limit, and /dev/shm is
    sized by its own setting, half the memory limit by default."""
    assert settings.max_procs == max(1024, 64 * (os.cpu_count() or 1))
    assert settings.shm_size is None
    probe = '''
import os, threading
stop = threading.Event()
threads = []
try:
    for _ in range(600):
        threads.append(threading.Thread(target=stop.wait, daemon=True))
        threads[-1].start()
finally:
    print("THREADS", threading.active_count(), flush=True)
    stop.set()
for t in threads:
    t.join()
st = os.statvfs("/dev/shm")
print("SHM", st.f_blocks * st.f_frsize, flush=True)
print("epoch: 1, score: 0.5", flush=True)
'''
    model = plat.model(train=probe)
    task, [run] = plat.run_task(model=model, eval_metric="score", time_limit="2m")
    out = {t.split()[0]: int(t.split()[1]) for _s, t in plat.run_log(run) if t.startswith(("THREADS ", "SHM "))}
    assert run.status == RunStatus.completed, (out, run.reason)
    assert out["THREADS"] == 601
    if feats_of(settings.resolve_bwrap()).tmpfs_size and not settings.unsafe_no_sandbox:
        assert out["SHM"] == settings.memory_limit // 2


def test_the_shm_size_setting_sizes_dev_shm_within_the_memory_limit(settings):
    from runner.sandbox import Limits

    assert Limits.from_settings(settings, {"memory_bytes": 1 << 30}).shm_bytes == 1 << 29
    sized = settings.model_copy(update={"shm_size": 3 << 30})
    assert Limits.from_settings(sized, {"memory_bytes": 1 << 30}).shm_bytes == 1 << 30  # never past memory
    assert Limits.from_settings(sized, {"memory_bytes": 4 << 30}).shm_bytes == 3 << 30
    assert Limits.from_settings(settings, {"memory_bytes": None}).shm_bytes is None
