"""Zip an example model package (examples/<name>/) into an uploadable model zip.

    python -m examples.packages classification classification.zip
    python -m examples.packages detection det.zip
    python -m examples.packages --list

The zip holds one top folder named after the package, as a user's zip usually
does (the platform unwraps it, CONTRACT §2). Caches and local training output
are left out, and entries carry a fixed date, so the same sources give the
same bytes.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from shared.contract.names import JUNK_FILES, PREDICT_SCRIPT, REQUIREMENTS_FILE, TRAIN_SCRIPT, WEIGHTS_DIR

EXAMPLES_DIR = Path(__file__).resolve().parent
REQUIRED = (TRAIN_SCRIPT, PREDICT_SCRIPT, REQUIREMENTS_FILE, WEIGHTS_DIR)
# Local artefacts of trying the example by hand: never part of the package.
_EXCLUDED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", "work_dir", "predictions"}
_EXCLUDED_FILES = JUNK_FILES
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
_ZIP_DATE = (2024, 1, 1, 0, 0, 0)


def available() -> list[str]:
    """Names of the example packages: folders here that hold a train.py."""
    return sorted(p.name for p in EXAMPLES_DIR.iterdir() if p.is_dir() and (p / "train.py").is_file())


def _included(rel: Path) -> bool:
    if any(part in _EXCLUDED_DIRS for part in rel.parts[:-1]) or rel.name in _EXCLUDED_DIRS:
        return False
    return rel.name not in _EXCLUDED_FILES and not rel.name.endswith(_EXCLUDED_SUFFIXES)


def build_package_zip(*, name: str, dest: Path) -> Path:
    """Write examples/<name> as a model zip at ``dest`` (a file path) and return it."""
    src = EXAMPLES_DIR / name
    if name not in available():
        raise ValueError(f"no example package {name!r}; choose one of: {', '.join(available())}")
    missing = [r for r in REQUIRED if not (src / r).exists()]
    if missing:
        raise ValueError(f"examples/{name} lacks {', '.join(missing)}, which every model package needs")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src)
            if not _included(rel) or path.is_symlink():
                continue
            arcname = f"{name}/{rel.as_posix()}" + ("/" if path.is_dir() else "")
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
            if path.is_dir():
                info.external_attr = 0o40755 << 16
                zf.writestr(info, b"")
            else:
                info.external_attr = (0o755 if path.suffix == ".sh" else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    tmp.replace(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.packages", description="Zip an example model package")
    parser.add_argument("name", nargs="?", help="example package: " + ", ".join(available()))
    parser.add_argument("dest", nargs="?", type=Path, help="zip file to write (default: <name>.zip)")
    parser.add_argument("--list", action="store_true", help="list the example packages and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(available()))
        return 0
    if not args.name:
        parser.error("name an example package: " + ", ".join(available()))
    try:
        out = build_package_zip(name=args.name, dest=args.dest or Path(f"{args.name}.zip"))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
