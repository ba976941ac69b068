"""What this node answers to SMP requests: plain functions of (peer, request) → response.

They know nothing of threads, loops or sockets (the transport calls them through
:class:`~secondme.node.p2p.service.P2PService`), so each is testable on its own.
"""

from __future__ import annotations

from collections.abc import Callable

from secondme import node as node_package
from secondme.node.owner import OwnerStore
from secondme.protocol.envelope import Version
from secondme.protocol.identity import PeerId
from secondme.protocol.messages import (
    MAX_DISPLAY_NAME,
    MAX_PROFILE_VALUE,
    Hello,
    HelloResponse,
    Ping,
    Pong,
    Request,
    Response,
)

AGENT = f"secondme-node/{node_package.__version__}"
RequestHandler = Callable[[PeerId, Request], Response]


def _fit(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 without splitting a character."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def answer_ping(peer: PeerId, request: Ping) -> Pong:
    return request.answer()


def make_hello_handler(
    owner: OwnerStore, versions: tuple[Version, ...]
) -> Callable[[PeerId, Hello], HelloResponse]:
    """Hello is answered with the owner's *public* profile fields only."""

    def answer_hello(peer: PeerId, request: Hello) -> HelloResponse:
        profile = owner.get()
        public = {k: _fit(v, MAX_PROFILE_VALUE) for k, v in profile.public_fields().items()}
        return HelloResponse(
            display_name=_fit(public.get("name", ""), MAX_DISPLAY_NAME),
            versions=versions,
            profile=public,
            agent=AGENT,
        )

    return answer_hello
