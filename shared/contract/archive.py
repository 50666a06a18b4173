"""Safe zip extraction, shared by datasets and model packages.

An upload is extracted into a temporary folder next to its destination (same
filesystem), the single-top-folder rule of CONTRACT §1.1 is applied, and only
then is the result renamed into place. Any refusal or error leaves nothing on
disk: no temp folder, no destination.

Everything in the zip's central directory is checked before a byte is
written (names, entry types, encryption, counts, declared sizes, compression
ratios), and while streaming the real byte counts are checked again, because
the declared sizes are written by whoever made the zip.
"""

from __future__ import annotations

import lzma
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.contract.zipentries import FIX_ZIP, clean_parts, entry_kind, entry_name, is_junk
from shared.core.errors import ArchiveError
from shared.core.i18n import N_
from shared.core.settings import format_size

_CHUNK = 1024 * 1024
_PROGRESS_EVERY_S = 0.2
# Below this many bytes an entry cannot be a bomb worth the name, however well
# it compresses: a 1 MB JSON of spaces legitimately compresses 1000:1.
_RATIO_FLOOR = 10 * 1024 * 1024
_SUPPORTED_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_METHOD_NAMES = {9: "Deflate64", 6: "Implode", 93: "Zstandard", 95: "XZ", 98: "PPMd", 99: "AES"}



@dataclass(frozen=True)
class ArchiveLimits:
    max_compressed_bytes: int | None
    max_uncompressed_bytes: int | None
    max_entries: int
    max_ratio: float
    # Ratio checks apply to entries (and archives) larger than this; see _RATIO_FLOOR.
    ratio_floor_bytes: int = _RATIO_FLOOR

    @classmethod
    def from_settings(cls, settings: Any) -> ArchiveLimits:
        return cls(
            max_compressed_bytes=settings.max_upload_bytes,
            max_uncompressed_bytes=settings.max_uncompressed_bytes,
            max_entries=settings.max_entries,
            max_ratio=settings.max_compression_ratio,
        )


@dataclass
class ExtractResult:
    root: Path
    files: int
    bytes: int
    unwrapped: str | None  # name of the single top folder whose contents became the root


@dataclass
class _Entry:
    info: zipfile.ZipInfo
    name: str  # as decoded by entry_name
    parts: tuple[str, ...]
    is_dir: bool

    @property
    def path(self) -> str:
        return "/".join(self.parts)


def _plan(zf: zipfile.ZipFile, zip_name: str, size: int, limits: ArchiveLimits) -> list[_Entry]:
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise ArchiveError(N_("{zip_name} has {count} entries; the limit is {limit}. Split the upload or ask the "
                              "administrator to raise TRAINYARD_MAX_ENTRIES"),
                           params={"zip_name": zip_name, "count": len(infos), "limit": limits.max_entries})
    entries: list[_Entry] = []
    files: dict[str, str] = {}  # exact path -> entry name, for regular files
    dirs: dict[str, str] = {}  # exact path -> entry name, explicit and implied folders
    folded: dict[str, tuple[str, str]] = {}  # casefolded path -> (exact path, entry), files and folders
    total = 0

    def claim(path: str, as_dir: bool, entry: str) -> None:
        exact = files if not as_dir else dirs
        other = dirs if not as_dir else files
        if path in other:
            raise ArchiveError(N_("zip entry '{entry}' clashes with '{other}': '{path}' is used both as a file and "
                                  "as a folder; rename one of them"),
                               params={"entry": entry, "other": other[path], "path": path})
        if path in exact:
            if as_dir:
                return  # the same folder named twice (explicitly or by its files) is harmless
            raise ArchiveError(N_("zip entry '{entry}' appears twice in the archive; {fix_zip}"),
                               params={"entry": entry, "fix_zip": FIX_ZIP})
        key = path.casefold()
        if key in folded and folded[key][0] != path:
            raise ArchiveError(N_("zip entries '{first}' and '{entry}' differ only in upper/lower case "
                                  "('{first_path}' vs '{path}'); they would overwrite each other on Windows and "
                                  "macOS. Rename one of them"),
                               params={"first": folded[key][1], "entry": entry, "first_path": folded[key][0],
                                       "path": path})
        folded[key] = (path, entry)
        exact[path] = entry

    for info in infos:
        name = entry_name(info)
        shown = f"'{name}'"
        parts = clean_parts(name)
        if is_junk(name):
            continue
        is_dir = entry_kind(info, name, shown)
        if not parts:
            if is_dir:
                continue  # "./" or "/"-only folder entries name the root itself
            raise ArchiveError(N_("zip entry {shown} has no file name; {fix_zip}"),
                               params={"shown": shown, "fix_zip": FIX_ZIP})
        if info.flag_bits & 0x1:
            raise ArchiveError(N_("zip entry {shown} is encrypted; upload a zip without a password"),
                               params={"shown": shown})
        if not is_dir and info.compress_type not in _SUPPORTED_METHODS:
            method = _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise ArchiveError(N_("zip entry {shown} is compressed with {method}, which is not supported; "
                                  "re-create the zip with standard Deflate compression (`zip -r`, or 7-Zip with "
                                  "'Deflate' rather than 'Deflate64')"), params={"shown": shown, "method": method})
        for i in range(1, len(parts)):
            claim("/".join(parts[:i]), True, name)
        claim("/".join(parts), is_dir, name)
        if not is_dir:
            total += info.file_size
            if limits.max_uncompressed_bytes is not None and total > limits.max_uncompressed_bytes:
                raise _too_big(zip_name, limits, shown)
            _check_ratio(shown, info.file_size, info.compress_size, limits)
        entries.append(_Entry(info=info, name=name, parts=parts, is_dir=is_dir))
    if not entries:
        raise ArchiveError(N_("{zip_name} contains no files; zip the folder's contents and upload again"),
                           params={"zip_name": zip_name})
    if total > limits.ratio_floor_bytes and total / max(size, 1) > limits.max_ratio:
        raise ArchiveError(N_("{zip_name} would unpack {unpacked} from {size} (ratio {ratio:.0f}:1, limit "
                              "{max_ratio:.0f}:1); this looks like a zip bomb and was refused"),
                           params={"zip_name": zip_name, "unpacked": format_size(total), "size": format_size(size),
                                   "ratio": total / max(size, 1), "max_ratio": limits.max_ratio})
    return entries


def _too_big(zip_name: str, limits: ArchiveLimits, shown: str) -> ArchiveError:
    return ArchiveError(N_("{zip_name} unpacks to more than {limit} (reached at entry {shown}); the limit is "
                           "TRAINYARD_MAX_UNCOMPRESSED_BYTES. Upload a smaller archive"),
                        params={"zip_name": zip_name, "limit": format_size(limits.max_uncompressed_bytes),
                                "shown": shown})


def _check_ratio(shown: str, uncompressed: int, compressed: int, limits: ArchiveLimits) -> None:
    if uncompressed > limits.ratio_floor_bytes and uncompressed / max(compressed, 1) > limits.max_ratio:
        raise ArchiveError(N_("zip entry {shown} expands {compressed} to {uncompressed} (ratio {ratio:.0f}:1, "
                              "limit {max_ratio:.0f}:1); this looks like a zip bomb and was refused"),
                           params={"shown": shown, "compressed": format_size(compressed),
                                   "uncompressed": format_size(uncompressed),
                                   "ratio": uncompressed / max(compressed, 1), "max_ratio": limits.max_ratio})


def _unwrap_name(entries: list[_Entry]) -> str | None:
    """The single top-level folder (CONTRACT §1.1), if the first level holds only it."""
    tops = {e.parts[0] for e in entries}
    if len(tops) != 1:
        return None
    top = next(iter(tops))
    if any(len(e.parts) == 1 and not e.is_dir for e in entries):
        return None  # the only top-level name is a file
    return top


class _Progress:
    def __init__(self, callback: Callable[[int, int], None] | None, total: int) -> None:
        self.callback = callback
        self.total = total
        self.last = 0.0

    def __call__(self, done: int, *, force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if force or now - self.last >= _PROGRESS_EVERY_S:
            self.last = now
            self.callback(done, self.total)


def safe_extract(*, zip_path: Path, dest: Path, limits: ArchiveLimits,
                 progress: Callable[[int, int], None] | None = None, display_name: str | None = None) -> ExtractResult:
    """Extract ``zip_path`` into ``dest`` (which must not exist) or raise ArchiveError leaving nothing;
    errors name the zip ``display_name`` (the user's file name, not an upload's temp file) when given."""
    zip_path = Path(zip_path)
    dest = Path(dest)
    zip_name = display_name or zip_path.name
    if dest.exists() or dest.is_symlink():
        raise ArchiveError(N_("cannot extract {zip_name}: the destination {dest} already exists"),
                           params={"zip_name": zip_name, "dest": dest})
    try:
        size = zip_path.stat().st_size
    except OSError as err:
        raise ArchiveError(N_("cannot read {zip_name}: {error}"),
                           params={"zip_name": zip_name, "error": err.strerror or err}) from None
    if limits.max_compressed_bytes is not None and size > limits.max_compressed_bytes:
        raise ArchiveError(N_("{zip_name} is {size}; uploads are limited to {limit} (TRAINYARD_MAX_UPLOAD)"),
                           params={"zip_name": zip_name, "size": format_size(size),
                                   "limit": format_size(limits.max_compressed_bytes)})
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
        raise ArchiveError(N_("{zip_name} is not a zip archive ({err}); upload a .zip file"),
                           params={"zip_name": zip_name, "err": err}) from None
    except OSError as err:
        raise ArchiveError(N_("cannot read {zip_name}: {error}"),
                           params={"zip_name": zip_name, "error": err.strerror or err}) from None
    with zf:
        entries = _plan(zf, zip_name, size, limits)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".extracting", dir=dest.parent))
        try:
            files, written = _write_all(zf, entries, tmp, zip_name, size, limits, progress)
            unwrapped = _unwrap_name(entries)
            source = tmp / unwrapped if unwrapped is not None else tmp
            source.chmod(0o755)
            if dest.exists() or dest.is_symlink():
                raise ArchiveError(N_("cannot extract {zip_name}: the destination {dest} appeared meanwhile"),
                                   params={"zip_name": zip_name, "dest": dest})
            os.rename(source, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if unwrapped is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return ExtractResult(root=dest, files=files, bytes=written, unwrapped=unwrapped)


def _write_all(zf: zipfile.ZipFile, entries: list[_Entry], tmp: Path, zip_name: str, size: int,
               limits: ArchiveLimits, progress: Callable[[int, int], None] | None) -> tuple[int, int]:
    declared = sum(e.info.file_size for e in entries if not e.is_dir)
    report = _Progress(progress, declared)
    report(0, force=True)
    made: set[tuple[str, ...]] = set()

    def mkdirs(parts: tuple[str, ...]) -> None:
        for i in range(1, len(parts) + 1):
            key = parts[:i]
            if key in made:
                continue
            path = tmp.joinpath(*key)
            os.mkdir(path, 0o755)
            path.chmod(0o755)  # the umask must not decide who can read an upload
            made.add(key)

    done = 0
    files = 0
    for entry in entries:
        shown = f"'{entry.name}'"
        try:
            if entry.is_dir:
                mkdirs(entry.parts)
                continue
            mkdirs(entry.parts[:-1])
            done = _write_one(zf, entry, tmp.joinpath(*entry.parts), done, shown, zip_name, limits, report)
            files += 1
        except ArchiveError:
            raise
        except OSError as err:
            raise ArchiveError(N_("could not write zip entry {shown}: {error}"),
                               params={"shown": shown, "error": err.strerror or err}) from None
    if limits.ratio_floor_bytes < done and done / max(size, 1) > limits.max_ratio:
        raise ArchiveError(N_("{zip_name} unpacked {unpacked} from {size} (ratio {ratio:.0f}:1, limit "
                              "{max_ratio:.0f}:1); this looks like a zip bomb and was refused"),
                           params={"zip_name": zip_name, "unpacked": format_size(done), "size": format_size(size),
                                   "ratio": done / max(size, 1), "max_ratio": limits.max_ratio})
    report(done, force=True)
    return files, done


def _write_one(zf: zipfile.ZipFile, entry: _Entry, target: Path, done: int, shown: str, zip_name: str,
               limits: ArchiveLimits, report: _Progress) -> int:
    info = entry.info
    # O_EXCL | O_NOFOLLOW: never overwrite, never write through a link, whatever slipped past the plan.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_BINARY", 0),
                 0o644)
    written = 0
    with os.fdopen(fd, "wb") as out, zf.open(info) as src:
        os.fchmod(out.fileno(), 0o644)
        while True:
            try:
                chunk = src.read(_CHUNK)
            except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError) as err:
                # bz2 reports bad data as a bare OSError; it is still the archive's fault, not the disk's.
                raise ArchiveError(N_("zip entry {shown} is corrupt ({err}); {fix_zip}"),
                                   params={"shown": shown, "err": err, "fix_zip": FIX_ZIP}) from None
            if not chunk:
                break
            written += len(chunk)
            done += len(chunk)
            if written > info.file_size:
                raise ArchiveError(N_("zip entry {shown} holds more data than its header declares "
                                      "({size} bytes); the archive is corrupt or forged. {fix_zip}"),
                                   params={"shown": shown, "size": info.file_size, "fix_zip": FIX_ZIP})
            if limits.max_uncompressed_bytes is not None and done > limits.max_uncompressed_bytes:
                raise _too_big(zip_name, limits, shown)
            _check_ratio(shown, written, info.compress_size, limits)
            out.write(chunk)
            report(done)
    return done
