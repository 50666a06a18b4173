"""People (admins only): the list, adding someone (with a password or a one-time sign-up link),
changing a role, disabling and enabling."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from shared.core.errors import TrainyardError
from shared.core.i18n import N_, _, fmt_number
from shared.records import Action, Role
from shared.services import auth, users
from streamlit_app.components import deps
from streamlit_app.components.alerts import show_error
from streamlit_app.components.auth import client

ROLE_LABELS = {Role.admin: N_("admin"), Role.member: N_("member"), Role.viewer: N_("viewer")}


def role_label(role: Role) -> str:
    return _(ROLE_LABELS[Role(role)])


def _when(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else ""


def _add(me) -> None:
    with st.form("us_add_form", clear_on_submit=True):
        c1, c2, c3 = st.columns(3)
        name = c1.text_input(_("Name"), key="us_add_name")
        email = c2.text_input(_("E-mail (optional)"), key="us_add_email")
        role = c3.selectbox(_("Role"), list(Role), index=list(Role).index(Role.member), key="us_add_role",
                            format_func=role_label)
        pw = st.text_input(_("Password (they can change it)"), type="password", key="us_add_password",
                           help=_("at least {n} characters", n=users.MIN_PASSWORD))
        go = st.form_submit_button(_("Add person"), type="primary")
    if go:
        try:
            with deps.session() as s:
                made = users.create_user(session=s, name=name, email=email or None, role=role, password=pw,
                                         actor=me, client=client())
        except TrainyardError as exc:
            show_error(exc)
        else:
            st.success(_("Added {name} as {role}.", name=made.name, role=role_label(made.role)))


def _link(me) -> None:
    c1, c2 = st.columns([1, 3])
    role = c1.selectbox(_("Role"), list(Role), index=list(Role).index(Role.member), key="us_link_role",
                        format_func=role_label)
    if c2.button(_("Make a one-time sign-up link"), key="us_link_go"):
        with deps.session() as s:
            token = auth.create_signup_link(session=s, settings=deps.settings(), role=role, created_by=me)
        base = (st.context.url or "").split("?", 1)[0].rsplit("/", 1)[0] or f"http://localhost:{deps.settings().ui_port}"
        st.session_state["us_link"] = auth.signup_url(base, token)
    if link := st.session_state.get("us_link"):
        st.code(link, language=None)
        st.caption(_("Works once, for {hours} hours. Send it privately.",
                     hours=fmt_number(deps.settings().signup_link_hours)))


def _change(me, people) -> None:
    by_id = {u.id: u for u in people}
    uid = st.selectbox(_("Person"), list(by_id), key="us_pick", format_func=lambda i: by_id[i].name)
    person = by_id[uid]
    c1, c2, c3 = st.columns(3)
    role = c1.selectbox(_("Role"), list(Role), index=list(Role).index(person.role), key=f"us_role_{uid}",
                        format_func=role_label)
    try:
        if c2.button(_("Set role"), key="us_set_role", disabled=role == person.role):
            with deps.session() as s:
                users.set_role(session=s, user_id=uid, role=role, actor=me, client=client())
            st.rerun()
        label = _("Enable") if person.disabled else _("Disable")
        if c3.button(label, key="us_toggle", disabled=uid == me.id,
                     help=_("You cannot disable yourself.") if uid == me.id else None):
            with deps.session() as s:
                users.set_disabled(session=s, user_id=uid, disabled=not person.disabled, actor=me, client=client())
            st.rerun()
    except TrainyardError as exc:
        show_error(exc)


def render() -> None:
    st.title(_("People"))
    if refused := deps.refusal(Action.manage_users):
        st.error(refused)
        return
    me = deps.current_user()
    with deps.session() as s:
        people = users.list_users(session=s)
    st.dataframe(pd.DataFrame([{_("name"): u.name, _("e-mail"): u.email or "", _("role"): role_label(u.role),
                                _("status"): _("disabled") if u.disabled else _("active"),
                                _("sign-in"): _("password") if u.password_hash else _("single sign-on"),
                                _("last sign-in"): _when(u.last_sign_in_at), _("added"): _when(u.created_at)}
                               for u in people]), hide_index=True, width="stretch")
    st.subheader(_("Change someone"))
    _change(me, people)
    st.subheader(_("Add someone"))
    _add(me)
    st.subheader(_("Or send a sign-up link"))
    _link(me)


render()
