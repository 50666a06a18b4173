"""Delete asks first: the button opens a dialog that names what goes, and only
its own Delete button acts. A refusal (a model still used by a task) is shown
inside the dialog, which then stays open.

The dialog is kept open by a session flag (set by the button, cleared by
Cancel, Delete or dismissing it), so a rerun of the whole page, not only of
the dialog, finds it still open."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from shared.core.errors import TrainyardError
from shared.core.i18n import _


def delete_button(what: str, *, key: str, on_confirm: Callable[[], None], label: str | None = None,
                  container=None, refused: str | None = None, detail: str | None = None,
                  then_page: str | None = None) -> None:
    """``what``: "dataset #3 shapes", in the reader's language; ``on_confirm`` deletes (and may raise
    TrainyardError). ``refused``: why the signed-in person may not (the role it needs); the button is then
    disabled with that as its help, and no dialog opens. ``detail``: what else goes with it, shown in the
    dialog. ``then_page``: the page to go to once it is deleted (the page showing it has nothing left)."""
    flag = f"{key}_asking"
    (container or st).button(label or _("Delete"), key=key, icon=":material/delete:", on_click=_set, args=(flag, True),
                             disabled=refused is not None, help=refused)
    if refused is None and st.session_state.get(flag):
        _open(what, key, flag, on_confirm, detail, then_page)


def _open(what: str, key: str, flag: str, on_confirm: Callable[[], None], detail: str | None,
          then_page: str | None) -> None:
    dialog = st.dialog(_("Delete {what}?", what=what), on_dismiss=lambda: _set(flag, False))
    dialog(_body)(what, key, flag, on_confirm, detail, then_page)


def _set(flag: str, value: bool) -> None:
    st.session_state[flag] = value


def _body(what: str, key: str, flag: str, on_confirm: Callable[[], None], detail: str | None,
          then_page: str | None) -> None:
    st.write(_("**{what}** and its files are removed for good. This cannot be undone.", what=what))
    if detail:
        st.write(detail)
    c1, c2 = st.columns(2)
    if c1.button(_("Delete"), key=f"{key}_yes", type="primary", icon=":material/delete:"):
        try:
            on_confirm()
        except TrainyardError as exc:
            st.error(exc.localized(), icon=":material/block:")
            return
        _set(flag, False)  # before leaving: the flag would open the dialog again on the next visit
        if then_page:
            st.switch_page(then_page)
        st.rerun()
    if c2.button(_("Cancel"), key=f"{key}_no"):
        _set(flag, False)
        st.rerun()
