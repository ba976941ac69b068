"""A node's side of the discovery protocol: ask a network's discovery servers, read answers.

The client rides on the node's own libp2p host (same identity, same connections) and signs
its requests with its own endpoint whose registry holds the discovery messages. A network may
name several discovery servers (instances sharing one database): a request goes to the first
that answers, and a transport failure moves on to the next. Every record that comes back is
verified here; a record that fails is dropped, so a lying server can withhold peers but never
forge or alter one.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from secondme.discovery.errors import DiscoveryRefused, DiscoveryUnavailable
from secondme.protocol.clock import Clock
from secondme.protocol.discovery import (
    DISCOVERY_MESSAGES,
    DISCOVERY_PROTOCOL_ID,
    MAX_PAGE,
    Done,
    InviteRevoke,
    Join,
    Joined,
    Lookup,
    MemberPage,
    MemberRemove,
    Members,
    NetworkClose,
    NetworkCreate,
    NetworkInfo,
    NetworkLeave,
    PeerFound,
    Register,
    Registered,
)
from secondme.protocol.errors import RemoteError, SmpError, TransportError
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import Request, Response
from secondme.protocol.records import PeerRecord, RecordInvalid
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.transport.host import SmpHost, split_p2p_multiaddr

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 15.0
MAX_PAGES = 1000
CHECKED_RECORDS = 16_384


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A member as the client verified it; ``record`` is ``None`` when it has no live one."""

    peer: str
    role: str
    joined_ms: int
    record: PeerRecord | None


class DiscoveryClient:
    def __init__(self, identity: Identity, host: SmpHost, clock: Clock) -> None:
        self.host = host
        self.clock = clock
        self._checked: OrderedDict[bytes, PeerRecord] = OrderedDict()
        """Records already verified, by the SHA-256 of their bytes: a member list read again
        costs a signature check only for the records that changed."""
        self.endpoint = SmpEndpoint(
            identity, clock, ReplayWindow(clock), registry=DISCOVERY_MESSAGES
        )

    async def call(
        self, servers: Sequence[str], message: Request, *, timeout: float = REQUEST_TIMEOUT_S
    ) -> Response:
        """Ask the first server of ``servers`` (``…/p2p/<id>`` multiaddrs) that answers."""
        failures: list[str] = []
        for address in servers:
            try:
                server, _ = split_p2p_multiaddr(address)
            except ValueError as exc:
                failures.append(str(exc))
                continue
            self.host.add_address(server, [address])
            outgoing = self.endpoint.request(message)
            try:
                payload = await self.host.request(
                    server, outgoing.payload, timeout=timeout, protocol_id=DISCOVERY_PROTOCOL_ID
                )
                return self.endpoint.receive_response(server, outgoing, payload)
            except RemoteError as exc:
                raise DiscoveryRefused(exc.code, exc.message) from exc
            except TransportError as exc:
                log.info("discovery server %s did not answer: %s", address, exc.message)
                failures.append(f"{address}: {exc.message}")
            except SmpError as exc:
                failures.append(f"{address} answered with an invalid frame: {exc.message}")
        raise DiscoveryUnavailable(
            "no discovery server answered: " + ("; ".join(failures) or "none given")
        )

    async def create_network(self, servers: Sequence[str], network: str, name: str) -> NetworkInfo:
        answer = await self.call(servers, NetworkCreate(network=network, name=name))
        assert isinstance(answer, NetworkInfo)
        return answer

    async def join(self, servers: Sequence[str], token: str, record: PeerRecord) -> Joined:
        answer = await self.call(servers, Join(token=token, record=record.encoded))
        assert isinstance(answer, Joined)
        return answer

    async def register(self, servers: Sequence[str], record: PeerRecord) -> Registered:
        answer = await self.call(servers, Register(record=record.encoded))
        assert isinstance(answer, Registered)
        return answer

    async def members(
        self, servers: Sequence[str], network: str, *, page_size: int = MAX_PAGE
    ) -> list[MemberInfo]:
        """Every member of ``network``, reading page after page."""
        members: list[MemberInfo] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            page = await self.call(servers, Members(network=network, after=after, limit=page_size))
            assert isinstance(page, MemberPage)
            for member in page.members:
                members.append(
                    MemberInfo(
                        peer=member.peer,
                        role=member.role,
                        joined_ms=member.joined_ms,
                        record=self._verified(member.peer, member.record),
                    )
                )
            if page.next is None:
                return members
            after = page.next
        raise DiscoveryRefused("protocol_error", f"more than {MAX_PAGES} pages of members")

    async def lookup(self, servers: Sequence[str], peer: PeerId) -> PeerRecord:
        answer = await self.call(servers, Lookup(peer=str(peer)))
        assert isinstance(answer, PeerFound)
        record = self._verified(str(peer), answer.record)
        if record is None:
            raise DiscoveryRefused("record_invalid", f"the server's record of {peer} is invalid")
        return record

    async def remove_member(self, servers: Sequence[str], network: str, peer: str) -> None:
        self._done(await self.call(servers, MemberRemove(network=network, peer=peer)))

    async def revoke_invite(
        self, servers: Sequence[str], network: str, invite_id: str, expires_ms: int
    ) -> None:
        message = InviteRevoke(network=network, invite_id=invite_id, expires_ms=expires_ms)
        self._done(await self.call(servers, message))

    async def leave(self, servers: Sequence[str], network: str) -> None:
        self._done(await self.call(servers, NetworkLeave(network=network)))

    async def close_network(self, servers: Sequence[str], network: str) -> None:
        self._done(await self.call(servers, NetworkClose(network=network)))

    @staticmethod
    def _done(answer: Response) -> None:
        assert isinstance(answer, Done)

    def _verified(self, peer: str, data: bytes | None) -> PeerRecord | None:
        if data is None:
            return None
        digest = hashlib.sha256(data).digest()
        record = self._checked.get(digest)
        if record is None:
            try:
                record = PeerRecord.decode(data)
            except RecordInvalid as exc:
                log.warning("dropped an invalid record of %s from discovery: %s", peer, exc.message)
                return None
            self._checked[digest] = record
            if len(self._checked) > CHECKED_RECORDS:
                self._checked.popitem(last=False)
        else:
            self._checked.move_to_end(digest)
        if str(record.peer) != peer:
            log.warning("dropped a record of %s served as %s's", record.peer, peer)
            return None
        if record.expires_ms <= self.clock.now_ms():
            log.info("dropped an expired record of %s", peer)
            return None
        return record
