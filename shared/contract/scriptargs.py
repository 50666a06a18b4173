"""Static reading of a script's argparse arguments (CONTRACT §2.3, §2.4).

The script is parsed with ``ast`` and never imported or run. Every
``X.add_argument(...)`` call on a parser, an argument group or a mutually
exclusive group is read, wherever the parser is built (module level, inside
``parse_args()``, under ``if __name__ == "__main__":``). Literal values are
evaluated statically; anything else (``os.cpu_count()``, ``ROOT / 'x.yaml'``)
is kept as source text and marked computed.

Arguments are then split into the platform's (filled at run time), the task
form's ``--epochs``, the GPU assignment's ``--device``, a distributed launcher's ``--local_rank``, and the user's.
The walk itself is ``argparse_reader``; the records are ``argspec`` (re-exported here).
"""

from __future__ import annotations

import ast
from pathlib import PurePosixPath

from shared.contract.argparse_reader import ArgparseReader
from shared.contract.argspec import ArgSpec, ScriptArgs, arg_for
from shared.contract.names import (
    DEVICE_FLAG,
    EPOCHS_FLAG,
    GLOBAL_VARIABLES,
    LAUNCHER_FLAGS,
    PLATFORM_PREDICT_FLAGS,
    PLATFORM_TRAIN_FLAGS,
    PREDICT_SCRIPT,
)
from shared.core.errors import PackageError
from shared.core.i18n import N_

__all__ = ["ArgSpec", "ScriptArgs", "arg_for", "syntax_error", "parse_source", "read_arguments"]


def syntax_error(filename: str, err: SyntaxError) -> PackageError:
    """'train.py line 12: SyntaxError: invalid syntax' plus the line and a caret under the column."""
    params: dict[str, object] = {"filename": filename, "line": err.lineno or "?", "msg": err.msg}
    if not (err.text and err.text.strip()):
        return PackageError(N_("{filename} line {line}: SyntaxError: {msg}"), params=params)
    text = err.text.rstrip("\n").expandtabs()
    shown = text.lstrip()
    cut = len(text) - len(shown)
    offset = max((err.offset or 1) - 1 - cut, 0)
    width = 1
    if err.end_offset and err.end_lineno == err.lineno and err.end_offset > (err.offset or 0):
        width = err.end_offset - (err.offset or 0)
    params.update(column=err.offset or 1, text=shown, caret=f"{' ' * offset}{'^' * max(width, 1)}")
    return PackageError(N_("{filename} line {line}: SyntaxError: {msg} (column {column})\n    {text}\n    {caret}"),
                        params=params)


def parse_source(*, source: str, filename: str) -> ast.Module:
    """``ast.parse`` with PackageError messages that name the file, line and column."""
    if "\x00" in source:
        line = source.count("\n", 0, source.index("\x00")) + 1
        raise PackageError(N_("{filename} line {line}: the file contains a NUL byte; save it as plain UTF-8 text"),
                           params={"filename": filename, "line": line})
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as err:
        raise syntax_error(filename, err) from None
    except ValueError as err:  # NUL bytes on older Pythons
        raise PackageError(N_("{filename}: {err}; save the file as plain UTF-8 text"),
                           params={"filename": filename, "err": err}) from None


def read_arguments(*, source: str, filename: str, platform_args: tuple[str, ...] | None = None) -> ScriptArgs:
    """Read ``filename``'s argparse arguments without running it.

    ``platform_args`` defaults by file name: predict.py gets §2.4's
    ``--source``/``--out-dir``, anything else §2.3's training set.
    """
    tree = parse_source(source=source, filename=filename)
    is_predict = PurePosixPath(filename).name == PREDICT_SCRIPT
    if platform_args is None:
        platform_args = PLATFORM_PREDICT_FLAGS if is_predict else PLATFORM_TRAIN_FLAGS
    reader = ArgparseReader(tree, source, filename)
    specs = reader.read()
    out = ScriptArgs(globals_used=_globals_used(tree), warnings=reader.warnings)
    for spec in specs:
        role = _role(spec, platform_args)
        if role is not None:
            spec.role = role
            out.platform.append(spec)
        elif not is_predict and out.epochs is None and _role(spec, (EPOCHS_FLAG,)):
            spec.role = EPOCHS_FLAG
            out.epochs = spec
        elif out.device is None and _role(spec, (DEVICE_FLAG,)):
            spec.role = DEVICE_FLAG
            out.device = spec
        elif launcher := _role(spec, LAUNCHER_FLAGS):
            # A distributed launcher sets it per process; as a form field it would only mislead.
            spec.role = launcher
            out.launcher.append(spec)
        else:
            out.user.append(spec)
    if not specs and not out.globals_used:
        out.warnings.append(N_("{filename} declares no argparse arguments and uses none of the global variables; "
                               "the platform has no way to pass it the dataset or work dir").format(filename=filename))
    return out


def _role(spec: ArgSpec, flags: tuple[str, ...]) -> str | None:
    for f in spec.flags:
        if f in flags:
            return f
    by_dest = "--" + spec.dest.replace("_", "-")
    return by_dest if by_dest in flags else None


def _globals_used(tree: ast.Module) -> list[str]:
    """Contract variable names used as whole string literals; f-string pieces do not count."""
    in_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            in_fstrings.update(id(n) for n in ast.walk(node))
    found = {n.value for n in ast.walk(tree)
             if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in in_fstrings
             and n.value in GLOBAL_VARIABLES}
    return [g for g in GLOBAL_VARIABLES if g in found]
