"""Workers: every worker on every host that pulls from this platform's Redis, with its devices, what it
does now and when it last said it was alive. Read only; workers start and stop on their hosts."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st
from redis.exceptions import RedisError

from shared.services.workers import list_workers
from streamlit_app.components import deps


def _ago(when: datetime | None) -> str:
    if when is None:
        return ""
    secs = (datetime.now(UTC) - (when if when.tzinfo else when.replace(tzinfo=UTC))).total_seconds()
    return f"{max(0, secs):.0f} s ago" if secs < 120 else f"{secs / 60:.0f} min ago"


@st.fragment(run_every=5)
def _table() -> None:
    try:
        workers = list_workers(redis=deps.redis())
    except (RedisError, OSError) as exc:
        st.error(f"Cannot see the workers: Redis does not answer ({exc}).")
        return
    if not workers:
        st.info("No worker is up. Start one on this host with `python -m runner up`, or on a GPU host with "
                "`python -m runner worker --join` (see docs/scale-out.md).")
        return
    hosts = sorted({w.host for w in workers})
    gpus = sum(len(w.gpus) for w in {(w.host, w.gpus): w for w in workers}.values())
    st.caption(f"{len(workers)} worker{'s' if len(workers) != 1 else ''} on {len(hosts)} "
               f"host{'s' if len(hosts) != 1 else ''}; {gpus} GPU{'s' if gpus != 1 else ''} in all. "
               "Workers on one host share its GPUs: a run takes the GPUs it asks for while it trains.")
    st.dataframe(pd.DataFrame([{
        "host": w.host, "worker": w.name, "devices": w.gpu_text, "CPUs": w.cpus, "state": w.state,
        "current run": w.current_run, "last heartbeat": _ago(w.last_heartbeat),
        "queues": ", ".join(w.queues),
    } for w in workers]), hide_index=True, width="stretch")


def render() -> None:
    st.title("Workers")
    _table()


render()
