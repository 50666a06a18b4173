"""A stored reason can hold what user code printed (a run's last error line), and the pages read every
stored reason back through ``relocalize`` in the reader's language. Matching it against the catalog's
templates must cost about its length: a regular expression with several lazy groups took 48 s on one
crafted 1,150-character line, and the task page reruns its fragments every few seconds, so one hostile
``print`` could pin the UI server's CPU for everybody."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support.paths import ROOT

# What a hostile train.py would print: each template's literal pieces over and over with no proper end,
# for the templates with the most values (the worst for a backtracking matcher), and a line split by
# the separators the reader tries ('. ', ': ') hundreds of times.
_PROBE = textwrap.dedent("""
    import re
    from shared.core.i18n import Language, catalog, use_language
    from shared.core.relocalize import relocalize

    ph = re.compile(r"\\{(\\w+)\\}")
    msgids = [m for m in catalog(Language.zh_CN) if "\\n" not in m and not re.search(r"\\{[^}]*[:!]", m)]
    worst = sorted(msgids, key=lambda m: -len(ph.findall(m)))[:12]
    lines = []
    for m in worst:
        parts = ph.split(m)[::2]
        lines.append((parts[0] + "".join(parts[1:-1]) * 80 + "x" * 10)[:2000])
    lines.append(". ".join(["exit code 1: RuntimeError: boom"] * 60)[:2000])
    lines.append(": ".join(max(ph.split(m)[::2], key=len) for m in worst) * 10)
    with use_language(Language.zh_CN):
        out = relocalize("\\n".join(lines))
    assert isinstance(out, str) and out.count("\\n") == len(lines) - 1
    print("done", len(lines))
""")


def test_crafted_lines_are_read_in_about_their_length():
    # Run apart so a regression shows as this test failing, not as the suite hanging.
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("relocalize took over 60 s on crafted lines (catastrophic backtracking)") from None
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("done")
