"""The child of check_install_script: the script on stdin, the violations as JSON on stdout."""

from __future__ import annotations

import json
import sys

from shared.contract.install_script import check_in_process
from shared.contract.names import INSTALL_SCRIPT

if __name__ == "__main__":
    found = check_in_process(text=sys.stdin.read(), filename=sys.argv[1] if len(sys.argv) > 1 else INSTALL_SCRIPT)
    print(json.dumps([{"line": v.line, "command": v.command, "message": v.message} for v in found]))
