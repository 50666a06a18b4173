"""The arguments a script declares, as read statically: one ``ArgSpec`` per ``add_argument`` call,
grouped in ``ScriptArgs`` by who fills them (platform, task form, GPU assignment, user)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class ArgSpec:
    flags: list[str]  # every option string, e.g. ["--img-size", "--imgsz", "--img"]; the name for positionals
    dest: str
    name: str  # primary long flag without dashes ("img-size"), or the positional's name
    positional: bool = False
    type: str = "str"  # int, float, str, bool, Path, or the expression text of a custom type
    default: Any = None  # a JSON-able literal, or None
    default_computed: bool = False  # True when ``default`` could not be evaluated statically
    default_text: str | None = None  # the default's source text, whenever one is written
    choices: list[Any] | None = None
    choices_computed: bool = False
    choices_text: str | None = None
    nargs: str | int | None = None
    action: str | None = None  # store_true, store_false, count, append, store_const, DictAction, ...
    required: bool = False
    help: str | None = None
    const: Any = None
    metavar: str | None = None
    line: int = 0
    role: str | None = None  # the contract flag this argument answers (--data, --epochs, --device, ...)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArgSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class ScriptArgs:
    platform: list[ArgSpec] = field(default_factory=list)
    user: list[ArgSpec] = field(default_factory=list)
    epochs: ArgSpec | None = None
    device: ArgSpec | None = None
    launcher: list[ArgSpec] = field(default_factory=list)  # --local_rank & co: set by a distributed launcher
    globals_used: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[ArgSpec]:
        """Every argument, in source order."""
        specs = [*self.platform, *self.user, *self.launcher, *(a for a in (self.epochs, self.device) if a is not None)]
        return sorted(specs, key=lambda a: a.line)

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": [a.to_dict() for a in self.platform],
            "user": [a.to_dict() for a in self.user],
            "epochs": self.epochs.to_dict() if self.epochs else None,
            "device": self.device.to_dict() if self.device else None,
            "launcher": [a.to_dict() for a in self.launcher],
            "globals_used": list(self.globals_used),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScriptArgs:
        def one(d: dict[str, Any] | None) -> ArgSpec | None:
            return ArgSpec.from_dict(d) if d else None

        return cls(
            platform=[ArgSpec.from_dict(d) for d in data.get("platform") or []],
            user=[ArgSpec.from_dict(d) for d in data.get("user") or []],
            epochs=one(data.get("epochs")),
            device=one(data.get("device")),
            launcher=[ArgSpec.from_dict(d) for d in data.get("launcher") or []],
            globals_used=list(data.get("globals_used") or []),
            warnings=list(data.get("warnings") or []),
        )


def _norm(flag: str) -> str:
    return flag.lstrip("-").replace("_", "-")


def arg_for(args: ScriptArgs, flag: str) -> ArgSpec | None:
    """The argument answering ``flag`` ("--batch-size", "batch-size", "batch_size" or "-b")."""
    for spec in args.all:
        if flag in spec.flags:
            return spec
    want = _norm(flag)
    for spec in args.all:
        if want in (_norm(spec.dest), _norm(spec.name)) or want in (_norm(f) for f in spec.flags):
            return spec
    return None
