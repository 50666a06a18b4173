"""Streaming metric ingestion: parse each output line as it arrives and write
metric rows in batches from a background thread, so a flood of output never
waits on the database and the log never sits in memory whole."""

from __future__ import annotations

import queue
import threading
import time

from sqlalchemy.engine import Engine

from shared.contract.ansi import strip_ansi
from shared.contract.metrics import looks_like_metrics, parse_line
from shared.records import MetricPoint

_BATCH = 5000
_FLUSH_EVERY_S = 0.5
_COLUMNS = ("run_id", "name", "seq", "value")
Row = tuple[int, str, int, float]


class MetricWriter(threading.Thread):
    """Inserts the collector's rows, ``(run_id, name, seq, value)`` tuples, in batches.

    On SQLite the batch goes to the driver's ``executemany`` as plain tuples:
    SQLAlchemy's per-row parameter processing cost more than SQLite's own
    insert (bench figure 4), and sqlite3 releases the GIL while it steps, so
    the run's reader keeps going meanwhile. Other databases take the Core
    insert, whose dialects batch it (psycopg2's execute_values).
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True, name="metric-writer")
        self.engine = engine
        self.q: queue.Queue[list[Row] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.written = 0
        table = MetricPoint.__table__
        self._raw_sql: str | None = None
        if engine.dialect.name == "sqlite":
            self._raw_sql = (f"INSERT INTO {table.name} ({', '.join(_COLUMNS)}) "
                             f"VALUES ({', '.join('?' for _ in _COLUMNS)})")

    def put(self, rows: list[Row]) -> None:
        if rows:
            self.q.put(rows)

    def _insert(self, batch: list[Row]) -> None:
        with self.engine.begin() as conn:
            if self._raw_sql is not None:
                conn.exec_driver_sql(self._raw_sql, batch)
            else:
                conn.execute(MetricPoint.__table__.insert(), [dict(zip(_COLUMNS, row, strict=True)) for row in batch])

    def run(self) -> None:
        done = False
        while not done:
            batch: list[Row] = []
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
                    self._insert(batch)
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
        self._pending: list[Row] = []
        self._last_flush = time.monotonic()

    def __call__(self, stream: str, text: str) -> None:
        self.lines += 1
        if "\x1b" in text:  # a coloured logger's "\x1b[32mloss: 0.3\x1b[0m" is still a metric line
            text = strip_ansi(text)
        pairs = parse_line(text)
        if not pairs:
            # looks_like_metrics needs an '=' or ':'; its regex is searched from every position of
            # the line, which made plain log floods cost ~180 µs a line (bench figure 8).
            if ("=" in text or ":" in text) and looks_like_metrics(text):
                self.last_unparsed = text[:500]
                self.last_unparsed_line = self.lines
            return
        seq = self.seq
        self.seq += 1
        rid = self.run_id
        pending = self._pending
        names = self.names
        for name, value in pairs.items():
            pending.append((rid, name, seq, value))
            if name not in names:
                names[name] = None
        if self.eval_metric is not None and self.eval_metric in pairs:
            self.eval_values.append(pairs[self.eval_metric])
        if len(pending) >= _BATCH or time.monotonic() - self._last_flush > _FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.writer.put(self._pending)
            self._pending = []
        self._last_flush = time.monotonic()
