"""The run's log file: the head on disk, past half the limit a bounded ring of
the latest output, mirrored to ``.tail`` for live viewers. The line format
(stream tags) is ``shared.contract.runlog``'s."""

from __future__ import annotations

import contextlib
import os
from collections import deque
from pathlib import Path

from shared.contract.runlog import STDERR, TAGS
from shared.core.settings import format_size

_LIVE_TAIL_BYTES = 256 * 1024    # bound of the .tail file a live viewer reads past the log limit
_TAIL_REFRESH_S = 1.0


def platform_line(text: str) -> bytes:
    """A line of the platform's own (``[trainyard] ...``), shown as stderr."""
    return TAGS[STDERR] + f"[trainyard] {text}\n".encode()


class LogWriter:
    """Head of the log in the file; past half the limit, a ring of the latest
    output (the other half). The ring is mirrored to ``.tail`` for live viewers
    and appended to the file, after a marker, when the run ends.

    ``add`` takes blobs of whole tagged lines; the ring holds blobs and trims
    the oldest at a line boundary.
    """

    def __init__(self, path: Path, max_bytes: int | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tail_path = path.with_suffix(".tail")
        with contextlib.suppress(FileNotFoundError):
            self.tail_path.unlink()
        self.f = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        self.max = max_bytes
        self.head_cap = max_bytes // 2 if max_bytes else None
        self.tail_cap = max_bytes - max_bytes // 2 if max_bytes else 0
        self.head = 0
        self.ring: deque[bytes] = deque()
        self.ring_bytes = 0
        self.dropped = 0
        self.dropped_lines = 0
        self.capped = False
        self.tail_dirty = False
        self.tail_at = 0.0
        self.written = 0
        self.closed = False

    def note(self, text: str) -> None:
        self.add(platform_line(text))

    def add(self, blob: bytes) -> None:
        if not self.capped:
            if self.head_cap is None or self.head + len(blob) <= self.head_cap:
                self.f.write(blob)
                self.head += len(blob)
                return
            k = blob.rfind(b"\n", 0, self.head_cap - self.head) + 1
            if k:
                self.f.write(blob[:k])
                self.head += k
                blob = blob[k:]
            self.capped = True
        self.ring.append(blob)
        self.ring_bytes += len(blob)
        self.tail_dirty = True
        while self.ring_bytes > self.tail_cap and self.ring:
            old = self.ring[0]
            excess = self.ring_bytes - self.tail_cap
            cut = len(old) if len(old) <= excess else (old.find(b"\n", excess - 1) + 1 or len(old))
            self.dropped += cut
            self.dropped_lines += old.count(b"\n", 0, cut)
            self.ring_bytes -= cut
            if cut == len(old):
                self.ring.popleft()
            else:
                self.ring[0] = old[cut:]

    def tick(self, now: float) -> None:
        self.f.flush()
        if self.tail_dirty and now - self.tail_at >= _TAIL_REFRESH_S:
            self.tail_at = now
            self.tail_dirty = False
            parts: list[bytes] = []
            size = 0
            for blob in reversed(self.ring):
                parts.append(blob)
                size += len(blob)
                if size >= _LIVE_TAIL_BYTES:
                    break
            data = b"".join(reversed(parts))
            if len(data) > _LIVE_TAIL_BYTES:
                data = data[data.find(b"\n", len(data) - _LIVE_TAIL_BYTES - 1) + 1:]
            tmp = self.tail_path.with_name(self.tail_path.name + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self.tail_path)

    def close(self) -> tuple[int, int]:
        """Finish the file; return (bytes written, bytes dropped)."""
        if self.closed:
            return self.written, self.dropped
        written = self.head
        if self.capped:
            if self.dropped:
                marker = platform_line(f"… {self.dropped} bytes ({self.dropped_lines} lines) of log dropped "
                                       f"(log limit {format_size(self.max)}); the first and the last "
                                       f"{format_size(self.tail_cap)} are kept …")
                self.f.write(marker)
                written += len(marker)
            for blob in self.ring:
                self.f.write(blob)
            written += self.ring_bytes
        self.f.close()
        with contextlib.suppress(FileNotFoundError):
            self.tail_path.unlink()
        self.closed = True
        self.written = written
        return written, self.dropped

