"""Terminal escape codes in user output (colours from loguru, rich, tqdm, Ultralytics).

They are kept in the raw log, stripped from failure reasons and metric lines,
and rendered as colours by the log view; no raw ``\\x1b[34m`` ever reaches a page.
"""

from __future__ import annotations

import html
import re

# CSI (colours, cursor moves, line erases), OSC (titles, hyperlinks; ended by BEL or ESC \)
# and the two-byte escapes. A lone ESC at the end of a cut line goes too.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]|$)")
_SGR = re.compile(r"\x1b\[([0-9;]*)m")

# The 16 terminal colours, readable on the log view's dark background.
_PALETTE = (
    "#4d4d4d", "#ff6b6b", "#69db7c", "#ffd43b", "#74c0fc", "#e599f7", "#66d9e8", "#e6e6e6",
    "#868e96", "#ff8787", "#8ce99a", "#ffe066", "#a5d8ff", "#eebefa", "#99e9f2", "#ffffff",
)


def strip_ansi(text: str) -> str:
    """``text`` without escape sequences (unchanged, and cheap, when it has none)."""
    return _ESCAPE.sub("", text) if "\x1b" in text else text


def _colour_256(n: int) -> str | None:
    if 0 <= n < 16:
        return _PALETTE[n]
    if 16 <= n < 232:
        n -= 16
        steps = (0, 95, 135, 175, 215, 255)
        return f"#{steps[n // 36]:02x}{steps[n // 6 % 6]:02x}{steps[n % 6]:02x}"
    if 232 <= n < 256:
        v = 8 + 10 * (n - 232)
        return f"#{v:02x}{v:02x}{v:02x}"
    return None


def _apply(codes: list[int], style: dict[str, str]) -> None:
    """Update ``style`` (CSS property -> value) by one SGR sequence's codes."""
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            style.clear()
        elif c == 1:
            style["font-weight"] = "bold"
        elif c == 22:
            style.pop("font-weight", None)
        elif c == 3:
            style["font-style"] = "italic"
        elif c == 23:
            style.pop("font-style", None)
        elif c == 4:
            style["text-decoration"] = "underline"
        elif c == 24:
            style.pop("text-decoration", None)
        elif c in (38, 48):
            prop = "color" if c == 38 else "background"
            value = None
            if codes[i + 1:i + 2] == [5] and i + 2 < len(codes):
                value, i = _colour_256(codes[i + 2]), i + 2
            elif codes[i + 1:i + 2] == [2] and i + 4 < len(codes):
                r, g, b = (min(max(v, 0), 255) for v in codes[i + 2:i + 5])
                value, i = f"#{r:02x}{g:02x}{b:02x}", i + 4
            if value:
                style[prop] = value
        elif 30 <= c <= 37 or 90 <= c <= 97:
            style["color"] = _PALETTE[c - 30 if c < 90 else c - 82]
        elif c == 39:
            style.pop("color", None)
        elif 40 <= c <= 47 or 100 <= c <= 107:
            style["background"] = _PALETTE[c - 40 if c < 100 else c - 92]
        elif c == 49:
            style.pop("background", None)
        i += 1


def ansi_html(text: str) -> str:
    """``text`` as escaped HTML, its SGR colours as ``<span style>``; other escapes dropped."""
    if "\x1b" not in text:
        return html.escape(text)
    out: list[str] = []
    style: dict[str, str] = {}
    pos = 0

    def put(piece: str) -> None:
        piece = strip_ansi(piece)
        if not piece:
            return
        body = html.escape(piece)
        if style:
            css = ";".join(f"{k}:{v}" for k, v in style.items())
            body = f'<span style="{css}">{body}</span>'
        out.append(body)

    for m in _SGR.finditer(text):
        put(text[pos:m.start()])
        codes = [int(c) if c else 0 for c in m.group(1).split(";")] if m.group(1) else [0]
        _apply(codes, style)
        pos = m.end()
    put(text[pos:])
    return "".join(out)
