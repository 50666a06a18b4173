"""The results table: one row per measured quantity, with the median over
repeated runs, min and max, the goal and whether the median meets it, plus
the description of the machine the numbers came from."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path


class Verdict(str, Enum):
    met = "yes"
    missed = "**no**"
    none = "—"  # no goal for this row (a baseline, a count)
    failed = "**failed**"  # the measurement itself could not be taken


@dataclass
class Goal:
    """``value <op> bound``; ``op`` is one of <=, >=, ==."""

    op: str
    bound: float
    unit: str = ""

    def check(self, value: float) -> bool:
        if self.op == "<=":
            return value <= self.bound
        if self.op == ">=":
            return value >= self.bound
        if self.op == "==":
            return value == self.bound
        raise ValueError(f"goal operator {self.op!r}: use <=, >= or ==")

    def text(self) -> str:
        bound = f"{self.bound:,.0f}" if float(self.bound).is_integer() else f"{self.bound:g}"
        return f"{'≤' if self.op == '<=' else '≥' if self.op == '>=' else '='} {bound}{self.unit}"


@dataclass
class Row:
    figure: str
    measure: str
    values: list[float] = field(default_factory=list)
    unit: str = ""
    goal: Goal | None = None
    note: str = ""
    error: str | None = None
    every: bool = False  # the goal must hold for every value (counts: "none lost"), not only the median

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def verdict(self) -> Verdict:
        if self.error is not None or (self.goal is not None and not self.values):
            return Verdict.failed
        if self.goal is None:
            return Verdict.none
        values = self.values if self.every else [self.median]
        return Verdict.met if all(self.goal.check(v) for v in values) else Verdict.missed

    def cells(self) -> list[str]:
        if self.error is not None or not self.values:
            blank = ["—"] * 4
            note = self.error or self.note
            return [self.figure, self.measure, *blank, self.goal.text() if self.goal else "—", self.verdict.value,
                    note]
        u = self.unit
        return [self.figure, self.measure, f"{_num(self.median)}{u}", f"{_num(min(self.values))}{u}",
                f"{_num(max(self.values))}{u}", str(len(self.values)), self.goal.text() if self.goal else "—",
                self.verdict.value, self.note]


HEADER = ["#", "measure", "median", "min", "max", "n", "goal", "met", "note"]


def _num(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e4:
        return str(int(v))
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a >= 0.01:
        return f"{v:.3f}"
    return f"{v:.2g}"


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] * len(HEADER)) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_escape(c) for c in row.cells()) + " |")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _bwrap_version(path: str | None) -> str:
    if not path:
        return "none"
    import subprocess

    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or out.stderr.strip() or path
    except OSError:
        return path


def machine_description(*, bwrap: str | None, sandbox: str) -> list[str]:
    import sqlite3

    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    return [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {_cpu_model()}, {os.cpu_count()} logical cores; memory {_mem_total()}; "
        f"load average at start {load}",
        f"- OS: {platform.platform()}",
        f"- Python {sys.version.split()[0]} ({sys.executable}); SQLite {sqlite3.sqlite_version}",
        f"- sandbox: {sandbox} ({_bwrap_version(bwrap)})",
    ]
