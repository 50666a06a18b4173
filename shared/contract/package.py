"""Model package validation (CONTRACT §2): the required names, scripts that
compile, requirements that resolve inside the package, an install script
without forbidden commands, and the scripts' arguments read statically.

Nothing here imports or runs user code: scripts are compiled, never executed.
Every problem found is reported at once, so one upload round fixes them all.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.contract.archive import ArchiveLimits, safe_extract
from shared.contract.configs import globals_in_files, list_config_files
from shared.contract.install_script import ScriptViolation, check_install_script
from shared.contract.metric_names import MetricNames, read_metric_names
from shared.contract.names import (
    DATA_FLAG,
    FLAG_TO_GLOBAL,
    INSTALL_SCRIPT,
    OUT_DIR_FLAG,
    PREDICT_SCRIPT,
    REQUIREMENTS_FILE,
    SOURCE_FLAG,
    TRAIN_DATA_FLAG,
    TRAIN_SCRIPT,
    WEIGHTS_DIR,
    WORK_DIR_FLAG,
)
from shared.contract.requirements import FlatRequirements, flatten_requirements
from shared.contract.scriptargs import ScriptArgs, parse_source, read_arguments, syntax_error
from shared.core.errors import PackageError, Stored
from shared.core.i18n import N_

REQUIRED = (TRAIN_SCRIPT, PREDICT_SCRIPT, REQUIREMENTS_FILE, WEIGHTS_DIR + "/")
_CODING_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_SEARCH_DEPTH = 3


@dataclass
class PackageReport:
    requirements: FlatRequirements
    train_args: ScriptArgs
    predict_args: ScriptArgs
    has_install_script: bool = False
    install_script_violations: list[ScriptViolation] = field(default_factory=list)  # empty once accepted
    tree: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # package-level; each script's own are in its args
    unwrapped: str | None = None
    config_files: list[str] = field(default_factory=list)  # *.py|yaml|yml|json, relative, train.py included
    config_globals: dict[str, list[str]] = field(default_factory=dict)  # config file -> global variables in it
    metric_names: MetricNames = field(default_factory=MetricNames)  # what train.py prints, read statically

    def to_dict(self) -> dict[str, Any]:
        return {
            "requirements": self.requirements.to_dict(),
            "train_args": self.train_args.to_dict(),
            "predict_args": self.predict_args.to_dict(),
            "has_install_script": self.has_install_script,
            "install_script_violations": [asdict(v) for v in self.install_script_violations],
            "tree": list(self.tree),
            "warnings": list(self.warnings),
            "unwrapped": self.unwrapped,
            "config_files": list(self.config_files),
            "config_globals": {k: list(v) for k, v in self.config_globals.items()},
            "metric_names": self.metric_names.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackageReport:
        return cls(
            requirements=FlatRequirements.from_dict(data.get("requirements") or {}),
            train_args=ScriptArgs.from_dict(data.get("train_args") or {}),
            predict_args=ScriptArgs.from_dict(data.get("predict_args") or {}),
            has_install_script=bool(data.get("has_install_script")),
            install_script_violations=[ScriptViolation(**v) for v in data.get("install_script_violations") or []],
            tree=list(data.get("tree") or []),
            warnings=list(data.get("warnings") or []),
            unwrapped=data.get("unwrapped"),
            config_files=list(data.get("config_files") or []),
            config_globals={k: list(v) for k, v in (data.get("config_globals") or {}).items()},
            metric_names=MetricNames.from_dict(data.get("metric_names")),
        )


def validate_package_zip(*, zip_path: Path, dest: Path, limits: ArchiveLimits,
                         display_name: str | None = None) -> PackageReport:
    """Extract safely into ``dest`` and check the package; on any error nothing is left at ``dest``.
    ``display_name`` is the name the user knows the zip by (a browser upload lands in a temp file)."""
    result = safe_extract(zip_path=Path(zip_path), dest=Path(dest), limits=limits, display_name=display_name)
    try:
        return check_package(root=result.root, unwrapped=result.unwrapped)
    except BaseException:
        shutil.rmtree(result.root, ignore_errors=True)
        raise


def check_package(*, root: Path, unwrapped: str | None = None) -> PackageReport:
    """Check an extracted package; PackageError lists every problem found."""
    root = Path(root)
    if not root.is_dir():
        raise PackageError(N_("the package folder {root} does not exist"), params={"root": root})
    at_root = N_("at its root (after unwrapping the single top folder '{folder}/')").format(folder=unwrapped) \
        if unwrapped else N_("at its root")
    problems: list[str] = []
    warnings: list[str] = []

    for name in REQUIRED:
        problem = _required(root, name, at_root)
        if problem:
            problems.append(problem)

    train_args = _script_args(root, TRAIN_SCRIPT, problems)
    predict_args = _script_args(root, PREDICT_SCRIPT, problems)

    requirements = FlatRequirements()
    if (root / REQUIREMENTS_FILE).is_file():
        try:
            requirements = flatten_requirements(package_root=root)
        except PackageError as err:
            problems.append(str(err))
        else:
            if not requirements.requirements:
                warnings.append(N_("requirements.txt lists no packages; the environment gets only what {script} "
                                   "installs").format(script=INSTALL_SCRIPT))

    has_script, violations = _install_script(root, problems, warnings)
    config_files = list_config_files(root)
    config_globals, config_warnings = globals_in_files(root, config_files)
    warnings += config_warnings
    warnings += _contract_warnings(root, train_args, predict_args, config_globals)

    if problems:
        if len(problems) == 1:
            # A problem is a line about one file, often an error caught above and kept as text.
            raise PackageError(N_("{problem}"), params={"problem": Stored(problems[0])})
        raise PackageError(N_("the model package has {count} problems; fix them and upload it again"),
                           details=problems, params={"count": len(problems)})
    names = metric_names_of(root)
    return PackageReport(requirements=requirements, train_args=train_args, predict_args=predict_args,
                         has_install_script=has_script, install_script_violations=violations,
                         tree=list_tree(root), warnings=warnings, unwrapped=unwrapped, config_files=config_files,
                         config_globals=config_globals, metric_names=names)


def metric_names_of(root: Path) -> MetricNames:
    """The metric names a package's train.py prints (empty when it cannot be read: that is reported elsewhere)."""
    try:
        return read_metric_names(source=read_source(Path(root) / TRAIN_SCRIPT, shown=TRAIN_SCRIPT),
                                 filename=TRAIN_SCRIPT)
    except (PackageError, OSError):
        return MetricNames()


def _required(root: Path, name: str, at_root: str) -> str | None:
    is_dir = name.endswith("/")
    bare = name.rstrip("/")
    path = root / bare
    if path.is_symlink():
        kind = N_("folder") if is_dir else N_("file")
        return N_("{name} {at_root} is a symbolic link; the package must contain the real {kind}").format(
            name=bare, at_root=at_root, kind=kind)
    if is_dir:
        if path.is_dir():
            return None
        if path.exists():
            return N_("weights {at_root} is a file, but it must be a folder: put the weight files in a folder "
                      "named weights/ (it may be empty)").format(at_root=at_root)
        return N_("the package has no {name} folder {at_root}: add a {name} folder (it may be empty)").format(
            name=name, at_root=at_root) + _hint(root, name)
    if path.is_file():
        return None
    if path.exists():
        return N_("{name} {at_root} is a folder, but it must be a file: put the script itself at the package "
                  "root").format(name=name, at_root=at_root)
    return N_("the package has no {name} {at_root}: add {name}").format(name=name, at_root=at_root) + _hint(root, name)


def _hint(root: Path, name: str) -> str:
    """Where a missing required name is instead: another case at the root, or deeper down."""
    bare = name.rstrip("/")
    want_dir = name.endswith("/")
    try:
        for entry in sorted(os.listdir(root)):
            if entry.lower() == bare.lower() and entry != bare:
                return " " + N_("(found '{found}': the name must be exactly {name})").format(
                    found=entry + ("/" if want_dir else ""), name=name)
    except OSError:
        return ""
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if len(rel.parts) >= _SEARCH_DEPTH:
            dirnames[:] = []
            continue
        dirnames.sort()
        names = dirnames if want_dir else filenames
        if bare in names and rel.parts:
            found = (rel / bare).as_posix()
            return " " + N_("(found '{found}': it must be at the package root; zip the contents of '{folder}/' "
                            "instead)").format(found=found + ("/" if want_dir else ""), folder=rel.as_posix())
    return ""


def read_source(path: Path, *, shown: str) -> str:
    """A script's text: UTF-8 (a BOM is fine) or a PackageError naming the line and the fix."""
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        declared = ""
        for head in data.split(b"\n", 2)[:2]:
            m = _CODING_RE.match(head)
            if m:
                declared = f" (it declares `coding: {m.group(1).decode('ascii', 'replace')}`)"
        raise PackageError(N_("{shown} line {line}: the file is not UTF-8 text (byte 0x{byte:02x}){declared}; save "
                              "it with UTF-8 encoding"),
                           params={"shown": shown, "line": line, "byte": data[err.start],
                                   "declared": declared}) from None


def _compile(source: str, shown: str) -> None:
    """Byte-compile like ``py_compile`` (nothing is imported or run) to catch every compile-time error."""
    parse_source(source=source, filename=shown)  # NUL bytes, syntax errors, with the line and column
    try:
        compile(source, shown, "exec", dont_inherit=True)
    except SyntaxError as err:  # errors only the compiler sees: 'return' outside function, ...
        raise syntax_error(shown, err) from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise PackageError(N_("{shown}: cannot be compiled ({error_type}: {err})"),
                           params={"shown": shown, "error_type": type(err).__name__, "err": err}) from None


def _script_args(root: Path, name: str, problems: list[str]) -> ScriptArgs:
    path = root / name
    if not path.is_file() or path.is_symlink():
        return ScriptArgs()
    try:
        source = read_source(path, shown=name)
        _compile(source, name)
        return read_arguments(source=source, filename=name)
    except PackageError as err:
        problems.append(str(err))
        return ScriptArgs()


def _install_script(root: Path, problems: list[str], warnings: list[str]) -> tuple[bool, list[ScriptViolation]]:
    path = root / INSTALL_SCRIPT
    if not path.exists() and not path.is_symlink():
        for entry in sorted(os.listdir(root)):
            if entry.lower() == INSTALL_SCRIPT or entry.lower() == "install_dependencies":
                warnings.append(N_("'{entry}' is not run: the install script must be named exactly {script}").format(
                    entry=entry, script=INSTALL_SCRIPT))
        return False, []
    if path.is_symlink() or not path.is_file():
        problems.append(N_("{script} must be a regular file at the package root").format(script=INSTALL_SCRIPT))
        return False, []
    try:
        text = read_source(path, shown=INSTALL_SCRIPT)
    except PackageError as err:
        problems.append(str(err))
        return True, []
    if "\r\n" in text:
        warnings.append(N_("{script} has Windows (CRLF) line endings; bash reads the '\\r' as part of each command. "
                           "Save it with Unix (LF) line endings").format(script=INSTALL_SCRIPT))
    violations = check_install_script(text=text, filename=INSTALL_SCRIPT)
    problems.extend(v.message for v in violations)
    return True, violations


def _contract_warnings(root: Path, train: ScriptArgs, predict: ScriptArgs,
                       config_globals: dict[str, list[str]]) -> list[str]:
    """Things the platform cannot do with these scripts; legal, but worth saying at upload time.
    A variable in a config file counts as train.py's: the run replaces it there too."""
    out: list[str] = []
    in_configs = {name for names in config_globals.values() for name in names}
    train = ScriptArgs(platform=train.platform, epochs=train.epochs,
                       globals_used=[*train.globals_used, *sorted(in_configs)])
    if not (root / TRAIN_SCRIPT).is_file() or not (root / PREDICT_SCRIPT).is_file():
        return out
    if train.epochs is None:
        out.append(N_("train.py declares no --epochs argument; the task form's epochs value cannot be passed to it"))
    train_roles, predict_roles = {a.role for a in train.platform}, {a.role for a in predict.platform}
    if WORK_DIR_FLAG not in train_roles and FLAG_TO_GLOBAL[WORK_DIR_FLAG] not in train.globals_used:
        out.append(N_("train.py neither declares --work-dir nor uses \"WORK_DIR_PATH\"; the weights it saves may "
                      "not be found after training"))
    data_flags = {DATA_FLAG, TRAIN_DATA_FLAG}
    if not (data_flags & train_roles) and not ({FLAG_TO_GLOBAL[f] for f in data_flags} & set(train.globals_used)):
        out.append(N_("train.py neither declares --data/--train-data nor uses \"DATA_PATH\"/\"TRAIN_DATA_PATH\"; "
                      "it cannot be told where the dataset is"))
    if SOURCE_FLAG not in predict_roles and FLAG_TO_GLOBAL[SOURCE_FLAG] not in predict.globals_used:
        out.append(N_("predict.py neither declares --source nor uses \"SOURCE_PATH\"; the prediction page cannot "
                      "pass it the images"))
    if OUT_DIR_FLAG not in predict_roles and FLAG_TO_GLOBAL[OUT_DIR_FLAG] not in predict.globals_used:
        out.append(N_("predict.py neither declares --out-dir nor uses \"OUT_DIR_PATH\"; its result images cannot "
                      "be collected"))
    return out


def list_tree(root: Path, *, max_entries: int = 2000) -> list[str]:
    """Relative paths under ``root`` for display, folders with a trailing '/', parents before children.

    Past ``max_entries`` the list ends with one line ``... (N more entries)``.
    Symbolic links are listed but never followed.
    """
    root = Path(root)
    found: list[tuple[tuple[str, ...], bool]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel = Path(dirpath).relative_to(root).parts
        for d in dirnames:
            found.append(((*rel, d), True))
        for f in filenames:
            found.append(((*rel, f), False))
    found.sort(key=lambda item: item[0])
    shown = ["/".join(parts) + ("/" if is_dir else "") for parts, is_dir in found[:max_entries]]
    if len(found) > max_entries:
        shown.append(N_("... ({n} more entries)").format(n=len(found) - max_entries))
    return shown
