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

from shared.records import Role, User  # noqa: E402
from streamlit_app.components import auth, deps  # noqa: E402

st.set_page_config(page_title="Trainyard", page_icon="🚂", layout="wide")
deps.engine()  # connect (and create the tables) once per process, before any page queries


SIGN_IN = st.Page("views/sign_in.py", title="Sign in", icon=":material/login:", default=True)


def _pages(user: User | None) -> dict[str, list[st.Page]]:
    pages = {
        "Trainyard": [st.Page("views/home.py", title="Home", icon=":material/home:", default=user is not None)],
        "Data": [
            st.Page("views/datasets.py", title="Datasets", icon=":material/dataset:"),
            st.Page("views/models.py", title="Models", icon=":material/deployed_code:"),
        ],
        "Training": [
            st.Page("views/task_new.py", title="New task", icon=":material/add_circle:"),
            st.Page("views/tasks.py", title="Tasks", icon=":material/list_alt:"),
            st.Page("views/task.py", title="Task", icon=":material/monitoring:"),
            st.Page("views/predict.py", title="Predict", icon=":material/image:"),
            st.Page("views/workers.py", title="Workers", icon=":material/memory:"),
        ],
    }
    if user is None:
        pages["Trainyard"].append(SIGN_IN)
    if user is None or user.role == Role.admin:
        # Registered while signed out too, so a link to them survives the sign-in; never run then.
        pages["Admin"] = [st.Page("views/users.py", title="People", icon=":material/group:"),
                          st.Page("views/audit.py", title="Audit log", icon=":material/policy:")]
    return pages


user = auth.gate()
# Every page is registered while signed out so the address asked for (/task?id=3) is kept through the
# sign-in, but none of them runs: the visitor sees the sign-in screen in its place and nothing else.
nav = st.navigation(_pages(user), position="sidebar" if user is not None else "hidden")
if user is None:
    if nav is SIGN_IN:
        nav.run()
    else:
        auth.sign_in_screen()
else:
    auth.sidebar(user)
    nav.run()
