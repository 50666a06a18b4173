"""Home: what Trainyard does, where to start, and one click to load examples."""

from __future__ import annotations

import streamlit as st
from redis.exceptions import RedisError

from shared.core.errors import TrainyardError
from shared.core.i18n import _, fmt_number
from shared.records import Action, Dataset
from shared.services.examples import load_examples
from streamlit_app.components import deps
from streamlit_app.components.alerts import show_error


def render() -> None:
    st.title(":material/train: Trainyard")
    st.markdown(
        _("Train **your own** computer-vision code on **your own** data.") + "\n\n"
        "1. " + _("Upload a dataset zip on **Datasets** (COCO, class folders, masks, ICDAR, DOTA, ...).") + "\n"
        "2. " + _("Upload a model zip on **Models**: `train.py`, `predict.py`, `requirements.txt`, `weights/`. "
                  "Its environment is built once and its argparse parameters become a form.") + "\n"
        "3. " + _("Create a **task**: pick the dataset and the model, set the parameters (or search ranges) "
                  "and watch the metrics your `train.py` prints as `key: value`.") + "\n"
        "4. " + _("Download the weights of the best run."))
    with deps.session() as s:
        from shared.services.datasets import list_datasets
        from shared.services.models import list_models

        me = deps.current_user()
        n_data, n_models = len(list_datasets(session=s, actor=me)), len(list_models(session=s, actor=me))
    c1, c2 = st.columns(2)
    c1.metric(_("Datasets"), fmt_number(n_data))
    c2.metric(_("Models"), fmt_number(n_models))

    if not deps.can(Action.create, Dataset):
        return
    st.subheader(_("New here?"))
    st.write(_("Load the example classification and detection datasets with a small model for each "
               "(the models' environments are then built by the worker)."))
    if st.button(_("Load examples"), key="home_load_examples", type="primary"):
        bar = st.progress(0.0, text=_("starting"))
        try:
            with deps.session() as s:
                made = load_examples(session=s, settings=deps.settings(), connection=deps.redis(),
                                     actor=deps.current_user(),
                                     progress=lambda text, frac: bar.progress(min(max(frac, 0.0), 1.0), text=text))
        except TrainyardError as exc:
            show_error(exc, prefix=_("Loading the examples failed."))
        except RedisError as exc:
            show_error(exc, prefix=_("Redis is not reachable, so the models' deploys cannot be queued. "
                                     "Start the platform with `make run` (or `python -m runner up`)."))
        else:
            st.session_state["home_examples"] = made
            st.rerun()  # the counters above were drawn before the examples existed
    made = st.session_state.get("home_examples")
    if made:
        st.success(_("Examples loaded: {list}", list="; ".join(
            _("{kind}: dataset {dataset}, model {model} (deploying)", kind=kind, dataset=ids["dataset"],
              model=ids["model"]) for kind, ids in made.items())))
        c1, c2 = st.columns(2)
        c1.page_link("views/datasets.py", label=_("Open the datasets"), icon=":material/dataset:")
        c2.page_link("views/models.py", label=_("Watch the models deploy"), icon=":material/deployed_code:")


render()
