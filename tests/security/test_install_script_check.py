"""An install_dependencies.sh that hides a forbidden command from the check (an expansion as the
command word, a multi-call binary, find -delete, inline interpreter code, an alias, pkill) is refused
at upload with its line named, and nothing is stored. The sandbox stays the boundary
(test_uploads.py); this is the contract check doing its part."""

from __future__ import annotations

import pytest
from sqlmodel import select

from shared.core.errors import PackageError
from shared.records import ModelPackage


@pytest.mark.parametrize("line2,shown", [
    pytest.param("$'\\x72\\x6d' -rf /", "`$'\\x72\\x6d'`", id="ansi-c"),
    pytest.param("r${X}m -rf /", "`r${X}m`", id="parameter-in-name"),
    pytest.param("$(echo rm) -rf /", "`$(echo rm)`", id="command-substitution"),
    pytest.param("busybox rm -rf /", "`rm`", id="busybox"),
    pytest.param("find / -delete", "`find -delete` (rm)", id="find-delete"),
    pytest.param("python3 -c \"import shutil; shutil.rmtree('/')\"", "`python3 -c`", id="python-c"),
    pytest.param("alias x=rm", "`alias x=rm`", id="alias"),
    pytest.param("pkill -f worker", "`pkill` (kill)", id="pkill"),
])
def test_hidden_forbidden_command_is_refused_at_upload(plat, line2, shown):
    script = f'#!/bin/bash\n{line2}\n"$1/bin/pip" install wheel\n'
    with pytest.raises(PackageError) as err:
        plat.upload(extra={"install_dependencies.sh": script})
    text = str(err.value)
    assert "install_dependencies.sh line 2:" in text, text
    assert shown in text, text
    assert plat.session.exec(select(ModelPackage)).all() == []
