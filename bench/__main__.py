"""``python -m bench [--quick] [--no-write] [--only 1,4]``: run the figures,
print the table, and (full mode) write it to bench/RESULTS.md with the
machine description and the hand-written analysis in bench/notes.md.

Each figure starts the platform it needs (embedded Redis or REDIS_URL, its own
DATA_DIR and SQLite file, worker daemons) and stops it by PID. A figure that
crashes is reported in the table and makes the exit status 1; a figure that
misses its goal does not (no timing is asserted anywhere).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from bench import (
    chart_cost,
    dispatch,
    env_build,
    ingestion,
    memory,
    overhead,
    search_efficiency,
    stop_latency,
    throughput,
)
from bench.config import WORK, Config
from bench.report import Goal, Row, machine_description, markdown_table
from bench.stack import world_dir

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
NOTES = HERE / "notes.md"
SAVED = WORK / "results.json"  # the last full run's rows, for --render

FIGURES = {
    "1": ("dispatch latency", dispatch.run),
    "2": ("overhead ratio", overhead.run),
    "3": ("env build", env_build.run),
    "4": ("metric ingestion", ingestion.run),
    "5": ("chart cost", chart_cost.run),
    "6": ("search efficiency", search_efficiency.run),
    "7": ("throughput", throughput.run),
    "8": ("memory", memory.run),
    "9": ("stop latency", stop_latency.run),
}


def _sandbox(settings) -> tuple[bool, str, str | None]:
    """(run without the sandbox?, description, bwrap path)."""
    from runner.sandbox import check_sandbox
    from shared.core.errors import SandboxError

    if settings.unsafe_no_sandbox:
        return True, "OFF (TRAINYARD_UNSAFE_NO_SANDBOX=1)", None
    try:
        path = check_sandbox(settings=settings)
        return False, f"bubblewrap {path}", path
    except SandboxError as exc:
        # The platform's own answer on such a machine; the numbers then leave out bwrap's start-up.
        print(f"warning: {exc}\nThe benchmarks run WITHOUT the sandbox.", file=sys.stderr)
        return True, "OFF: bubblewrap cannot start here, runs used TRAINYARD_UNSAFE_NO_SANDBOX", None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, for CI: keeps the scripts from rotting")
    ap.add_argument("--no-write", action="store_true", help="print the table only; leave RESULTS.md alone")
    ap.add_argument("--only", help="comma-separated figure numbers, e.g. 1,4")
    ap.add_argument("--render", action="store_true",
                    help="measure nothing: rewrite RESULTS.md from the last full run's rows and the current "
                         "notes.md")
    ap.add_argument("--data-dir", type=Path,
                    help="where the throw-away platforms live (default: DATA_DIR/bench); must be "
                         "world-traversable, the sandbox runs as an unprivileged uid")
    args = ap.parse_args(argv)
    if args.render:
        return _render()

    from shared.core.settings import Settings

    settings = Settings()
    wanted = [f.strip() for f in args.only.split(",")] if args.only else list(FIGURES)
    unknown = [f for f in wanted if f not in FIGURES]
    if unknown:
        ap.error(f"no figure {', '.join(unknown)}; the figures are {', '.join(FIGURES)}")
    base = world_dir((args.data_dir or settings.data_dir / "bench").resolve())
    unsafe, sandbox_text, bwrap = _sandbox(settings)
    cfg = Config(quick=args.quick, base=base, redis_url=settings.redis_url,
                 uv_cache_dir=world_dir(WORK / "uv-cache"), unsafe_no_sandbox=unsafe, started=time.monotonic())
    machine = machine_description(bwrap=bwrap, sandbox=sandbox_text)
    rows: list[Row] = []
    crashed = []
    for number in wanted:
        name, fn = FIGURES[number]
        cfg.say(f"figure {number}: {name}")
        t0 = time.monotonic()
        try:
            rows.extend(fn(cfg))
        except Exception as exc:  # noqa: BLE001 - one figure's failure must not hide the others
            traceback.print_exc(file=sys.stderr)
            crashed.append(number)
            rows.append(Row(number, name, error=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"))
        cfg.say(f"figure {number} took {time.monotonic() - t0:.1f} s")
    mode = "quick (CI sizes; not the reference numbers)" if args.quick else "full"
    table = markdown_table(rows)
    print(f"Trainyard benchmarks, {mode} mode, {time.monotonic() - cfg.started:.0f} s\n")
    print("\n".join(machine) + "\n")
    print(table)
    with_base = base
    if not any(with_base.iterdir()):
        with_base.rmdir()
    if not args.no_write:
        target = WORK / "RESULTS.quick.md" if args.quick else RESULTS
        if args.only and not args.quick:
            target = WORK / "RESULTS.partial.md"
        world_dir(target.parent)
        seconds = time.monotonic() - cfg.started
        machine.append(f"- load average at the end {_load()}")
        target.write_text(_document(mode=mode, machine=machine, table=table, seconds=seconds))
        if target == RESULTS:
            SAVED.write_text(json.dumps({"mode": mode, "machine": machine, "seconds": seconds,
                                         "rows": [asdict(r) for r in rows]}, indent=1))
        cfg.say(f"wrote {target}")
    return 1 if crashed or any(r.error for r in rows) else 0


def _load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _render() -> int:
    if not SAVED.exists():
        print(f"no saved full run at {SAVED}; run `python -m bench` first", file=sys.stderr)
        return 1
    data = json.loads(SAVED.read_text())
    rows = [Row(**{**r, "goal": Goal(**r["goal"]) if r["goal"] else None}) for r in data["rows"]]
    RESULTS.write_text(_document(mode=data["mode"], machine=data["machine"], table=markdown_table(rows),
                                 seconds=data["seconds"]))
    print(f"wrote {RESULTS}")
    return 0


def _document(*, mode: str, machine: list[str], table: str, seconds: float) -> str:
    notes = NOTES.read_text(encoding="utf-8") if NOTES.exists() else ""
    return (
        "# Benchmark results\n\n"
        f"Written by `python -m bench` ({mode} mode, {seconds / 60:.0f} min). Medians over repeated runs, with min "
        "and max; *met* compares the median with the goal (for counts, every run). Re-run with "
        "`.venv/bin/python -m bench` (full) or `--quick` (CI sizes).\n\n"
        "## Machine\n\n" + "\n".join(machine) + "\n\n"
        "## Table\n\n" + table + "\n\n" + notes
    )


if __name__ == "__main__":
    sys.exit(main())
