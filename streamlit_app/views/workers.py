"""Workers: every worker on every host that pulls from this platform's Redis, with its devices, what it
does now and when it last said it was alive. Read only; workers start and stop on their hosts."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st
from redis.exceptions import RedisError

from shared.core.i18n import _
from shared.services.workers import list_workers
from streamlit_app.components import deps, language


def _ago(when: datetime | None) -> str:
    if when is None:
        return ""
    secs = (datetime.now(UTC) - (when if when.tzinfo else when.replace(tzinfo=UTC))).total_seconds()
    if secs < 120:
        return _("{n:.0f} s ago", n=max(0, secs))
    return _("{n:.0f} min ago", n=secs / 60)


@st.fragment(run_every=5)
def _table() -> None:
    language.reapply()  # a fragment's own rerun skips the router, which sets the language
    try:
        workers = list_workers(redis=deps.redis())
    except (RedisError, OSError) as exc:
        st.error(_("Cannot see the workers: Redis does not answer ({error}).", error=exc))
        return
    if not workers:
        st.info(_("No worker is up. Start one on this host with `python -m runner up`, or on a GPU host with "
                  "`python -m runner worker --join` (see docs/scale-out.md)."))
        return
    hosts = sorted({w.host for w in workers})
    gpus = sum(len(w.gpus) for w in {(w.host, w.gpus): w for w in workers}.values())
    n = len(workers)
    st.caption(_("{workers} on {hosts}; {gpus} in all. Workers on one host share its GPUs: a run takes the GPUs "
                 "it asks for while it trains.",
                 workers=_("1 worker") if n == 1 else _("{n} workers", n=n),
                 hosts=_("1 host") if len(hosts) == 1 else _("{n} hosts", n=len(hosts)),
                 gpus=_("1 GPU") if gpus == 1 else _("{n} GPUs", n=gpus)))
    st.dataframe(pd.DataFrame([{
        _("host"): w.host, _("worker"): w.name, _("devices"): w.gpu_text, _("CPUs"): w.cpus, _("state"): w.state,
        _("current run"): w.current_run, _("last heartbeat"): _ago(w.last_heartbeat),
        _("queues"): ", ".join(w.queues),
    } for w in workers]), hide_index=True, width="stretch")


def render() -> None:
    st.title(_("Workers"))
    _table()


render()
