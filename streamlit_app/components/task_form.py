"""Pieces of the task form (CONTRACT §3): field errors shown at their field,
one row per user parameter, metric suggestions, limit overrides, templates.

A ``FieldError`` from ``create_task`` names its field; ``FIELD_KEYS`` maps it
to the widget, and ``field_error`` (called right under each widget) shows the
message there.
"""

from __future__ import annotations

import json
import logging
import threading
from types import SimpleNamespace
from typing import Any

import streamlit as st
from redis.exceptions import RedisError

from shared.contract.metrics import guess_direction
from shared.contract.params import is_grid_searchable, is_multi, is_switch, parse_setting, words_text
from shared.core.errors import FieldError, TrainyardError
from shared.core.i18n import N_, _
from shared.core.settings import Settings
from shared.services.limits import COUNT_FIELDS, LIMIT_FIELDS, shown
from shared.services.tasks import TaskIn, create_task
from streamlit_app.components import deps

ERROR_KEY = "tf_error"
FIELD_KEYS = {
    "name": "tf_name", "dataset": "tf_dataset", "model": "tf_model", "epochs": "tf_epochs", "runs": "tf_runs",
    "time limit": "tf_time", "metrics": "tf_metrics", "eval metric": "tf_eval", "direction": "tf_direction",
    "score": "tf_score", "sampler": "tf_sampler", "pruner": "tf_pruner", "warm start": "tf_warm",
    "max parallel": "tf_parallel", "seed": "tf_seed", "GPUs per run": "tf_gpus",
    **{k: f"tf_lim_{k}" for k in LIMIT_FIELDS},
}
LIMIT_LABELS = {
    "memory_limit": N_("Memory"), "max_procs": N_("Processes"), "max_open_files": N_("Open files"),
    "max_file_bytes": N_("Largest file"), "max_disk_bytes": N_("Disk (work dir)"), "max_log_bytes": N_("Log size"),
    "max_files": N_("Files (inodes)"),
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
        st.error(_("{field}: {message}", field=err["field"], message=err["message"]) if err["field"]
                 else err["message"], icon=":material/warning:")


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
    if is_switch(spec_of(arg)) and (d is None or isinstance(d, bool)):
        return "true" if d else "false"
    if d is None:
        return ""
    if isinstance(d, list):
        return words_text(d)
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
        return words_text(value), False
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


def _kind(arg: dict[str, Any]) -> tuple[str, str]:
    """The row's type label and the hint on how to write its value."""
    spec = spec_of(arg)
    if is_switch(spec):
        return _("switch"), " " + _("true passes the bare flag (train.py then uses {const}), false passes "
                                    "nothing; any other text is passed as its value.", const=repr(arg.get("const")))
    kind = arg.get("action") if arg.get("action") in ("store_true", "store_false", "count") else \
        (arg.get("type") or "str")
    if is_multi(spec):
        return _("{kind}, several", kind=kind), " " + _("Several values on one line, split like a shell: quote a "
                                                         "value with spaces.")
    return kind, ""


def param_rows(user_args: list[dict[str, Any]], configs: dict[str, list[str]] | None = None
               ) -> dict[str, tuple[str, bool]]:
    """One row per user parameter: value text + search checkbox, or a picker of the package's config
    files for a config parameter. Returns the non-empty ones."""
    out: dict[str, tuple[str, bool]] = {}
    configs = configs or {}
    if not user_args:
        st.caption(_("train.py declares no user parameters besides the platform's."))
        return out
    st.caption(_("A value is one value (`16`), a range (`[1e-4, 1e-2]`) or a set of choices (`{sgd, adam}`). "
                 "Ranges and sets need **Search** on; the runs then search them. Leave a value empty to use "
                 "train.py's own default."))
    for arg in user_args:
        name = arg["name"]
        kind, how = _kind(arg)
        c1, c2 = st.columns([5, 1], vertical_alignment="bottom")
        flags = ", ".join(arg.get("flags") or [name])
        hint = (arg.get("help") or "") + how
        if arg.get("choices"):
            hint += " " + _("Choices: {choices}.", choices=", ".join(map(str, arg["choices"])))
        if arg.get("default_computed"):
            hint += " " + _("Default computed by train.py: `{default}`.",
                            default=arg.get("default_text") or arg.get("default"))
        label = f"{flags} ({kind})" + (" *" if arg.get("required") else "")
        if name in configs:
            text, search = _config_picker(c1, arg, label, configs[name], hint), False
        else:
            st.session_state.setdefault(param_key(name), default_text(arg))
            text = c1.text_input(label, key=param_key(name), help=hint.strip() or None)
            search = c2.checkbox(_("Search"), key=search_key(name))
        field_error(name)
        if text.strip() or search:
            out[name] = (text, search)
    return out


def _config_picker(col, arg: dict[str, Any], label: str, files: list[str], hint: str) -> str:
    """A config parameter: the package's configs/ files to pick from (another package path may be typed)."""
    key = param_key(arg["name"])
    default = default_text(arg)
    st.session_state.setdefault(key, default if default in files else None)
    value = col.selectbox(_("{label} (config file)", label=label), files, key=key, accept_new_options=True,
                         placeholder=_("pick a config file") if arg.get("required") else
                         _("pick a config file, or leave empty for train.py's default"),
                         help=hint.strip() or None)
    return value or ""


def params_from_state(user_args: list[dict[str, Any]]) -> dict[str, tuple[str, bool]]:
    out: dict[str, tuple[str, bool]] = {}
    for arg in user_args:
        text = str(st.session_state.get(param_key(arg["name"])) or "")
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
        sampler=ss.get("tf_sampler") or "auto", prune=bool(ss.get("tf_prune", True)),
        pruner=ss.get("tf_pruner") or "median", rank_pruned=bool(ss.get("tf_rank_pruned", False)),
        warm_start_task_id=ss.get("tf_warm"),
        max_parallel=num("tf_parallel"), seed=num("tf_seed"), gpus_per_run=num("tf_gpus") or 1,
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
        cap = "" if default is None else " " + _("(also the most a task may ask for)")
        with cols[i % 3]:
            out[key] = st.text_input(_(LIMIT_LABELS[key]), key=FIELD_KEYS[key],
                                     placeholder=_("default: {value}", value=shown(key, default)),
                                     help=_("{kind}; empty keeps the platform's {value}{cap}",
                                            kind=_("a number") if key in COUNT_FIELDS
                                            else _("a size like 512MiB or 8GiB"),
                                            value=shown(key, default), cap=cap))
            field_error(key)
    return {k: v for k, v in out.items() if v.strip()}


def metric_label(suggestions: dict[str, str]):
    """format_func for the metric pickers: where a suggested name was seen (typed names as they are)."""
    return lambda name: f"{name} · {suggestions[name]}" if name in suggestions else name


def template_label(values: dict[str, Any]) -> str:
    return json.dumps(values, default=str)[:120]


# --------------------------------------------------------------------------- callbacks


def reset_params() -> None:
    """on_change of dataset/model: the parameter rows belong to the model, so start them afresh."""
    for key in [k for k in st.session_state if str(k).startswith(("tf_p_", "tf_s_"))]:
        del st.session_state[key]
    st.session_state.pop("tf_template", None)
    st.session_state.pop("tf_template_applied", None)
    st.session_state.pop("tf_warm", None)  # earlier tasks belong to the model too


def guess_direction_from_eval() -> None:
    """on_change of the evaluation metric: loss-like names are minimised (the user may flip it)."""
    metric = st.session_state.get("tf_eval")
    if metric:
        st.session_state["tf_direction"] = guess_direction(metric)


def submit(user_args: list[dict]) -> None:
    """The Create-and-start click, with a status line while it works (the first one in a process used to
    grey the page for seconds with no word). Errors land at their field on the rerun that follows."""
    clear_error()
    with st.status(_("Checking the form and saving the task…")) as status:
        try:
            with deps.session() as s:
                task = create_task(session=s, task_in=task_in_from_state(user_args), actor=deps.current_user(),
                                   visibility=st.session_state.get("tf_visibility") or "team",
                                   max_parallel_default=deps.settings().max_parallel_runs,
                                   settings=deps.settings())
        except FieldError as exc:
            set_error(exc.field, exc.localized_field_message())
            status.update(label=_("The form needs a fix: see the message at its field"), state="error")
            return
        except TrainyardError as exc:
            set_error("", exc.localized())
            status.update(label=exc.localized(), state="error")
            return
        status.update(label=_("Task {id} saved; queueing its first runs…", id=task.id))
        try:
            deps.schedule_task(task.id)
        except (RedisError, OSError) as exc:
            st.session_state["task_page_notice"] = _("Task {id} was saved but could not be queued ({error}); "
                                                     "the worker's reconciler starts it once Redis is back.",
                                                     id=task.id, error=exc)
        status.update(label=_("Task {id} started; opening its page…", id=task.id), state="complete")
    st.session_state["tf_created"] = task.id


# --------------------------------------------------------------------------- workers and warm-up


def parallel_caption(*, n_runs: int, max_parallel: int | None, settings: Settings) -> str:
    """Under "Max parallel runs": how many runs will really go at once, from the workers that are up."""
    from shared.services.workers import list_workers, parallelism_text

    wanted = min(max_parallel or n_runs or 1, settings.max_parallel_runs, max(n_runs, 1))
    try:
        workers = list_workers(redis=deps.redis())
    except (RedisError, OSError) as exc:
        return _("Cannot see the workers: Redis does not answer ({error}).", error=exc)
    return parallelism_text(workers=workers, wanted=wanted)


def gpus_per_run_input() -> None:
    """"GPUs per run", with a warning when no worker that is up has that many (the runs would wait)."""
    from shared.services.tasks import MAX_GPUS_PER_RUN
    from shared.services.workers import list_workers, placement_text

    n = st.number_input(_("GPUs per run"), min_value=1, max_value=MAX_GPUS_PER_RUN, value=1, step=1, key="tf_gpus",
                        help=_("Each run gets this many GPUs of one host (--device 0,1 and CUDA_VISIBLE_DEVICES); "
                               "it starts when a worker has that many free. A model set to launch with torchrun "
                               "gets one process per GPU."))
    field_error("GPUs per run")
    try:
        warning = placement_text(workers=list_workers(redis=deps.redis()), gpus_per_run=int(n or 1))
    except (RedisError, OSError):
        warning = None  # the parallel-runs caption already says Redis does not answer
    if warning:
        st.caption(":orange[" + warning + "]")


@st.cache_resource(show_spinner=False)
def _warm(database_url: str) -> threading.Thread:
    thread = threading.Thread(target=_warm_up, args=(database_url,), name="trainyard-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up(database_url: str) -> None:
    try:
        from shared.services.search import storage

        storage(database_url)  # optuna + alembic imports, Optuna's tables: seconds, once per process
        import plotly.graph_objects  # noqa: F401 - the task page the form opens next draws with it
    except Exception as exc:  # the click does the same work again and reports its error there
        logging.getLogger(__name__).warning("warm-up for the first task failed: %s", exc)


def warm_up(settings: Settings) -> None:
    """Start, once per process and database, the slow first-use work of "Create and start" in a
    background thread, so it is done while the user fills the form."""
    _warm(settings.database_url)
