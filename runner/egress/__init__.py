"""Network for sandboxes that may have some: their own network namespace (only
loopback), and one way out, the worker's egress proxy.

``policy`` decides which host:port a sandbox may reach (the package index and
find-links hosts, ``TRAINYARD_EGRESS_ALLOW``; never a private address unless
``TRAINYARD_EGRESS_ALLOW_PRIVATE`` names it), ``proxy`` is the worker-side
HTTP proxy on a unix socket, and ``bridge`` is the platform's own forwarder
that runs inside the sandbox so that ``HTTPS_PROXY=http://127.0.0.1:PORT``
reaches that socket.
"""

from runner.egress.bridge import BRIDGE_PORT, INSIDE_SOCKET, PROXY_URL, bridge_argv, proxy_env
from runner.egress.policy import Policy
from runner.egress.proxy import EgressProxy

__all__ = ["BRIDGE_PORT", "INSIDE_SOCKET", "PROXY_URL", "EgressProxy", "Policy", "bridge_argv", "proxy_env"]
