"""Pieces of the task form (CONTRACT §3): field errors shown at their field,
one row per user parameter, metric suggestions, limit overrides, templates.

A ``FieldError`` from ``create_task`` names its field; ``FIELD_KEYS`` maps it
to the widget, and ``field_error`` (called right under each widget) shows the
message there.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import streamlit as st
from redis.exceptions import RedisError

from shared.contract.metrics import guess_direction
from shared.contract.params import is_grid_searchable, parse_setting
from shared.core.errors import FieldError, TrainyardError
from shared.core.settings import Settings, format_size
from shared.services.tasks import LIMIT_FIELDS, TaskIn, create_task, default_limits
from streamlit_app.components import deps

ERROR_KEY = "tf_error"
FIELD_KEYS = {
    "name": "tf_name", "dataset": "tf_dataset", "model": "tf_model", "epochs": "tf_epochs", "runs": "tf_runs",
    "time limit": "tf_time", "metrics": "tf_metrics", "eval metric": "tf_eval", "direction": "tf_direction",
    "score": "tf_score", "sampler": "tf_sampler", "max parallel": "tf_parallel", "seed": "tf_seed",
    **{k: f"tf_lim_{k}" for k in LIMIT_FIELDS},
}
LIMIT_LABELS = {
    "memory_limit": "Memory", "max_procs": "Processes", "max_open_files": "Open files",
    "max_file_bytes": "Largest file", "max_disk_bytes": "Disk (work dir)", "max_log_bytes": "Log size",
}


def param_key(name: str) -> str:
    return f"tf_p_{name}"


def search_key(name: str) -> str:
    return f"tf_s_{name}"


def set_error(field: str, message: str) -> None:
    st.session_state[ERROR_KEY] = {"field": field, "message": message}


def clear_error() -> None:
    st.session_state.pop(ERROR_KEY, None)


def field_error(field: str) -> None:
    """Under a widget: its error from the last submit, if it has one."""
    err = st.session_state.get(ERROR_KEY)
    if err and err["field"] == field:
        st.error(err["message"], icon=":material/warning:")


def unplaced_error(known_fields: set[str]) -> None:
    """An error whose field has no widget on the form (shown by the submit button)."""
    err = st.session_state.get(ERROR_KEY)
    if err and err["field"] not in known_fields:
        st.error(f"{err['field']}: {err['message']}" if err["field"] else err["message"], icon=":material/warning:")


def spec_of(arg: dict[str, Any]) -> SimpleNamespace:
    """An ArgSpec dict as the attribute object ``shared.contract.params`` reads."""
    return SimpleNamespace(**{"choices_computed": False, **arg})


def default_text(arg: dict[str, Any]) -> str:
    """The default as the user would type it ('' when computed at run time)."""
    if arg.get("default_computed"):
        return ""
    d = arg.get("default")
    if arg.get("action") in ("store_true", "store_false"):
        return "true" if (d if d is not None else arg["action"] == "store_false") else "false"
    if d is None:
        return ""
    if isinstance(d, list):
        return " ".join(str(v) for v in d)
    return str(d)


def setting_text(value: Any) -> tuple[str, bool]:
    """A stored template/task value back into (text, search flag)."""
    if isinstance(value, dict):
        if "range" in value:
            lo, hi = value["range"]
            return f"[{lo}, {hi}]", True
        if "choices" in value:
            return "{" + ", ".join(str(c) for c in value["choices"]) + "}", bool(value.get("search", True))
        return setting_text(value.get("value"))[0], bool(value.get("search", False))
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    if isinstance(value, list):
        return " ".join(str(v) for v in value), False
    return ("" if value is None else str(value)), False


def apply_template(values: dict[str, Any], user_args: list[dict[str, Any]], epochs_key: str | None) -> None:
    """Pre-fill the parameter rows (before they are drawn) from a template."""
    names = {a["name"] for a in user_args}
    for name, value in values.items():
        text, search = setting_text(value)
        if name in names:
            st.session_state[param_key(name)] = text
            st.session_state[search_key(name)] = search
        elif epochs_key and name == epochs_key and text.isdigit():
            st.session_state["tf_epochs"] = int(text)


def param_rows(user_args: list[dict[str, Any]]) -> dict[str, tuple[str, bool]]:
    """One row per user parameter: value text + search checkbox. Returns the non-empty ones."""
    out: dict[str, tuple[str, bool]] = {}
    if not user_args:
        st.caption("train.py declares no user parameters besides the platform's.")
        return out
    st.caption("A value is one value (`16`), a range (`[1e-4, 1e-2]`) or a set of choices (`{sgd, adam}`). "
               "Ranges and sets need **Search** on; the runs then search them. Leave a value empty to use "
               "train.py's own default.")
    for arg in user_args:
        name = arg["name"]
        kind = arg.get("action") if arg.get("action") in ("store_true", "store_false", "count") else \
            (arg.get("type") or "str")
        c1, c2 = st.columns([5, 1], vertical_alignment="bottom")
        flags = ", ".join(arg.get("flags") or [name])
        hint = arg.get("help") or ""
        if arg.get("choices"):
            hint += f" Choices: {', '.join(map(str, arg['choices']))}."
        if arg.get("default_computed"):
            hint += f" Default computed by train.py: `{arg.get('default_text') or arg.get('default')}`."
        st.session_state.setdefault(param_key(name), default_text(arg))
        text = c1.text_input(f"{flags} ({kind})" + (" *" if arg.get("required") else ""), key=param_key(name),
                             help=hint.strip() or None)
        search = c2.checkbox("Search", key=search_key(name))
        field_error(name)
        if text.strip() or search:
            out[name] = (text, search)
    return out


def params_from_state(user_args: list[dict[str, Any]]) -> dict[str, tuple[str, bool]]:
    out: dict[str, tuple[str, bool]] = {}
    for arg in user_args:
        text = str(st.session_state.get(param_key(arg["name"]), "") or "")
        search = bool(st.session_state.get(search_key(arg["name"]), False))
        if text.strip() or search:
            out[arg["name"]] = (text, search)
    return out


def task_in_from_state(user_args: list[dict[str, Any]]) -> TaskIn:
    """The form as submitted (widget state by key)."""
    ss = st.session_state

    def num(key: str) -> int | None:
        v = ss.get(key)
        return None if v is None else int(v)

    return TaskIn(
        name=ss.get("tf_name") or "", model_id=ss.get("tf_model"), dataset_id=ss.get("tf_dataset"),
        epochs=num("tf_epochs") or 0, n_runs=num("tf_runs") or 0, time_limit=ss.get("tf_time") or "",
        metrics=list(ss.get("tf_metrics") or []), eval_metric=ss.get("tf_eval"), direction=ss.get("tf_direction"),
        score_mode=ss.get("tf_score") or "final", params=params_from_state(user_args),
        sampler=ss.get("tf_sampler") or "tpe", prune=bool(ss.get("tf_prune", True)),
        max_parallel=num("tf_parallel"), seed=num("tf_seed"),
        limits={k: ss.get(FIELD_KEYS[k]) for k in LIMIT_FIELDS if (ss.get(FIELD_KEYS[k]) or "").strip()})


def grid_possible(user_args: list[dict[str, Any]], params: dict[str, tuple[str, bool]]) -> bool:
    """Grid search is offered only when every searched value is an int range or a set of choices."""
    specs = {a["name"]: a for a in user_args}
    parsed: dict[str, dict[str, Any]] = {}
    for name, (text, search) in params.items():
        if not search or name not in specs:
            continue
        try:
            parsed[name] = parse_setting(spec_of(specs[name]), text, search=True, field=name)
        except Exception:  # noqa: BLE001 - an unparsable value is reported at submit, at its field
            return False
    return is_grid_searchable(parsed)


def limit_inputs(settings: Settings) -> dict[str, str]:
    """Per-task overrides of the sandbox limits; empty keeps the platform default."""
    out: dict[str, str] = {}
    cols = st.columns(3)
    for i, key in enumerate(LIMIT_FIELDS):
        default = getattr(settings, key, None)
        shown = str(default) if key in ("max_procs", "max_open_files") and default else format_size(default)
        with cols[i % 3]:
            out[key] = st.text_input(LIMIT_LABELS[key], key=FIELD_KEYS[key], placeholder=f"default: {shown}",
                                     help="sizes like 512MiB or 8GiB; counts as numbers")
            field_error(key)
    return {k: v for k, v in out.items() if v.strip()}


def template_label(values: dict[str, Any]) -> str:
    return json.dumps(values, default=str)[:120]


# --------------------------------------------------------------------------- callbacks


def reset_params() -> None:
    """on_change of dataset/model: the parameter rows belong to the model, so start them afresh."""
    for key in [k for k in st.session_state if str(k).startswith(("tf_p_", "tf_s_"))]:
        del st.session_state[key]
    st.session_state.pop("tf_template", None)
    st.session_state.pop("tf_template_applied", None)


def guess_direction_from_eval() -> None:
    """on_change of the evaluation metric: loss-like names are minimised (the user may flip it)."""
    metric = st.session_state.get("tf_eval")
    if metric:
        st.session_state["tf_direction"] = guess_direction(metric)


def submit(user_args: list[dict]) -> None:
    """on_click: runs before the rerun draws the form (so the error lands under its field), and reads
    the widgets' state as submitted, not as the last run drew it."""
    clear_error()
    try:
        with deps.session() as s:
            task = create_task(session=s, task_in=task_in_from_state(user_args), actor=deps.current_user(),
                               visibility=st.session_state.get("tf_visibility") or "team",
                               max_parallel_default=deps.settings().max_parallel_runs,
                               limit_defaults=default_limits(deps.settings()))
    except FieldError as exc:
        set_error(exc.field, exc.field_message)
        return
    except TrainyardError as exc:
        set_error("", str(exc))
        return
    try:
        deps.schedule_task(task.id)
    except (RedisError, OSError) as exc:
        st.session_state["task_page_notice"] = (f"Task {task.id} was saved but could not be queued ({exc}); "
                                                "the worker's reconciler starts it once Redis is back.")
    st.session_state["tf_created"] = task.id
