"""Trainyard's UI: the router. It wires the connections once and hands the
screen to one of the pages; every page lives in ``pages/``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# `streamlit run streamlit_app/app.py` puts only this folder on sys.path; the
# pages import the project's packages (shared, runner, streamlit_app) from the root.
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import streamlit as st  # noqa: E402

from streamlit_app.components import deps  # noqa: E402

st.set_page_config(page_title="Trainyard", page_icon=":material/train:", layout="wide")
deps.engine()  # connect (and create the tables) once per process, before any page queries

pages = {
    "Trainyard": [st.Page("views/home.py", title="Home", icon=":material/home:", default=True)],
    "Data": [
        st.Page("views/datasets.py", title="Datasets", icon=":material/dataset:"),
        st.Page("views/models.py", title="Models", icon=":material/deployed_code:"),
    ],
    "Training": [
        st.Page("views/task_new.py", title="New task", icon=":material/add_circle:"),
        st.Page("views/tasks.py", title="Tasks", icon=":material/list_alt:"),
        # Reached from the task list (a row's link or selection), not from the menu: alone it has no task.
        st.Page("views/task.py", title="Task", icon=":material/monitoring:", visibility="hidden"),
    ],
}
if (HERE / "views" / "predict.py").exists():
    pages["Training"].append(st.Page("views/predict.py", title="Predict", icon=":material/image:"))

st.navigation(pages).run()
