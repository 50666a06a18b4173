"""A run's log: the live tail (stderr set apart, searchable) and the full log
as a download. The log format belongs to the runner, so it is read only
through ``shared.contract.runlog.read_log`` / ``iter_plain_log`` (file readers: they
import nothing of the user's and run nothing)."""

from __future__ import annotations

import html
from pathlib import Path

import streamlit as st

from shared.contract.ansi import ansi_html, strip_ansi
from shared.core.i18n import _

TAIL_LINES = 200
_STDERR = ("stderr", "e")

_CSS = """<style>
.ty-log{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;line-height:1.35;
  max-height:420px;overflow:auto;background:#0e1117;color:#e6e6e6;padding:8px;border-radius:6px;
  white-space:pre-wrap;word-break:break-all}
.ty-log .e{color:#ff8a80;background:rgba(255,82,82,.08)}
.ty-log mark{background:#ffd54f;color:#000}
</style>"""


def tail(log_path: Path, *, lines: int = TAIL_LINES) -> list[tuple[str, str]]:
    from shared.contract.runlog import read_log

    if not Path(log_path).exists() and not Path(log_path).with_suffix(".tail").exists():
        return []
    return read_log(log_path=Path(log_path), tail_lines=lines)


def is_stderr(stream: str) -> bool:
    return stream in _STDERR


def filter_lines(lines: list[tuple[str, str]], query: str) -> list[tuple[str, str]]:
    q = query.strip().lower()
    return [pair for pair in lines if q in strip_ansi(pair[1]).lower()] if q else lines


def log_html(lines: list[tuple[str, str]], query: str = "") -> str:
    """Escaped HTML; stderr lines get their own colour, matches are highlighted.

    Terminal colours (``ESC[34m``) are rendered; while searching, lines are
    shown plain so that a match is never split by a colour change."""
    q = query.strip()
    out = []
    for stream, raw in lines:
        text = strip_ansi(raw) if q else raw
        body = ansi_html(text)
        if q:
            low, ql = text.lower(), q.lower()
            parts, pos = [], 0
            while (i := low.find(ql, pos)) >= 0:
                parts += [html.escape(text[pos:i]), f"<mark>{html.escape(text[i:i + len(q)])}</mark>"]
                pos = i + len(q)
            body = "".join(parts) + html.escape(text[pos:])
        cls = ' class="e"' if is_stderr(stream) else ""
        out.append(f"<div{cls}>{body or '&nbsp;'}</div>")
    return _CSS + '<div class="ty-log">' + "".join(out) + "</div>"


def render_tail(log_path: Path | None, *, key: str, lines: int = TAIL_LINES) -> None:
    """The last ``lines`` lines with a search box; stderr in red."""
    if log_path is None:
        st.caption(_("No log yet: the run has not started."))
        return
    query = st.text_input(_("Search the log tail"), key=f"{key}_search", placeholder=_("text to find"))
    rows = tail(log_path, lines=lines)
    shown = filter_lines(rows, query)
    n_err = sum(1 for s, _x in rows if is_stderr(s))
    st.caption(_("Last {n} lines ({errors} on stderr, shown in red)", n=len(rows), errors=n_err)
               + (_("; {n} match {query}", n=len(shown), query=repr(query)) if query.strip() else ""))
    if not rows:
        st.caption(_("The log is empty so far."))
        return
    st.html(log_html(shown, query))


def plain_log_bytes(log_path: Path) -> bytes:
    """The whole log without stream tags (built only when the download is clicked)."""
    from shared.contract.runlog import iter_plain_log

    return b"".join(iter_plain_log(Path(log_path)))


def download_button(log_path: Path | None, *, file_name: str, key: str) -> None:
    if log_path is None or not (Path(log_path).exists() or Path(log_path).with_suffix(".tail").exists()):
        st.button(_("Download log"), key=key, disabled=True, help=_("no log yet"))
        return
    st.download_button(_("Download log"), data=lambda: plain_log_bytes(log_path), file_name=file_name,
                       mime="text/plain", key=key, on_click="ignore")
