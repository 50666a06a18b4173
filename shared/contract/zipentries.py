"""One zip entry at a time: whether it is OS litter, its decoded name, its path
components (refused if they could land outside the extraction root) and its kind
(regular file or folder; links, devices and pipes are refused). ``archive`` uses
these while planning an extraction."""

from __future__ import annotations

import re
import stat
import zipfile

from shared.contract.names import APPLEDOUBLE_PREFIX, JUNK_DIRS, JUNK_FILES
from shared.core.errors import ArchiveError, Msg
from shared.core.i18n import N_

_DRIVE_RE = re.compile(r"^[A-Za-z]:")
# Zips made on Windows may upper-case names: junk is matched case-insensitively.
_JUNK_FILES = {n.lower() for n in JUNK_FILES}
_JUNK_DIRS = {n.lower() for n in JUNK_DIRS}
# Said after "; " in some messages and as a sentence of its own in others: both spellings are catalog entries.
FIX_ZIP = Msg(N_("re-create the zip from the folder with a standard tool (`zip -r`, Finder or Explorer 'Compress')"))
FIX_ZIP_SENTENCE = Msg(N_("Re-create the zip from the folder with a standard tool (`zip -r`, Finder or Explorer "
                          "'Compress')"))


def is_junk(name: str) -> bool:
    """OS litter that is never extracted: __MACOSX/, .DS_Store, Thumbs.db, AppleDouble ``._*`` files."""
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    if not parts:
        return False
    if any(p.lower() in _JUNK_DIRS for p in parts):
        return True
    base = parts[-1]
    if name.endswith("/"):
        return False
    return base.lower() in _JUNK_FILES or base.startswith(APPLEDOUBLE_PREFIX)


def clean_parts(raw: str) -> tuple[str, ...]:
    """The entry's path components, or ArchiveError if it could land outside the root.

    Backslashes are read as separators (old Windows tools write them), so a
    ``..\\..\\x`` trick is caught by the same ``..`` rule as ``../../x``.
    """
    shown = repr(raw) if any(ord(c) < 32 for c in raw) else f"'{raw}'"
    if "\x00" in raw:
        raise ArchiveError(N_("zip entry {shown} has a NUL byte in its name; {fix_zip}"),
                           params={"shown": shown, "fix_zip": FIX_ZIP})
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise ArchiveError(N_("zip entry {shown} has control characters in its name; rename the file"),
                           params={"shown": shown})
    name = raw.replace("\\", "/")
    if name.startswith("/"):
        raise ArchiveError(N_("zip entry {shown} has an absolute path; only relative paths are allowed. {fix_zip}"),
                           params={"shown": shown, "fix_zip": FIX_ZIP_SENTENCE})
    if _DRIVE_RE.match(name):
        raise ArchiveError(N_("zip entry {shown} starts with a drive letter; only relative paths are allowed. "
                              "{fix_zip}"), params={"shown": shown, "fix_zip": FIX_ZIP_SENTENCE})
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ArchiveError(N_("zip entry {shown} has a '..' component that points outside the archive; {fix_zip}"),
                           params={"shown": shown, "fix_zip": FIX_ZIP})
    for p in parts:
        if len(p.encode("utf-8", "surrogateescape")) > 255:
            raise ArchiveError(N_("zip entry {shown} has a name component longer than 255 bytes; rename it"),
                               params={"shown": shown})
    return parts


def entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name, decoded the way its maker most likely meant it.

    Without the UTF-8 flag zipfile decodes names as cp437, but macOS and Linux
    tools write UTF-8 without setting the flag, and Windows Explorer in Chinese
    locales writes GBK. cp437 maps every byte, so the raw bytes are recovered
    exactly and tried as UTF-8, then GBK, before cp437 is kept.
    """
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.orig_filename.encode("cp437")
    if raw.isascii():
        return info.filename
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def entry_kind(info: zipfile.ZipInfo, name: str, shown: str) -> bool:
    """True for a directory, False for a regular file; ArchiveError for anything else."""
    mode = info.external_attr >> 16
    fmt = stat.S_IFMT(mode)
    if fmt == stat.S_IFLNK:
        raise ArchiveError(N_("zip entry {shown} is a symbolic link; links are not allowed in uploads. Replace it "
                              "with the file it points to (plain `zip -r` stores the file, `zip -y` stores the "
                              "link)"), params={"shown": shown})
    if fmt not in (0, stat.S_IFREG, stat.S_IFDIR):
        kinds = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
                 stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket"}
        kind = kinds.get(fmt, f"a special file (mode {oct(mode)})")
        raise ArchiveError(N_("zip entry {shown} is {kind}; only regular files and folders are allowed"),
                           params={"shown": shown, "kind": kind})
    return name.endswith("/") or fmt == stat.S_IFDIR
