"""Which host:port a sandbox may reach through the egress proxy, and why not.

Allowed: the hosts of the package index, the extra indexes and the http(s)
find-links (``TRAINYARD_INDEX_URL`` and friends; PyPI's two hosts when no index
is set), and ``TRAINYARD_EGRESS_ALLOW``. Every address a name resolves to must
be a global one: loopback, private, link-local, shared and reserved ranges are
refused (the worker's Redis, Postgres, cloud metadata services), unless the
exact ``host:port`` is in ``TRAINYARD_EGRESS_ALLOW_PRIVATE``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# Where pip and uv go when no index is configured.
_PYPI_HOSTS = ("pypi.org", "files.pythonhosted.org")
_DEFAULT_PORTS = frozenset({443, 80})


def split_host(entry: str) -> tuple[str, int | None]:
    """'host', 'host:port', '[v6]:port' or a URL -> (host, port or None)."""
    entry = entry.strip()
    if "://" in entry:
        u = urlsplit(entry)
        default = {"https": 443, "http": 80}.get(u.scheme)
        return (u.hostname or "").lower(), u.port or default
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host.lower(), int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host.lower(), int(port)
    return entry.lower(), None


def _is_public(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass
class Policy:
    # host -> ports it may be reached on
    hosts: dict[str, set[int]] = field(default_factory=dict)
    private: set[tuple[str, int]] = field(default_factory=set)

    def allow(self, entry: str, *, default_ports: frozenset[int] = _DEFAULT_PORTS) -> None:
        host, port = split_host(entry)
        if host:
            self.hosts.setdefault(host, set()).update({port} if port else default_ports)

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        policy = cls()
        urls = [settings.index_url, *settings.extra_index_urls, *settings.find_links]
        if not settings.index_url:
            urls += [f"https://{h}/" for h in _PYPI_HOSTS]
        for url in urls:
            if url and url.startswith(("http://", "https://")):
                policy.allow(url)
        for entry in settings.egress_allow:
            policy.allow(entry)
        for entry in settings.egress_allow_private:
            host, port = split_host(entry)
            if host and port:
                policy.private.add((host, port))
                policy.hosts.setdefault(host, set()).add(port)
        return policy

    def check_name(self, host: str, port: int) -> str | None:
        """Why ``host:port`` is refused before any lookup, or None."""
        host = host.lower().strip("[]")
        ports = self.hosts.get(host)
        if ports is None:
            return (f"{host} is not the package index nor a find-links host; add it to TRAINYARD_EGRESS_ALLOW "
                    "to allow it")
        if port not in ports:
            setting = "TRAINYARD_EGRESS_ALLOW" + ("_PRIVATE" if any(h == host for h, _p in self.private) else "")
            return (f"port {port} of {host} is not allowed (allowed: {', '.join(map(str, sorted(ports)))}); "
                    f"add {host}:{port} to {setting} to allow it")
        return None

    def check_addresses(self, host: str, port: int, addrs: list[str]) -> str | None:
        """Why the resolved addresses are refused, or None. Every address must be public."""
        host = host.lower().strip("[]")
        if not addrs:
            return f"{host} does not resolve"
        if (host, port) in self.private:
            return None
        for addr in addrs:
            if not _is_public(addr):
                return (f"{host} resolves to {addr}, a loopback, private or link-local address, which sandboxes "
                        f"never reach; add {host}:{port} to TRAINYARD_EGRESS_ALLOW_PRIVATE if it is an "
                        "internal package mirror")
        return None
