"""The audit log (admins only): who did what to which record, filtered by person, action, object,
outcome and time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from shared.core.i18n import N_, _, fmt_number
from shared.records import Action, AuditAction, ObjectKind, Outcome
from shared.services import audit, users
from streamlit_app.components import deps

ANY = "any"  # a sentinel option, shown as _("any")
LIMIT = 1000
OUTCOME_LABELS = {Outcome.ok: N_("ok"), Outcome.denied: N_("denied"), Outcome.failed: N_("failed")}


def render() -> None:
    st.title(_("Audit log"))
    if refused := deps.refusal(Action.view_audit):
        st.error(refused)
        return
    with deps.session() as s:
        names = [u.name for u in users.list_users(session=s)]
    c1, c2, c3 = st.columns(3)
    who = c1.selectbox(_("Person"), [ANY, *names], key="au_user",
                       format_func=lambda n: _("any") if n == ANY else n)
    actions = c2.multiselect(_("Action"), list(AuditAction), key="au_actions", format_func=lambda a: a.value)
    outcome = c3.selectbox(_("Outcome"), [ANY, *Outcome], key="au_outcome",
                           format_func=lambda o: _("any") if o == ANY else _(OUTCOME_LABELS[o]))
    c4, c5, c6 = st.columns(3)
    kind = c4.selectbox(_("Object"), [ANY, *ObjectKind], key="au_kind",
                        format_func=lambda k: _("any") if k == ANY else k.value)
    oid = c5.number_input(_("Object id (0: any)"), min_value=0, step=1, key="au_oid")
    today = datetime.now(UTC).date()
    days = c6.date_input(_("Between"), (today - timedelta(days=7), today), key="au_days")
    since = until = None
    if isinstance(days, tuple | list) and days:
        since = datetime.combine(days[0], time.min, tzinfo=UTC)
        until = datetime.combine(days[-1], time.min, tzinfo=UTC) + timedelta(days=1)
    with deps.session() as s:
        events = audit.list_events(session=s, user_name=None if who == ANY else who, actions=actions,
                                   object_kind=None if kind == ANY else kind, object_id=int(oid) or None,
                                   outcome=None if outcome == ANY else outcome, since=since, until=until,
                                   limit=LIMIT)
    if not events:
        st.info(_("No events match these filters."))
        return
    st.caption((_("1 event") if len(events) == 1 else _("{n} events, newest first", n=fmt_number(len(events))))
               + (_(" (the first {limit}; narrow the filters to see older ones)", limit=LIMIT)
                  if len(events) == LIMIT else ""))
    st.dataframe(pd.DataFrame([{
        _("time (UTC)"): e.time.strftime("%Y-%m-%d %H:%M:%S"), _("person"): e.user_name or "-",
        _("action"): e.action.value,
        _("object"): f"{e.object_kind.value} {e.object_id or ''}".strip() if e.object_kind else "",
        _("outcome"): _(OUTCOME_LABELS[e.outcome]), _("detail"): e.detail, _("client"): e.client or ""}
        for e in events]),
        hide_index=True, width="stretch")


render()
