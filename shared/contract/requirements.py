"""requirements.txt flattening: one list of requirement lines from a package's
requirements.txt and every file it includes, read the way pip reads them.

The result is what the environment builder installs (and hashes), so every
include must resolve to a file inside the package: the environment has to be
rebuildable from the package alone.

Paths follow pip: ``-r`` / ``-c`` includes and local ``--find-links`` folders
are relative to the file that names them; local requirement paths
(``./pkg``, ``-e .``) are relative to the package root, the directory the
installer runs in.
"""

from __future__ import annotations

import codecs
import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.core.errors import PackageError
from shared.core.i18n import N_

# pip's own rule: '#' starts a comment at the start of a line or after whitespace.
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_INCLUDE_OPTS = {"-r": "r", "--requirement": "r", "-c": "c", "--constraint": "c"}
_EDITABLE_OPTS = ("-e", "--editable")
# Options that take a value, written back in their long form.
_VALUE_OPTS = {
    "-i": "--index-url", "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links", "--find-links": "--find-links",
    "--trusted-host": "--trusted-host",
    "--no-binary": "--no-binary", "--only-binary": "--only-binary",
    "--use-feature": "--use-feature",
}
_FLAG_OPTS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes"}
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")


@dataclass
class FlatRequirements:
    requirements: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)  # "--index-url URL", "--find-links wheels", ...
    constraints: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every file read, relative to the root, top file first

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlatRequirements:
        return cls(**{k: list(data.get(k) or []) for k in ("requirements", "options", "constraints", "files")})


def read_text_file(path: Path, *, shown: str) -> str:
    """Decode like pip: a BOM picks UTF-8/16/32, otherwise UTF-8; anything else is refused clearly."""
    data = path.read_bytes()
    for bom, enc in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                     (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise PackageError(N_("{shown} line {line}: the file is not UTF-8 text (byte 0x{byte:02x}); save it with "
                              "UTF-8 encoding"),
                           params={"shown": shown, "line": line, "byte": data[err.start]}) from None


@dataclass
class _Ctx:
    root: Path
    out: FlatRequirements
    stack: list[str]
    done: set[str]


def flatten_requirements(*, package_root: Path, filename: str = "requirements.txt") -> FlatRequirements:
    """Read ``filename`` and its includes; PackageError names the file and line of any bad line."""
    root = Path(package_root).resolve()
    top = root / filename
    if not top.is_file():
        raise PackageError(N_("the package has no {filename} at its root: add one (it may be empty)"),
                           params={"filename": filename})
    ctx = _Ctx(root=root, out=FlatRequirements(), stack=[], done=set())
    if not _inside(ctx, top):
        raise PackageError(N_("{filename} is a link to a file outside the package; replace it with a real file"),
                           params={"filename": filename})
    _read(ctx, top.resolve(), constraint=False)
    return ctx.out


def _rel(ctx: _Ctx, path: Path) -> str:
    return path.relative_to(ctx.root).as_posix()


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """pip's join_lines: a trailing backslash continues the line; comment lines never continue."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        is_comment = bool(_COMMENT_RE.match(line))
        if not line.endswith("\\") or is_comment:
            if is_comment:
                line = " " + line  # so the comment is stripped below even when joined
            if pending:
                pending.append(line)
                out.append((first, "".join(pending)))
                pending = []
            else:
                out.append((number, line))
        else:
            if not pending:
                first = number
            pending.append(line[:-1])
    if pending:
        out.append((first, "".join(pending)))
    return out


def _read(ctx: _Ctx, path: Path, *, constraint: bool) -> None:
    rel = _rel(ctx, path)
    ctx.stack.append(rel)
    ctx.done.add(rel)
    if rel not in ctx.out.files:
        ctx.out.files.append(rel)
    text = read_text_file(path, shown=rel)
    for number, raw in _logical_lines(text):
        line = _COMMENT_RE.sub("", raw).strip()
        if line:
            _line(ctx, path, rel, number, line, constraint=constraint)
    ctx.stack.pop()


def _split(rel: str, number: int, line: str) -> list[str]:
    try:
        return shlex.split(line, posix=True)
    except ValueError as err:
        raise PackageError(N_("{rel} line {number}: cannot read {line!r} ({err}); check the quotes"),
                           params={"rel": rel, "number": number, "line": line, "err": err}) from None


def _add(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def _line(ctx: _Ctx, path: Path, rel: str, number: int, line: str, *, constraint: bool) -> None:
    where = f"{rel} line {number}"
    if not line.startswith("-"):
        _requirement(ctx, where, line, editable=False)
        _add(ctx.out.constraints if constraint else ctx.out.requirements, line)
        return
    tokens = _split(rel, number, line)
    opt, value, rest = _option(tokens)
    if opt in _INCLUDE_OPTS:
        if value is None:
            raise PackageError(N_("{where}: `{opt}` needs a file name, e.g. `{opt} requirements/base.txt`"),
                               params={"where": where, "opt": opt})
        if rest:
            raise PackageError(N_("{where}: unexpected text after `{opt} {value}`: {rest!r}; put one include per "
                                  "line"),
                               params={"where": where, "opt": opt, "value": value, "rest": ' '.join(rest)})
        kind = _INCLUDE_OPTS[opt]
        _include(ctx, path, where, opt, value, constraint=constraint or kind == "c")
        return
    if opt in _EDITABLE_OPTS:
        if value is None:
            raise PackageError(N_("{where}: `{opt}` needs a path or URL, e.g. `-e .`"),
                               params={"where": where, "opt": opt})
        _requirement(ctx, where, value, editable=True)
        _add(ctx.out.constraints if constraint else ctx.out.requirements, f"-e {value}")
        return
    if opt in _VALUE_OPTS:
        if value is None:
            raise PackageError(N_("{where}: `{opt}` needs a value"), params={"where": where, "opt": opt})
        long = _VALUE_OPTS[opt]
        if long == "--find-links" and not _URL_RE.match(value):
            value = _local_find_links(ctx, path, where, value)
        _add(ctx.out.options, f"{long} {value}")
        if rest:
            raise PackageError(N_("{where}: unexpected text after `{opt} {value}`: {rest!r}; put one option per "
                                  "line"),
                               params={"where": where, "opt": opt, "value": value, "rest": ' '.join(rest)})
        return
    if opt in _FLAG_OPTS:
        _add(ctx.out.options, opt)
        return
    known = sorted({*_INCLUDE_OPTS, *_EDITABLE_OPTS, *_VALUE_OPTS, *_FLAG_OPTS})
    raise PackageError(N_("{where}: unknown option `{option}`; requirements files accept {known} and requirement "
                          "lines"),
                       params={"where": where, "option": tokens[0], "known": ', '.join(known)})


def _option(tokens: list[str]) -> tuple[str, str | None, list[str]]:
    """Split ``--opt=value``, ``--opt value``, ``-rfile`` and ``-r file`` into (opt, value, rest)."""
    head, tail = tokens[0], tokens[1:]
    if head.startswith("--"):
        if "=" in head:
            opt, value = head.split("=", 1)
            return opt, value, tail
        if head in _FLAG_OPTS:
            return head, None, tail
        return head, (tail[0] if tail else None), tail[1:]
    opt = head[:2]
    if len(head) > 2:
        return opt, head[2:].lstrip("="), tail
    return opt, (tail[0] if tail else None), tail[1:]


def _inside(ctx: _Ctx, target: Path) -> bool:
    try:
        target.resolve().relative_to(ctx.root)
    except ValueError:
        return False
    return True


def _include(ctx: _Ctx, path: Path, where: str, opt: str, value: str, *, constraint: bool) -> None:
    if _URL_RE.match(value):
        raise PackageError(N_("{where}: `{opt} {value}` includes a URL; the environment must build from the "
                              "package alone. Download the file into the package and include it by relative path"),
                           params={"where": where, "opt": opt, "value": value})
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
        raise PackageError(N_("{where}: `{opt} {value}` is an absolute path; include files inside the package with "
                              "a path relative to this file, e.g. `-r requirements/base.txt`"),
                           params={"where": where, "opt": opt, "value": value})
    target = path.parent / value
    if not _inside(ctx, target):
        raise PackageError(N_("{where}: `{opt} {value}` points outside the package; copy the file into the package "
                              "and include it with a relative path"),
                           params={"where": where, "opt": opt, "value": value})
    resolved = target.resolve()
    if not resolved.is_file():
        what = "is a folder, not a file" if resolved.is_dir() else "does not exist in the package"
        raise PackageError(N_("{where}: `{opt} {value}` {what} (looked for {looked_for}); add the file to the zip "
                              "or remove the line"),
                           params={"where": where, "opt": opt, "value": value, "what": what,
                                   "looked_for": _rel(ctx, resolved)})
    rel = _rel(ctx, resolved)
    if rel in ctx.stack:
        chain = " -> ".join([*ctx.stack[ctx.stack.index(rel):], rel])
        raise PackageError(N_("{where}: `{opt} {value}` makes an include cycle ({chain}); remove one of the "
                              "includes"),
                           params={"where": where, "opt": opt, "value": value, "chain": chain})
    if rel in ctx.done:
        return  # already read through another include (a diamond, not a cycle)
    _read(ctx, resolved, constraint=constraint)


def _local_find_links(ctx: _Ctx, path: Path, where: str, value: str) -> str:
    target = path.parent / value
    if value.startswith(("/", "\\")) or not _inside(ctx, target):
        raise PackageError(N_("{where}: `--find-links {value}` points outside the package; put the wheels in a "
                              "folder inside the package, e.g. `--find-links wheels`"),
                           params={"where": where, "value": value})
    if not target.resolve().exists():
        raise PackageError(N_("{where}: `--find-links {value}` does not exist in the package; add the folder or "
                              "remove the line"), params={"where": where, "value": value})
    return _rel(ctx, target.resolve()) or "."


def _requirement(ctx: _Ctx, where: str, text: str, *, editable: bool) -> None:
    """Refuse local paths that leave the package; everything else is pip's business."""
    spec = text.split(";", 1)[0].strip()
    if " @ " in spec:
        spec = spec.split(" @ ", 1)[1].strip()
    spec = spec.split()[0] if spec.split() else spec
    local: str | None = None
    if spec.lower().startswith("file:"):
        local = re.sub(r"^file:(//)?", "", spec, flags=re.IGNORECASE)
        if local.startswith("localhost/"):
            local = local[len("localhost"):]
    elif _URL_RE.match(spec) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*\+", spec):
        return  # https://..., git+https://...: fetched by the installer
    else:
        bare = re.sub(r"\[[^\]]*\]$", "", spec)  # ./pkg[extra]
        if (editable or bare.startswith((".", "/", "~")) or "/" in bare or "\\" in bare
                or bare.lower().endswith(_ARCHIVE_SUFFIXES)):
            local = bare
    if local is None:
        return
    local = local.split("#", 1)[0]  # file:...#egg=name
    shown = text if not editable else f"-e {text}"
    if local.startswith(("/", "~")):
        raise PackageError(N_("{where}: `{shown}` is an absolute path outside the package; put the project inside "
                              "the package and refer to it relative to the package root, e.g. `./libs/mylib`"),
                           params={"where": where, "shown": shown})
    target = ctx.root / local
    if not _inside(ctx, target):
        raise PackageError(N_("{where}: `{shown}` points outside the package; put the project inside the package "
                              "and refer to it relative to the package root, e.g. `./libs/mylib`"),
                           params={"where": where, "shown": shown})
    if not target.resolve().exists():
        raise PackageError(N_("{where}: `{shown}` refers to {local}, which does not exist in the package (local "
                              "paths are relative to the package root); add it or fix the path"),
                           params={"where": where, "shown": shown, "local": local})
