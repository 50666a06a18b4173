"""Trainyard's UI: the router. It wires the connections once, lets nobody past
the sign-in gate, and hands the screen to one of the pages in ``views/``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# `streamlit run streamlit_app/app.py` puts only this folder on sys.path; the
# pages import the project's packages (shared, streamlit_app) from the root.
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import streamlit as st  # noqa: E402

from shared.core.i18n import _  # noqa: E402
from shared.records import Role, User  # noqa: E402
from streamlit_app.components import auth, deps, language  # noqa: E402

st.set_page_config(page_title="Trainyard", page_icon=":material/train:", layout="wide")
deps.engine()  # connect (and create the tables) once per process, before any page queries




def _pages(user: User | None, sign_in: st.Page) -> dict[str, list[st.Page]]:
    # Titles in the run's language; the url paths come from the file names, so links work in both.
    pages = {
        "Trainyard": [st.Page("views/home.py", title=_("Home"), icon=":material/home:", default=user is not None)],
        _("Data"): [
            st.Page("views/datasets.py", title=_("Datasets"), icon=":material/dataset:"),
            st.Page("views/models.py", title=_("Models"), icon=":material/deployed_code:"),
        ],
        _("Training"): [
            st.Page("views/task_new.py", title=_("New task"), icon=":material/add_circle:"),
            st.Page("views/tasks.py", title=_("Tasks"), icon=":material/list_alt:"),
            # Reached from the task list (a row's link or selection), not from the menu: alone it has no task.
            st.Page("views/task.py", title=_("Task"), icon=":material/monitoring:", visibility="hidden"),
            st.Page("views/predict.py", title=_("Predict"), icon=":material/image:"),
            st.Page("views/workers.py", title=_("Workers"), icon=":material/memory:"),
        ],
    }
    if user is None:
        pages["Trainyard"].append(sign_in)
    if user is None or user.role == Role.admin:
        # Registered while signed out too, so a link to them survives the sign-in; never run then.
        pages[_("Admin")] = [st.Page("views/users.py", title=_("People"), icon=":material/group:"),
                             st.Page("views/audit.py", title=_("Audit log"), icon=":material/policy:")]
    return pages


user = auth.gate()
lang = language.apply(user)  # before anything is drawn in words
SIGN_IN = st.Page("views/sign_in.py", title=_("Sign in"), icon=":material/login:", default=True)
# Every page is registered while signed out so the address asked for (/task?id=3) is kept through the
# sign-in, but none of them runs: the visitor sees the sign-in screen in its place and nothing else.
nav = st.navigation(_pages(user, SIGN_IN), position="sidebar" if user is not None else "hidden")
if user is None:
    language.switch(lang)
    if nav is SIGN_IN:
        nav.run()
    else:
        auth.sign_in_screen()
else:
    auth.sidebar(user)
    language.switch(lang)
    nav.run()
