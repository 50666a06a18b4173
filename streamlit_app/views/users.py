"""People (admins only): the list, adding someone (with a password or a one-time sign-up link),
changing a role, disabling and enabling."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from shared.core.errors import TrainyardError
from shared.records import Action, Role
from shared.services import auth, users
from streamlit_app.components import deps
from streamlit_app.components.alerts import show_error
from streamlit_app.components.auth import client


def _when(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else ""


def _add(me) -> None:
    with st.form("us_add_form", clear_on_submit=True):
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Name", key="us_add_name")
        email = c2.text_input("E-mail (optional)", key="us_add_email")
        role = c3.selectbox("Role", list(Role), index=list(Role).index(Role.member), key="us_add_role",
                            format_func=lambda r: r.value)
        pw = st.text_input("Password (they can change it)", type="password", key="us_add_password",
                           help=f"at least {users.MIN_PASSWORD} characters")
        go = st.form_submit_button("Add person", type="primary")
    if go:
        try:
            with deps.session() as s:
                made = users.create_user(session=s, name=name, email=email or None, role=role, password=pw,
                                         actor=me, client=client())
        except TrainyardError as exc:
            show_error(exc)
        else:
            st.success(f"Added {made.name} as {made.role.value}.")


def _link(me) -> None:
    c1, c2 = st.columns([1, 3])
    role = c1.selectbox("Role", list(Role), index=list(Role).index(Role.member), key="us_link_role",
                        format_func=lambda r: r.value)
    if c2.button("Make a one-time sign-up link", key="us_link_go"):
        with deps.session() as s:
            token = auth.create_signup_link(session=s, settings=deps.settings(), role=role, created_by=me)
        base = (st.context.url or "").split("?", 1)[0].rsplit("/", 1)[0] or f"http://localhost:{deps.settings().ui_port}"
        st.session_state["us_link"] = auth.signup_url(base, token)
    if link := st.session_state.get("us_link"):
        st.code(link, language=None)
        st.caption(f"Works once, for {deps.settings().signup_link_hours:g} hours. Send it privately.")


def _change(me, people) -> None:
    by_id = {u.id: u for u in people}
    uid = st.selectbox("Person", list(by_id), key="us_pick", format_func=lambda i: by_id[i].name)
    person = by_id[uid]
    c1, c2, c3 = st.columns(3)
    role = c1.selectbox("Role", list(Role), index=list(Role).index(person.role), key=f"us_role_{uid}",
                        format_func=lambda r: r.value)
    try:
        if c2.button("Set role", key="us_set_role", disabled=role == person.role):
            with deps.session() as s:
                users.set_role(session=s, user_id=uid, role=role, actor=me, client=client())
            st.rerun()
        label = "Enable" if person.disabled else "Disable"
        if c3.button(label, key="us_toggle", disabled=uid == me.id,
                     help="You cannot disable yourself." if uid == me.id else None):
            with deps.session() as s:
                users.set_disabled(session=s, user_id=uid, disabled=not person.disabled, actor=me, client=client())
            st.rerun()
    except TrainyardError as exc:
        show_error(exc)


def render() -> None:
    st.title("People")
    if refused := deps.refusal(Action.manage_users):
        st.error(refused)
        return
    me = deps.current_user()
    with deps.session() as s:
        people = users.list_users(session=s)
    st.dataframe(pd.DataFrame([{"name": u.name, "e-mail": u.email or "", "role": u.role.value,
                                "status": "disabled" if u.disabled else "active",
                                "sign-in": "password" if u.password_hash else "single sign-on",
                                "last sign-in": _when(u.last_sign_in_at), "added": _when(u.created_at)}
                               for u in people]), hide_index=True, width="stretch")
    st.subheader("Change someone")
    _change(me, people)
    st.subheader("Add someone")
    _add(me)
    st.subheader("Or send a sign-up link")
    _link(me)


render()
