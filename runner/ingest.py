"""Streaming metric ingestion: parse each output line as it arrives and write
metric rows in batches from a background thread, so a flood of output never
waits on the database and the log never sits in memory whole."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from sqlalchemy.engine import Engine

from shared.metrics import looks_like_metrics, parse_line
from shared.models import MetricPoint

_BATCH = 5000
_FLUSH_EVERY_S = 0.5


class MetricWriter(threading.Thread):
    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True, name="metric-writer")
        self.engine = engine
        self.q: queue.Queue[list[dict[str, Any]] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.written = 0

    def put(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.q.put(rows)

    def run(self) -> None:
        table = MetricPoint.__table__
        done = False
        while not done:
            batch: list[dict[str, Any]] = []
            try:
                item = self.q.get(timeout=_FLUSH_EVERY_S)
            except queue.Empty:
                continue
            while True:
                if item is None:
                    done = True
                    break
                batch.extend(item)
                if len(batch) >= _BATCH * 4:
                    break
                try:
                    item = self.q.get_nowait()
                except queue.Empty:
                    break
            if batch and self.error is None:
                try:
                    with self.engine.begin() as conn:
                        conn.execute(table.insert(), batch)
                    self.written += len(batch)
                except BaseException as exc:  # noqa: BLE001 - reported by close()
                    self.error = exc

    def close(self, timeout: float = 60.0) -> None:
        self.q.put(None)
        self.join(timeout)


class MetricCollector:
    """The ``on_line`` callback of a run: parses lines and feeds the writer."""

    def __init__(self, *, run_id: int, writer: MetricWriter, eval_metric: str | None) -> None:
        self.run_id = run_id
        self.writer = writer
        self.eval_metric = eval_metric
        self.seq = 0
        self.lines = 0
        self.names: dict[str, None] = {}
        self.last_unparsed: str | None = None
        self.last_unparsed_line = 0
        self.eval_values: list[float] = []
        self._pending: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()

    def __call__(self, stream: str, text: str) -> None:
        self.lines += 1
        pairs = parse_line(text)
        if not pairs:
            if looks_like_metrics(text):
                self.last_unparsed = text[:500]
                self.last_unparsed_line = self.lines
            return
        seq = self.seq
        self.seq += 1
        rid = self.run_id
        for name, value in pairs.items():
            self._pending.append({"run_id": rid, "name": name, "seq": seq, "value": value})
            if name not in self.names:
                self.names[name] = None
        if self.eval_metric is not None and self.eval_metric in pairs:
            self.eval_values.append(pairs[self.eval_metric])
        if len(self._pending) >= _BATCH or time.monotonic() - self._last_flush > _FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.writer.put(self._pending)
            self._pending = []
        self._last_flush = time.monotonic()
