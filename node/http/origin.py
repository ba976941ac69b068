"""Which Host and Origin headers the owner API answers: its own loopback name, nothing else.

A page on any web site can make a browser send requests to ``127.0.0.1``; DNS rebinding can even
make such a page same-origin with the node under a foreign *name*. So a request must name the node
by a loopback address or ``localhost`` in ``Host`` (the bound host too, where the owner configured
one that is not loopback), and where a browser sends ``Origin``, it must be that same origin.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header: ``[::1]:8080`` → ``::1``, ``Localhost.`` → ``localhost``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    name, _, port = host.rpartition(":")
    if not name or (port and not port.isdigit()):
        name = host
    return name.rstrip(".")


def is_loopback_name(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(host_header: str, bound_host: str = "127.0.0.1") -> bool:
    name = host_name(host_header)
    return bool(name) and (is_loopback_name(name) or name == host_name(bound_host))


def same_origin(origin: str, host_header: str) -> bool:
    """Whether a browser's ``Origin`` is the origin this request's ``Host`` names (over http)."""
    parts = urlsplit(origin.strip().lower())
    return (
        parts.scheme == "http"
        and not parts.path
        and parts.netloc == host_header.strip().lower().rstrip(".")
    )
