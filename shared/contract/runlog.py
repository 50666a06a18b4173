"""The run-log format, and reading it back.

A run's log is one line per output line, tagged by stream: ``o `` for stdout,
``e `` for stderr. Past the log limit the runner keeps the head in the log and
the latest lines in ``<log>.tail``. The worker writes this format
(``runner/execute``); the UI and the CLI read it here, so neither imports the runner.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

STDOUT = "stdout"
STDERR = "stderr"
TAGS = {STDOUT: b"o ", STDERR: b"e "}
STREAM_OF_TAG = {b"o": STDOUT, b"e": STDERR}



def parse_line(raw: bytes) -> tuple[str, str]:
    if raw[1:2] == b" " and raw[:1] in STREAM_OF_TAG:
        return STREAM_OF_TAG[raw[:1]], raw[2:].decode("utf-8", "replace")
    return STDOUT, raw.decode("utf-8", "replace")


def last_lines(path: Path, n: int) -> list[bytes]:
    """The last ``n`` complete lines of a file, reading backwards from its end."""
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return []
    with fh:
        fh.seek(0, os.SEEK_END)
        pos = end = fh.tell()
        chunks: list[bytes] = []
        count = 0
        while pos > 0 and count <= n:
            step = min(64 * 1024, pos)
            pos -= step
            fh.seek(pos)
            chunk = fh.read(step)
            chunks.append(chunk)
            count += chunk.count(b"\n")
        data = b"".join(reversed(chunks))
    if end == 0:
        return []
    lines = data.split(b"\n")
    lines.pop()  # after the last \n: empty, or a line still being written
    if pos > 0:
        lines = lines[1:]
    return lines[-n:] if n else []


GAP = (STDERR, "[trainyard] … the log limit was reached; the middle of the log is not kept, "
        "the latest output follows …")


def read_log(*, log_path: Path, tail_lines: int | None = None) -> list[tuple[str, str]]:
    """(stream, text) pairs of a run's log, finished or still running.

    Past the log limit a running run's latest lines are in ``<log>.tail``;
    they are shown after the head with a marker between.
    """
    log_path = Path(log_path)
    tail_file = log_path.with_suffix(".tail")
    try:
        live = tail_file.read_bytes()
    except FileNotFoundError:
        live = None
    extra: list[tuple[str, str]] = []
    if live is not None:
        live_lines = live.split(b"\n")
        live_lines.pop()
        extra = [GAP] + [parse_line(x) for x in live_lines]
    if tail_lines is not None:
        if tail_lines <= 0:
            return []
        if len(extra) >= tail_lines:
            return extra[-tail_lines:]
        head = [parse_line(x) for x in last_lines(log_path, tail_lines - len(extra))]
        return head + extra
    try:
        data = log_path.read_bytes()
    except FileNotFoundError:
        return extra
    lines = data.split(b"\n")
    lines.pop()
    return [parse_line(x) for x in lines] + extra


def iter_plain_log(log_path: Path) -> Iterator[bytes]:
    """The log without stream tags, in chunks, for download."""
    log_path = Path(log_path)
    batch: list[bytes] = []
    size = 0
    sources: list[Path] = [log_path]
    tail_file = log_path.with_suffix(".tail")
    if tail_file.exists():
        sources.append(tail_file)
    for i, src in enumerate(sources):
        if i > 0:
            batch.append(GAP[1].encode() + b"\n")
        try:
            fh = open(src, "rb")  # noqa: SIM115
        except FileNotFoundError:
            continue
        with fh:
            for raw in fh:
                body = raw[2:] if raw[1:2] == b" " and raw[:1] in STREAM_OF_TAG else raw
                batch.append(body)
                size += len(body)
                if size >= 64 * 1024:
                    yield b"".join(batch)
                    batch, size = [], 0
    if batch:
        yield b"".join(batch)
