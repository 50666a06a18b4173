"""Figure 8: memory.

* the worker's peak RSS while it ingests figure 4's flood of metric lines;
* its peak RSS during a run that prints 200 MB of log (logs stream to disk
  past a bounded tail; they are never held whole);
* the Streamlit server's RSS after a browser (Debian's Chromium, driven by
  Playwright) opens the task page of figure 4's task: two charted series of
  N points each.

The peak is the kernel's VmHWM, reset just before the run where the kernel
allows it (``/proc/PID/clear_refs``), else the largest of RSS samples taken
every 20 ms.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import psutil

from bench import ingestion
from bench.config import Config
from bench.report import Goal, Row
from bench.stack import ROOT, BenchError, peak_rss, peak_rss_reset

MiB = 1024 * 1024

FLOOD_TRAIN = '''
import argparse, sys
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--work-dir", default="out")
p.add_argument("--mb", type=int, default=200)
a = p.parse_args()
block = "".join(f"flood line {i:06d} " + "x" * 80 + "\\n" for i in range(10486))  # ~1 MiB
for i in range(a.mb):
    sys.stdout.write(block)
    if i % 10 == 0:
        sys.stdout.write(f"step: {i}, loss: {1 / (i + 1):.4f}\\n")
sys.stdout.flush()
'''


class PeakRss:
    """Peak RSS of one process over a stretch of time."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.sampled = 0
        self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        proc = psutil.Process(self.pid)
        while not self._stop.wait(0.02):
            with contextlib.suppress(psutil.Error):
                self.sampled = max(self.sampled, proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self.hwm_reset = peak_rss_reset(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max(peak_rss(self.pid), self.sampled) if self.hwm_reset else self.sampled

    @property
    def how(self) -> str:
        return "VmHWM" if self.hwm_reset else "RSS sampled every 20 ms"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str | None:
    for cand in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if cand and os.path.exists(cand):
            return cand
    return None


def _admin_token(settings) -> str:
    from sqlmodel import Session

    from shared.core.db import get_engine
    from shared.records import Role, User
    from shared.services import auth

    with Session(get_engine(settings.database_url), expire_on_commit=False) as s:
        admin = User(name=f"bench-admin-{time.monotonic_ns()}", role=Role.admin)
        s.add(admin)
        s.commit()
        s.refresh(admin)
    return auth.issue_token(settings, admin)


def streamlit_rss(st, *, task_id: int, charts: int) -> tuple[int, float, float]:
    """(server RSS in bytes, seconds until the charts were drawn the first time, and the second time)
    after opening the task page in a fresh server, then reloading it."""
    browser_path = _chromium()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    log = open(st.data_dir / "streamlit.log", "wb")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app/app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=st.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (st.data_dir / "streamlit.log").read_text(errors="replace")[-1500:]
                raise BenchError(f"the Streamlit server did not come up: {tail}")
            time.sleep(0.2)
        from streamlit_app.components.auth import COOKIE

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                # Every page wants a signed-in person: hand the browser an admin's session cookie.
                page.context.add_cookies([{"name": COOKIE, "value": _admin_token(st.settings),
                                           "domain": "127.0.0.1", "path": "/"}])
                drawn = []
                for _ in range(2):  # a fresh server's first page view, then a reload
                    t0 = time.perf_counter()
                    page.goto(f"http://127.0.0.1:{port}/task?id={task_id}")
                    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .scatterlayer').length"
                                           f" >= {charts}", timeout=120_000)
                    drawn.append(time.perf_counter() - t0)
                time.sleep(1.0)  # let the session settle
                rss = psutil.Process(proc.pid).memory_info().rss
            finally:
                browser.close()
        return rss, drawn[0], drawn[1]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, 9)
            proc.wait(5)


def run(cfg: Config) -> list[Row]:
    lines = cfg.size(100_000, 10_000)
    flood_mb = cfg.size(200, 20)
    ingest = Row("8", f"memory: worker peak RSS, ingesting {lines // 1000}k metric lines", unit=" MiB",
                 goal=Goal("<=", 300, " MiB"))
    flood = Row("8", f"memory: worker peak RSS, a run printing {flood_mb} MB of log", unit=" MiB",
                goal=Goal("<=", 300, " MiB"))
    idle = Row("8", "memory: worker RSS when idle, before the runs", unit=" MiB")
    ui = Row("8", f"memory: Streamlit server RSS, task page with {lines // 1000}k points × 2 series", unit=" MiB")
    page = Row("8", "task page: opened → both charts drawn, first view of a fresh server (Chromium)", unit=" s")
    reload = Row("8", "task page: reloaded → both charts drawn", unit=" s")
    with cfg.stack("memory") as st:
        worker = st.start_worker()
        ds = st.add_dataset()
        ingest_model = st.deploy(train=ingestion.TRAIN)
        flood_model = st.deploy(train=FLOOD_TRAIN)
        st.wait_idle()
        idle.values.append(psutil.Process(worker.pid).memory_info().rss / MiB)
        with PeakRss(worker.pid) as watch:
            result = ingestion.platform_run(st, model=ingest_model, dataset=ds, lines=lines)
        ingest.values.append(watch.peak / MiB)
        ingest.note = f"{watch.how}; {result['lines_stored']:,} lines stored"
        st.wait_idle()
        with PeakRss(worker.pid) as watch:
            task_id = st.start_task(model_id=flood_model, dataset_id=ds, params={"mb": (str(flood_mb), False)},
                                    metrics=["loss"])
            st.wait_task(task_id, timeout=600, poll_s=0.05)
        run_ = st.only_run(task_id)
        flood.values.append(watch.peak / MiB)
        log_size = st.settings.path(run_.log_path).stat().st_size
        flood.note = (f"{watch.how}; log kept {log_size / MiB:.0f} MiB, {run_.log_bytes_dropped / MiB:.0f} MiB "
                      f"dropped (log limit {st.settings.max_log_bytes / MiB:.0f} MiB: head on disk, tail ring in "
                      "memory)")
        if _chromium() is None:
            ui.note = page.note = reload.note = "skipped: Debian's chromium is not installed (apt-get install chromium)"
        else:
            try:
                rss, first, again = streamlit_rss(st, task_id=result["task_id"], charts=2)
                ui.values.append(rss / MiB)
                ui.note = "after the page was opened and reloaded, charts drawn"
                page.values.append(first)
                reload.values.append(again)
            except Exception as exc:  # noqa: BLE001 - the worker rows above still count
                ui.error = page.error = reload.error = \
                    f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    return [ingest, flood, idle, ui, page, reload]
