"""Colour codes: stripped from text, rendered as spans in the log view, never shown raw."""

from __future__ import annotations

from shared.contract.ansi import ansi_html, strip_ansi
from streamlit_app.components.logs import filter_lines, log_html

ULTRALYTICS = "\x1b[34m\x1b[1mtrain: \x1b[0mScanning /dataset/labels/train... 5 images\x1b[K"


def test_strip_removes_colours_cursor_moves_and_hyperlinks():
    assert strip_ansi(ULTRALYTICS) == "train: Scanning /dataset/labels/train... 5 images"
    assert strip_ansi("\x1b]8;;https://x.org\x07link\x1b]8;;\x07 done\x1b") == "link done"
    assert strip_ansi("plain: 1") == "plain: 1"


def test_html_renders_sgr_colours_and_escapes_the_text():
    out = ansi_html("\x1b[31m<b>red</b>\x1b[0m then \x1b[38;5;208morange\x1b[39m \x1b[38;2;1;2;3mrgb")
    assert "\x1b" not in out and "[31m" not in out
    assert '<span style="color:#ff6b6b">&lt;b&gt;red&lt;/b&gt;</span> then ' in out
    assert '<span style="color:#ff8700">orange</span> ' in out
    assert '<span style="color:#010203">rgb</span>' in out
    assert ansi_html("a < b") == "a &lt; b"


def test_the_log_view_shows_no_raw_escapes_while_rendering_or_searching():
    lines = [("stdout", ULTRALYTICS), ("stderr", "\x1b[31mConnectionError\x1b[0m")]
    shown = log_html(lines)
    assert "\x1b" not in shown and '<span style="color:#74c0fc;font-weight:bold">train: </span>' in shown
    found = filter_lines(lines, "train: scanning")
    assert found == lines[:1]
    searched = log_html(found, "train: scanning")
    assert "\x1b" not in searched and "<mark>train: Scanning</mark>" in searched
