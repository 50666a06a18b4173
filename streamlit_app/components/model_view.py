"""A model package's detail: deploy status with the live install log, the
parameter tables read from train.py, files, environment, templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from shared.contract.metric_names import MetricNames
from shared.core.errors import FieldError, TrainyardError
from shared.core.i18n import _
from shared.core.relocalize import relocalize
from shared.records import DeployStatus, ModelPackage
from shared.services.models import delete_template, get_model, list_templates, model_summary, save_template
from streamlit_app.components import deps, language
from streamlit_app.components.badges import status_badge
from streamlit_app.components.confirm import delete_button
from streamlit_app.components.formats import duration
from streamlit_app.components.task_form import setting_text

LOG_TAIL_LINES = 200
_TAIL_BYTES = 256 * 1024


def tail_text(path: Path | None, *, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a plain text log (read from its end, so a huge log costs the same)."""
    if path is None or not path.is_file():
        return ""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - _TAIL_BYTES))
        data = fh.read()
    text = data.decode("utf-8", errors="replace").splitlines()
    if size > _TAIL_BYTES:
        text = text[1:]  # the first line is cut
    return "\n".join(text[-lines:])


def param_table(args: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for a in args:
        default = a.get("default")
        # Headers in the reader's language; "flags" and "nargs/action" are argparse's own words.
        rows.append({
            _("name"): a.get("name"), "flags": ", ".join(a.get("flags") or []), _("type"): a.get("type") or "str",
            _("default"): (_("computed: ") + str(a.get("default_text") or default)) if a.get("default_computed") else
            ("" if default is None else str(default)),
            _("choices"): ", ".join(map(str, a["choices"])) if a.get("choices") else "",
            "nargs/action": " ".join(str(x) for x in (a.get("nargs"), a.get("action")) if x),
            _("required"): _("yes") if a.get("required") else "", _("help"): a.get("help") or ""})
    return pd.DataFrame(rows)


def tree_lines(paths: list[str]) -> list[str]:
    """The package's file list (folders end in '/', parents first) drawn as an indented tree."""
    out: list[str] = []
    for p in paths:
        if p.startswith("... ("):  # the report's "N more entries" line
            out.append(p)
            continue
        parts = p.rstrip("/").split("/")
        out.append("    " * (len(parts) - 1) + parts[-1] + ("/" if p.endswith("/") else ""))
    return out


def deploy_status(model: ModelPackage) -> None:
    summary = model_summary(model)
    elapsed = summary.get("deploy_elapsed_s")
    text = f"{status_badge(model.status)}" + (f" &nbsp; {duration(elapsed)}" if elapsed is not None else "")
    if model.status == DeployStatus.waiting:
        text += " &nbsp; " + _("queued for a worker")
    st.markdown(text)
    if model.status == DeployStatus.failed and model.reason:
        st.error(_("**Deploy failed:** {reason}", reason=relocalize(model.reason)))


def deploy_log(model: ModelPackage) -> None:
    path = deps.settings().path(model.install_log) if model.install_log else None
    log = tail_text(path)
    if log:
        st.code(log, language=None)
    else:
        st.caption(_("No install log yet."))


@st.fragment(run_every=2)
def live_deploy(model_id: int) -> None:
    """While the model waits or deploys: status, elapsed time and the install log, every 2 s."""
    language.reapply()  # a fragment's own rerun skips the router, which sets the language
    with deps.session() as s:
        model = get_model(session=s, model_id=model_id, actor=deps.current_user())
    deploy_status(model)
    deploy_log(model)
    if model.status in (DeployStatus.deployed, DeployStatus.failed):
        st.rerun()  # the whole page, which then shows the final state without polling


def parameters(summary: dict[str, Any]) -> None:
    st.markdown(_("**User parameters** (the task form shows these)"))
    if summary["user_parameters"]:
        st.dataframe(param_table(summary["user_parameters"]), hide_index=True, key="md_user_params")
    else:
        st.caption(_("none"))
    for label, key in (("epochs", "epochs_argument"), ("device", "device_argument")):
        if summary.get(key):
            st.caption(_("`{flags}` is the {what} argument: the platform fills it from the task.",
                         flags=", ".join(summary[key].get("flags") or []), what=label))
    st.markdown(_("**Platform parameters** (filled by the platform at run time)"))
    if summary["platform_parameters"]:
        st.dataframe(param_table(summary["platform_parameters"]), hide_index=True, key="md_platform_params")
    else:
        st.caption(_("none"))
    if summary.get("launcher_parameters"):
        flags = ", ".join(f for a in summary["launcher_parameters"] for f in a.get("flags") or [])
        st.caption(_("`{flags}` is set by a distributed launcher: hidden from the task form and not passed "
                     "by a plain run.", flags=flags))
    if summary.get("config_choices"):
        files = summary.get("config_files") or []
        st.caption(_("Config parameters ({names}) offer the package's {n} file(s) under configs/ in the task form.",
                     names=", ".join(f"`{n}`" for n in summary["config_choices"]), n=len(files)))
    st.markdown(_("**Global variables used** (replaced with their values in a copy of the package: in the "
                  "scripts and in every .py/.yaml/.yml/.json config file)"))
    used = summary["globals_used"]
    st.dataframe(pd.DataFrame([{_("file"): k, _("variables"): ", ".join(v) or _("none")} for k, v in used.items()]),
                 hide_index=True, key="md_globals")
    if summary.get("warnings"):
        st.markdown("**" + _("Warnings") + "**")
        for w in summary["warnings"]:
            st.warning(relocalize(w if isinstance(w, str) else str(w)))


def metric_names(suggestions: dict[str, str], code: MetricNames) -> None:
    """The metric names the task form offers: read from train.py at upload, and printed by earlier runs."""
    st.caption(_("Read from train.py's print and logging calls without running it (a run charts the lines it "
                 "prints as `name: value`, pairs separated by commas), plus the names earlier runs printed."))
    if suggestions:
        st.dataframe(pd.DataFrame([{_("metric"): n, _("seen"): where} for n, where in suggestions.items()]),
                     hide_index=True, key="md_metric_names")
    else:
        st.info(_("No metric names found in train.py yet. A run charts every line it prints as "
                  "`name: value, name: value`, e.g. {example}.",
                  example='`print(f"loss: {loss:.4f}, acc: {acc:.4f}")`'))
    if code.dynamic_lines:
        st.caption(_("train.py also prints names only known at run time (line {lines}); they show here after "
                     "the first run.", lines=", ".join(map(str, code.dynamic_lines))))
    for w in code.warnings:
        st.warning(relocalize(w), icon=":material/warning:")


def environment(summary: dict[str, Any], requirements: dict[str, Any]) -> None:
    c1, c2 = st.columns(2)
    with c1:
        st.markdown(_("**Requirements** (flattened, `-r` includes resolved)"))
        reqs = summary["requirements"]
        st.code("\n".join(str(r) for r in reqs) if reqs else _("(none)"), language=None)
        extra = [*(requirements.get("options") or []), *(f"-c {c}" for c in requirements.get("constraints") or [])]
        if extra:
            st.caption(_("Options and constraints: ") + ", ".join(f"`{e}`" for e in extra))
        if requirements.get("files"):
            st.caption(_("Read from: ") + ", ".join(f"`{f}`" for f in requirements["files"]))
        if summary.get("install_script"):
            st.caption(_("Has `install_dependencies.sh`: it runs sandboxed after pip, with the env path as $1."))
    with c2:
        st.markdown(_("**Resolved packages** (the built environment)"))
        st.code("\n".join(summary["freeze"]) if summary["freeze"] else _("(not built yet)"), language=None)


def templates(model: ModelPackage) -> None:
    """Create, edit and delete named parameter sets; validation errors shown at their field."""
    summary = model_summary(model)
    args = summary["user_parameters"] + ([summary["epochs_argument"]] if summary.get("epochs_argument") else [])
    with deps.session() as s:
        existing = {t.id: t for t in list_templates(session=s, actor=deps.current_user(), model_id=model.id)}
    if existing:
        st.dataframe(pd.DataFrame([{_("name"): t.name, **{k: setting_text(v)[0] for k, v in t.values.items()}}
                                   for t in existing.values()]), hide_index=True, key="md_tpl_table")
    choice = st.selectbox(_("Template"), [None, *existing], key=f"md{model.id}_tpl_pick",
                          format_func=lambda i: _("(new template)") if i is None else existing[i].name)
    current = existing[choice].values if choice is not None else {}
    err = st.session_state.get("md_tpl_error")
    suffix = f"{model.id}_{choice}"
    name = st.text_input(_("Template name"), value=existing[choice].name if choice else "", key=f"md_tpl_name_{suffix}")
    if err and err[0] == "template name":
        st.error(err[1])
    values: dict[str, str] = {}
    cols = st.columns(2)
    for i, a in enumerate(args):
        with cols[i % 2]:
            text = st.text_input(f"{a['name']} ({a.get('type') or 'str'})",
                                 value=setting_text(current[a["name"]])[0] if a["name"] in current else "",
                                 key=f"md_tpl_v_{suffix}_{a['name']}", placeholder=_("empty: not in the template"),
                                 help=_("a value, a range [lo, hi] or a set {a, b}"))
            if err and err[0] == a["name"]:
                st.error(err[1])
            if text.strip():
                values[a["name"]] = text.strip()
    if err and err[0] not in {"template name", *(a["name"] for a in args)}:
        st.error(_("{field}: {message}", field=err[0], message=err[1]) if err[0] else err[1])
    c1, c2, _x = st.columns([1, 1, 3])
    if c1.button(_("Save template"), key=f"md_tpl_save_{suffix}", type="primary"):
        st.session_state.pop("md_tpl_error", None)
        try:
            with deps.session() as s:
                save_template(session=s, actor=deps.current_user(), model_id=model.id, name=name, values=values,
                              template_id=choice)
        except FieldError as exc:
            st.session_state["md_tpl_error"] = (exc.field, exc.localized_field_message())
        except TrainyardError as exc:
            st.session_state["md_tpl_error"] = ("", exc.localized())
        st.rerun()
    if choice is not None:
        delete_button(_("template {name}", name=existing[choice].name), key=f"md_tpl_delete_{suffix}",
                      label=_("Delete template"),
                      container=c2, on_confirm=lambda: _delete_template(choice))


def _delete_template(template_id: int) -> None:
    """A refusal (not the model's owner nor an admin) is shown in the dialog."""
    with deps.session() as s:
        delete_template(session=s, actor=deps.current_user(), template_id=template_id)
    st.session_state.pop("md_tpl_error", None)
