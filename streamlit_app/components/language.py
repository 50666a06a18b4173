"""The UI's language for this script run, and the sidebar switch that changes it.

Chosen in this order: the link's ``?lang=zh-CN|en`` or the sidebar switch (an explicit choice, kept
for the browser session), the person's remembered choice (``User.language``, set by the switch), the
browser's language (``st.context.locale``, then the ``Accept-Language`` header), then
``TRAINYARD_LANGUAGE``. The router calls ``apply`` first on every run; the language is then written
back to ``?lang=`` so every link and reload keeps it (a ``?lang=`` the router wrote itself is not an
explicit choice: signing in then still brings the person's own language). Fragments rerun without
the router (in a fresh thread, where the context variable is back at its default), so each live
fragment calls ``reapply``.
"""

from __future__ import annotations

import streamlit as st

from shared.core.i18n import Language, _, negotiate, parse_language, set_language
from shared.records import User
from streamlit_app.components import deps

PARAM = "lang"
STATE_KEY = "_trainyard_language"
EXPLICIT_KEY = "_trainyard_language_explicit"
SWITCH_KEY = "lang_switch"


def _browser() -> list[str | None]:
    out: list[str | None] = []
    try:
        locale = st.context.locale
        out.append(locale if isinstance(locale, str) else None)
    except Exception:  # noqa: BLE001 - no client context (bare runs): nothing to read
        pass
    try:
        out.append(st.context.headers.get("Accept-Language"))
    except Exception:  # noqa: BLE001 - as above
        pass
    return out


def choose(user: User | None) -> Language:
    """The language of this run (see the module's order)."""
    asked = parse_language(st.query_params.get(PARAM))
    kept = parse_language(st.session_state.get(STATE_KEY))
    if asked is not None and asked != kept:  # a link's (or a hand-edited) ?lang=
        st.session_state[EXPLICIT_KEY] = True
        return asked
    if kept is not None and st.session_state.get(EXPLICIT_KEY):
        return kept
    if user is not None and (mine := parse_language(user.language)) is not None:
        return mine
    return negotiate(*_browser(), deps.settings().language)


def apply(user: User | None) -> Language:
    """Choose, set (``shared.core.i18n``) and carry the language in the address for this run."""
    lang = set_language(choose(user))
    st.session_state[STATE_KEY] = lang.value
    if st.query_params.get(PARAM) != lang.value:
        st.query_params[PARAM] = lang.value
    return lang


def reapply() -> None:
    """Inside a fragment's own rerun: the language the last full run chose."""
    set_language(st.session_state.get(STATE_KEY))


def _switched() -> None:
    lang = parse_language(st.session_state.get(SWITCH_KEY))
    if lang is None:  # the selected segment clicked again: no choice, keep the language
        return
    st.session_state[STATE_KEY] = lang.value
    st.session_state[EXPLICIT_KEY] = True
    st.query_params[PARAM] = lang.value
    user = st.session_state.get(deps.USER_KEY)
    if user is not None:
        from shared.services.users import set_language as remember

        with deps.session() as s:
            remember(session=s, user_id=user.id, language=lang.value)


def switch(lang: Language) -> None:
    """The sidebar's language picker; a choice is remembered for the signed-in person."""
    st.session_state[SWITCH_KEY] = lang.value
    st.sidebar.segmented_control(_("Language"), [x.value for x in Language], key=SWITCH_KEY,
                                 format_func=lambda v: Language(v).label, on_change=_switched,
                                 selection_mode="single", label_visibility="collapsed")
