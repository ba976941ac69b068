"""What a handler is: a coroutine of (request, permit) → :class:`Reply`; and the two handlers
the endpoint itself answers (``ping``, ``hello``).

Handlers know nothing of threads, loops or sockets (the transport calls them through
:class:`~secondme.node.p2p.service.P2PService`, after its authoriser issued the permit), so
each is testable on its own; the rooms that serve a request type register their handler (plain
functions, with their collaborators bound). A reply names what it shared, for the audit log: a
plain reply in :attr:`Reply.shared`, a streamed one by yielding :class:`Shared`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from secondme import node as node_package
from secondme.node.people.owner import OwnerStore
from secondme.protocol.envelope import Version
from secondme.protocol.grants import Permit
from secondme.protocol.messages import (
    MAX_DISPLAY_NAME,
    MAX_PROFILE_VALUE,
    HelloResponse,
    Ping,
    Response,
)
from secondme.protocol.session import IncomingRequest

AGENT = f"secondme-node/{node_package.__version__}"


@dataclass(frozen=True, slots=True)
class Shared:
    """What of the owner's memory a streamed answer draws on (by reference), yielded among its
    parts as soon as it is known: the latest one is audited, however the stream ends."""

    refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer, and what of the owner's memory went into it (by reference).

    A streamed answer sets ``parts`` instead of ``response``: messages of the request's
    ``PART`` type and :class:`Shared` items, then the final response (``shared`` is then what
    it shared before its first :class:`Shared`). ``model`` names the model that wrote the
    answer (``base`` or an adapter id), when one did; ``permit`` is the grant a handler
    authorised itself (a group request checked against the grant its group was joined by),
    audited in place of the authoriser's.
    """

    response: Response | None = None
    shared: Sequence[str] = ()
    note: str = ""
    parts: AsyncIterator[Response | Shared] | None = None
    model: str | None = None
    permit: Permit | None = None


RequestHandler = Callable[[IncomingRequest, Permit | None], Awaitable[Reply]]


def fit(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 without splitting a character."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


async def answer_ping(incoming: IncomingRequest, permit: Permit | None) -> Reply:
    assert isinstance(incoming.message, Ping)
    return Reply(incoming.message.answer())


def public_profile(owner: OwnerStore) -> dict[str, str]:
    """The owner's public fields, cut to the wire's limits: all any peer may see unasked."""
    fields = owner.get().public_fields()
    return {k: fit(v, MAX_PROFILE_VALUE) for k, v in fields.items()}


def make_hello_handler(owner: OwnerStore, versions: tuple[Version, ...]) -> RequestHandler:
    """Hello is answered with the owner's *public* profile fields only."""

    async def answer_hello(incoming: IncomingRequest, permit: Permit | None) -> Reply:
        public = public_profile(owner)
        response = HelloResponse(
            display_name=fit(public.get("name", ""), MAX_DISPLAY_NAME),
            versions=versions,
            profile=public,
            agent=AGENT,
        )
        return Reply(response, shared=[f"profile:public:{k}" for k in sorted(public)])

    return answer_hello
